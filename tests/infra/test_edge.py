"""What a deployed stage needs before its first request, made by the stack itself, and its
front door: the platform API key on its usage plan, a WAF web ACL on the API stage, outputs.

Without the platform key, super-admins' requests are refused by the authorizer until an
operator runs a command by hand; without a WAF a public API takes any request rate per IP.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import STAGES, one, resources


@pytest.fixture(scope="module", params=STAGES)
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def template(templates: dict[str, dict[str, Any]], stage: str) -> dict[str, Any]:
    return templates[stage]


def test_the_platform_api_key_exists_on_the_platform_usage_plan(template, stage):
    # Named and tagged as chalicelib/ratelimit/usage_plans.py finds it (platform_key_name).
    key_id, key = one(template, "AWS::ApiGateway::ApiKey", Name=f"tenant-platform-{stage}-platform")
    assert key["Properties"]["Enabled"] is True
    assert {"Key": "scope", "Value": "platform"} in key["Properties"]["Tags"]
    plan_id, _ = one(template, "AWS::ApiGateway::UsagePlan", UsagePlanName=f"tenant-platform-{stage}-plan-platform")
    attachments = [r["Properties"] for r in resources(template, "AWS::ApiGateway::UsagePlanKey").values()]
    assert {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan_id}} in attachments


def test_the_overflow_api_key_exists_on_the_overflow_usage_plan(template, stage):
    # Tenants past the account's API key quota share it (usage_plans.py overflow_key_name).
    key_id, key = one(template, "AWS::ApiGateway::ApiKey", Name=f"tenant-platform-{stage}-overflow")
    assert key["Properties"]["Enabled"] is True
    plan_id, _ = one(template, "AWS::ApiGateway::UsagePlan", UsagePlanName=f"tenant-platform-{stage}-plan-overflow")
    attachments = [r["Properties"] for r in resources(template, "AWS::ApiGateway::UsagePlanKey").values()]
    assert {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan_id}} in attachments
    assert len(attachments) == 2  # tenant keys are attached by the app, never by the stack


def test_a_waf_web_acl_with_managed_common_rules_and_a_per_ip_rate_rule_guards_the_api_stage(template):
    [(acl_id, acl)] = resources(template, "AWS::WAFv2::WebACL").items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    statements = [r["Statement"] for r in props["Rules"]]
    assert {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}} in statements
    rate = [s["RateBasedStatement"] for s in statements if "RateBasedStatement" in s]
    assert rate and rate[0]["AggregateKeyType"] == "IP" and rate[0]["Limit"] > 0
    assert all(r["VisibilityConfig"]["CloudWatchMetricsEnabled"] for r in props["Rules"])
    [association] = resources(template, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    arn = association["Properties"]["ResourceArn"]["Fn::Join"][1]
    assert {"Ref": "RestAPI"} in arn and {"Ref": "RestAPI.Stage"} in arn


def test_the_stack_outputs_what_an_operator_uses(template):
    outputs = set(template["Outputs"])
    assert {"ApiUrl", "RestApiId", "ApiStageName", "TenantRoleArn", "AlarmTopicArn", "RegistryTableName",
            "DataTableName", "ExportsBucketName", "AssetsBucketName", "PlatformApiKeyId", "WebAclArn"} <= outputs
