"""Who may tag, use and replicate KMS keys, judged by evaluating the synthesized policies.

The deployment contract (test_contract.py) proves that the calls the code makes are
allowed. These tests prove what no recorded call shows: that the permissions those calls
need cannot be turned against other keys.

* Tagging a key at its creation needs kms:TagResource in an IAM policy that covers every
  key of the account (KMS developer guide, "Controlling access to tags"), so the role that
  creates tenant keys could also put a ``tenant_id`` tag on an existing key whose policy
  delegates to IAM. The platform's own keys refuse that tag in their key policy, and a
  tenant session's cryptography comes from the tenant key's own policy, never from a tag,
  so a key tagged by mistake opens nothing.
* A tenant key's replica in the DR region is made by the role of the one function that
  creates tenant keys, and only in the stage's DR region.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chalicelib.crypto.key_policy import tenant_key_policy
from tests.conftest import local_stage_env
from tests.infra.conftest import STAGES
from tests.infra.deployment import ACCOUNT, REGION, Deployment
from tests.infra.iam_eval import ALLOW, EXPLICIT_DENY, Request, allowed_with_resource_policy, evaluate

TENANT = str(uuid.uuid4())
DR = "us-west-2"


@pytest.fixture(scope="module", params=STAGES)
def deployment(request: pytest.FixtureRequest, templates: dict[str, dict[str, Any]]) -> Deployment:
    return Deployment(templates[request.param], local_stage_env())


def _roles(deployment: Deployment) -> list[str]:
    return sorted(deployment.of_type("AWS::IAM::Role"))


def _tenant_role(deployment: Deployment) -> str:
    return deployment.role_for_arn(local_stage_env()["TENANT_DATA_ROLE_ARN"])


def _tagging(role_arn: str, resource: str) -> Request:
    return Request("kms:TagResource", resource, role_arn,
                   {"aws:RequestTag/tenant_id": TENANT, "aws:TagKeys": ["tenant_id"], "aws:PrincipalArn": role_arn})


def test_a_role_that_creates_tenant_keys_may_tag_a_new_key(deployment):
    """The permission the next test takes away from the platform's keys exists (else it proves nothing)."""
    taggers = [r for r in _roles(deployment)
               if evaluate(deployment.role_policies(r), _tagging(deployment.arn(r), "*")) == ALLOW]

    assert taggers


def test_no_role_may_put_a_tenant_tag_on_a_key_of_the_platform(deployment):
    keys = deployment.of_type("AWS::KMS::Key")
    assert keys
    allowed = []
    for key in keys:
        policy = deployment.key_policy(deployment.arn(key))
        for role in _roles(deployment):
            request = _tagging(deployment.arn(role), deployment.arn(key))
            if allowed_with_resource_policy(deployment.role_policies(role), policy, request):
                allowed.append((role, key))

    assert allowed == []


def test_the_dr_regions_key_refuses_a_tenant_tag_to_everyone(templates):
    # The DR stack has no function to resolve names by: its denials are read as written
    # (the allowing statements name the account through Fn::Join; a deny wins over them).
    (key,) = [r for r in templates["prod-dr"]["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    denials = {"Statement": [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]}
    anyone = f"arn:aws:iam::{ACCOUNT}:role/Administrator"
    arn = f"arn:aws:kms:{DR}:{ACCOUNT}:key/{uuid.uuid4()}"

    assert evaluate([denials], _tagging(anyone, arn), resource_policy=True) == EXPLICIT_DENY


def _session_decrypt(deployment: Deployment, key_arn: str, *, key_tenant: str) -> Request:
    role = deployment.arn(_tenant_role(deployment))
    return Request("kms:Decrypt", key_arn, role, {
        "aws:PrincipalTag/tenant_id": TENANT, "aws:PrincipalArn": role, "aws:ResourceTag/tenant_id": key_tenant,
        "kms:EncryptionContext:tenant_id": TENANT, "kms:EncryptionContextKeys": ["tenant_id", "kind"],
        "kms:CallerAccount": ACCOUNT})


def test_a_key_of_the_account_tagged_with_a_tenant_opens_nothing_to_that_tenants_sessions(deployment):
    # A key with KMS's default policy (the account's IAM policies decide), tagged with the tenant.
    default_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]}
    stray = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid4()}"
    identity = deployment.role_policies(_tenant_role(deployment))

    assert not allowed_with_resource_policy(identity, default_policy,
                                            _session_decrypt(deployment, stray, key_tenant=TENANT))


def test_the_tenants_own_key_opens_to_its_sessions_by_its_key_policy(deployment):
    own = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid4()}"
    policy = json.loads(tenant_key_policy(uuid.UUID(TENANT), tenant_role_arn=deployment.arn(_tenant_role(deployment)),
                                          exports_bucket="exports", region=REGION))
    identity = deployment.role_policies(_tenant_role(deployment))

    assert allowed_with_resource_policy(identity, policy, _session_decrypt(deployment, own, key_tenant=TENANT))
    other = _session_decrypt(deployment, own, key_tenant=TENANT)
    other = Request(other.action, other.resource, other.principal,
                    {**other.context, "aws:PrincipalTag/tenant_id": str(uuid.uuid4())})
    assert not allowed_with_resource_policy(identity, policy, other)


def _replicators(deployment: Deployment, region: str) -> set[str]:
    primary = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/mrk-{uuid.uuid4().hex}"
    policy = json.loads(tenant_key_policy(uuid.UUID(TENANT), tenant_role_arn=deployment.arn(_tenant_role(deployment)),
                                          exports_bucket="exports", region=REGION))
    found = set()
    for role in _roles(deployment):
        arn = deployment.arn(role)
        request = Request("kms:ReplicateKey", primary, arn, {
            "aws:ResourceTag/tenant_id": TENANT, "kms:ReplicaRegion": region, "aws:PrincipalArn": arn,
            "kms:CallerAccount": ACCOUNT})
        if allowed_with_resource_policy(deployment.role_policies(role), policy, request):
            found.add(role)
    return found


def test_tenant_keys_are_replicated_by_the_key_creating_function_only_and_only_to_the_dr_region(deployment):
    expected = {deployment.role_of_function("api_handler")} if deployment.dr_region() == DR else set()

    assert _replicators(deployment, DR) == expected
    assert _replicators(deployment, "eu-central-1") == set()
