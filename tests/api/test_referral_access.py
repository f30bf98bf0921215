"""Referrals through HTTP: list filters, pagination, tenant isolation and who may do what."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.tenancy import context
from chalicelib.tenancy.resolution import clear_cache
from tests.api.referral_network import PATH, Network, build_network, create, created, ids, patch
from tests.conftest import TenantClient, body_of, module_world


@pytest.fixture
def net(tenant_a) -> Network:
    return build_network(tenant_a)


def listed(client: Any, net: Network, query: str = "", **kwargs: Any) -> Any:
    return client.get(PATH + query, tenant=net.tenant, **kwargs)


# ---- filters and pages ------------------------------------------------------------------

def make_four(client: Any, net: Network) -> dict[str, str]:
    """a: 0->1 pending, b: 0->2 accepted, c: 1->0 pending, d: 2->1 declined."""
    a, b, c, d = (created(client, net, src=s, dst=t) for s, t in ((0, 1), (0, 2), (1, 0), (2, 1)))
    patch(client, net, b, status="accepted")
    patch(client, net, d, status="declined")
    return {"a": a["id"], "b": b["id"], "c": c["id"], "d": d["id"]}


@pytest.fixture
def four(client, net) -> dict[str, str]:
    return make_four(client, net)


@pytest.fixture(scope="class")
def read_only_world(signing_keys, tmp_path_factory) -> Iterator[tuple[TenantClient, Network, dict[str, str]]]:
    """One world for a class of tests that change nothing; class scope, so it is torn down
    before the module's per-test worlds start again."""
    with module_world(signing_keys, tmp_path_factory.mktemp("chalice")) as built:
        net = build_network(built["acme"])
        yield built["client"], net, make_four(built["client"], net)


@pytest.fixture
def reader(read_only_world) -> tuple[TenantClient, Network, dict[str, str]]:
    clear_cache()
    context.clear()
    return read_only_world


class TestQueriesThatOnlyRead:
    """List queries that change nothing share one world, built once for the class."""

    @pytest.mark.parametrize("query,expected", [
        ("", "abcd"),
        ("?status=pending", "ac"),
        ("?status=accepted", "b"),
        ("?status=completed", ""),
        ("?professional_id={0}&direction=sent", "ab"),
        ("?professional_id={0}&direction=received", "c"),
        ("?professional_id={1}&direction=received", "ad"),
        ("?professional_id={1}&direction=received&status=pending", "a"),
        ("?professional_id={2}&direction=sent&status=declined", "d"),
        ("?professional_id={2}&direction=sent&status=pending", ""),
    ])
    def test_filters_return_the_right_set(self, reader, query, expected):
        client, net, four = reader
        response = listed(client, net, query.format(*net.pros))
        assert ids(response) == {four[k] for k in expected}

    @pytest.mark.parametrize("query,field_name", [
        ("?professional_id={0}", "direction"),
        ("?direction=sent", "professional_id"),
        ("?status=lost", "status"),
        ("?direction=sideways&professional_id={0}", "direction"),
        ("?professional_id=not-a-uuid&direction=sent", "professional_id"),
        ("?limit=101", "limit"),
        ("?colour=red", "colour"),
    ])
    def test_bad_list_queries_are_422(self, reader, query, field_name):
        client, net, _ = reader
        response = listed(client, net, query.format(*net.pros))
        problem = body_of(response)
        assert response.status_code == 422 and problem["code"] == "validation_error"
        assert problem["errors"][0]["loc"] == ["query", field_name]


def test_a_status_change_moves_the_referral_between_status_lists(client, net, four):
    ref = body_of(client.get(f"{PATH}/{four['a']}", tenant=net.tenant))
    patch(client, net, ref, status="accepted")
    assert ids(listed(client, net, "?status=pending")) == {four["c"]}
    assert ids(listed(client, net, "?status=accepted")) == {four["a"], four["b"]}


