"""A warm container serves tenant after tenant: nothing of one request may reach the next.

Everything here runs in one process, as a warm Lambda does: tenant A, then tenant B,
then a request with no token. The response, the bound context and the log records of
each request must belong to that request only.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib import http
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.errors import ConflictError
from chalicelib.logs import bind_log_keys, current_log_keys, reset_log_keys
from chalicelib.tenancy.context import TenantContext, bound, current_or_none
from tests.conftest import TenantClient, body_of


@dataclass
class Seen:
    """What one request left behind: its response, its log records and the process state."""

    response: Any
    records: list[logging.LogRecord]
    context_after: Any
    log_keys_after: dict[str, Any]

    def keys(self, name: str) -> set[Any]:
        return {r.log_keys.get(name) for r in self.records}


def send(client: TenantClient, caplog: pytest.LogCaptureFixture, path: str = "/api/tenant", **kwargs: Any) -> Seen:
    caplog.clear()
    response = client.get(path, **kwargs)
    return Seen(response, list(caplog.records), current_or_none(), dict(current_log_keys()))


@pytest.fixture
def sequence(client, tokens, tenant_a, tenant_b, caplog) -> dict[str, Seen]:
    """A, then B, then no token, in one process; each with its own request id and subject."""
    caplog.set_level(logging.INFO)
    seen = {}
    for name, tenant in (("a", tenant_a), ("b", tenant_b)):
        token = tokens.token(tenant=tenant, sub=f"user-{name}")
        seen[name] = send(client, caplog, token=token, headers={"X-Request-ID": f"request-{name}-0001"})
    seen["anonymous"] = send(client, caplog, role=None, headers={"X-Request-ID": "request-anonymous"})
    return seen


def test_each_response_shows_only_its_tenant_and_nothing_stays_bound(sequence, tenant_a, tenant_b):
    a, b, anonymous = sequence["a"], sequence["b"], sequence["anonymous"]
    assert a.response.status_code == 200 and body_of(a.response)["id"] == str(tenant_a.id)
    assert b.response.status_code == 200 and body_of(b.response)["id"] == str(tenant_b.id)
    assert str(tenant_a.id).encode() not in b.response.body and b"acme" not in b.response.body
    assert anonymous.response.status_code == 401 and body_of(anonymous.response)["code"] == "unauthorized"
    assert not any(str(t.id).encode() in anonymous.response.body for t in (tenant_a, tenant_b))
    for seen in (a, b, anonymous):
        assert seen.context_after is None
        assert seen.log_keys_after == {}


def test_log_records_carry_only_their_own_request(sequence, tenant_a, tenant_b):
    b, anonymous = sequence["b"], sequence["anonymous"]
    # B's records carry B's request id, tenant and subject...
    assert b.records, "the request logged nothing"
    assert b.keys("request_id") == {"request-b-0001"}
    assert b.keys("tenant_id") <= {str(tenant_b.id), None} and str(tenant_b.id) in b.keys("tenant_id")
    assert b.keys("sub") <= {"user-b", None}
    # ...and A's appear nowhere in them
    text = repr([(r.getMessage(), r.log_keys, getattr(r, "fields", None)) for r in b.records])
    assert "request-a-0001" not in text and str(tenant_a.id) not in text and "user-a" not in text
    # The unauthenticated request's records carry its own request id, no tenant and no subject
    assert anonymous.records
    assert anonymous.keys("request_id") == {"request-anonymous"}
    assert all("tenant_id" not in r.log_keys and "sub" not in r.log_keys for r in anonymous.records)


def test_state_leaked_by_a_previous_invocation_is_reset_before_a_request(client, tenant_a, caplog):
    # Given a previous invocation that left A's context and log keys bound (a handler bug)
    caplog.set_level(logging.INFO)
    leaked = TenantContext(tenant=tenant_a, request_id="request-leaked")
    bind_log_keys(request_id="request-leaked", tenant_id=str(tenant_a.id), sub="user-leaked")
    try:
        with bound(leaked):
            # When a request with no token arrives
            seen = send(client, caplog, role=None)
        # Then it is refused, and none of its records carry the leaked keys
        assert seen.response.status_code == 401 and body_of(seen.response)["code"] == "unauthorized"
        assert seen.records
        assert all("tenant_id" not in r.log_keys and "sub" not in r.log_keys for r in seen.records)
        assert "request-leaked" not in seen.keys("request_id")
    finally:
        reset_log_keys()


# ---- a view that raises ---------------------------------------------------------------------


@pytest.fixture
def throwaway_app() -> Any:
    """A fresh Chalice app bound for the decorators; the real app is bound again afterwards."""
    from app import app

    fresh = Chalice(app_name="warm-container-test")
    http.bind_app(fresh)
    try:
        yield fresh
    finally:
        http.bind_app(app)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [(RuntimeError("boom"), 500, "internal_error"), (ConflictError("busy"), 409, "conflict")],
)
def test_a_view_that_raises_still_unbinds(throwaway_app, aws_mock, tokens, tenant_a, tmp_path, error, status, code):
    # Given a view that records what is bound, then raises
    seen_in_view: list[Any] = []

    @throwaway_app.route("/boom")
    @tenant_route(Permission.TENANT_READ)
    def boom() -> None:
        seen_in_view.append((current_or_none(), dict(current_log_keys())))
        raise error

    client = TenantClient(Client(throwaway_app, project_dir=str(tmp_path)).http, tokens)
    # When tenant A calls it
    response = client.get("/boom", tenant=tenant_a)
    # Then the view ran with A bound, the error became a problem, and nothing stays bound
    assert seen_in_view[0][0].tenant_id == tenant_a.id
    assert seen_in_view[0][1]["tenant_id"] == str(tenant_a.id)
    assert response.status_code == status and body_of(response)["code"] == code
    if status == 500:
        assert "boom" not in response.body.decode() and "Traceback" not in response.body.decode()
    assert current_or_none() is None
    assert dict(current_log_keys()) == {}
