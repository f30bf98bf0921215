"""Tenant resolution through GET /api/tenant (REQ-MT-B003, DESIGN "Tenant resolution").

Sources: the Host's subdomain under the platform domain (``localhost`` in tests), a
custom domain, the ``X-Tenant-ID`` header (UUID or slug) and the token's tenant claim.
A platform admin's token carries no claim, so it is how a source is tested alone.

One moto world serves the whole module (building one costs most of a second): acme and
globex are never changed here; tests that change a tenant's status create their own.
Every test starts with an empty resolution cache, as a fresh container would.
"""
from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.store import registry
from chalicelib.tenancy.tenant import TenantStatus
from chalicelib.tenants.service import change_status
from tests.conftest import (
    TenantClient,
    body_of,
    create_tenant,
    module_world,
)

ADMIN = "platform_admin"
_fresh = itertools.count()


@pytest.fixture(scope="module")
def world(signing_keys, tmp_path_factory) -> Iterator[dict[str, Any]]:
    with module_world(signing_keys, tmp_path_factory.mktemp("chalice")) as built:
        yield built


@pytest.fixture(autouse=True)
def cold_cache(world) -> None:
    from chalicelib.tenancy import context
    from chalicelib.tenancy.resolution import clear_cache

    clear_cache()
    context.clear()


@pytest.fixture
def client(world) -> TenantClient:
    return world["client"]


@pytest.fixture
def tenant_a(world) -> Any:
    return world["acme"]


@pytest.fixture
def tenant_b(world) -> Any:
    return world["globex"]


@pytest.fixture
def fresh_tenant(world) -> Any:
    """A tenant of its own, for a test that changes it."""
    n = next(_fresh)
    return create_tenant(f"fresh{n}", domains=[f"portal.fresh{n}.example"])


def assert_tenant(response: Any, tenant: Any) -> None:
    assert response.status_code == 200, body_of(response)
    assert body_of(response)["id"] == str(tenant.id)


def assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, body_of(response)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body_of(response)["code"] == code


# The sources a request carries in its headers, each as the headers that name tenant ``t``.
def host_subdomain(t: Any) -> dict[str, str]:
    return {"Host": f"{t.slug}.localhost:8000"}


def host_domain(t: Any) -> dict[str, str]:
    return {"Host": t.domains[0]}


def header_id(t: Any) -> dict[str, str]:
    return {"X-Tenant-ID": str(t.id)}


def header_slug(t: Any) -> dict[str, str]:
    return {"X-Tenant-ID": t.slug}


HEADER_SOURCES: dict[str, Callable[[Any], dict[str, str]]] = {
    "host-subdomain": host_subdomain,
    "host-custom-domain": host_domain,
    "header-uuid": header_id,
    "header-slug": header_slug,
}


# ---- each source alone -----------------------------------------------------------------


@pytest.mark.parametrize("source", list(HEADER_SOURCES))
def test_a_platform_admin_names_the_tenant_by_one_source(client, tenant_a, tenant_b, source):
    # Given a platform admin token (no tenant claim) and one header-borne source naming acme
    headers = HEADER_SOURCES[source](tenant_a)
    # When the profile is read
    response = client.get("/api/tenant", role=ADMIN, headers=headers)
    # Then acme is the resolved tenant
    assert_tenant(response, tenant_a)


def test_the_token_claim_alone_names_the_tenant(client, tenant_a, tenant_b):
    response = client.get("/api/tenant", tenant=tenant_b)
    assert_tenant(response, tenant_b)


def test_a_platform_admin_naming_no_tenant_is_404(client, tenant_a):
    response = client.get("/api/tenant", role=ADMIN)
    assert_problem(response, 404, "tenant_not_found")


# ---- pairs of sources --------------------------------------------------------------------

PAIRS = [
    ("host-subdomain", "header-uuid"),
    ("host-subdomain", "header-slug"),
    ("host-custom-domain", "header-uuid"),
    ("host-custom-domain", "header-slug"),
    ("host-subdomain", "token"),
    ("host-custom-domain", "token"),
    ("header-uuid", "token"),
    ("header-slug", "token"),
]