@pytest.mark.parametrize("query", ["", "?status=pending", "?professional_id={0}&direction=sent"])
def test_pagination_visits_every_referral_once(client, net, query):
    expected = {created(client, net)["id"] for _ in range(7)}
    seen: list[str] = []
    cursor = None
    base = (query.format(*net.pros) or "?") + ("&" if query else "") + "limit=3"
    while True:
        page = body_of(listed(client, net, base + (f"&cursor={cursor}" if cursor else "")))
        assert len(page["items"]) <= 3
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 and set(seen) == expected


# ---- tenant isolation -------------------------------------------------------------------

def test_another_tenant_sees_nothing(client, net, tenant_b):
    build_network(tenant_b)
    ref = created(client, net, notes="private")
    path = f"{PATH}/{ref['id']}"
    assert client.get(path, tenant=tenant_b).status_code == 404
    assert client.request("PATCH", path, tenant=tenant_b, body={"status": "declined", "version": 1}).status_code == 404
    assert client.request("DELETE", path, tenant=tenant_b).status_code == 404
    assert body_of(client.get(PATH, tenant=tenant_b)) == {"items": [], "next_cursor": None}
    assert body_of(client.get(PATH + "?status=pending", tenant=tenant_b))["items"] == []
    assert body_of(client.get(path, tenant=net.tenant)) == ref and net.refs()[net.pros[0]] == 1


def test_a_cursor_from_another_tenant_is_refused(client, net, tenant_b):
    for _ in range(2):
        created(client, net)
    cursor = body_of(listed(client, net, "?limit=1"))["next_cursor"]
    refused = client.get(f"{PATH}?cursor={cursor}", tenant=tenant_b)
    assert refused.status_code == 400 and body_of(refused)["code"] == "invalid_cursor"


# ---- roles ------------------------------------------------------------------------------

@pytest.fixture
def as_pro(net, tokens):
    """Tokens for the professional role: sub ``pro-<i>`` is linked to professional ``i``."""
    for i, pro_id in enumerate(net.pros):
        net.link(f"pro-{i}", pro_id)

    def token(i: int | str) -> str:
        return tokens.token(role="professional", tenant=net.tenant, sub=f"pro-{i}")

    return token


def test_a_professional_creates_only_from_its_own_professional(client, net, as_pro):
    own = create(client, net, src=0, dst=1, token=as_pro(0))
    assert own.status_code == 201 and body_of(own)["from_professional_id"] == net.pros[0]
    other = create(client, net, src=1, dst=2, token=as_pro(0))
    assert other.status_code == 403 and body_of(other)["code"] == "forbidden"
    assert net.referral_count() == 1 and net.refs()[net.pros[2]] == 0


def test_a_professional_lists_only_its_own_referrals(client, net, four, as_pro):
    token = as_pro(1)
    assert ids(listed(client, net, "?direction=sent", token=token)) == {four["c"]}
    assert ids(listed(client, net, f"?direction=received&professional_id={net.pros[1]}", token=token)) == {
        four["a"], four["d"]}
    assert ids(listed(client, net, "?direction=received&status=declined", token=token)) == {four["d"]}
    for query in ("", "?status=pending", f"?direction=sent&professional_id={net.pros[0]}"):
        refused = listed(client, net, query, token=token)
        assert refused.status_code == 403 and body_of(refused)["code"] == "forbidden"


def test_a_professional_reads_only_referrals_it_sent_or_received(client, net, four, as_pro):
    token = as_pro(2)
    assert client.get(f"{PATH}/{four['b']}", tenant=net.tenant, token=token).status_code == 200  # received
    assert client.get(f"{PATH}/{four['d']}", tenant=net.tenant, token=token).status_code == 200  # sent
    for key in ("a", "c"):
        hidden = client.get(f"{PATH}/{four[key]}", tenant=net.tenant, token=token)
        assert hidden.status_code == 404 and body_of(hidden)["code"] == "not_found"
    unrelated = client.request("PATCH", f"{PATH}/{four['a']}", tenant=net.tenant, token=token,
                               body={"status": "cancelled", "version": 1})
    assert unrelated.status_code == 404 and net.raw("REFERRAL", four["a"]).status == "pending"


def _as(client: Any, net: Network, token: str, ref_id: str, **body: Any) -> Any:
    version = net.raw("REFERRAL", ref_id).version
    return client.request("PATCH", f"{PATH}/{ref_id}", tenant=net.tenant, token=token,
                          body={**body, "version": int(version)})


