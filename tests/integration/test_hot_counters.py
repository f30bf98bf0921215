"""Fifty concurrent creates in one tenant, with DynamoDB's transaction conflicts.

moto applies transactions one at a time, so a single hot counter item never conflicts
there; ``chalicelib.local.conflicts`` makes moto cancel a transaction that includes an
item another transaction in progress holds, as DynamoDB does. Then: under the limit,
every create succeeds (no 409 handed to the client); at the limit, exactly ``limit``
items exist and every other create is refused with ``limit_exceeded`` (never over).
The figures (successes, 409s, transactions, conflicts, wall time) are printed for the
README's before/after table; nothing is judged on time.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.errors import ConflictError
from chalicelib.limits import LimitExceededError, counters
from chalicelib.limits.models import LimitOverrides
from chalicelib.limits.service import set_overrides
from chalicelib.local.bootstrap import bootstrap
from chalicelib.local.conflicts import TransactionConflicts
from chalicelib.network.customers import service as customers
from chalicelib.network.customers.models import CustomerCreate
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.tenancy import context
from chalicelib.tenancy.context import TenantContext
from tests.conftest import create_tenant
from tests.integration.racing import run_together

WRITERS = 50


@pytest.fixture
def tenant(moto_env: str) -> Iterator[Any]:
    bootstrap(get_settings())
    yield create_tenant("hot")


def _race(tenant: Any, limit: int) -> tuple[list[Any], list[BaseException], TransactionConflicts, float]:
    set_overrides(tenant, LimitOverrides.model_validate({"max_customers": limit}), None)

    def attempt(index: int) -> Any:
        def run() -> Any:
            with context.bound(TenantContext(tenant=tenant, request_id=f"hot-{index}")):
                return customers.create_customer(CustomerCreate(name=f"Customer {index}"))
        return run

    with TransactionConflicts() as conflicts:
        started = time.perf_counter()
        made, failures = run_together([attempt(i) for i in range(WRITERS)], name="create")
        wall = time.perf_counter() - started
    refused_409 = sum(isinstance(f, ConflictError) for f in failures)
    print(f"\n{WRITERS} concurrent creates (limit {limit}): {len(made)} created, {refused_409} 409s, "
          f"{len(failures) - refused_409} other refusals, {conflicts.transactions} transactions sent, "
          f"{conflicts.conflicts} cancelled for conflicts, {wall:.2f} s")
    return made, failures, conflicts, wall


def _stored(tenant: Any) -> tuple[int, int | None]:
    with context.bound(TenantContext(tenant=tenant, request_id="check")):
        return counters.count_items(keys.CUSTOMER), counters.current(counters.CUSTOMERS)


def test_fifty_concurrent_creates_under_the_limit_all_succeed(tenant: Any) -> None:
    made, failures, _, _ = _race(tenant, limit=1000)

    assert failures == []
    assert len(made) == WRITERS
    assert _stored(tenant) == (WRITERS, WRITERS)


def test_fifty_concurrent_creates_never_pass_the_limit(tenant: Any) -> None:
    limit = 20

    made, failures, _, _ = _race(tenant, limit=limit)

    assert len(made) == limit
    assert all(isinstance(f, LimitExceededError) for f in failures), failures
    assert len(failures) == WRITERS - limit
    assert _stored(tenant) == (limit, limit)
