"""What the functions and the API need beyond Chalice's template to be operable in AWS.

* API Gateway execution logs (errors only, never request or response bodies: they carry
  PII) with metrics, on every method of the stage. API Gateway writes both these and the
  stage's access logs (observability.py) with the **account's** CloudWatch role
  (``AWS::ApiGateway::Account``); without one, creating a stage with logging fails. That
  setting is one per account and region, like the queue names (README, Deploy: one
  stage per account or region).
* The schedules' failures: EventBridge invokes a scheduled function asynchronously;
  Lambda retries a failed run twice, then drops the event. Each schedule function's
  failed event goes to one encrypted queue instead (alarmed like a DLQ), so a lost run
  is seen and can be replayed.

serverless_checks.py checks both on the synthesized template (with the rest of what
cdk-nag cannot see on SAM resources).
"""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from platform_infra.chalice_app import REST_API, logical_id
from platform_infra.nag import acknowledge
from platform_infra.stages import StageSettings

# What a schedule's failed run does before it goes to the failures queue (Lambda's maximum).
ASYNC_RETRIES = 2
EXECUTION_LOG_LEVEL = "ERROR"


def api_execution_logs(scope: Construct, chalice: Chalice, settings: StageSettings, *,
                       stage: str) -> apigateway.CfnAccount:
    role = iam.Role(scope, "ApiGatewayCloudWatchRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
                    description="API Gateway (account setting): writes the APIs' access and execution logs",
                    managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                        "service-role/AmazonAPIGatewayPushToCloudWatchLogs")])
    acknowledge(role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                      "AmazonAPIGatewayPushToCloudWatchLogs]",
                "AWS's policy for API Gateway's account-level logging role: API Gateway names the log groups "
                "(API-Gateway-Execution-Logs_<api>/<stage>, and the access log group) itself.")
    account = apigateway.CfnAccount(scope, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
    api = chalice.get_resource(REST_API)
    # The stage is created with logging on: the account's role must exist first.
    api.add_resource_dependency(account)
    api.add_property_override("MethodSettings", [{
        "ResourcePath": "/*", "HttpMethod": "*", "LoggingLevel": EXECUTION_LOG_LEVEL,
        "MetricsEnabled": True, "DataTraceEnabled": False}])
    # Made here, with the stage's retention, before API Gateway makes it with none.
    logs.LogGroup(scope, "ApiExecutionLogs",
                  log_group_name=Fn.join("", ["API-Gateway-Execution-Logs_", api.ref, f"/{stage}"]),
                  retention=settings.log_retention,
                  removal_policy=RemovalPolicy.RETAIN if settings.protect_data else RemovalPolicy.DESTROY)
    return account


def schedule_failures(scope: Construct, chalice: Chalice, *, functions: Sequence[str], name: str,
                      key: kms.IKey) -> sqs.Queue:
    """The queue where each scheduled function's failed event goes after Lambda's retries."""
    queue = sqs.Queue(scope, "ScheduleFailures", queue_name=name, encryption=sqs.QueueEncryption.KMS,
                      encryption_master_key=key, enforce_ssl=True, retention_period=Duration.days(14))
    acknowledge(queue, "AwsSolutions-SQS3",
                "This queue is itself the dead-letter destination of the scheduled functions' failed runs.")
    for function in functions:
        chalice.get_resource(logical_id(function)).add_property_override("EventInvokeConfig", {
            "MaximumRetryAttempts": ASYNC_RETRIES,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": queue.queue_arn}}})
    return queue
