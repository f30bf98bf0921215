"""A short KMS throttle is absorbed by the SDK's retries (``standard`` mode, aws.py): the
client never sees it. A long one is a 503 with nothing written: tests/api/test_kms_failures.py.

The fault is injected at the HTTP layer (``before-send``), below botocore's retry handler,
on the tenant's pooled KMS client, the one the Encryption SDK is given.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse

from chalicelib import aws
from chalicelib.crypto import pii
from chalicelib.store import keys as store_keys
from chalicelib.tenancy import clients
from tests.conftest import body_of
from tests.security.encryption_support import customer_body, raw_partition


class _Body:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.payload


def test_a_short_kms_throttle_is_absorbed_by_the_sdk_retries(client, tenant_a):
    # Given a fresh container (no cached data key) whose KMS answers the next two sends
    # with ThrottlingException, then normally
    pii.reset_state()
    aws.reset_clients()
    sends: list[str] = []
    throttle = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()

    def throttle_twice(request: Any, **_: Any) -> Any:
        sends.append(str(request.headers.get("X-Amz-Target")))
        if len(sends) <= 2:
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Body(throttle))
        return None

    clients.pool().for_tenant(tenant_a.id).kms.meta.events.register("before-send.kms", throttle_twice)
    # When a customer (PII, so a data key) is created
    response = client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(1))
    # Then the request succeeded after the retries, and stored one customer
    assert response.status_code == 201, response.body
    assert len(sends) >= 3 and sends[0] == sends[1] == sends[2] and "GenerateDataKey" in sends[0]
    stored = raw_partition(tenant_a, store_keys.data_partition(tenant_a.id, store_keys.CUSTOMER))
    assert [i["entity_id"]["S"] for i in stored] == [body_of(response)["id"]]
