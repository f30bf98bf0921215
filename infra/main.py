"""The CDK app: ``cdk synth`` / ``cdk deploy <stage>`` from this directory (see README, Deploy).

Context: ``stages`` (comma-separated, default ``dev,prod``), ``alarm_email`` (subscribed
to the alarm topic), ``e2e_role_arn`` (a role the tenant role also trusts, for the smoke
test tests/e2e only), ``vendor_dependencies`` (``false`` packages only the app's code:
for offline checks, not for deploying).
"""
from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from platform_infra import STAGES, PlatformStack, stage_settings


def build(app: cdk.App) -> list[PlatformStack]:
    names = str(app.node.try_get_context("stages") or ",".join(STAGES)).split(",")
    vendor = str(app.node.try_get_context("vendor_dependencies") or "true").lower() != "false"
    email = app.node.try_get_context("alarm_email")
    e2e_role = app.node.try_get_context("e2e_role_arn")
    stacks = [PlatformStack(app, stage_settings(name.strip()), vendor_dependencies=vendor, alarm_email=email,
                            e2e_role_arn=e2e_role)
              for name in names if name.strip()]
    add_checks(app)
    return stacks


def add_checks(app: cdk.App) -> None:
    """cdk-nag's AWS Solutions rules: synthesis fails on any finding not acknowledged beside its resource."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # type: ignore[attr-defined]


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
