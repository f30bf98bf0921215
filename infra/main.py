"""The CDK app: ``cdk synth`` / ``cdk deploy <stage>`` from this directory (see README, Deploy).

Context: ``stages`` (comma-separated, default ``dev,prod``), ``alarm_email`` (subscribed
to the alarm topic), ``vendor_dependencies`` (``false`` packages only the app's code:
for offline checks, not for deploying).
"""
from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from platform_infra import STAGES, PlatformStack, stage_settings
from platform_infra.backup import DisasterRecoveryStack


def build(app: cdk.App) -> list[PlatformStack]:
    names = str(app.node.try_get_context("stages") or ",".join(STAGES)).split(",")
    vendor = str(app.node.try_get_context("vendor_dependencies") or "true").lower() != "false"
    email = app.node.try_get_context("alarm_email")
    stacks = [PlatformStack(app, stage_settings(name.strip()), vendor_dependencies=vendor, alarm_email=email)
              for name in names if name.strip()]
    for stack in list(stacks):
        if stack.settings.dr_region:
            DisasterRecoveryStack(app, stack.settings, app_name=stack.app_name,
                                  env=cdk.Environment(region=stack.settings.dr_region))
    add_checks(app)
    return stacks


def add_checks(app: cdk.App) -> None:
    """cdk-nag's AWS Solutions rules: synthesis fails on any finding not acknowledged beside its resource."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # type: ignore[attr-defined]


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
