"""Slug and domain uniqueness under concurrent creation, against moto's server over HTTP.

Many threads race to create tenants through the real service; the registry's
reservation items (written with ``attribute_not_exists`` in the tenant's transaction)
must let exactly one win. pynamodb keeps a botocore session per thread, so every
thread here has its own client, as concurrent Lambda invocations would.

Concurrency needs moto to isolate DynamoDB requests as DynamoDB does: see
``chalicelib/local/motoserver.py`` (the local runner uses the same server).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.errors import ConflictError
from chalicelib.local.bootstrap import bootstrap
from chalicelib.settings import get_settings
from chalicelib.store import registry
from chalicelib.tenancy.tenant import Tenant
from chalicelib.tenants.models import TenantCreate
from chalicelib.tenants.service import create_tenant
from tests.integration.racing import run_together

THREADS = 20
JOIN_TIMEOUT = 60


@pytest.fixture
def local_aws(moto_env: str) -> Iterator[str]:
    bootstrap(get_settings())
    yield moto_env


def race(make: Callable[[int], TenantCreate]) -> tuple[list[Tenant], list[BaseException]]:
    """Run ``create_tenant(make(i))`` in THREADS threads released together."""
    requests = [make(i) for i in range(THREADS)]
    return run_together([lambda data=data: create_tenant(data) for data in requests], timeout=JOIN_TIMEOUT,
                        name="create")


def tenants_in_registry() -> list[Tenant]:
    return list(registry.iter_tenants())


def assert_only_conflicts(failures: list[BaseException], expected: int) -> list[ConflictError]:
    unexpected = [f for f in failures if not isinstance(f, ConflictError)]
    assert unexpected == [], f"failures other than ConflictError: {unexpected!r}"
    assert len(failures) == expected
    return [f for f in failures if isinstance(f, ConflictError)]


def test_concurrent_creation_of_one_slug(local_aws: str) -> None:
    created, failures = race(lambda i: TenantCreate(slug="racing-motors", name=f"Racer {i}", display_name=f"R{i}"))

    assert len(created) == 1
    conflicts = assert_only_conflicts(failures, THREADS - 1)
    assert all(c.status == 409 for c in conflicts)
    winner = created[0]
    stored = [t for t in tenants_in_registry() if t.slug == "racing-motors"]
    assert [t.id for t in stored] == [winner.id]
    assert stored[0].name == winner.name  # the stored tenant is the winner's, whole
    assert registry.tenant_id_for_slug("racing-motors") == winner.id
    assert len(tenants_in_registry()) == 1  # no loser left a tenant item behind


def test_concurrent_claims_of_one_domain(local_aws: str) -> None:
    domain = "portal.shared-domain.example"
    created, failures = race(
        lambda i: TenantCreate(slug=f"claimant-{i:02d}", name=f"Claimant {i}", display_name=f"C{i}", domains=[domain])
    )

    assert len(created) == 1
    assert_only_conflicts(failures, THREADS - 1)
    winner = created[0]
    holders = [t for t in tenants_in_registry() if domain in t.domains]
    assert [t.id for t in holders] == [winner.id]
    assert registry.tenant_id_for_domain(domain) == winner.id
    # The losers' slugs were not reserved either: the whole transaction was cancelled.
    for index in range(THREADS):
        slug = f"claimant-{index:02d}"
        expected: Any = winner.id if slug == winner.slug else None
        assert registry.tenant_id_for_slug(slug) == expected
    assert len(tenants_in_registry()) == 1


def test_two_slugs_one_domain_sequentially_is_a_domain_conflict(local_aws: str) -> None:
    create_tenant(TenantCreate(slug="first-claim", name="First", display_name="First", domains=["cars.example"]))
    with pytest.raises(ConflictError) as raised:
        create_tenant(TenantCreate(slug="second-claim", name="Second", display_name="Second", domains=["cars.example"]))
    assert raised.value.extra.get("conflict") == "domain_taken"
    assert registry.tenant_id_for_slug("second-claim") is None
