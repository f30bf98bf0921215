"""One stage of the platform: data, storage, IAM, the Chalice app, queues, limits and alarms."""
from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from constructs import Construct

from chalicelib.limits.storage import STORAGE_EVENTS_QUEUE
from chalicelib.store.schema import TTL_ATTRIBUTE, data_table_spec, registry_table_spec
from platform_infra import (
    access,
    alarms,
    api,
    backup,
    chalice_app,
    data,
    domains,
    edge,
    function_roles,
    observability,
    queues,
    serverless,
    storage,
)
from platform_infra.nag import acknowledge
from platform_infra.stages import (
    INFRA_SET_VARIABLES,
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    StageSettings,
    chalice_stage_environment,
)

API_STAGE = "api"


def _index_names(spec: dict[str, object]) -> list[str]:
    return [i["IndexName"] for i in spec.get("GlobalSecondaryIndexes", [])]  # type: ignore[attr-defined]


class PlatformStack(Stack):
    """The whole system for Chalice stage ``settings.name``.

    The stack's construct id is the stage name: ``chalice.cdk.Chalice`` packages the
    Chalice stage named by its scope. The CloudFormation stack is ``<app>-<stage>``.
    """

    def __init__(self, scope: Construct, settings: StageSettings, *, vendor_dependencies: bool = True,
                 alarm_email: str | None = None, e2e_role_arn: str | None = None,
                 domain: domains.DomainSettings | None = None, **kwargs: object) -> None:
        self.app_environment = chalice_stage_environment(settings.name)
        self.app_name = self.app_environment["APP_NAME"]
        self.prefix = f"{self.app_name}-{settings.name}"
        super().__init__(scope, settings.name, stack_name=self.prefix,
                         description=f"{self.app_name} ({settings.name}): API, workers, schedules, data",
                         **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        # Server access logs are delivered under a bucket policy, not the legacy ACL
        # (the log bucket enforces bucket-owner ownership, which disables ACLs).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)

        self._data_at_rest()
        self._roles(e2e_role_arn)
        self._application(vendor_dependencies)
        self._queues()
        self.schedule_failures = serverless.schedule_failures(
            self, self.chalice, functions=[s.function for s in self.app_model.schedules],
            name=f"{self.prefix}-schedules-dlq", key=self.platform_key)
        self._storage_events()
        self._function_permissions()
        api.configure_rest_api(self.chalice, name=self.prefix)
        self.usage_plans = api.usage_plans(self, self.chalice, prefix=self.prefix, plans=settings.plan_limits)
        self.platform_api_key = edge.platform_api_key(self, name=f"{self.prefix}-platform",
                                                      usage_plan=self.usage_plans["platform"])
        edge.overflow_api_key(self, name=f"{self.prefix}-overflow", usage_plan=self.usage_plans["overflow"])
        self.web_acl = edge.web_acl(self, self.chalice, prefix=self.prefix)
        self._domain(domain)
        self._alarms(alarm_email)
        self._observability()
        backup.backup_plan(self, prefix=self.prefix, settings=settings, key=self.platform_key,
                           tables=[self.registry, self.data_table])

        self._sender_identity()

        CfnOutput(self, "ApiUrl", value=self.chalice.sam_template.get_output("EndpointURL").value)
        CfnOutput(self, "TenantRoleArn", value=self.tenant_role.role_arn)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
        self._outputs()

    def _domain(self, domain: domains.DomainSettings | None) -> None:
        if domain is None:
            return
        configured = self.app_environment["PLATFORM_DOMAIN"]
        if domain.domain != configured:
            # One answer: the app resolves tenants under PLATFORM_DOMAIN (.chalice/config.json).
            raise ValueError(f"domain {domain.domain!r} is not this stage's PLATFORM_DOMAIN {configured!r}")
        for created in domains.platform_domain(self, self.chalice, domain):
            CfnOutput(self, f"{created.node.id}Target", value=created.attr_regional_domain_name)

    def _outputs(self) -> None:
        """What the README tells an operator to use (tests/e2e, the CLI, the console)."""
        for name, value in {
            "RestApiId": self.chalice.get_resource(chalice_app.REST_API).ref, "ApiStageName": API_STAGE,
            "RegistryTableName": self.registry.table_name, "DataTableName": self.data_table.table_name,
            "ExportsBucketName": self.exports_bucket.bucket_name, "AssetsBucketName": self.assets_bucket.bucket_name,
            "PlatformApiKeyId": self.platform_api_key.ref, "WebAclArn": self.web_acl.attr_arn,
        }.items():
            CfnOutput(self, name, value=value)

    def _data_at_rest(self) -> None:
        settings = self.settings
        self.platform_key = data.platform_key(self, settings, self.app_name)
        registry_spec = registry_table_spec(f"{self.prefix}-registry")
        data_spec = data_table_spec(f"{self.prefix}-data")
        self.registry_indexes, self.data_indexes = _index_names(registry_spec), _index_names(data_spec)
        self.registry = data.table(self, "RegistryTable", registry_spec, key=self.platform_key,
                                   settings=settings, ttl_attribute=TTL_ATTRIBUTE)
        self.data_table = data.table(self, "DataTable", data_spec, key=self.platform_key,
                                     settings=settings, ttl_attribute=TTL_ATTRIBUTE)
        access_logs = storage.access_log_bucket(self, settings)
        self.exports_bucket = storage.tenant_bucket(
            self, "ExportsBucket", key=self.platform_key, settings=settings, logs=access_logs,
            lifecycle=storage.exports_lifecycle(settings))
        self.assets_bucket = storage.tenant_bucket(
            self, "AssetsBucket", key=self.platform_key, settings=settings, logs=access_logs,
            lifecycle=storage.assets_lifecycle(settings), versioned=True)

    def _roles(self, e2e_role_arn: str | None) -> None:
        """A role per function (function_roles.py); the tenant role trusts those that assume it
        (and the smoke test's role when one is given: tests/e2e)."""
        self.grants = function_roles.function_grants()
        self.function_roles = function_roles.roles(self, sorted(self.grants))
        assumers: list[iam.IRole] = [role for name, role in self.function_roles.items()
                                     if "assume-tenant-role" in self.grants[name]]
        if e2e_role_arn:
            assumers.append(iam.Role.from_role_arn(self, "SmokeTestRole", e2e_role_arn, mutable=False))
        self.tenant_role = access.tenant_role(
            self, assumed_by=assumers,
            policy=access.tenant_data_policy(data_table=self.data_table, data_indexes=self.data_indexes,
                                             buckets=[self.exports_bucket, self.assets_bucket],
                                             platform_key=self.platform_key))

    def _cursor_signing_key(self) -> str:
        """The stage's own key for pagination cursors (chalicelib/cursors.py): generated by
        Secrets Manager, resolved by CloudFormation into the functions' environment (a
        dynamic reference: the template holds the secret's name, never its value)."""
        secret = secretsmanager.Secret(
            self, "CursorSigningKey", description=f"{self.prefix}: HMAC key of pagination cursors",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64,
                                                                         exclude_punctuation=True))
        acknowledge(secret, "AwsSolutions-SMG4",
                    "one key signs every cursor: rotating it only makes clients restart listings, so it is "
                    "rotated by hand (a new secret version and a deploy), not on a schedule")
        return secret.secret_value.unsafe_unwrap()

    def _application(self, vendor_dependencies: bool) -> None:
        settings = self.settings
        stage_config = {
            "api_gateway_stage": API_STAGE,
            "manage_iam_role": False,
            # Chalice takes one role for all functions from these parameters (its per-function
            # settings are read from .chalice/config.json only): each function's own role is
            # set on the template below.
            "iam_role_arn": self.function_roles[chalice_app.API_HANDLER].role_arn,
            "autogen_policy": False,
            "lambda_architecture": LAMBDA_ARCHITECTURE,
            # The names chalicelib/settings.py reads; the rest comes from .chalice/config.json.
            "environment_variables": {
                "REGISTRY_TABLE": self.registry.table_name,
                "DATA_TABLE": self.data_table.table_name,
                "EXPORTS_BUCKET": self.exports_bucket.bucket_name,
                "ASSETS_BUCKET": self.assets_bucket.bucket_name,
                # The app's retention of an export and the bucket's lifecycle must say the same.
                "EXPORT_RETENTION_DAYS": str(settings.export_retention_days),
                "TENANT_DATA_ROLE_ARN": self.tenant_role.role_arn,
                "CURSOR_SIGNING_KEY": self._cursor_signing_key(),
            },
        }
        if set(stage_config["environment_variables"]) != set(INFRA_SET_VARIABLES):  # type: ignore[arg-type]
            raise ValueError("infra sets exactly INFRA_SET_VARIABLES (platform_infra/stages.py)")
        self.chalice, self.app_model = chalice_app.package(self, stage_config, vendor_dependencies=vendor_dependencies)
        # Each function logs to a log group made here, named in its LoggingConfig so it exists
        # before the function (Chalice's own log groups name the API handler's logical id wrongly).
        self.log_groups: dict[str, logs.LogGroup] = {}
        for function in self.app_model.functions:
            logical = chalice_app.logical_id(function)
            # Set on the template: chalice's stage_config cannot vary them per function.
            resource = self.chalice.get_resource(logical)
            resource.add_property_override("Timeout", settings.timeout(function))
            resource.add_property_override("MemorySize", settings.memory(function))
            resource.add_property_override("Role", self.function_roles[function].role_arn)
            resource.add_property_override("Runtime", LAMBDA_RUNTIME)
            group = logs.LogGroup(
                self, f"Logs{logical}", log_group_name=f"/aws/lambda/{self.prefix}/{function}",
                retention=settings.log_retention,
                removal_policy=RemovalPolicy.RETAIN if settings.protect_data else RemovalPolicy.DESTROY)
            resource.add_property_override("LoggingConfig", {"LogGroup": group.log_group_name, "LogFormat": "JSON"})
            self.log_groups[function] = group

    def _queues(self) -> None:
        """A queue and its DLQ for the queue the settings name and for every queue the app consumes."""
        consumers = {c.queue: c for c in self.app_model.sqs_consumers}
        self.queues: dict[str, queues.QueuePair] = {}
        self._queue_keys: dict[str, kms.IKey] = {}
        for name in sorted({self.app_environment["EXPORTS_QUEUE"], *consumers}):
            consumer = consumers.get(name)
            timeout = self.settings.timeout(consumer.function) if consumer else self.settings.default_timeout
            construct_id = "Queue" + "".join(p.capitalize() for p in name.removeprefix(self.app_name).split("-"))
            self._queue_keys[name] = self._queue_key(name)
            self.queues[name] = queues.queue_with_dlq(self, construct_id, name=name, key=self._queue_keys[name],
                                                      consumer_timeout_seconds=timeout)
        for consumer in self.app_model.sqs_consumers:
            function = self.chalice.get_resource(consumer.logical_id)
            event = f"Events.{consumer.event_name}.Properties"
            # Chalice cannot set it: only the failed messages of a batch return to the queue.
            function.add_property_override(f"{event}.FunctionResponseTypes", ["ReportBatchItemFailures"])
            # The queue resource instead of an ARN built from its name: the mapping waits for the queue.
            function.add_property_override(f"{event}.Queue", self.queues[consumer.queue].queue.queue_arn)

    def _queue_key(self, name: str) -> kms.IKey:
        """The platform key, except for the storage-events queue: S3 writes to it, so its key's
        policy names the assets bucket, which the platform key encrypts (a cycle)."""
        if name != STORAGE_EVENTS_QUEUE:
            return self.platform_key
        key = kms.Key(self, "StorageEventsKey", enable_key_rotation=True,
                      alias=f"alias/{self.app_name}/{self.settings.name}/storage-events",
                      description="the assets bucket's object events on their way to the app",
                      removal_policy=RemovalPolicy.RETAIN if self.settings.protect_data else RemovalPolicy.DESTROY)
        data.refuse_tenant_tag(key)
        return key

    def _storage_events(self) -> None:
        """The assets bucket tells the ``storage_events`` consumer of every object created or
        removed under ``tenants/`` (the tenants' storage counters: chalicelib/jobs/usage.py)."""
        queue = self.queues[STORAGE_EVENTS_QUEUE].queue
        for event in (s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED):
            self.assets_bucket.add_event_notification(event, s3n.SqsDestination(queue),
                                                      s3.NotificationKeyFilter(prefix="tenants/"))
        notifications = self.assets_bucket.node.try_find_child("Notifications")
        if notifications is not None:
            # CDK makes the notification wait for the queue both by DependsOn and by the
            # queue's ARN; cfn-lint's W3005 flags the redundant DependsOn it generates.
            notifications.node.default_child.add_metadata(
                "cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        handler = self.node.try_find_child("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
        if handler is not None:
            # Its function waits for its role by DependsOn and by the role's ARN (cfn-lint W3005).
            handler.node.default_child.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
            acknowledge(handler, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                                 "AWSLambdaBasicExecutionRole]",
                        "CDK's own bucket-notifications custom resource; it only writes its logs with this policy")

    def _function_permissions(self) -> None:
        missing = set(self.app_model.functions) ^ set(self.grants)
        if missing:
            raise ValueError(f"function_access.json and the app disagree on functions: {sorted(missing)}")
        sender = self.app_environment["PLATFORM_SENDER_EMAIL"]
        identity = f"arn:{self.partition}:ses:{self.region}:{self.account}:identity/"
        targets = function_roles.Targets(
            registry=self.registry, registry_indexes=self.registry_indexes, data_table=self.data_table,
            queues={name: pair.queue for name, pair in self.queues.items()},
            queue_keys={name: self._queue_keys[name] for name in self.queues},
            tenant_role_arn=self.tenant_role.role_arn,
            sender_identities=[identity + sender, identity + sender.split("@", 1)[1]],
            tenant_key_alias_prefix=f"{self.app_name}/{self.settings.name}/tenant/",
            dr_region=self.settings.dr_region)
        consumed = {c.function: c.queue for c in self.app_model.sqs_consumers}
        scheduled = {s.function for s in self.app_model.schedules}
        for name, role in self.function_roles.items():
            policy = function_roles.attach(self, name, role, self.grants[name], targets,
                                           log_group_arn=self.log_groups[name].log_group_arn,
                                           consumed_queue=consumed.get(name),
                                           failures=((self.schedule_failures, self.platform_key)
                                                     if name in scheduled else None))
            self._acknowledge_wildcards(policy, self.grants[name])
        self._acknowledge_tenant_role_wildcards()

    def _sender_identity(self) -> None:
        """SES sends only from a verified identity: the sender's domain, verified by DKIM records.

        Publish the three CNAMEs of the outputs ``Dkim1..3`` in the domain's DNS.
        """
        domain = self.app_environment["PLATFORM_SENDER_EMAIL"].split("@", 1)[1]
        identity = ses.EmailIdentity(self, "SenderDomain", identity=ses.Identity.domain(domain))
        for n, (name, value) in enumerate(((identity.dkim_dns_token_name1, identity.dkim_dns_token_value1),
                                           (identity.dkim_dns_token_name2, identity.dkim_dns_token_value2),
                                           (identity.dkim_dns_token_name3, identity.dkim_dns_token_value3)), 1):
            CfnOutput(self, f"Dkim{n}", value=f"{name} CNAME {value}")

    def _alarms(self, email: str | None) -> None:
        self.alarms = alarms.Alarms(self, key=self.platform_key, email=email)
        for pair in self.queues.values():
            self.alarms.dlq_not_empty(f"DlqDepth{pair.queue.node.id.removeprefix('Queue')}", pair.dlq)
        self.alarms.dlq_not_empty("DlqDepthScheduleFailures", self.schedule_failures)
        self.alarms.api_5xx("Api5xx", api_name=self.prefix, api_stage=API_STAGE,
                            rate=self.settings.api_5xx_rate_threshold)
        for function in self.app_model.functions:
            logical = chalice_app.logical_id(function)
            self.alarms.function_throttles(f"Throttles{logical}", label=function,
                                           function_name=self.chalice.get_resource(logical).ref)
        self.alarms.table_throttles("ThrottlesRegistry", table_name=self.registry.table_name, label="registry")
        self.alarms.table_throttles("ThrottlesData", table_name=self.data_table.table_name, label="data")

    def _observability(self) -> None:
        """Tracing, JSON logs, access logs, the alarms alarms.py lacks, the dashboard (observability.py)."""
        functions = [observability.FunctionRef(f, self.chalice.get_resource(chalice_app.logical_id(f)).ref,
                                               self.settings.timeout(f), self.log_groups[f])
                     for f in self.app_model.functions]
        observability.trace_and_log_json(self.chalice, list(self.app_model.functions),
                                        list(self.function_roles.values()), self)
        observability.api_access_logs(self, self.chalice, self.settings, self.prefix)
        serverless.api_execution_logs(self, self.chalice, self.settings, stage=API_STAGE)
        for function in functions:
            observability.function_alarms(self, self.alarms, function)
        for pair in self.queues.values():
            observability.queue_age_alarm(self, self.alarms, f"QueueAge{pair.queue.node.id.removeprefix('Queue')}",
                                          pair.queue)
        observability.platform_alarms(self, self.alarms, stage=self.settings.name,
                                      jobs=[s.handler for s in self.app_model.schedules],
                                      function_logs=[f.log_group for f in functions])
        rules = observability.top_tenant_rules(self, self.prefix, self.log_groups[chalice_app.API_HANDLER]
                                               .log_group_name)
        observability.dashboard(self, prefix=self.prefix, stage=self.settings.name, api_name=self.prefix,
                                api_stage=API_STAGE, functions=functions,
                                queues={name: pair.queue for name, pair in self.queues.items()}, rules=rules)

    def _acknowledge_tenant_role_wildcards(self) -> None:
        for bucket in (self.exports_bucket, self.assets_bucket):
            logical = self.resolve(self.get_logical_id(bucket.node.default_child))  # type: ignore[arg-type]
            acknowledge(self.tenant_role, f"AwsSolutions-IAM5[Resource::<{logical}.Arn>/tenants/"
                        "<aws:PrincipalTag/tenant_id>/*]",
                        "ABAC: only the objects under the session tenant's own prefix tenants/<tenant_id>/.")

    def _acknowledge_wildcards(self, policy: iam.Policy, grants: list[str]) -> None:
        """Every wildcard resource a function's policy holds, and why it is bounded."""
        key_pattern = "Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*"
        if "create-tenant-keys" in grants:
            acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                        "kms:CreateKey, and kms:TagResource at creation, cannot name a key that does not exist yet; "
                        "the statement requires the tenant_id request tag, no other tag, and an untagged key.")
        if "send-tenant-mail" in grants:
            acknowledge(policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:"
                        "identity/*]",
                        "Tenants' email integrations send through SES from their own verified domains, which are "
                        "configured at run time; SES sends only from identities verified in the account.")
        if "send-platform-sms" in grants:
            acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                        "sns:Publish of an SMS to a phone number has no resource ARN; publishing to any topic is "
                        "denied by the statement beside it.")
        if "manage-tenant-keys" in grants:
            acknowledge(policy, f"AwsSolutions-IAM5[{key_pattern}]",
                        "Management (describe, rotation, alias, retire) of tenant keys only: conditioned on the key "
                        "carrying a tenant_id tag; the keys are created at run time.")
            acknowledge(policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:"
                        f"<AWS::AccountId>:alias/{self.app_name}/{self.settings.name}/tenant/*]",
                        "Tenant key aliases alias/<app>/<stage>/tenant/<uuid> (chalicelib/crypto/keys.py) for "
                        "tenants created at run time.")
        if "replicate-tenant-keys" in grants and self.settings.dr_region:
            acknowledge(policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:"
                        "key/mrk-*]",
                        "kms:ReplicateKey of tenant keys (multi-Region, created at run time) only, tagged tenant_id, "
                        "and only to the stage's DR region (kms:ReplicaRegion).")
        if "manage-tenant-key-replicas" in grants and self.settings.dr_region:
            region = self.settings.dr_region
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:{region}:<AWS::AccountId>:"
                        "key/mrk-*]",
                        "Tenant keys' replicas in the DR region (alias, describe, retire), tagged tenant_id; they are "
                        "created at run time with their primary.")
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:{region}:<AWS::AccountId>:"
                        f"alias/{self.app_name}/{self.settings.name}/tenant/*]",
                        "The tenants' key aliases in the DR region, alias/<app>/<stage>/tenant/<uuid>, for tenants "
                        "created at run time.")
        if "custom-domains" in grants:
            for path in ("/domainnames/*", "/domainnames/*/basepathmappings", "/domainnames/*/basepathmappings/*",
                         "/tags/*"):
                acknowledge(policy,
                            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::{path}]",
                            "Tenants' custom domain names are made, mapped and deleted by the app at run time "
                            "(chalicelib/domains); their names are the tenants' own, unknown to the stack.")
            acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                        "acm:RequestCertificate cannot name a certificate that does not exist yet; the statement "
                        "requires the tenant_id request tag and no other tag.")
            acknowledge(policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:acm:<AWS::Region>:<AWS::AccountId>:"
                        "certificate/*]",
                        "Tenants' custom-domain certificates are requested at run time; describe and delete are "
                        "conditioned on the certificate carrying a tenant_id tag, tagging on the request's tag.")
        if "usage-plans" in grants:
            for path in ("/usageplans/*/keys", "/usageplans/*/keys/*", "/apikeys/*", "/tags/*"):
                acknowledge(policy,
                            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::{path}]",
                            "Tenant API keys are created, attached to the stack's usage plans and deleted by the "
                            "app at run time (chalicelib/ratelimit/usage_plans.py); their ids cannot be listed.")
