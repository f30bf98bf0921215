"""Storage limits: the presigned upload's allowance, S3 events keeping the counter current,
the daily reconciliation correcting drift, and GET /api/tenant/usage."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.limits import DEFAULT_PLANS, counters, reconciliation
from chalicelib.limits.storage import STORAGE_EVENTS_QUEUE
from chalicelib.network.professionals import service as professionals
from chalicelib.network.professionals.models import ProfessionalCreate
from chalicelib.settings import get_settings
from chalicelib.store import keys
from tests.api.network_support import as_tenant, raw_items
from tests.conftest import body_of

ADMIN = "platform_admin"
ASSETS = "/api/tenant/branding/assets"
LOGO = {"purpose": "logo", "content_type": "image/png"}


def pump() -> Any:
    from app import app
    from chalicelib.local.pump import EventPump

    return EventPump(app, get_settings().region)


def put_object(tenant, name: str, size: int) -> str:
    key = keys.tenant_object_key(tenant.id, "branding", name)
    aws.client("s3").put_object(Bucket=get_settings().assets_bucket, Key=key, Body=b"x" * size)
    return key


def delete_object(key: str) -> None:
    aws.client("s3").delete_object(Bucket=get_settings().assets_bucket, Key=key)


def deliver() -> int:
    """Hand the storage-events queue's messages to its handler until it is empty."""
    event_pump = pump()
    source = next(q for q in event_pump.queues if q.queue == STORAGE_EVENTS_QUEUE)
    handled = 0
    while (batch := event_pump.pump_queue(source)) > 0:
        handled += batch
    return handled


def counter(tenant, meter: str) -> int | None:
    with as_tenant(tenant):
        return counters.current(meter)


def set_storage_limit(client, tenant, value: int) -> None:
    response = client.request("PUT", f"/api/admin/tenants/{tenant.id}/limits", role=ADMIN,
                              body={"max_storage_bytes": value})
    assert response.status_code == 200


def size_range(upload: dict[str, Any]) -> list[Any]:
    conditions = json.loads(base64.b64decode(upload["fields"]["policy"]))["conditions"]
    return next(c for c in conditions if isinstance(c, list) and c[0] == "content-length-range")


def test_the_presigned_post_allows_at_most_what_is_left(client, tenant_a):
    full = body_of(client.request("POST", ASSETS, tenant=tenant_a, body=LOGO))
    assert full["max_bytes"] == 1024 * 1024 and size_range(full) == ["content-length-range", 1, 1024 * 1024]
    set_storage_limit(client, tenant_a, 5000)
    put_object(tenant_a, "logo-1.png", 3000)
    assert deliver() >= 1
    assert counter(tenant_a, counters.FILE_BYTES) == 3000
    upload = body_of(client.request("POST", ASSETS, tenant=tenant_a, body=LOGO))
    assert upload["max_bytes"] == 2000 and size_range(upload) == ["content-length-range", 1, 2000]
    put_object(tenant_a, "logo-2.png", 2000)
    deliver()
    refused = client.request("POST", ASSETS, tenant=tenant_a, body=LOGO)
    assert refused.status_code == 403
    problem = body_of(refused)
    assert (problem["code"], problem["resource"], problem["limit"], problem["usage"]) == (
        "limit_exceeded", "storage_bytes", 5000, 5000)


def test_events_count_each_object_once_and_removals_give_bytes_back(client, tenant_a, tenant_b):
    key = put_object(tenant_a, "logo-a.png", 700)
    put_object(tenant_b, "logo-b.png", 50)
    deliver()
    record = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": get_settings().assets_bucket},
                                                       "object": {"key": key, "size": 700}}}
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=STORAGE_EVENTS_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [record]}))  # a redelivery
    deliver()
    assert counter(tenant_a, counters.FILE_BYTES) == 700 and counter(tenant_b, counters.FILE_BYTES) == 50
    delete_object(key)
    deliver()
    assert counter(tenant_a, counters.FILE_BYTES) == 0 and raw_items(tenant_a, keys.STORED_OBJECT) == []
    assert counter(tenant_b, counters.FILE_BYTES) == 50


def test_an_event_naming_two_tenants_or_none_is_refused(tenant_a, tenant_b):
    from chalice.test import Client

    from app import app

    bucket = get_settings().assets_bucket

    def record(key: str) -> dict[str, Any]:
        return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 9}}}

    mixed = {"Records": [record(f"tenants/{tenant_a.id}/branding/x.png"), record(f"tenants/{tenant_b.id}/branding/y.png")]}
    outside = {"Records": [record("elsewhere/x.png")]}
    other_bucket = {"Records": [{**record(f"tenants/{tenant_a.id}/x.png"), "s3": {
        "bucket": {"name": "someone-elses"}, "object": {"key": f"tenants/{tenant_a.id}/x.png", "size": 9}}}]}
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket}
    with Client(app) as lambda_client:
        event = lambda_client.events.generate_sqs_event(
            queue_name=STORAGE_EVENTS_QUEUE,
            message_bodies=[json.dumps(b) for b in (mixed, outside, other_bucket, test_event)])
        result = lambda_client.lambda_.invoke("storage_events", event).payload
    assert len(result["batchItemFailures"]) == 3  # the test event is acknowledged, the others refused
    assert counter(tenant_a, counters.FILE_BYTES) == 0 and counter(tenant_b, counters.FILE_BYTES) == 0


