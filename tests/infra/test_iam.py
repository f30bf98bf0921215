"""Least privilege: the tenant data-access role (golden), the functions' role, and no Scan anywhere."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.store import keys
from chalicelib.store.keys import tenant_object_key, tenant_prefix
from chalicelib.store.schema import data_table_spec
from tests.infra.conftest import STAGES, resources

TENANT = "${aws:PrincipalTag/tenant_id}"
ACCOUNT_KEYS = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":kms:", {"Ref": "AWS::Region"}, ":",
                                  {"Ref": "AWS::AccountId"}, ":key/*"]]}
TAG_CONDITION = {"Null": {"aws:RequestTag/tenant_id": "false"},
                 "ForAllValues:StringEquals": {"aws:TagKeys": ["tenant_id"]}}


@pytest.fixture(scope="module", params=STAGES)
def template(request: pytest.FixtureRequest, templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates[request.param]


def _env(template: dict[str, Any]) -> dict[str, Any]:
    function = next(iter(resources(template, "AWS::Serverless::Function").values()))
    return function["Properties"]["Environment"]["Variables"]


def _roles(template: dict[str, Any]) -> tuple[str, str]:
    """(functions' role, tenant role) logical ids."""
    tenant_role = _env(template)["TENANT_DATA_ROLE_ARN"]["Fn::GetAtt"][0]
    function_role = next(iter(resources(template, "AWS::Serverless::Function").values()))["Properties"]["Role"]
    return function_role["Fn::GetAtt"][0], tenant_role


def _arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def _under(logical: str, suffix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [_arn(logical), suffix]]}


def test_the_conditions_are_the_keys_modules_prefixes_with_the_session_tenant():
    from platform_infra.access import LEADING_KEYS_PATTERN, TENANT_OBJECT_PREFIX

    # keys.py formats the tenant id into its prefixes; the policy puts the session tag there.
    assert LEADING_KEYS_PATTERN == tenant_prefix(TENANT) + "*"  # type: ignore[arg-type]
    assert TENANT_OBJECT_PREFIX + "x" == tenant_object_key(TENANT, "x")  # type: ignore[arg-type]


def test_tenant_role_policy_golden(template):
    _, tenant_role = _roles(template)
    env = _env(template)
    table, exports, assets = env["DATA_TABLE"]["Ref"], env["EXPORTS_BUCKET"]["Ref"], env["ASSETS_BUCKET"]["Ref"]
    key = next(k for k in resources(template, "AWS::KMS::Key") if k.startswith("PlatformKey"))
    indexes = [i["IndexName"] for i in data_table_spec("x")["GlobalSecondaryIndexes"]]
    assert indexes == ["gsi1", "gsi2", "gsi3"]

    policies = template["Resources"][tenant_role]["Properties"]["Policies"]

    assert policies == [{"PolicyName": "TenantData", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Sid": "TenantItems", "Effect": "Allow",
         "Action": ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                    "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                    "dynamodb:UpdateItem"],
         "Resource": [_arn(table), _under(table, "/index/gsi1"), _under(table, "/index/gsi2"),
                      _under(table, "/index/gsi3")],
         "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"T#{TENANT}#*"]}}},
        {"Sid": "TenantObjects", "Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts",
                    "s3:PutObject"],
         "Resource": [_under(exports, f"/tenants/{TENANT}/*"), _under(assets, f"/tenants/{TENANT}/*")]},
        {"Sid": "TenantObjectListing", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": [_arn(exports), _arn(assets)],
         "Condition": {"StringLike": {"s3:prefix": [f"tenants/{TENANT}/*"]}}},
        {"Sid": "TenantKeys", "Effect": "Allow",
         "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
         "Resource": ACCOUNT_KEYS,
         "Condition": {"StringEquals": {"aws:ResourceTag/tenant_id": TENANT}}},
        {"Sid": "BucketEncryptionThroughS3", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": _arn(key),
         "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"},
                                                                              ".amazonaws.com"]]}}}},
    ]}}]


def test_tenant_role_is_assumable_only_by_the_functions_role_with_the_tenant_tag(template):
    function_role, tenant_role = _roles(template)
    trust = template["Resources"][tenant_role]["Properties"]["AssumeRolePolicyDocument"]
    assert trust == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Principal": {"AWS": _arn(function_role)}, "Condition": TAG_CONDITION}]}


