"""Audit isolation: a tenant reads only its own trail; the platform trail is super-admins' only."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.store import keys
from tests.audit_helpers import AUDIT_PATH, listed, stored_events
from tests.conftest import body_of

ADMIN_AUDIT = "/api/admin/audit"


def _busy(client: Any, tenant: Any, tag: str) -> str:
    sub = f"admin-{tag}"
    token = client.tokens.token(role="tenant_admin", tenant=tenant, sub=sub)
    for i in range(3):
        response = client.request("POST", "/api/service-categories", tenant=tenant, token=token,
                                  body={"slug": f"{tag}-{i}", "name": tag})
        assert response.status_code == 201
    return sub


def test_tenant_b_never_sees_tenant_a_events(client, tenant_a, tenant_b):
    a_sub = _busy(client, tenant_a, "a")
    _busy(client, tenant_b, "b")
    a_ids = {e["id"] for e in stored_events(tenant_a)}
    seen_by_b = listed(client, tenant_b)
    assert seen_by_b and not {e["id"] for e in seen_by_b} & a_ids
    assert all(e["tenant_id"] == str(tenant_b.id) for e in seen_by_b)
    # Naming A's actor or A's objects finds nothing in B
    assert listed(client, tenant_b, f"actor={a_sub}") == []
    assert listed(client, tenant_b, "target=service_category:a-1") == []
    # A's cursor is refused in B
    cursor = body_of(client.get(f"{AUDIT_PATH}?limit=1", tenant=tenant_a))["next_cursor"]
    refused = client.get(f"{AUDIT_PATH}?cursor={cursor}", tenant=tenant_b)
    assert refused.status_code == 400 and body_of(refused)["code"] == "invalid_cursor"
    # And B's verification covers B's events only
    report = body_of(client.get(AUDIT_PATH + "/verify", tenant=tenant_b))
    assert report["unsealed_events"] == len(stored_events(tenant_b))


def test_a_token_for_a_names_no_other_trail(client, tenant_a, tenant_b):
    token = client.tokens.token(role="tenant_admin", tenant=tenant_a)
    response = client.request("GET", AUDIT_PATH, token=token, headers={"X-Tenant-ID": str(tenant_b.id)})
    assert response.status_code == 403 and body_of(response)["code"] == "tenant_mismatch"


@pytest.mark.parametrize("role", ["tenant_admin", "manager", "professional", "customer"])
def test_the_platform_trail_is_for_super_admins_only(client, tenant_a, role):
    response = client.get(ADMIN_AUDIT, tenant=tenant_a, role=role)
    assert response.status_code == 403 and body_of(response)["code"] == "forbidden"
    with_header = client.request("GET", ADMIN_AUDIT, tenant=tenant_a, role=role,
                                 headers={"X-Tenant-ID": str(tenant_a.id)})
    assert with_header.status_code == 403


def test_super_admins_read_the_platform_trail_by_tenant_and_page(client, tenant_a, tenant_b):
    everything = body_of(client.get(ADMIN_AUDIT, role="platform_admin"))["items"]
    assert {(e["action"], e["tenant_id"]) for e in everything} == {
        ("tenant.created", str(tenant_a.id)), ("tenant.created", str(tenant_b.id))}
    only_a = body_of(client.get(f"{ADMIN_AUDIT}?tenant={tenant_a.id}", role="platform_admin"))["items"]
    assert [e["tenant_id"] for e in only_a] == [str(tenant_a.id)]
    first = body_of(client.get(f"{ADMIN_AUDIT}?limit=1", role="platform_admin"))
    second = body_of(client.get(f"{ADMIN_AUDIT}?limit=1&cursor={first['next_cursor']}", role="platform_admin"))
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [e["id"] for e in everything]


def _cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not-a-cursor",
    _cursor({"pk": {"S": "TENANT#x"}, "sk": {"S": "TENANT"}}),  # another registry partition
    _cursor({"pk": {"S": keys.PLATFORM_AUDIT_PK}, "sk": {"S": "x"}, "gsi1pk": {"S": "TENANTS"}}),
])
def test_a_forged_platform_cursor_is_refused(client, cursor):
    response = client.get(f"{ADMIN_AUDIT}?cursor={cursor}", role="platform_admin")
    assert response.status_code == 400 and body_of(response)["code"] == "invalid_cursor"


class Recorder:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name != "TransactWriteItems":
            return
        for entry in params["TransactItems"]:
            for body in entry.values():
                key = body.get("Item") or body.get("Key") or {}
                self.writes.append((body["TableName"], key["pk"]["S"]))


def test_every_audit_write_lands_in_the_acting_tenant_or_the_platform_trail(client, tenant_a, tenant_b):
    recorder = Recorder()
    aws.install_session_hook("before-parameter-build.dynamodb", recorder)
    try:
        _busy(client, tenant_a, "a")
        _busy(client, tenant_b, "b")
    finally:
        aws.remove_session_hook("before-parameter-build.dynamodb", recorder)
    settings = get_settings()
    shards = {t.id: {keys.data_partition(t.id, kind) for kind in keys.AUDIT_SHARD_KINDS} for t in (tenant_a, tenant_b)}
    audit_writes = [(table, pk) for table, pk in recorder.writes if pk.rsplit("#", 1)[1] in keys.AUDIT_SHARD_KINDS]
    assert len(audit_writes) == 6
    # three events each, every one in one of its own tenant's trail shards
    for tenant in (tenant_a, tenant_b):
        assert sum(pk in shards[tenant.id] for _, pk in audit_writes) == 3
    assert {table for table, _ in audit_writes} == {settings.data_table}
