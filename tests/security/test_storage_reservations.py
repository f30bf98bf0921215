"""The storage limit holds against reused presigned POSTs and piles of presigns (issue 19,
finding 2).

* A presigned POST can be used again for its whole life: the ledger records each
  object's current size and applies the difference on overwrite and on delete.
* Every presign reserves its bytes until it expires (plus a grace for the S3 event), so
  outstanding grants never add up past the limit; sequential uploads never overshoot.

S3 writes are made with put_object to the presigned key (moto does not check a POST's
policy or expiry), and the storage-events queue is pumped as the Lambda trigger would.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib import aws, clock
from chalicelib.limits import counters, reservations
from chalicelib.settings import get_settings
from chalicelib.store import keys
from tests.api.network_support import raw_items
from tests.api.test_storage_limits import ASSETS, LOGO, counter, deliver, set_storage_limit
from tests.conftest import body_of
from tests.rate_limit_support import Clock

LIMIT = 5000


@pytest.fixture
def moved(client) -> Iterator[Clock]:
    moving = Clock(time.time())
    with clock.use(wall=lambda: datetime.fromtimestamp(moving.now, UTC)):
        yield moving


def _presign(client, tenant, size: int | None = None) -> dict:
    response = client.request("POST", ASSETS, tenant=tenant, body=LOGO if size is None else {**LOGO, "size": size})
    return body_of(response) | {"status": response.status_code}


def _upload(key: str, size: int) -> None:
    aws.client("s3").put_object(Bucket=get_settings().assets_bucket, Key=key, Body=b"x" * size)


def _delete(key: str) -> None:
    aws.client("s3").delete_object(Bucket=get_settings().assets_bucket, Key=key)


def test_a_reused_post_that_overwrites_its_key_is_counted_at_its_new_size(client, tenant_a, moved):
    set_storage_limit(client, tenant_a, LIMIT)
    grant = _presign(client, tenant_a)
    assert grant["max_bytes"] == LIMIT
    # When the same POST uploads 1 byte, then (reused) its full allowance to the same key
    _upload(grant["key"], 1)
    deliver()
    _upload(grant["key"], LIMIT)
    deliver()
    # Then the counter holds the object's current size, not the first one
    assert counter(tenant_a, counters.FILE_BYTES) == LIMIT
    # And the delete gives back what is stored now
    _delete(grant["key"])
    deliver()
    assert counter(tenant_a, counters.FILE_BYTES) == 0
    assert raw_items(tenant_a, keys.STORED_OBJECT) == []


def test_outstanding_grants_never_add_up_past_the_limit(client, tenant_a, moved):
    set_storage_limit(client, tenant_a, LIMIT)
    grants = [_presign(client, tenant_a) for _ in range(4)]
    assert grants[0]["max_bytes"] == LIMIT
    assert [g["status"] for g in grants[1:]] == [403, 403, 403]
    assert body_of(client.request("POST", ASSETS, tenant=tenant_a, body=LOGO))["code"] == "limit_exceeded"
    # And once the first presign (and its grace) has expired with nothing uploaded, its bytes are free again
    moved.advance(300 + reservations.GRACE_SECONDS + 1)
    assert _presign(client, tenant_a)["max_bytes"] == LIMIT


def test_a_reused_post_cannot_take_bytes_granted_to_another(client, tenant_a, moved):
    set_storage_limit(client, tenant_a, LIMIT)
    first = _presign(client, tenant_a)
    _upload(first["key"], 1)
    deliver()
    # The first POST's key holds 1 byte, but it may still grow to its grant: nothing is left
    assert _presign(client, tenant_a)["status"] == 403


def test_sequential_uploads_never_overshoot(client, tenant_a, moved):
    # Given clients that upload all they are granted (the worst case), each POST used twice
    set_storage_limit(client, tenant_a, LIMIT)
    for _ in range(10):
        grant = _presign(client, tenant_a, size=1700)
        if grant["status"] == 403:
            break
        _upload(grant["key"], 1)
        deliver()
        _upload(grant["key"], grant["max_bytes"])
        deliver()
        moved.advance(60)
    # Then the stored bytes reach the limit and never pass it
    assert counter(tenant_a, counters.FILE_BYTES) == LIMIT


def test_a_grant_for_a_stated_size_holds_only_that_size(client, tenant_a, moved):
    set_storage_limit(client, tenant_a, LIMIT)
    assert _presign(client, tenant_a, size=1000)["max_bytes"] == 1000
    assert _presign(client, tenant_a)["max_bytes"] == LIMIT - 1000


def test_outstanding_presigns_are_bounded(client, tenant_a, moved):
    for _ in range(reservations.MAX_OUTSTANDING):
        assert _presign(client, tenant_a)["status"] == 201
    refused = client.request("POST", ASSETS, tenant=tenant_a, body=LOGO)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
