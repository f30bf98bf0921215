"""The app synthesizes for every stage, cdk-nag and CDK's checks pass, cfn-lint finds nothing."""
from __future__ import annotations

import json

import pytest

from tests.infra.conftest import STAGES, Synthesis

# Every acknowledged cdk-nag finding, by rule: a new one must be reviewed here too.
ACKNOWLEDGED_RULES = {"AwsSolutions::AwsSolutions-S1", "AwsSolutions::AwsSolutions-IAM5", "CloudFormation-Validate::F1020",
                      # CDK's own bucket-notifications handler (the storage-events notification) and
                      # AWS Backup's selection role (AWSBackupServiceRolePolicyForBackup), and
                      # API Gateway's account-level logging role (AmazonAPIGatewayPushToCloudWatchLogs)
                      "AwsSolutions::AwsSolutions-IAM4",
                      # the cursor signing key's secret: rotated by hand (stack.py::_cursor_signing_key)
                      "AwsSolutions::AwsSolutions-SMG4",
                      # the schedules' failure queue is itself a dead-letter destination (serverless.py)
                      "AwsSolutions::AwsSolutions-SQS3"}


def test_every_stage_synthesizes_with_no_validation_finding(synthesis: Synthesis) -> None:
    assert synthesis.returncode == 0, synthesis.output[-4000:]
    # Each stage, and prod's disaster-recovery stack in its DR region (infra/platform_infra/backup.py)
    assert set(synthesis.templates) == {*STAGES, "prod-dr"}
    assert synthesis.report is not None
    for plugin in synthesis.report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["pluginName"]
        assert plugin["violations"] == []


@pytest.mark.parametrize("stage", STAGES)
def test_every_acknowledgment_has_a_reason_and_a_reviewed_rule(synthesis: Synthesis, stage: str) -> None:
    metadata = json.loads((synthesis.outdir / f"{stage}.metadata.json").read_text())
    acknowledged = {rule: reason for entries in metadata.values() for entry in entries
                    if entry["type"] == "aws:cdk:acknowledged-rules" for rule, reason in entry["data"].items()}
    assert acknowledged
    for rule, reason in acknowledged.items():
        base = rule.split("[", 1)[0]
        assert base in ACKNOWLEDGED_RULES, rule
        assert len(reason) >= 30, rule


@pytest.mark.parametrize("stage", [*STAGES, "prod-dr"])
def test_cfn_lint_finds_nothing(synthesis: Synthesis, stage: str) -> None:
    from cfnlint.api import lint

    matches = lint(synthesis.template_path(stage).read_text(), regions=["us-east-1", "eu-west-1"])

    assert [str(m) for m in matches] == []


def test_the_same_checks_fail_an_unacknowledged_finding(synthesis: Synthesis) -> None:
    # The control app: one queue that allows plain HTTP and has no DLQ.
    assert synthesis.control == {"failed": True, "rules": ["AwsSolutions-SQS3", "AwsSolutions-SQS4"]}


@pytest.mark.parametrize("stage", STAGES)
def test_chalice_config_holds_no_value_infra_sets(templates, stage: str) -> None:
    """A name in .chalice/config.json that infra overrides is a second, wrong answer: the CLI
    read the tables' names there, and CDK names them otherwise."""
    from platform_infra.stages import INFRA_SET_VARIABLES, chalice_stage_environment

    functions = [r for r in templates[stage]["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    for function in functions:
        assert set(INFRA_SET_VARIABLES) <= set(function["Properties"]["Environment"]["Variables"])
    assert set(chalice_stage_environment(stage)) & set(INFRA_SET_VARIABLES) == set()


@pytest.mark.parametrize("stage", STAGES)
def test_the_cursor_signing_key_is_a_generated_secret_never_a_literal(templates, stage: str) -> None:
    """A key written into the template (or .chalice/config.json) would be readable by anyone
    who can read the template: the functions get a dynamic reference to a generated secret."""
    resources = templates[stage]["Resources"]
    secrets = {k: r for k, r in resources.items() if r["Type"] == "AWS::SecretsManager::Secret"}
    [logical] = [k for k in secrets if k.startswith("CursorSigningKey")]
    assert secrets[logical]["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    for function in (r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"):
        value = json.dumps(function["Properties"]["Environment"]["Variables"]["CURSOR_SIGNING_KEY"])
        assert "{{resolve:secretsmanager:" in value and logical in value
