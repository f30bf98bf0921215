"""A count limit under concurrent creates, against moto's server over HTTP.

One slot is left; 50 threads create a professional (or a customer) at once through the
real service, each with its own botocore session as concurrent Lambdas would have.
The counter's conditional Update inside each create's transaction must let exactly one
win, and afterwards the counter equals the number of items really stored.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.limits import LimitExceededError, counters
from chalicelib.limits.models import LimitOverrides
from chalicelib.limits.service import set_overrides
from chalicelib.local.bootstrap import bootstrap
from chalicelib.network.customers import service as customers
from chalicelib.network.customers.models import CustomerCreate
from chalicelib.network.professionals import service as professionals
from chalicelib.network.professionals.models import ProfessionalCreate
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.tenancy import context
from chalicelib.tenancy.context import TenantContext
from tests.conftest import create_tenant
from tests.integration.racing import run_together

THREADS = 50
JOIN_TIMEOUT = 120
LIMIT = 5


@pytest.fixture
def tenant(moto_env: str) -> Iterator[Any]:
    bootstrap(get_settings())
    yield create_tenant("racing")


def race(tenant: Any, create: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    def attempt(index: int) -> Callable[[], Any]:
        def run() -> Any:
            with context.bound(TenantContext(tenant=tenant, request_id=f"race-{index}")):
                return create(index)
        return run

    return run_together([attempt(i) for i in range(THREADS)], timeout=JOIN_TIMEOUT, name="create")


CASES = {
    "professionals": (
        "max_professionals", keys.PROFESSIONAL,
        lambda n: professionals.create_professional(ProfessionalCreate(
            business_name=f"Shop {n}", contact_name=f"Owner {n}", email=f"owner{n}@shop.example"))),
    "customers": (
        "max_customers", keys.CUSTOMER,
        lambda n: customers.create_customer(CustomerCreate(name=f"Customer {n}"))),
}


@pytest.mark.parametrize("resource", CASES)
def test_fifty_concurrent_creates_for_the_last_slot_let_exactly_one_through(tenant: Any, resource: str) -> None:
    field, kind, create = CASES[resource]
    set_overrides(tenant, LimitOverrides.model_validate({field: LIMIT}), None)
    with context.bound(TenantContext(tenant=tenant, request_id="setup")):
        for n in range(LIMIT - 1):
            create(1000 + n)

    made, failures = race(tenant, create)

    assert len(made) == 1
    unexpected = [f for f in failures if not isinstance(f, LimitExceededError)]
    assert unexpected == [], f"failures other than limit_exceeded: {unexpected!r}"
    assert len(failures) == THREADS - 1
    assert all(f.extra["limit"] == LIMIT and f.extra["usage"] == LIMIT for f in failures)
    with context.bound(TenantContext(tenant=tenant, request_id="check")):
        assert counters.count_items(kind) == LIMIT
        assert counters.current(resource) == LIMIT