def request_with(client: Any, first: str, first_tenant: Any, second: str, second_tenant: Any) -> Any:
    """``first`` is always a header-borne source; ``second`` may be the token claim."""
    headers = HEADER_SOURCES[first](first_tenant)
    if second == "token":
        return client.get("/api/tenant", tenant=second_tenant, headers=headers)
    return client.get("/api/tenant", role=ADMIN, headers={**headers, **HEADER_SOURCES[second](second_tenant)})


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_two_sources_naming_the_same_tenant_agree(client, tenant_a, tenant_b, first, second):
    response = request_with(client, first, tenant_a, second, tenant_a)
    assert_tenant(response, tenant_a)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_two_sources_naming_different_tenants_is_403_mismatch(client, tenant_a, tenant_b, first, second):
    # Given one source naming acme and another naming globex (both exist and are active)
    response = request_with(client, first, tenant_a, second, tenant_b)
    # Then neither tenant is served
    assert_problem(response, 403, "tenant_mismatch")


def test_all_three_sources_agreeing(client, tenant_a, tenant_b):
    headers = {**host_subdomain(tenant_a), **header_id(tenant_a)}
    assert_tenant(client.get("/api/tenant", tenant=tenant_a, headers=headers), tenant_a)


def test_three_sources_with_one_dissenting_is_403_mismatch(client, tenant_a, tenant_b):
    headers = {**host_subdomain(tenant_a), **header_slug(tenant_b)}
    assert_problem(client.get("/api/tenant", tenant=tenant_a, headers=headers), 403, "tenant_mismatch")


# ---- unknown, inactive, suspended ---------------------------------------------------------

UNKNOWN_SOURCES = {
    "host-subdomain": {"Host": "nosuch.localhost:8000"},
    "host-custom-domain": {"Host": "portal.nosuch.example"},
    "header-uuid": {"X-Tenant-ID": str(uuid.uuid4())},
    "header-slug": {"X-Tenant-ID": "nosuch"},
    "header-not-a-slug": {"X-Tenant-ID": "no such tenant!"},
}


@pytest.mark.parametrize("source", list(UNKNOWN_SOURCES))
def test_a_source_naming_an_unknown_tenant_is_404(client, tenant_a, source):
    response = client.get("/api/tenant", role=ADMIN, headers=UNKNOWN_SOURCES[source])
    assert_problem(response, 404, "tenant_not_found")


@pytest.mark.parametrize("source", list(UNKNOWN_SOURCES))
def test_an_unknown_tenant_beside_a_valid_claim_is_404(client, tenant_a, source):
    # A valid token for acme does not make an unknown host or header acceptable.
    response = client.get("/api/tenant", tenant=tenant_a, headers=UNKNOWN_SOURCES[source])
    assert_problem(response, 404, "tenant_not_found")


def test_a_token_claim_naming_an_unknown_tenant_is_404(client, tenant_a):
    response = client.get("/api/tenant", tenant=uuid.uuid4())
    assert_problem(response, 404, "tenant_not_found")


def named_by(client: Any, source: str, tenant: Any) -> Any:
    """A tenant admin's request naming ``tenant`` by ``source`` (and, for a header source,
    by its token too: a super-admin's reads reach suspended and soft-deleted tenants)."""
    if source == "token":
        return client.get("/api/tenant", tenant=tenant)
    return client.get("/api/tenant", tenant=tenant, headers=HEADER_SOURCES[source](tenant))


@pytest.mark.parametrize(
    ("status", "expected"),
    [(TenantStatus.INACTIVE, (404, "tenant_not_found")), (TenantStatus.SUSPENDED, (403, "tenant_suspended"))],
)
@pytest.mark.parametrize("source", [*HEADER_SOURCES, "token"])
def test_a_tenant_that_is_not_active_is_refused(client, fresh_tenant, source, status, expected):
    # Given a tenant resolved once (so the in-process cache holds it as active)
    assert_tenant(named_by(client, source, fresh_tenant), fresh_tenant)
    # When its status changes and it is named again by the same source
    change_status(fresh_tenant.id, status)
    response = named_by(client, source, fresh_tenant)
    # Then inactive is "not found" and suspended is "suspended", at once
    assert_problem(response, *expected)


def test_a_reactivated_tenant_resolves_again(client, fresh_tenant):
    change_status(fresh_tenant.id, TenantStatus.SUSPENDED)
    assert_problem(named_by(client, "token", fresh_tenant), 403, "tenant_suspended")
    change_status(fresh_tenant.id, TenantStatus.ACTIVE)
    assert_tenant(named_by(client, "token", fresh_tenant), fresh_tenant)


# ---- normalisation of the host and header --------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["acme.localhost", "acme.localhost:8000", "ACME.LOCALHOST:8000", "Acme.Localhost", "acme.localhost.:8000",
     "PORTAL.ACME-MOTORS.EXAMPLE:443", "portal.acme-motors.example."],
)
def test_host_is_case_insensitive_and_port_free(client, tenant_a, host):
    response = client.get("/api/tenant", role=ADMIN, headers={"Host": host})
    assert_tenant(response, tenant_a)


