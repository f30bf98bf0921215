"""Super-admin reads and writes any tenant's configuration and branding, audited in its trail."""
from __future__ import annotations

from tests.api.config_helpers import config_of, put
from tests.audit_helpers import stored_events
from tests.conftest import body_of


def admin(client, method, path, **kwargs):
    return client.request(method, path, role="platform_admin", **kwargs)


def test_a_super_admin_reads_and_writes_a_tenants_configuration_by_slug_or_id(client, tenant_a, tenant_b):
    by_slug = admin(client, "GET", f"/api/admin/tenants/{tenant_a.slug}/config")
    assert by_slug.status_code == 200 and by_slug.headers["ETag"] == '"1"'
    response = put(client, None, f"/api/admin/tenants/{tenant_a.id}/config",
                   {"overrides": {"audit": {"retention_days": 60}}, "comment": "support ticket 42"}, 1,
                   role="platform_admin")
    assert response.status_code == 200, response.body
    assert config_of(client, tenant_a)["configuration"]["audit"]["retention_days"] == 60
    assert config_of(client, tenant_b)["version"] == 1  # only the named tenant changed
    events = stored_events(tenant_a)
    updated = [e for e in events if e["action"] == "config.updated"]
    assert len(updated) == 1 and updated[0]["actor"]["platform_admin"] is True
    assert any(e["action"] == "tenant.accessed" for e in events)  # the read is in the tenant's trail
    assert not [e for e in stored_events(tenant_b) if e["action"] in ("config.updated", "tenant.accessed")]
    stale = put(client, None, f"/api/admin/tenants/{tenant_a.slug}/config", {"overrides": {}}, 1,
                role="platform_admin")
    assert stale.status_code == 412


def test_a_super_admin_manages_branding(client, tenant_a):
    assert body_of(admin(client, "GET", f"/api/admin/tenants/{tenant_a.slug}/branding"))["display_name"] == "Acme"
    response = put(client, None, f"/api/admin/tenants/{tenant_a.slug}/branding",
                   {"display_name": "Acme Platform-Set"}, 1, role="platform_admin")
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'
    public = client.request("GET", "/api/tenant/branding", role=None, headers={"X-Tenant-ID": str(tenant_a.id)})
    assert body_of(public)["display_name"] == "Acme Platform-Set"
    events = [e for e in stored_events(tenant_a) if e["action"] == "branding.updated"]
    assert len(events) == 1 and events[0]["actor"]["platform_admin"] is True


def test_admin_routes_refuse_tenant_admins_and_unknown_tenants(client, tenant_a):
    for method, suffix in (("GET", "config"), ("PUT", "config"), ("GET", "branding"), ("PUT", "branding")):
        path = f"/api/admin/tenants/{tenant_a.id}/{suffix}"
        refused = client.request(method, path, tenant=tenant_a, body={"overrides": {}}, headers={"If-Match": '"1"'})
        assert refused.status_code == 403, (method, path)
    for reference in ("no-such-tenant", "00000000-0000-0000-0000-000000000000"):
        missing = admin(client, "GET", f"/api/admin/tenants/{reference}/config")
        assert missing.status_code == 404
    invalid = put(client, None, f"/api/admin/tenants/{tenant_a.slug}/config", {"overrides": {"x": 1}}, 1,
                  role="platform_admin")
    assert invalid.status_code == 422
    assert config_of(client, tenant_a)["version"] == 1
