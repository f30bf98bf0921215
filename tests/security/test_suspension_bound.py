"""A suspension, a soft delete or a removed custom domain takes effect in every container
within ``resolution.STATUS_BOUND_SECONDS`` (issue 19, finding 6), not only in the one
that made the change.

"Another container" is simulated by changing the registry item directly, so this
process's cache is not told; the cache's clock is injected and moved past the bound.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.store import keys, registry
from chalicelib.store.registry import ReservationItem, TenantItem
from chalicelib.tenancy import resolution
from tests.conftest import body_of
from tests.rate_limit_support import Clock


@pytest.fixture
def moved(client) -> Iterator[Clock]:
    moving = Clock()
    with clock.use(monotonic=moving):
        yield moving


def _elsewhere(tenant: Any, **changes: Any) -> None:
    """Change the tenant's registry item as another container's request would."""
    registry.bind()
    actions = [getattr(TenantItem, name).set(value) for name, value in changes.items()]
    TenantItem(keys.tenant_pk(tenant.id), keys.TENANT_SK).update(actions=actions)


def _warm(client: Any, tenant: Any) -> None:
    assert client.get("/api/tenant", tenant=tenant).status_code == 200
    anonymous = client.get("/api/tenant/branding", role=None, headers={"Host": "portal.acme-motors.example"})
    assert anonymous.status_code == 200, anonymous.body


def test_a_suspension_elsewhere_applies_here_within_the_bound(client, tenant_a, moved):
    _warm(client, tenant_a)
    _elsewhere(tenant_a, status="suspended")
    moved.advance(resolution.STATUS_BOUND_SECONDS + 0.01)
    refused = client.get("/api/tenant", tenant=tenant_a)
    assert refused.status_code == 403 and body_of(refused)["code"] == "tenant_suspended"
    assert resolution.STATUS_BOUND_SECONDS <= 2


def test_a_soft_delete_elsewhere_applies_here_within_the_bound(client, tenant_a, moved):
    _warm(client, tenant_a)
    _elsewhere(tenant_a, status="inactive")
    moved.advance(resolution.STATUS_BOUND_SECONDS + 0.01)
    gone = client.get("/api/tenant", tenant=tenant_a)
    assert gone.status_code == 404 and body_of(gone)["code"] == "tenant_not_found"


def test_a_domain_removed_elsewhere_stops_resolving_within_the_bound(client, tenant_a, moved):
    _warm(client, tenant_a)
    _elsewhere(tenant_a, domains=[])
    ReservationItem(keys.domain_reservation_pk("portal.acme-motors.example"), keys.RESERVATION_SK).delete()
    moved.advance(resolution.STATUS_BOUND_SECONDS + 0.01)
    gone = client.get("/api/tenant/branding", role=None, headers={"Host": "portal.acme-motors.example"})
    assert gone.status_code == 404


def test_a_domain_removed_here_stops_resolving_at_once(client, tenant_a, moved):
    _warm(client, tenant_a)
    path = f"/api/admin/tenants/{tenant_a.id}"
    current = client.get(path, role="platform_admin")
    changed = client.request("PUT", path, role="platform_admin", headers={"If-Match": current.headers["ETag"]},
                             body={"domains": []})
    assert changed.status_code == 200, changed.body
    gone = client.get("/api/tenant/branding", role=None, headers={"Host": "portal.acme-motors.example"})
    assert gone.status_code == 404
