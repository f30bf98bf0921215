"""Tenant keys on a stage with a DR region, driven through the functions that handle them.

A tenant created through the admin API gets a multi-Region key with a replica and the
tenant's alias in ``DR_REGION``; a rotation makes the new key's replica, moves the alias
in both regions (a failed-over stage finds the tenant's current key by alias) and
retires the old key's replica with the old key. These calls run in the API and
key_rotation functions, so the deployment contract (tests/infra/test_contract.py,
CONTRACT_SUBSET) evaluates them against the prod stage, the one with a DR region (moto
keeps neither the tags nor the policy given to ReplicateKey: the contract reads them
from the recorded call).
"""
from __future__ import annotations

import pytest

from chalicelib import aws
from chalicelib.crypto import keys
from chalicelib.key_rotation import service as rotation
from chalicelib.local.bootstrap import create_queue_with_dlq
from chalicelib.settings import reset_settings
from chalicelib.store import registry
from tests.conftest import body_of
from tests.security.encryption_support import run_jobs
from tests.support.moto_kms import multi_region_ciphertexts

DR = "us-west-2"
ADMIN = "/api/admin/tenants"


@pytest.fixture
def dr_stage(monkeypatch, app_env):
    monkeypatch.setenv("DR_REGION", DR)
    monkeypatch.setenv("TENANT_CACHE_TTL_SECONDS", "0")
    monkeypatch.setenv("KEY_ROTATION_GRACE_SECONDS", "0")
    reset_settings()


@pytest.fixture
def world(dr_stage, aws_mock, monkeypatch):
    create_queue_with_dlq(rotation.QUEUE)
    with multi_region_ciphertexts(monkeypatch):
        yield


def _replica(arn: str) -> dict:
    return aws.client("kms", DR).describe_key(KeyId=keys.replica_arn(arn, DR))["KeyMetadata"]


def _aliased_in_dr(tenant_id) -> str:
    return aws.client("kms", DR).describe_key(KeyId=keys.tenant_key_alias(tenant_id))["KeyMetadata"]["KeyId"]


def test_a_tenant_created_through_the_api_has_a_replica_and_its_alias_in_the_dr_region(client, world):
    response = client.request("POST", ADMIN, role="platform_admin",
                              body={"slug": "replicated", "name": "Replicated", "display_name": "Replicated",
                                    "admin_email": "owner@replicated.example"})

    assert response.status_code == 201
    tenant = registry.get_tenant(body_of(response)["id"])
    assert keys.key_id(tenant.kms_key_arn).startswith("mrk-")
    replica = _replica(tenant.kms_key_arn)
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert _aliased_in_dr(tenant.id) == keys.key_id(tenant.kms_key_arn)


def _watch_dr_kms() -> list[tuple[str, dict]]:
    """The KMS calls the app makes in the DR region from now on (its cached client there).

    Asked of the calls, not of moto's state: moto's replica is a shallow copy of its
    primary that shares the primary's aliases, so moving the primary's alias seems to
    move the replica's too, which in KMS it does not (aliases are per region)."""
    seen: list[tuple[str, dict]] = []
    aws.client("kms", DR).meta.events.register(
        "provide-client-params.kms", lambda params, model, **_: seen.append((model.name, dict(params))))
    return seen


def test_a_rotation_replicates_the_new_key_moves_both_aliases_and_retires_the_old_replica(client, world):
    created = body_of(client.request("POST", ADMIN, role="platform_admin",
                                     body={"slug": "rotated", "name": "Rotated", "display_name": "Rotated",
                                           "admin_email": "owner@rotated.example"}))
    old = registry.get_tenant(created["id"]).kms_key_arn
    in_dr = _watch_dr_kms()

    response = client.request("POST", f"{ADMIN}/{created['id']}/keys/rotate", role="platform_admin")
    assert response.status_code == 202
    run_jobs()

    new = registry.get_tenant(created["id"]).kms_key_arn
    assert new != old and keys.key_id(new).startswith("mrk-")
    assert _replica(new)["KeyState"] == "Enabled"
    assert _aliased_in_dr(created["id"]) == keys.key_id(new)
    alias = keys.tenant_key_alias(created["id"])
    assert ("UpdateAlias", {"AliasName": alias, "TargetKeyId": keys.key_id(new)}) in in_dr
    assert aws.client("kms").describe_key(KeyId=keys.tenant_key_alias(created["id"]))["KeyMetadata"]["Arn"] == new
    assert _replica(old)["KeyState"] == "PendingDeletion"
