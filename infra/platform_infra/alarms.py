"""CloudWatch alarms, all notifying one encrypted SNS topic: DLQ depth, API 5xx, throttles."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class Alarms:
    def __init__(self, scope: Construct, *, key: kms.IKey, email: str | None) -> None:
        self._scope = scope
        self.topic = sns.Topic(scope, "AlarmTopic", master_key=key, enforce_ssl=True)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._action = actions.SnsAction(self.topic)

    @property
    def action(self) -> actions.SnsAction:
        """The topic's action, for alarms made elsewhere (observability.py)."""
        return self._action

    def _add(self, construct_id: str, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm

    def dlq_not_empty(self, construct_id: str, dlq: sqs.IQueue) -> cloudwatch.Alarm:
        """Any message in a DLQ is a message the platform failed to process three times."""
        metric = dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum")
        return self._add(construct_id, metric.create_alarm(
            self._scope, construct_id,
            alarm_description=f"Messages in dead-letter queue {dlq.node.id}",
            threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))

    def api_5xx(self, construct_id: str, *, api_name: str, api_stage: str, rate: float) -> cloudwatch.Alarm:
        # 5XXError's Average is the fraction of requests answered 5xx.
        metric = cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name="5XXError",
                                   dimensions_map={"ApiName": api_name, "Stage": api_stage},
                                   statistic="Average", period=Duration.minutes(1))
        return self._add(construct_id, metric.create_alarm(
            self._scope, construct_id, alarm_description=f"API 5xx rate over {rate:.0%}",
            threshold=rate, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5, datapoints_to_alarm=3, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))

    def function_throttles(self, construct_id: str, *, function_name: str, label: str) -> cloudwatch.Alarm:
        metric = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Throttles",
                                   dimensions_map={"FunctionName": function_name},
                                   statistic="Sum", period=Duration.minutes(1))
        return self._add(construct_id, metric.create_alarm(
            self._scope, construct_id, alarm_description=f"Throttled invocations of {label}",
            threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5, datapoints_to_alarm=2, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))

    def table_throttles(self, construct_id: str, *, table_name: str, label: str) -> cloudwatch.Alarm:
        metric = cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name="ThrottledRequests",
                                   dimensions_map={"TableName": table_name},
                                   statistic="Sum", period=Duration.minutes(1))
        return self._add(construct_id, metric.create_alarm(
            self._scope, construct_id, alarm_description=f"Throttled requests on the {label} table",
            threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5, datapoints_to_alarm=2, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
