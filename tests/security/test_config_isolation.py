"""Configuration and branding stay inside their tenant.

Version numbers are per tenant (every tenant has a version 1), so the isolation
matrix's "B gets 404 on A's id" does not fit /api/tenant/config/versions/{n}: the
routes (and /api/tenant/branding/versions/{n}) are listed in the matrix's EXCLUDED with this file as the reason. Here: B asking
for a version that exists only in A gets 404, B's own version n is B's, a restore in
B never reads A's history, and B's token cannot reach A's configuration at all.
"""
from __future__ import annotations

import json

from tests.api.config_helpers import CONFIG, config_of, put, put_config
from tests.audit_helpers import raw_items
from tests.conftest import body_of


def test_tenant_b_cannot_reach_a_version_that_exists_only_in_a(client, tenant_a, tenant_b):
    put_config(client, tenant_a, {"general": {"timezone": "Europe/Paris"}}, 1)
    put_config(client, tenant_a, {"general": {"timezone": "Asia/Tokyo"}}, 2)
    a_before = body_of(client.get(f"{CONFIG}/versions", tenant=tenant_a))
    put(client, tenant_a, "/api/tenant/branding", {"display_name": "A only"}, 1)
    assert client.get("/api/tenant/branding/versions/2", tenant=tenant_b).status_code == 404
    assert "A only" not in client.get("/api/tenant/branding/versions", tenant=tenant_b).body.decode()
    for number in (2, 3):
        assert client.get(f"{CONFIG}/versions/{number}", tenant=tenant_b).status_code == 404
        restore = client.request("POST", f"{CONFIG}/versions/{number}/restore", tenant=tenant_b,
                                 headers={"If-Match": '"1"'})
        assert restore.status_code == 404 and body_of(restore)["code"] == "not_found"
    # B's own version 1 is B's: the defaults, none of A's values
    b_v1 = client.get(f"{CONFIG}/versions/1", tenant=tenant_b)
    assert b_v1.status_code == 200 and "EUR" not in b_v1.body.decode() and "JPY" not in b_v1.body.decode()
    assert config_of(client, tenant_b)["version"] == 1
    assert body_of(client.get(f"{CONFIG}/versions", tenant=tenant_a)) == a_before


def test_a_restore_in_b_uses_bs_history_only(client, tenant_a, tenant_b):
    put_config(client, tenant_a, {"general": {"timezone": "Europe/Paris"}}, 1)
    put_config(client, tenant_b, {"general": {"timezone": "Europe/Zurich"}}, 1)
    put_config(client, tenant_b, {}, 2)
    restored = client.request("POST", f"{CONFIG}/versions/2/restore", tenant=tenant_b, headers={"If-Match": '"3"'})
    assert body_of(restored)["overrides"] == {"general": {"timezone": "Europe/Zurich"}}
    assert config_of(client, tenant_a)["overrides"] == {"general": {"timezone": "Europe/Paris"}}


def test_b_cannot_read_or_change_as_configuration_or_branding(client, tenant_a, tenant_b, tokens):
    b_token = tokens.token(role="tenant_admin", tenant=tenant_b)
    a_header = {"X-Tenant-ID": str(tenant_a.id)}
    for method, path, body in (("GET", CONFIG, None), ("PUT", CONFIG, {"overrides": {}}),
                               ("PUT", "/api/tenant/branding", {"display_name": "Pwned"}),
                               ("GET", f"{CONFIG}/versions/1", None),
                               ("POST", "/api/tenant/branding/assets", {"purpose": "logo", "content_type": "image/png"})):
        response = client.request(method, path, token=b_token, body=body, headers={**a_header, "If-Match": '"1"'})
        assert response.status_code == 403 and body_of(response)["code"] == "tenant_mismatch", (method, path)
    # B writing its own configuration touches nothing of A's
    put(client, tenant_b, CONFIG, {"overrides": {"features": {"sms_notifications": True}}}, 1)
    assert raw_items(tenant_a, "CONFIG") == [] and raw_items(tenant_a, "BRAND") == []
    stored_b = [json.loads(i.data) for i in raw_items(tenant_b, "CONFIG")]
    assert stored_b == [{"features": {"sms_notifications": True}}]
    assert all(i.pk.startswith(f"T#{tenant_b.id}#") for i in raw_items(tenant_b, "CONFIGVER"))
