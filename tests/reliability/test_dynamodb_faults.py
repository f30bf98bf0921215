"""DynamoDB throttled, unreachable or in conflict: the documented status, botocore's
retries absorb a short burst, and nothing is half-written.

- Throttling (or a connection failure) that outlasts the retries: 503 ``store_unavailable``
  with ``Retry-After``, nothing stored, and the same request succeeds once DynamoDB does.
- A throttle the SDK's retries absorb: invisible to the client, one record stored.
- A transaction cancelled by a concurrent one (``TransactionConflict``): 409
  ``concurrent_write`` with ``Retry-After``, nothing changed, a retry succeeds; for every
  kind of mutating transaction the network and configuration routes issue.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib import aws
from tests.api.network_support import before_first_transaction, transaction_conflict
from tests.conftest import body_of
from tests.security.encryption_support import customer_body, professional_body
from tests.security.test_isolation_matrix import populate

THROTTLE_CODES = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]


def throttled(code: str) -> Callable[[], Exception]:
    return lambda: ClientError({"Error": {"Code": code, "Message": "injected"},
                                "ResponseMetadata": {"HTTPStatusCode": 400}}, "injected")


def unreachable() -> Exception:
    return EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@contextmanager
def dynamodb_fault(make_error: Callable[[], Exception], operations: tuple[str, ...]) -> Iterator[list[str]]:
    """Every DynamoDB call of ``operations`` fails as if every retry had failed too."""
    refused: list[str] = []

    def hook(model: Any, **_: Any) -> None:
        if model.name in operations:
            refused.append(model.name)
            raise make_error()

    aws.install_session_hook("before-call.dynamodb", hook)
    try:
        yield refused
    finally:
        aws.remove_session_hook("before-call.dynamodb", hook)


def snapshot(client, tenant) -> list[Any]:
    return [body_of(client.get(f"{p}?limit=100", tenant=tenant))["items"]
            for p in ("/api/service-categories", "/api/professionals", "/api/customers", "/api/referrals")]


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.body
    problem = body_of(response)
    assert problem["code"] == "store_unavailable" and response.headers["Retry-After"]
    assert "Throughput" not in response.body.decode() and "arn:" not in response.body.decode()


@pytest.mark.parametrize("fault", [*THROTTLE_CODES, "unreachable"])
def test_a_write_that_outlasts_the_retries_is_a_503_and_stores_nothing(client, tenant_a, fault):
    make = unreachable if fault == "unreachable" else throttled(fault)
    before = snapshot(client, tenant_a)
    with dynamodb_fault(make, ("TransactWriteItems", "PutItem", "UpdateItem")) as refused:
        customer = client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(1))
        professional = client.request("POST", "/api/professionals", tenant=tenant_a, body=professional_body(1, []))
    assert refused
    assert_unavailable(customer)
    assert_unavailable(professional)
    assert snapshot(client, tenant_a) == before
    assert client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(1)).status_code == 201


@pytest.mark.parametrize("operation", ["Query", "GetItem"])
def test_a_read_that_outlasts_the_retries_is_a_503(client, tenant_a, operation):
    made = body_of(client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(2)))
    with dynamodb_fault(throttled("ProvisionedThroughputExceededException"), (operation,)):
        listed = client.get("/api/customers", tenant=tenant_a)
        got = client.get(f"/api/customers/{made['id']}", tenant=tenant_a)
    assert_unavailable(listed if operation == "Query" else got)


def test_a_transaction_cancelled_for_throttling_is_a_503_and_changes_nothing(client, tenant_a):
    def cancelled_by_throttling() -> None:
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "throttled"},
                           "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}]},
                          "TransactWriteItems")

    before = snapshot(client, tenant_a)
    with before_first_transaction(cancelled_by_throttling):
        response = client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(3))
    assert_unavailable(response)
    assert snapshot(client, tenant_a) == before


class _Body:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.payload


def test_a_short_throttle_is_absorbed_by_the_sdk_retries(client, tenant_a, monkeypatch):
    # Given DynamoDB answering the next two sends with a throttling error (at the HTTP layer,
    # below botocore's retry handler), then normally
    import pynamodb.connection.base as pynamodb_base

    from chalicelib import aws
    from chalicelib.store import data
    from chalicelib.tenancy import clients

    sends: list[str] = []
    answer = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                         "message": "injected"}).encode()

    def throttle_twice(request: Any, **_: Any) -> Any:
        sends.append(request.headers.get("X-Amz-Target", b"").decode() if isinstance(
            request.headers.get("X-Amz-Target"), bytes) else str(request.headers.get("X-Amz-Target")))
        if len(sends) <= 2:
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Body(answer))
        return None

    original = aws.new_botocore_session

    def session_with_fault() -> Any:
        session = original()
        session.register("before-send.dynamodb", throttle_twice)
        return session

    # Every DynamoDB client built from now on: pynamodb's own, and the tenants' pooled ones.
    monkeypatch.setattr(pynamodb_base, "get_session", session_with_fault)
    monkeypatch.setattr(aws, "new_botocore_session", session_with_fault)
    data.reset_connections()
    clients.use_pool(None)  # the tenant's pooled client is built again, from the faulty session
    try:
        response = client.request("POST", "/api/service-categories", tenant=tenant_a,
                                  body={"slug": "retried", "name": "Retried"})
    finally:
        monkeypatch.undo()
        data.reset_connections()
        clients.use_pool(None)
    # Then the client never saw it: one category, created once
    assert response.status_code == 201, response.body
    assert len(sends) >= 3 and sends[0] == sends[1] == sends[2]
    slugs = [c["slug"] for c in body_of(client.get("/api/service-categories?limit=100", tenant=tenant_a))["items"]]
    assert slugs.count("retried") == 1


# ---- transaction conflicts on every kind of mutating transaction ------------------------------


def _mutations(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "/api/service-categories", {"slug": "conflicted", "name": "Conflicted"}),
        ("PATCH", f"/api/service-categories/{ids['category']}", {"name": "Renamed"}),
        ("PATCH", f"/api/professionals/{ids['professional']}", {"business_name": "Renamed"}),
        ("POST", "/api/customers", customer_body(9)),
        ("PATCH", f"/api/customers/{ids['customer']}", {"name": "Renamed"}),
        ("POST", "/api/referrals", {"from_professional_id": ids["receiver"], "to_professional_id": ids["professional"],
                                    "customer_id": ids["customer"], "service_category": ids["category"]}),
        ("PATCH", f"/api/referrals/{ids['referral']}", {"status": "accepted"}),
        ("DELETE", f"/api/referrals/{ids['referral']}", None),
        ("PUT", "/api/tenant/config", {"overrides": {"general": {"date_format": "DD/MM/YYYY"}}}),
        ("PUT", "/api/tenant/branding", {"display_name": "Conflicted"}),
        ("POST", "/api/tenant/members", {"email": "conflicted@member.example", "role": "manager"}),
    ]


MUTATIONS = [f"{m} {p}" for m, p, _ in _mutations({k: "{" + k + "}" for k in
                                                    ("category", "professional", "customer", "receiver", "referral")})]


@pytest.mark.parametrize("index", range(len(MUTATIONS)), ids=MUTATIONS)
def test_a_transaction_conflict_is_a_retryable_409_and_changes_nothing(client, tenant_a, index):
    ids = populate(client, tenant_a, "tx")
    method, path, body = _mutations(ids)[index]

    def state() -> list[Any]:
        extra = [body_of(client.get(p, tenant=tenant_a)) for p in ("/api/tenant/config", "/api/tenant/members")]
        return snapshot(client, tenant_a) + [{k: v for k, v in e.items() if k != "request_id"} for e in extra]

    before = state()
    with before_first_transaction(transaction_conflict):
        response = client.request(method, path, tenant=tenant_a, body=body, headers={"If-Match": '"1"'})
    assert (response.status_code, body_of(response)["code"]) == (409, "concurrent_write"), response.body
    assert response.headers["Retry-After"]
    assert state() == before
    retried = client.request(method, path, tenant=tenant_a, body=body, headers={"If-Match": '"1"'})
    assert retried.status_code in (200, 201, 204), retried.body
