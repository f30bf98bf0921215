"""One stage of the platform: data, storage, queues, IAM, the Chalice app, limits and alarms."""
from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from platform_infra import access, alarms, api, chalice_app, data, queues, storage
from platform_infra.nag import acknowledge
from platform_infra.stages import StageSettings, chalice_stage_environment

import sys  # noqa: E402  (the project root holds chalicelib, whose schema infra deploys)

from platform_infra.stages import PROJECT_DIR  # noqa: E402

if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from chalicelib.store.schema import TTL_ATTRIBUTE, data_table_spec, registry_table_spec  # noqa: E402

API_STAGE = "api"
# Where the exports worker writes (chalicelib/store/keys.py tenant_object_key: tenants/<uuid>/...).
EXPORTS_PREFIX = storage.TENANT_PREFIX


class PlatformStack(Stack):
    """The whole system for Chalice stage ``settings.name`` (the stack's id must be that name:
    ``chalice.cdk.Chalice`` packages the stage named by its scope)."""

    def __init__(self, scope: Construct, settings: StageSettings, *, vendor_dependencies: bool = True,
                 alarm_email: str | None = None, **kwargs: object) -> None:
        environment = chalice_stage_environment(settings.name)
        app_name = environment["APP_NAME"]
        prefix = f"{app_name}-{settings.name}"
        super().__init__(scope, settings.name, stack_name=prefix,
                         description=f"{app_name} ({settings.name}): API, workers, schedules, data",
                         **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        # Server access logs are delivered under a bucket policy, not the legacy ACL
        # (the log bucket enforces bucket-owner ownership, which disables ACLs).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)

        # Data at rest.
        self.platform_key = data.platform_key(self, settings, app_name)
        registry_spec = registry_table_spec(environment["REGISTRY_TABLE"])
        data_spec = data_table_spec(environment["DATA_TABLE"])
        self.registry = data.table(self, "RegistryTable", registry_spec, key=self.platform_key,
                                   settings=settings, ttl_attribute=TTL_ATTRIBUTE)
        self.data_table = data.table(self, "DataTable", data_spec, key=self.platform_key,
                                     settings=settings, ttl_attribute=TTL_ATTRIBUTE)
        registry_indexes = [i["IndexName"] for i in registry_spec.get("GlobalSecondaryIndexes", [])]
        data_indexes = [i["IndexName"] for i in data_spec.get("GlobalSecondaryIndexes", [])]

        access_logs = storage.access_log_bucket(self, settings)
        self.exports_bucket = storage.tenant_bucket(
            self, "ExportsBucket", key=self.platform_key, settings=settings, logs=access_logs,
            lifecycle=storage.exports_lifecycle(settings, EXPORTS_PREFIX))
        self.assets_bucket = storage.tenant_bucket(
            self, "AssetsBucket", key=self.platform_key, settings=settings, logs=access_logs, lifecycle=[])

        # IAM.
        self.function_role = access.function_role(self)
        self.tenant_role = access.tenant_role(
            self, assumed_by=self.function_role,
            policy=access.tenant_data_policy(data_table=self.data_table, data_indexes=data_indexes,
                                             buckets=[self.exports_bucket, self.assets_bucket],
                                             platform_key=self.platform_key))

        # The application.
        exports_queue_name = environment["EXPORTS_QUEUE"]
        stage_config = {
            "api_gateway_stage": API_STAGE,
            "manage_iam_role": False,
            "iam_role_arn": self.function_role.role_arn,
            "autogen_policy": False,
            "lambda_timeout": settings.default_timeout,
            "lambda_memory_size": settings.memory_mb,
            "environment_variables": {
                "REGISTRY_TABLE": self.registry.table_name,
                "DATA_TABLE": self.data_table.table_name,
                "EXPORTS_BUCKET": self.exports_bucket.bucket_name,
                "ASSETS_BUCKET": self.assets_bucket.bucket_name,
                "EXPORTS_QUEUE": exports_queue_name,
                "TENANT_ROLE_ARN": self.tenant_role.role_arn,
            },
            "lambda_functions": {
                name: {"lambda_timeout": seconds} for name, seconds in settings.timeouts.items()
            } | {chalice_app.API_HANDLER: {"lambda_timeout": settings.timeout(chalice_app.API_HANDLER),
                                           "lambda_memory_size": settings.api_memory_mb}},
        }
        self.chalice, self.app_model = chalice_app.package(self, stage_config, vendor_dependencies=vendor_dependencies)

        # Queues: the one the settings name and every one the app consumes.
        consumers = {c.queue: c for c in self.app_model.sqs_consumers}
        self.queues: dict[str, queues.QueuePair] = {}
        for name in sorted({exports_queue_name, *consumers}):
            consumer = consumers.get(name)
            timeout = settings.timeout(consumer.function) if consumer else settings.default_timeout
            construct_id = "Queue" + "".join(part.capitalize() for part in name.removeprefix(app_name).split("-"))
            self.queues[name] = queues.queue_with_dlq(self, construct_id, name=name, key=self.platform_key,
                                                      consumer_timeout_seconds=timeout)
        for consumer in self.app_model.sqs_consumers:
            function = self.chalice.get_resource(consumer.logical_id)
            event = f"Events.{consumer.event_name}.Properties"
            # Chalice cannot set it (STACK-NOTES): only the failed messages of a batch return.
            function.add_property_override(f"{event}.FunctionResponseTypes", ["ReportBatchItemFailures"])
            # Point at the queue resource, so the mapping is created after the queue.
            function.add_property_override(f"{event}.Queue", self.queues[consumer.queue].queue.queue_arn)

        # The functions' permissions.
        # Each function logs to a log group made here (Chalice's own log groups reference the API
        # handler under a wrong logical id), given through LoggingConfig so it exists first.
        log_group_arns = []
        for fn in self.app_model.functions:
            logical = chalice_app.logical_id(fn)
            group = logs.LogGroup(self, f"Logs{logical}", log_group_name=f"/aws/lambda/{prefix}/{fn}",
                                  retention=settings.log_retention,
                                  removal_policy=RemovalPolicy.RETAIN if settings.protect_data else RemovalPolicy.DESTROY)
            self.chalice.get_resource(logical).add_property_override("LoggingConfig", {
                "LogGroup": group.log_group_name, "LogFormat": "Text"})
            log_group_arns.append(group.log_group_arn)
        sender = environment["PLATFORM_SENDER_EMAIL"]
        identity = f"arn:{self.partition}:ses:{self.region}:{self.account}:identity/"
        policy = iam.Policy(self, "FunctionPolicy", roles=[self.function_role], statements=access.function_statements(
            tenant_role_arn=self.tenant_role.role_arn,
            registry=self.registry, registry_indexes=registry_indexes,
            data_table=self.data_table, data_indexes=data_indexes,
            producer_queues=[p.queue for p in self.queues.values()],
            consumer_queues=[self.queues[c.queue].queue for c in self.app_model.sqs_consumers],
            platform_key=self.platform_key, log_group_arns=log_group_arns,
            sender_identities=[identity + sender, identity + sender.split("@", 1)[1]],
            tenant_key_alias_prefix=f"{app_name}/{settings.name}/tenant/",
        ))
        self._acknowledge_wildcards(policy, app_name)

        # API Gateway: name, key source, usage plans.
        api_name = prefix
        api.configure_rest_api(self.chalice, name=api_name)
        self.usage_plans = api.usage_plans(self, self.chalice, prefix=prefix, plans=settings.plan_limits)

        # Alarms.
        self.alarms = alarms.Alarms(self, key=self.platform_key, email=alarm_email)
        for name, pair in self.queues.items():
            self.alarms.dlq_not_empty(f"DlqDepth{pair.queue.node.id.removeprefix('Queue')}", pair.dlq)
        self.alarms.api_5xx("Api5xx", api_name=api_name, api_stage=API_STAGE, rate=settings.api_5xx_rate_threshold)
        for fn in self.app_model.functions:
            logical = chalice_app.logical_id(fn)
            self.alarms.function_throttles(f"Throttles{logical}", function_name=self.chalice.get_resource(logical).ref,
                                           label=fn)
        self.alarms.table_throttles("ThrottlesRegistry", table_name=self.registry.table_name, label="registry")
        self.alarms.table_throttles("ThrottlesData", table_name=self.data_table.table_name, label="data")

        CfnOutput(self, "ApiUrl", value=self.chalice.sam_template.get_output("EndpointURL").value)
        CfnOutput(self, "TenantRoleArn", value=self.tenant_role.role_arn)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)

    def _acknowledge_wildcards(self, function_policy: iam.Policy, app_name: str) -> None:
        """Every wildcard resource left in the two policies, and why it is bounded."""
        key_pattern = "Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*"
        for bucket in (self.exports_bucket, self.assets_bucket):
            logical = self.resolve(self.get_logical_id(bucket.node.default_child))  # type: ignore[arg-type]
            acknowledge(self.tenant_role, f"AwsSolutions-IAM5[Resource::<{logical}.Arn>/tenants/"
                        "<aws:PrincipalTag/tenant_id>/*]",
                        "ABAC: only the objects under the session tenant's own prefix tenants/<tenant_id>/.")
        acknowledge(self.tenant_role, f"AwsSolutions-IAM5[{key_pattern}]",
                    "ABAC: only KMS keys whose tenant_id tag equals the session's tenant_id tag; tenant keys are "
                    "created at run time, so their ARNs cannot be listed.")
        acknowledge(function_policy, "AwsSolutions-IAM5[Resource::*]",
                    "kms:CreateKey (and TagResource at creation) has no key ARN before the key exists; the "
                    "statement requires the tenant_id request tag and allows no other tag key.")
        acknowledge(function_policy, f"AwsSolutions-IAM5[{key_pattern}]",
                    "Management (describe, rotation, alias, retire) of tenant keys only: conditioned on the key "
                    "carrying a tenant_id tag; the keys are created at run time.")
        acknowledge(function_policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:"
                    f"<AWS::AccountId>:alias/{app_name}/{self.settings.name}/tenant/*]",
                    "Tenant key aliases alias/<app>/<stage>/tenant/<uuid> (chalicelib/crypto/keys.py) for tenants "
                    "created at run time.")
