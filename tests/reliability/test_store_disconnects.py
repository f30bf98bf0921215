"""A DynamoDB error that carries no HTTP response (a reset connection, a read timeout):
503 ``store_unavailable`` with ``Retry-After`` on routes, a retry (not a lost message) for
jobs (issue 19, finding 8).

botocore raises these as ``HTTPClientError`` subclasses whose ``response`` is None, so
pynamodb's ``cause_response_code`` (``getattr(cause, "response", {}).get(...)``) itself
raises ``AttributeError``: every place that inspects a store error must survive that.
The faults are injected with a ``before-call`` hook on the botocore session every
DynamoDB client is built from, as a dropped connection would surface after botocore's
own retries.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from chalicelib import aws
from tests.conftest import body_of
from tests.exports_support import deliver, export_of, request, take_messages
from tests.security.encryption_support import customer_body

ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com"
FAULTS: dict[str, Callable[[], Exception]] = {
    "reset": lambda: ConnectionClosedError(endpoint_url=ENDPOINT),
    "read-timeout": lambda: ReadTimeoutError(endpoint_url=ENDPOINT),
}


@contextmanager
def dropped(operation: str, make: Callable[[], Exception], times: int = 10**6) -> Iterator[list[str]]:
    seen: list[str] = []

    def hook(model: Any, **_: Any) -> None:
        if model.name == operation and len(seen) < times:
            seen.append(model.name)
            raise make()

    aws.install_session_hook("before-call.dynamodb", hook)
    try:
        yield seen
    finally:
        aws.remove_session_hook("before-call.dynamodb", hook)


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.body
    assert body_of(response)["code"] == "store_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_transaction_without_a_response_is_503_and_stores_nothing(client, tenant_a, fault):
    with dropped("TransactWriteItems", fault) as seen:
        response = client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(1))
    assert seen
    _assert_unavailable(response)
    assert body_of(client.get("/api/customers", tenant=tenant_a))["items"] == []


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_get_and_a_query_without_a_response_are_503(client, tenant_a, fault):
    created = body_of(client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(1)))
    with dropped("GetItem", fault) as seen:
        one = client.get(f"/api/customers/{created['id']}", tenant=tenant_a)
    assert seen
    _assert_unavailable(one)
    with dropped("Query", fault) as seen:
        listed = client.get("/api/customers", tenant=tenant_a)
    assert seen
    _assert_unavailable(listed)


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_job_whose_store_drops_the_connection_is_retried_not_lost(client, tenant_a, fault):
    # Given an export request waiting in the queue
    response = request(client, tenant_a, {"format": "json", "notify_email": "o@acme.example", "include": ["customers"]})
    assert response.status_code == 202, response.body
    export_id = response.json_body["id"]
    [message] = take_messages()
    # When the worker's transactions lose their connection
    with dropped("TransactWriteItems", fault) as seen:
        failed = deliver(message)
    # Then the message is reported for redelivery and the export is still waiting, not failed
    assert seen and failed == [message["MessageId"]]
    assert export_of(client, tenant_a, export_id)["status"] in ("queued", "running")
    # And the redelivery completes it
    assert deliver(message, receive_count=2) == []
    assert export_of(client, tenant_a, export_id)["status"] == "completed"
