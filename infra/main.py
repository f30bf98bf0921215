"""The CDK app: ``cdk synth`` / ``cdk deploy <stage>`` from this directory (see README, Deploy).

Context: ``stages`` (comma-separated, default ``dev,prod``), ``alarm_email`` (subscribed
to the alarm topic), ``e2e_role_arn`` (a role the tenant role also trusts, for the smoke
test tests/e2e only), ``domain`` with ``hosted_zone_id`` and optionally ``certificate_arn``
(the stage's PLATFORM_DOMAIN and its wildcard in front of the API: platform_infra/domains.py;
only with one stage), ``vendor_dependencies`` (``false`` packages only the app's code:
for offline checks, not for deploying).
"""
from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from platform_infra import STAGES, PlatformStack, stage_settings
from platform_infra.backup import DisasterRecoveryStack
from platform_infra.domains import DomainSettings
from platform_infra.serverless_checks import enforce


def build(app: cdk.App) -> list[PlatformStack]:
    names = str(app.node.try_get_context("stages") or ",".join(STAGES)).split(",")
    vendor = str(app.node.try_get_context("vendor_dependencies") or "true").lower() != "false"
    email = app.node.try_get_context("alarm_email")
    e2e_role = app.node.try_get_context("e2e_role_arn")
    domain = None
    if app.node.try_get_context("domain"):
        if len([n for n in names if n.strip()]) != 1:
            raise ValueError("a domain is given to one stage: -c stages=<stage> -c domain=...")
        domain = DomainSettings(domain=str(app.node.try_get_context("domain")),
                                hosted_zone_id=str(app.node.try_get_context("hosted_zone_id")),
                                certificate_arn=app.node.try_get_context("certificate_arn"))
    stacks = [PlatformStack(app, stage_settings(name.strip()), vendor_dependencies=vendor, alarm_email=email,
                            e2e_role_arn=e2e_role, domain=domain)
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


def synth(app: cdk.App) -> cdk.cx_api.CloudAssembly:
    """Synthesize, then check the functions and the API, which cdk-nag cannot see as SAM
    resources (platform_infra/serverless_checks.py): any finding fails, like cdk-nag's."""
    assembly = app.synth()
    enforce({stack.stack_name: stack.template for stack in assembly.stacks})
    return assembly


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    synth(application)
