"""Sharded usage counters (``limits/counters.py``): the limit stays exact through limit
changes, deletes and rebalances, and the shards always add up to what is stored."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.limits import counters
from chalicelib.store import keys
from tests.api.network_support import as_tenant, raw_items
from tests.conftest import body_of


def set_limit(client: Any, tenant: Any, field: str, value: int) -> None:
    response = client.request("PUT", f"/api/admin/tenants/{tenant.id}/limits", role="platform_admin",
                              body={field: value})
    assert response.status_code == 200, response.body


def counter(tenant: Any, meter: str) -> int | None:
    with as_tenant(tenant):
        return counters.current(meter)


def create(client: Any, tenant: Any, _resource: str, n: int) -> Any:
    return client.request("POST", "/api/customers", tenant=tenant, body={"name": f"Customer {n}"})


def _refused(client: Any, tenant: Any, n: int) -> dict[str, Any]:
    response = create(client, tenant, "customers", n)
    assert response.status_code == 403, response.body
    return body_of(response)


def _delete(client: Any, tenant: Any, customer_id: str) -> None:
    response = client.request("DELETE", f"/api/customers/{customer_id}", tenant=tenant)
    assert response.status_code in (200, 204), response.body


def _in_step(tenant: Any) -> int:
    stored = len(raw_items(tenant, keys.CUSTOMER))
    assert counter(tenant, "customers") == stored
    return stored


@pytest.mark.parametrize("limit", [0, 1, 5, 15, 16, 17, 40, 1000])
def test_the_shares_add_up_to_the_limit(limit):
    assert sum(counters.share(limit, shard) for shard in range(counters.SHARDS)) == limit
    assert max(counters.share(limit, s) for s in range(counters.SHARDS)) - min(
        counters.share(limit, s) for s in range(counters.SHARDS)) <= 1


def test_a_lowered_limit_stays_exact_until_enough_is_deleted(client, tenant_a):
    # Given 4 customers under a limit of 32 (2 per shard), spread by the shards
    set_limit(client, tenant_a, "max_customers", 32)
    made = [body_of(create(client, tenant_a, "customers", n))["id"] for n in range(4)]
    # When the limit falls to 2, below what is stored
    set_limit(client, tenant_a, "max_customers", 2)
    # Then every create is refused while 2 or more are stored, whichever shards the deletes hit
    assert _refused(client, tenant_a, 10)["usage"] == 4
    _delete(client, tenant_a, made.pop())
    assert _refused(client, tenant_a, 11)["usage"] == 3
    _delete(client, tenant_a, made.pop())
    assert _refused(client, tenant_a, 12)["usage"] == 2
    _delete(client, tenant_a, made.pop())
    assert _in_step(tenant_a) == 1
    # And one slot opens when one is left, exactly one
    assert create(client, tenant_a, "customers", 13).status_code == 201
    assert _refused(client, tenant_a, 14)["usage"] == 2
    assert _in_step(tenant_a) == 2


def test_a_raised_limit_opens_exactly_the_new_slots(client, tenant_a):
    set_limit(client, tenant_a, "max_customers", 3)
    assert [create(client, tenant_a, "customers", n).status_code for n in range(4)] == [201, 201, 201, 403]
    set_limit(client, tenant_a, "max_customers", 20)
    assert [create(client, tenant_a, "customers", n).status_code for n in range(4, 22)] == [201] * 17 + [403]
    assert _in_step(tenant_a) == 20


def test_a_tenant_with_the_single_counter_from_before_sharding_is_moved_to_shards(client, tenant_a):
    # Given a tenant whose counter is the one item of before sharding (and no shards)
    made = [body_of(create(client, tenant_a, "customers", n))["id"] for n in range(3)]
    with as_tenant(tenant_a):
        for shard in range(counters.SHARDS):
            counters.key("customers", shard).delete()
        counters.counter_item("customers", 3).save()
    assert counter(tenant_a, "customers") is None
    # When it deletes one and creates two
    _delete(client, tenant_a, made[0])
    assert [create(client, tenant_a, "customers", n).status_code for n in (7, 8)] == [201, 201]
    # Then its shards count what is stored, and the old item is gone
    assert _in_step(tenant_a) == 4
    with as_tenant(tenant_a):
        assert counters.read("customers").legacy is None