def test_functions_role_is_lambdas_and_assumes_the_tenant_role_only_with_the_tag(template):
    function_role, tenant_role = _roles(template)
    trust = template["Resources"][function_role]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                   "Principal": {"Service": "lambda.amazonaws.com"}}]
    statements = [s for p in resources(template, "AWS::IAM::Policy").values()
                  if p["Properties"]["Roles"] == [{"Ref": function_role}]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    sts = [s for s in statements if any(a.startswith("sts:") for a in _actions(s))]
    assert sts == [{"Sid": "AssumeTenantRole", "Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Resource": _arn(tenant_role), "Condition": TAG_CONDITION}]
    # Tenant keys: crypto use is the tenant role's, the functions' role only manages them.
    kms_allowed = {a for s in statements if s["Effect"] == "Allow" for a in _actions(s) if a.startswith("kms:")}
    assert not kms_allowed & {"kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"}
    for s in statements:
        if "kms:Decrypt" in _actions(s):
            assert s["Condition"]["StringEquals"]["kms:ViaService"]  # queue encryption only
        if s["Resource"] == "*" and _actions(s) != ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]:
            # (X-Ray's two actions take no resource: observability.py's tracing policy.)
            assert _actions(s) == ["kms:CreateKey", "kms:TagResource"]
            assert s["Condition"]["Null"] == {"aws:RequestTag/tenant_id": "false", "aws:ResourceTag/tenant_id": "true"}


def test_functions_role_only_writes_the_platform_partitions_of_the_data_table(template):
    function_role, _ = _roles(template)
    table = _env(template)["DATA_TABLE"]["Ref"]
    statements = [s for p in resources(template, "AWS::IAM::Policy").values()
                  if p["Properties"]["Roles"] == [{"Ref": function_role}]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    on_data = [s for s in statements if _arn(table) in _resources(s) or any(
        isinstance(r, dict) and "Fn::Join" in r and _arn(table) in r["Fn::Join"][1] for r in _resources(s))]
    assert on_data == [{"Sid": "PlatformTrailItems", "Effect": "Allow", "Action": "dynamodb:PutItem",
                        "Resource": _arn(table),
                        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                            f"T#*#{keys.AUDIT}", f"T#*#{keys.AUDIT_DIGEST}", f"T#*#{keys.PROVISIONING}",
                            f"T#*#{keys.BRANDING_VERSION}", f"T#*#{keys.USAGE}", f"T#*#{keys.BRANDING}"]}}}]


def test_functions_role_manages_usage_plans_and_api_keys_and_nothing_else_of_api_gateway(template):
    function_role, _ = _roles(template)
    statements = [s for p in resources(template, "AWS::IAM::Policy").values()
                  if p["Properties"]["Roles"] == [{"Ref": function_role}]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]
                  if any(a.startswith("apigateway:") for a in _actions(s))]
    paths = {r["Fn::Join"][1][-1].removeprefix("::"): sorted(_actions(s)) for s in statements for r in _resources(s)}
    assert paths == {
        "/usageplans": ["apigateway:GET", "apigateway:POST"], "/apikeys": ["apigateway:GET", "apigateway:POST"],
        "/usageplans/*": ["apigateway:GET", "apigateway:PATCH"],
        "/usageplans/*/keys": ["apigateway:DELETE", "apigateway:POST"],
        "/usageplans/*/keys/*": ["apigateway:DELETE", "apigateway:POST"],
        "/tags/*": ["apigateway:PUT"],
    }


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_no_policy_of_the_platform_has_a_wildcard_action_or_a_scan(template):
    role_ids = {_roles(template)[0], _roles(template)[1]}
    documents = [p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::Policy").values()]
    documents += [p["PolicyDocument"] for r in role_ids for p in template["Resources"][r]["Properties"].get("Policies", [])]
    actions = [a for d in documents for s in d["Statement"] if s["Effect"] == "Allow" for a in _actions(s)]
    assert actions
    assert not [a for a in actions if "*" in a]
    assert not [a for a in actions if a.lower() in ("dynamodb:scan", "dynamodb:partiqlselect")]