def make_some_data(client, tenant) -> None:
    for n in range(2):
        response = client.request("POST", "/api/professionals", tenant=tenant, body={
            "business_name": f"Shop {n}", "contact_name": "C", "email": f"s{n}@shop.example"})
        assert response.status_code == 201
    assert client.request("POST", "/api/customers", tenant=tenant, body={"name": "Ana"}).status_code == 201


def test_the_daily_reconciliation_corrects_drift(client, tenant_a, tenant_b):
    make_some_data(client, tenant_a)
    kept = put_object(tenant_a, "logo-1.png", 400)
    deliver()
    put_object(tenant_a, "logo-2.png", 600)  # its event is lost: never delivered
    with as_tenant(tenant_a):
        counters.key(counters.PROFESSIONALS).update(actions=[counters.DataItem.used.set(9)])
        counters.key(counters.CUSTOMERS).delete()
        aws.client("s3").delete_object(Bucket=get_settings().assets_bucket, Key=kept)  # removal lost too
    aws.client("sqs").purge_queue(QueueUrl=aws.client("sqs").get_queue_url(QueueName=STORAGE_EVENTS_QUEUE)["QueueUrl"])

    result = pump().fire("usage_reconciliation")

    assert result["tenants_failed"] == [] and result["tenants_processed"] == 2
    assert counter(tenant_a, counters.PROFESSIONALS) == 2
    assert counter(tenant_a, counters.CUSTOMERS) == 1
    assert counter(tenant_a, counters.FILE_BYTES) == 600
    assert [i["sk"]["S"] for i in raw_items(tenant_a, keys.STORED_OBJECT)] == [
        keys.tenant_object_key(tenant_a.id, "branding", "logo-2.png")]
    items_bytes = counter(tenant_a, counters.ITEM_BYTES)
    assert items_bytes is not None and items_bytes > 0
    assert counter(tenant_b, counters.ITEM_BYTES) < items_bytes  # b has no professionals or customers
    usage = body_of(client.get("/api/tenant/usage", tenant=tenant_a))
    assert usage["storage"]["files_bytes"] == 600 and usage["storage"]["items_bytes_estimate"] == items_bytes
    assert usage["reconciled_at"] is not None


def test_the_item_bytes_estimate_grows_with_the_data(client, tenant_a):
    with as_tenant(tenant_a):
        before = reconciliation.reconcile()["item_bytes"]["after"]
    make_some_data(client, tenant_a)
    with as_tenant(tenant_a):
        after = reconciliation.reconcile()["item_bytes"]["after"]
    # Two professionals and a customer, their index items, events: at least a few hundred bytes each.
    assert after - before > 1500


def test_a_counter_changed_while_counting_is_left_for_the_next_run(client, tenant_a, monkeypatch):
    make_some_data(client, tenant_a)
    original = counters.count_items

    def count_while_someone_creates(kind: str) -> int:
        counted = original(kind)
        if kind == keys.PROFESSIONAL:  # a create commits between the count and the write
            professionals.create_professional(ProfessionalCreate(
                business_name="Late", contact_name="L", email="late@shop.example"))
        return counted

    monkeypatch.setattr(counters, "count_items", count_while_someone_creates)
    with as_tenant(tenant_a):
        report = reconciliation.reconcile()
    assert report["professionals"]["busy"] is True
    assert counter(tenant_a, counters.PROFESSIONALS) == 3 == len(raw_items(tenant_a, keys.PROFESSIONAL))


def test_usage_shows_counts_and_storage_against_effective_limits(client, tenant_a):
    make_some_data(client, tenant_a)
    response = client.get("/api/tenant/usage", tenant=tenant_a)
    assert response.status_code == 200
    usage = body_of(response)
    free = DEFAULT_PLANS["free"]
    assert usage["plan"] == "free" and usage["limits"]["max_professionals"] == free.max_professionals
    assert usage["professionals"] == {"used": 2, "limit": free.max_professionals,
                                      "remaining": free.max_professionals - 2}
    assert usage["customers"]["used"] == 1 and usage["customers"]["limit"] == free.max_customers
    assert usage["storage"]["used"] == 0 and usage["storage"]["limit"] == free.max_storage_bytes
    assert usage["reconciled_at"] is None
    set_storage_limit(client, tenant_a, 10)
    assert body_of(client.get("/api/tenant/usage", tenant=tenant_a))["storage"]["limit"] == 10


@pytest.mark.parametrize("role,status", [("tenant_admin", 200), ("manager", 200), ("professional", 403),
                                         ("customer", 403)])
def test_usage_is_for_admins_and_managers(client, tenant_a, role, status):
    assert client.get("/api/tenant/usage", tenant=tenant_a, role=role).status_code == status


def test_usage_counts_the_partition_when_a_counter_is_missing(client, tenant_a):
    make_some_data(client, tenant_a)
    with as_tenant(tenant_a):
        counters.key(counters.PROFESSIONALS).delete()
    assert body_of(client.get("/api/tenant/usage", tenant=tenant_a))["professionals"]["used"] == 2