@pytest.mark.parametrize("value", ["ACME", " acme ", "Acme"])
def test_header_slug_is_case_insensitive(client, tenant_a, value):
    assert_tenant(client.get("/api/tenant", role=ADMIN, headers={"X-Tenant-ID": value}), tenant_a)


def test_header_uuid_in_upper_case(client, tenant_a):
    headers = {"X-Tenant-ID": str(tenant_a.id).upper()}
    assert_tenant(client.get("/api/tenant", role=ADMIN, headers=headers), tenant_a)


# ---- hosts that name no tenant --------------------------------------------------------------

PLATFORM_HOSTS = [
    "127.0.0.1:8000", "127.0.0.1", "localhost", "localhost:8000", "LOCALHOST:8000", "[::1]:8000",
    "api.localhost:8000", "www.localhost", "admin.localhost", "abc123.execute-api.us-east-1.amazonaws.com",
]


@pytest.mark.parametrize("host", PLATFORM_HOSTS)
def test_a_platform_host_names_no_tenant_so_the_claim_decides(client, tenant_a, host):
    # Given a token for acme and a Host that addresses the platform itself, not a tenant
    response = client.get("/api/tenant", tenant=tenant_a, headers={"Host": host})
    # Then the host is not a source (no lookup, no mismatch): acme is served
    assert_tenant(response, tenant_a)


@pytest.mark.parametrize("host", PLATFORM_HOSTS)
def test_a_platform_host_alone_names_no_tenant(client, tenant_a, host):
    response = client.get("/api/tenant", role=ADMIN, headers={"Host": host})
    assert_problem(response, 404, "tenant_not_found")


def test_a_long_custom_domain_resolves(client):
    # Domains may be up to 253 characters: resolution must not refuse what creation accepts.
    domain = ".".join(["a" * 60, "b" * 60, "c" * 60, "example"])
    tenant = create_tenant("longdomain", domains=[domain])
    assert_tenant(client.get("/api/tenant", role=ADMIN, headers={"Host": f"{domain}:443"}), tenant)


# ---- the resolution cache -------------------------------------------------------------------


@pytest.fixture
def registry_reads(monkeypatch) -> Counter:
    """Counts every registry read resolution can make."""
    calls: Counter = Counter()
    for name in ("get_tenant", "tenant_id_for_slug", "tenant_id_for_domain"):
        original = getattr(registry, name)

        def counting(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(registry, name, counting)
    return calls


def test_an_unknown_slug_is_looked_up_once_then_served_from_the_negative_cache(client, tenant_a, registry_reads):
    # Given a first lookup of an unknown slug
    assert_problem(client.get("/api/tenant", role=ADMIN, headers={"X-Tenant-ID": "nosuch"}), 404, "tenant_not_found")
    assert registry_reads["tenant_id_for_slug"] == 1
    # When the same slug is asked again, by header and by host
    for headers in ({"X-Tenant-ID": "nosuch"}, {"Host": "nosuch.localhost:8000"}):
        assert_problem(client.get("/api/tenant", role=ADMIN, headers=headers), 404, "tenant_not_found")
    # Then the registry was not asked again
    assert sum(registry_reads.values()) == 1


def test_an_unknown_tenant_id_is_negatively_cached(client, tenant_a, registry_reads):
    ghost = uuid.uuid4()
    for _ in range(3):
        assert_problem(client.get("/api/tenant", tenant=ghost), 404, "tenant_not_found")
    assert registry_reads == Counter({"get_tenant": 1})


def test_a_warm_cache_serves_repeated_requests_with_no_registry_read(client, tenant_a, registry_reads):
    headers = {"Host": "acme.localhost:8000", "X-Tenant-ID": "acme"}
    # Given one request that warms the cache
    assert_tenant(client.get("/api/tenant", tenant=tenant_a, headers=headers), tenant_a)
    assert sum(registry_reads.values()) > 0
    registry_reads.clear()
    # When the same tenant is asked for again, by every source
    for _ in range(5):
        assert_tenant(client.get("/api/tenant", tenant=tenant_a, headers=headers), tenant_a)
    # Then the registry is not read at all
    assert sum(registry_reads.values()) == 0


def test_creating_a_tenant_forgets_its_negative_cache_entry(client, registry_reads):
    assert_problem(client.get("/api/tenant", role=ADMIN, headers={"X-Tenant-ID": "initech"}), 404, "tenant_not_found")
    tenant = create_tenant("initech")
    assert_tenant(client.get("/api/tenant", role=ADMIN, headers={"X-Tenant-ID": "initech"}), tenant)
