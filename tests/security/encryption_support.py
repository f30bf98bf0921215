"""Helpers for the encryption and key-rotation tests: raw items, KMS faults, KMS call counts."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib import aws
from chalicelib.key_rotation.service import QUEUE as KEY_ROTATION_QUEUE
from chalicelib.settings import get_settings
from chalicelib.tenancy.context import TenantContext, bound


def as_tenant(tenant: Any) -> Any:
    return bound(TenantContext(tenant=tenant, request_id="test"))


def table_items() -> list[dict[str, Any]]:
    """Every item of the data table as moto stores it, all tenants (the guard refuses Scan)."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["us-east-1"].tables[get_settings().data_table]
    return [item.to_json()["Attributes"] for item in table.all_items()]


def raw_partition(tenant: Any, pk: str, index: str | None = None) -> list[dict[str, Any]]:
    """The items of one of ``tenant``'s partitions (or index partitions), read with boto3."""
    attribute = {None: "pk", "gsi1": "gsi1pk", "gsi2": "gsi2pk", "gsi3": "gsi3pk"}[index]
    params: dict[str, Any] = {"TableName": get_settings().data_table, "KeyConditionExpression": "#p = :p",
                              "ExpressionAttributeNames": {"#p": attribute},
                              "ExpressionAttributeValues": {":p": {"S": pk}}}
    if index:
        params["IndexName"] = index
    with as_tenant(tenant):
        return aws.client("dynamodb").query(**params)["Items"]


def sealed_items(tenant: Any) -> list[tuple[str, dict[str, Any]]]:
    """(sealed-as kind, raw item) of every item in the tenant's sealed partitions."""
    from chalicelib.key_rotation import inventory

    with as_tenant(tenant):
        partitions = inventory.sealed_partitions()
    return [(p.sealed_as, item) for p in partitions for item in raw_partition(tenant, p.pk)]


def keys_of_sealed(tenant: Any) -> set[frozenset[str]]:
    """The distinct KMS key sets the tenant's sealed documents are wrapped under."""
    from chalicelib.crypto import pii

    with as_tenant(tenant):
        return {pii.sealed_under(item["pii"]["S"]) for _, item in sealed_items(tenant)}


def kms_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "injected")


@contextmanager
def kms_fault(make_error: Callable[[], Exception], operations: tuple[str, ...] | None = None) -> Iterator[list[str]]:
    """Every KMS call (of ``operations``, or all) raises ``make_error()`` before it is sent.

    A botocore ``before-call`` hook on every client of the process, the SDK's included;
    the list yielded records the refused operations.
    """
    refused: list[str] = []

    def hook(model: Any, **_: Any) -> None:
        if operations is None or model.name in operations:
            refused.append(model.name)
            raise make_error()

    aws.install_session_hook("before-call.kms", hook)
    try:
        yield refused
    finally:
        aws.remove_session_hook("before-call.kms", hook)


def unreachable() -> Exception:
    return EndpointConnectionError(endpoint_url="https://kms.us-east-1.amazonaws.com")


@contextmanager
def kms_calls() -> Iterator[list[str]]:
    """The KMS operations the process sends while the block runs."""
    seen: list[str] = []

    def hook(model: Any, **_: Any) -> None:
        seen.append(model.name)

    aws.install_session_hook("before-call.kms", hook)
    try:
        yield seen
    finally:
        aws.remove_session_hook("before-call.kms", hook)


def problem(response: Any) -> dict[str, Any]:
    return json.loads(response.body)


def _post(client: Any, tenant: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.request("POST", path, tenant=tenant, body=body)
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def professional_body(n: int, categories: list[str]) -> dict[str, Any]:
    return {"business_name": f"Garage {n}", "contact_name": f"Wanda Maximoff {n}",
            "email": f"garage{n}@westview.example", "phone": f"+1 555 010 42{n:02d}",
            "license_number": f"LIC-WV-{n:02d}", "service_categories": categories,
            "address": {"street": "2800 Sherwood Dr", "city": "Westview", "postal_code": "07000", "country": "US"}}


def customer_body(n: int) -> dict[str, Any]:
    return {"name": f"Vision {n}", "email": f"vision{n}@westview.example", "phone": f"+1 555 010 77{n:02d}",
            "notes": f"Door code 12{n:02d}",
            "vehicles": [{"vin": f"1HGCM82633A0043{n:02d}", "make": "Honda", "model": "Accord", "year": 2003}]}


def populate(client: Any, tenant: Any, professionals: int = 2, customers: int = 2) -> dict[str, list[dict[str, Any]]]:
    """Through the API: two categories, professionals in them, customers, a referral with notes."""
    for slug in ("brakes", "paint"):
        _post(client, tenant, "/api/service-categories", {"slug": slug, "name": slug.title()})
    pros = [_post(client, tenant, "/api/professionals", professional_body(n, ["brakes", "paint"][: 1 + n % 2]))
            for n in range(professionals)]
    customers_made = [_post(client, tenant, "/api/customers", customer_body(n)) for n in range(customers)]
    referral = _post(client, tenant, "/api/referrals", {
        "from_professional_id": pros[0]["id"], "to_professional_id": pros[1]["id"],
        "customer_id": customers_made[0]["id"], "service_category": "brakes", "notes": "Door code 9999"})
    return {"professionals": pros, "customers": customers_made, "referrals": [referral]}


# Plaintext that populate() stores, none of which may be at rest in clear.
POPULATED_PII = ["Wanda Maximoff", "westview.example", "+1 555 010", "LIC-WV-", "2800 Sherwood", "Door code",
                 "1HGCM82633A0043", "Vision 0"]


# ---- the key-rotation queue -------------------------------------------------------------

def queue_url() -> str:
    return aws.client("sqs").get_queue_url(QueueName=KEY_ROTATION_QUEUE)["QueueUrl"]


def take_messages() -> list[dict[str, Any]]:
    """Every visible message of the rotation queue, removed from it."""
    sqs, taken = aws.client("sqs"), []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10,
                                    MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            return taken
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"])
        taken += batch


def deliver(message: dict[str, Any]) -> list[str]:
    """Run the key_rotation handler on ``message`` as Lambda would; the ids it reports failed."""
    from app import app
    from chalicelib.local.pump import LocalLambdaContext

    attributes = {name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                  for name, value in (message.get("MessageAttributes") or {}).items()}
    event = {"Records": [{"messageId": message["MessageId"], "receiptHandle": "r", "body": message["Body"],
                          "attributes": {}, "messageAttributes": attributes, "md5OfBody": "",
                          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                          "awsRegion": "us-east-1"}]}
    result = app.handler_map["key_rotation"](event, LocalLambdaContext("key_rotation"))
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def run_jobs() -> None:
    for _ in range(20):
        messages = take_messages()
        if not messages:
            return
        for message in messages:
            assert deliver(message) == []