def test_the_sender_may_only_cancel(client, net, as_pro):
    ref = created(client, net, src=0, dst=1)["id"]
    for status in ("accepted", "declined"):
        refused = _as(client, net, as_pro(0), ref, status=status)
        assert refused.status_code == 403 and net.raw("REFERRAL", ref).status == "pending"
    assert _as(client, net, as_pro(0), ref, notes="called the customer").status_code == 200
    cancelled = _as(client, net, as_pro(0), ref, status="cancelled")
    assert cancelled.status_code == 200 and body_of(cancelled)["status"] == "cancelled"
    assert set(net.refs().values()) == {0}


def test_the_receiver_may_accept_decline_and_complete(client, net, as_pro):
    first, second = created(client, net, src=0, dst=1)["id"], created(client, net, src=0, dst=1)["id"]
    refused = _as(client, net, as_pro(1), first, status="cancelled")
    assert refused.status_code == 403 and body_of(refused)["code"] == "forbidden"
    assert body_of(_as(client, net, as_pro(1), first, status="accepted"))["status"] == "accepted"
    assert _as(client, net, as_pro(1), first, status="cancelled").status_code == 403
    assert body_of(_as(client, net, as_pro(1), first, status="completed"))["status"] == "completed"
    assert body_of(_as(client, net, as_pro(1), second, status="declined"))["status"] == "declined"
    assert set(net.refs().values()) == {0}


def test_a_professional_cannot_delete(client, net, as_pro):
    ref = created(client, net, src=0, dst=1)["id"]
    for i in (0, 1):
        refused = client.request("DELETE", f"{PATH}/{ref}", tenant=net.tenant, token=as_pro(i))
        assert refused.status_code == 403 and body_of(refused)["code"] == "forbidden"
    assert net.referral_count() == 1 and net.refs()[net.pros[0]] == 1


def _every_route(client: Any, net: Network, ref_id: str, **who: Any) -> list[Any]:
    path = f"{PATH}/{ref_id}"
    return [
        client.get(PATH + f"?direction=sent&professional_id={net.pros[0]}", tenant=net.tenant, **who),
        client.request("POST", PATH, tenant=net.tenant, body=net.body(), **who),
        client.get(path, tenant=net.tenant, **who),
        client.request("PATCH", path, tenant=net.tenant, body={"status": "declined", "version": 1}, **who),
        client.request("DELETE", path, tenant=net.tenant, **who),
    ]


def test_a_professional_login_without_a_link_is_refused(client, net, tokens):
    ref = created(client, net)["id"]
    token = tokens.token(role="professional", tenant=net.tenant, sub="unlinked")
    assert [r.status_code for r in _every_route(client, net, ref, token=token)] == [403] * 5
    assert net.referral_count() == 1 and net.raw("REFERRAL", ref).version == 1


def test_a_customer_is_refused_on_every_route(client, net):
    ref = created(client, net)["id"]
    responses = _every_route(client, net, ref, role="customer")
    assert [(r.status_code, body_of(r)["code"]) for r in responses] == [(403, "forbidden")] * 5
    assert net.referral_count() == 1 and net.raw("REFERRAL", ref).version == 1


def test_a_manager_may_do_everything(client, net):
    ref = body_of(create(client, net, role="manager"))
    assert client.get(PATH, tenant=net.tenant, role="manager").status_code == 200
    assert client.get(f"{PATH}/{ref['id']}", tenant=net.tenant, role="manager").status_code == 200
    accepted = client.request("PATCH", f"{PATH}/{ref['id']}", tenant=net.tenant, role="manager",
                              body={"status": "accepted", "version": 1})
    assert accepted.status_code == 200
    assert client.request("DELETE", f"{PATH}/{ref['id']}", tenant=net.tenant, role="manager").status_code == 204
    assert net.referral_count() == 0 and set(net.refs().values()) == {0}


def test_unknown_referral_is_404(client, net):
    response = client.get(f"{PATH}/{uuid.uuid4()}", tenant=net.tenant)
    assert response.status_code == 404 and body_of(response)["code"] == "not_found"
