"""Backups and disaster recovery: an AWS Backup plan for both tables, and the DR region's vault.

* Daily backups of the registry and data tables, kept 35 days, in a vault encrypted with
  the platform key; on stages with a DR region (prod) each recovery point is also copied
  to ``<app>-<stage>-dr`` in that region, kept as long. Point-in-time recovery (35 days
  to the second) stays on both tables (``data.table``): Backup adds copies that survive
  the table's deletion and a region's loss.
* ``DisasterRecoveryStack`` (prod only) is the vault in the DR region, with a key of its
  own there. Tenant keys are multi-Region keys replicated to the DR region by the app
  (``chalicelib/crypto/keys.py``), so a copied table's sealed PII decrypts there.

The procedures (point-in-time restore, one tenant's restore, failover) are
``docs/runbook-backup-and-dr.md``.
"""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct

from platform_infra.data import refuse_tenant_tag
from platform_infra.nag import acknowledge
from platform_infra.stages import StageSettings

RETENTION_DAYS = 35
# 05:00 UTC: after the nightly audit chaining and usage reconciliation have run.
DAILY = events.Schedule.cron(minute="0", hour="5")


def dr_vault_name(prefix: str) -> str:
    return f"{prefix}-dr"


def backup_plan(scope: Construct, *, prefix: str, settings: StageSettings, key: kms.IKey,
                tables: list[dynamodb.ITable]) -> backup.BackupPlan:
    removal = RemovalPolicy.RETAIN if settings.protect_data else RemovalPolicy.DESTROY
    vault = backup.BackupVault(scope, "BackupVault", backup_vault_name=prefix, encryption_key=key,
                               removal_policy=removal)
    copies = []
    if settings.dr_region:
        stack = Stack.of(scope)
        dr_arn = (f"arn:{stack.partition}:backup:{settings.dr_region}:{stack.account}:backup-vault:"
                  f"{dr_vault_name(prefix)}")
        copies.append(backup.BackupPlanCopyActionProps(
            destination_backup_vault=backup.BackupVault.from_backup_vault_arn(scope, "DrVault", dr_arn),
            delete_after=Duration.days(RETENTION_DAYS)))
    plan = backup.BackupPlan(scope, "BackupPlan", backup_plan_name=prefix, backup_vault=vault,
                             backup_plan_rules=[backup.BackupPlanRule(
                                 rule_name="daily", schedule_expression=DAILY,
                                 delete_after=Duration.days(RETENTION_DAYS), copy_actions=copies or None)])
    selection = plan.add_selection("Tables", resources=[backup.BackupResource.from_dynamo_db_table(t) for t in tables],
                                   backup_selection_name=f"{prefix}-tables")
    acknowledge(selection, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                           "AWSBackupServiceRolePolicyForBackup]",
                "AWS Backup's own service-role policy for its selection role: AWS maintains the actions "
                "Backup needs to snapshot the tables, and the role is assumable by Backup only.")
    return plan


class DisasterRecoveryStack(Stack):
    """The DR region's side of a stage: the vault Backup copies into, under a key of that region."""

    def __init__(self, scope: Construct, settings: StageSettings, *, app_name: str, **kwargs: object) -> None:
        prefix = f"{app_name}-{settings.name}"
        super().__init__(scope, f"{settings.name}-dr", stack_name=f"{prefix}-dr",
                         description=f"{app_name} ({settings.name}): disaster-recovery vault in {settings.dr_region}",
                         **kwargs)  # type: ignore[arg-type]
        key = kms.Key(self, "DrKey", enable_key_rotation=True, alias=f"alias/{app_name}/{settings.name}/dr",
                      description=f"{prefix}: backup copies in the DR region",
                      removal_policy=RemovalPolicy.RETAIN)
        refuse_tenant_tag(key)
        backup.BackupVault(self, "DrVault", backup_vault_name=dr_vault_name(prefix), encryption_key=key,
                           removal_policy=RemovalPolicy.RETAIN)
