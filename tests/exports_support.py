"""Helpers for export tests: seeding many items fast, delivering the queue, reading files back."""
from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
import zipfile
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from chalicelib import aws
from chalicelib.clock import now_iso
from chalicelib.network.customers import service as customers
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from tests.conftest import body_of
from tests.security.encryption_support import as_tenant

EXPORTS = "/api/tenant/exports"


def seed_customers(tenant: Any, count: int, start: int = 0) -> None:
    """``count`` customers written straight to the table in batches, stored exactly as the
    service stores them (PII sealed under the tenant's key): API creation would take minutes."""
    with as_tenant(tenant):
        data.bind()
        now = now_iso()
        with DataItem.batch_write() as batch:
            for n in range(start, start + count):
                customer_id = str(uuid.uuid4())
                fields = {"name": f"Customer {n}", "email": f"c{n}@seed.example", "phone": None,
                          "vehicles": [{"vin": "1HGCM82633A004352", "make": "Honda", "model": "Civic",
                                        "year": 2000 + n % 25}],
                          "notes": f"note {n}", "user_sub": None}
                batch.save(data.new_item(pk=data.partition(keys.CUSTOMER), sk=customer_id, kind=keys.CUSTOMER,
                                         entity_id=customer_id, version=1, created_at=now, updated_at=now,
                                         **customers._documents(customer_id, fields)))


def request(client: Any, tenant: Any, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return client.request("POST", EXPORTS, tenant=tenant,
                          body=body if body is not None else {"format": "json", "notify_email": "admin@acme.example"},
                          **kwargs)


def pump() -> Any:
    from app import app
    from chalicelib.local.pump import EventPump

    return EventPump(app, get_settings().region)


def run_queue(max_rounds: int = 100) -> int:
    """Deliver the exports queue to the app's worker, as Lambda would, until it is empty."""
    events = pump()
    [source] = [q for q in events.queues if q.queue == get_settings().exports_queue]
    handled = 0
    for _ in range(max_rounds):
        count = events.pump_queue(source)
        handled += count
        if count == 0:
            return handled
    return handled


def object_key_of(location: str) -> str:
    """The object key of a presigned URL, virtual-hosted or path style."""
    path = unquote(urlparse(location).path).lstrip("/")
    return path.removeprefix(get_settings().exports_bucket + "/")


def download(client: Any, tenant: Any, export_id: str) -> tuple[bytes, str, dict[str, list[str]]]:
    """(object bytes, object key, presigned URL query) through GET .../download."""
    response = client.get(f"{EXPORTS}/{export_id}/download", tenant=tenant)
    assert response.status_code == 302, response.body
    location = response.headers["Location"]
    key = object_key_of(location)
    body = aws.client("s3").get_object(Bucket=get_settings().exports_bucket, Key=key)["Body"].read()
    return body, key, parse_qs(urlparse(location).query)


def parse_json_export(blob: bytes) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in gzip.decompress(blob).decode().splitlines():
        row = json.loads(line)
        found[row["entity"]].append(row["record"])
    return dict(found)


def parse_csv_export(blob: bytes) -> dict[str, list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(blob))
    assert archive.testzip() is None
    return {name.removesuffix(".csv"): list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
            for name in archive.namelist()}


def export_of(client: Any, tenant: Any, export_id: str) -> dict[str, Any]:
    response = client.get(f"{EXPORTS}/{export_id}", tenant=tenant)
    assert response.status_code == 200, response.body
    return dict(body_of(response))


def listing(client: Any, tenant: Any, path: str) -> list[dict[str, Any]]:
    """Every item of a list route, following cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        suffix = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
        page = body_of(client.get(path + suffix, tenant=tenant))
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


class FakeLambdaContext:
    """A Lambda context whose remaining time drops to ``low_ms`` after ``plenty_calls`` reads."""

    def __init__(self, plenty_calls: int = 10**9, low_ms: int = 1000) -> None:
        self.calls = 0
        self.plenty_calls, self.low_ms = plenty_calls, low_ms
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 60_000 if self.calls <= self.plenty_calls else self.low_ms


def queue_url(name: str | None = None) -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=name or get_settings().exports_queue)["QueueUrl"])


def take_messages(name: str | None = None) -> list[dict[str, Any]]:
    """Every visible message of the exports queue, removed from it."""
    sqs, taken, url = aws.client("sqs"), [], queue_url(name)
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    AttributeNames=["All"]).get("Messages", [])
        if not batch:
            return taken
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        taken += batch


def deliver(message: dict[str, Any], context: Any = None, receive_count: int = 1) -> list[str]:
    """Run the exports worker on ``message`` as Lambda would; the ids it reports failed."""
    from app import app

    attributes = {name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                  for name, value in (message.get("MessageAttributes") or {}).items()}
    event = {"Records": [{"messageId": message["MessageId"], "receiptHandle": "r", "body": message["Body"],
                          "attributes": {"ApproximateReceiveCount": str(receive_count)},
                          "messageAttributes": attributes, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}
    result = app.handler_map["exports_worker"](event, context or FakeLambdaContext())
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def open_uploads() -> list[dict[str, Any]]:
    return list(aws.client("s3").list_multipart_uploads(Bucket=get_settings().exports_bucket).get("Uploads", []))


def stored_keys(prefix: str = "") -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=get_settings().exports_bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]
