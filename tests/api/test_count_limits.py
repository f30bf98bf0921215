"""Professional and customer limits: enforced in the create transaction, freed by deletes,
following overrides and plan changes; counters for tenants from before counters existed."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.limits import DEFAULT_PLANS, counters
from chalicelib.store import keys
from tests.api.network_support import as_tenant, raw_items
from tests.conftest import body_of

ADMIN = "platform_admin"
RESOURCES = {
    # resource: (path, partition kind, limit field, body for the n-th)
    "professionals": ("/api/professionals", keys.PROFESSIONAL, "max_professionals",
                      lambda n: {"business_name": f"Garage {n}", "contact_name": f"C {n}",
                                 "email": f"owner{n}@garage.example"}),
    "customers": ("/api/customers", keys.CUSTOMER, "max_customers",
                  lambda n: {"name": f"Customer {n}", "email": f"c{n}@mail.example"}),
}


def set_limit(client, tenant, field: str, value: int | None) -> None:
    response = client.request("PUT", f"/api/admin/tenants/{tenant.id}/limits", role=ADMIN, body={field: value})
    assert response.status_code == 200, response.body


def counter(tenant, meter: str) -> int | None:
    with as_tenant(tenant):
        return counters.current(meter)


def create(client, tenant, resource: str, n: int) -> Any:
    path, _, _, make = RESOURCES[resource]
    return client.request("POST", path, tenant=tenant, body=make(n))


def audit_count(client, tenant, action: str) -> int:
    events = body_of(client.get(f"/api/tenant/audit?action={action}&limit=100", tenant=tenant))["items"]
    return len(events)


@pytest.mark.parametrize("resource", RESOURCES)
def test_at_the_limit_a_create_is_403_with_limit_and_usage_and_stores_nothing(client, tenant_a, resource):
    path, kind, field, _ = RESOURCES[resource]
    set_limit(client, tenant_a, field, 2)
    assert [create(client, tenant_a, resource, n).status_code for n in range(2)] == [201, 201]
    refused = create(client, tenant_a, resource, 2)
    assert refused.status_code == 403
    problem = body_of(refused)
    assert (problem["code"], problem["resource"], problem["limit"], problem["usage"]) == (
        "limit_exceeded", resource, 2, 2)
    assert len(raw_items(tenant_a, kind)) == 2
    assert counter(tenant_a, resource) == 2
    singular = resource.rstrip("s")
    assert audit_count(client, tenant_a, f"{singular}.created") == 2
    if resource == "professionals":
        assert len(raw_items(tenant_a, keys.PROFESSIONAL_EMAIL)) == 2  # no index item of the refused one


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_delete_frees_a_slot(client, tenant_a, resource):
    path, kind, field, _ = RESOURCES[resource]
    set_limit(client, tenant_a, field, 1)
    first = body_of(create(client, tenant_a, resource, 0))
    assert create(client, tenant_a, resource, 1).status_code == 403
    assert client.request("DELETE", f"{path}/{first['id']}", tenant=tenant_a).status_code in (200, 204)
    assert counter(tenant_a, resource) == 0
    assert create(client, tenant_a, resource, 1).status_code == 201
    assert counter(tenant_a, resource) == 1 == len(raw_items(tenant_a, kind))


def test_overrides_raise_and_lower_the_limit_and_null_restores_the_plan(client, tenant_a):
    set_limit(client, tenant_a, "max_professionals", 1)
    assert create(client, tenant_a, "professionals", 0).status_code == 201
    assert create(client, tenant_a, "professionals", 1).status_code == 403
    set_limit(client, tenant_a, "max_professionals", 3)
    assert [create(client, tenant_a, "professionals", n).status_code for n in (1, 2, 3)] == [201, 201, 403]
    set_limit(client, tenant_a, "max_professionals", 1)  # lowered below the count: existing ones stay
    assert len(raw_items(tenant_a, keys.PROFESSIONAL)) == 3
    assert body_of(create(client, tenant_a, "professionals", 4))["limit"] == 1
    set_limit(client, tenant_a, "max_professionals", None)
    assert create(client, tenant_a, "professionals", 4).status_code == 201


def test_a_plan_change_and_a_plan_edit_apply(client, tenant_a, tenant_b):
    free = DEFAULT_PLANS["free"].model_dump(exclude={"description"})
    response = client.request("PUT", "/api/admin/plans/free", role=ADMIN, body={**free, "max_customers": 1})
    assert response.status_code == 200
    assert create(client, tenant_a, "customers", 0).status_code == 201
    assert create(client, tenant_a, "customers", 1).status_code == 403
    assert create(client, tenant_b, "customers", 0).status_code == 201  # same plan, own counter
    tenant = body_of(client.get(f"/api/admin/tenants/{tenant_a.id}", role=ADMIN))
    moved = client.request("PUT", f"/api/admin/tenants/{tenant_a.id}", role=ADMIN, body={"plan": "standard"},
                           headers={"If-Match": f'"{tenant["version"]}"'})
    assert moved.status_code == 200
    assert create(client, tenant_a, "customers", 1).status_code == 201


def test_other_conflicts_are_not_reported_as_limits_and_leave_the_counter(client, tenant_a):
    set_limit(client, tenant_a, "max_professionals", 5)
    assert create(client, tenant_a, "professionals", 0).status_code == 201
    duplicate = create(client, tenant_a, "professionals", 0)
    assert duplicate.status_code == 409 and body_of(duplicate)["conflict"] == "email_taken"
    unknown = client.request("POST", "/api/professionals", tenant=tenant_a, body={
        **RESOURCES["professionals"][3](9), "service_categories": ["no-such-category"]})
    assert unknown.status_code == 422
    linked = client.request("POST", "/api/customers", tenant=tenant_a, body={"name": "A", "user_sub": "u-1"})
    again = client.request("POST", "/api/customers", tenant=tenant_a, body={"name": "B", "user_sub": "u-1"})
    assert linked.status_code == 201 and again.status_code == 409
    assert counter(tenant_a, "professionals") == 1 and counter(tenant_a, "customers") == 1


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_tenant_from_before_counters_gets_a_counted_counter(client, tenant_a, resource):
    path, kind, field, _ = RESOURCES[resource]
    made = [body_of(create(client, tenant_a, resource, n)) for n in range(3)]
    with as_tenant(tenant_a):
        counters.key(resource).delete()  # as a tenant created before counters existed
    assert counter(tenant_a, resource) is None
    set_limit(client, tenant_a, field, 4)
    assert create(client, tenant_a, resource, 3).status_code == 201  # counts 3, then takes the 4th slot
    assert counter(tenant_a, resource) == 4
    assert create(client, tenant_a, resource, 4).status_code == 403
    with as_tenant(tenant_a):
        counters.key(resource).delete()
    assert client.request("DELETE", f"{path}/{made[0]['id']}", tenant=tenant_a).status_code in (200, 204)
    assert counter(tenant_a, resource) == 3 == len(raw_items(tenant_a, kind))


def test_a_new_tenant_starts_with_zero_counters(tenant_a):
    assert {m: counter(tenant_a, m) for m in counters.METERS} == {m: 0 for m in counters.METERS}
