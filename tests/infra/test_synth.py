"""The app synthesizes for every stage, cdk-nag and CDK's checks pass, cfn-lint finds nothing."""
from __future__ import annotations

import json

import pytest

from tests.infra.conftest import STAGES, Synthesis

# Every acknowledged cdk-nag finding, by rule: a new one must be reviewed here too.
ACKNOWLEDGED_RULES = {"AwsSolutions::AwsSolutions-S1", "AwsSolutions::AwsSolutions-IAM5", "CloudFormation-Validate::F1020"}


def test_every_stage_synthesizes_with_no_validation_finding(synthesis: Synthesis) -> None:
    assert synthesis.returncode == 0, synthesis.output[-4000:]
    assert set(synthesis.templates) == set(STAGES)
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


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_finds_nothing(synthesis: Synthesis, stage: str) -> None:
    from cfnlint.api import lint

    matches = lint(synthesis.template_path(stage).read_text(), regions=["us-east-1", "eu-west-1"])

    assert [str(m) for m in matches] == []


def test_cdk_nag_as_configured_fails_an_unacknowledged_finding(tmp_path) -> None:
    # The negative control: the same checks reject a queue that allows plain HTTP.
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs
    from main import add_checks

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "control")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.SQS_MANAGED)
    add_checks(app)

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "AwsSolutions-SQS4" in rules
