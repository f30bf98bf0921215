"""Restore one tenant's data from a copy of the data table, without touching the others.

The copy is a table AWS restored from a backup or to a point in time (never the live
table: the runbook, ``docs/runbook-backup-and-dr.md``). :func:`restore_tenant` reads the
tenant's items from the copy (a Scan filtered on the tenant's key prefix: the copy is
not the data table, so the guard does not refuse it), then, with the tenant bound, so
that the guard checks every write against the tenant's prefix:

1. in every partition of the tenant the copy holds, deletes the live items the copy
   does not have (made after the copy's moment);
2. puts back every item of the copy (overwriting the live version).

Items of partitions that did not exist at the copy's moment are left as they are (the
guard forbids the Scan that would find them; the runbook says how to remove them).
Sealed PII opens as long as the key it was sealed under exists: the tenant's current
key, or a retired one still waiting for deletion (30 days, ``crypto/keys.py``).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.tenancy.context import TenantContext, bound
from chalicelib.tenancy.tenant import Tenant

# BatchWriteItem takes at most 25 requests.
BATCH = 25


@dataclass(frozen=True)
class RestoreReport:
    tenant_id: str
    source_table: str
    restored: int
    removed: int
    partitions: int


def _tenant_items(client: Any, table: str, prefix: str) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"TableName": table, "FilterExpression": "begins_with(pk, :prefix)",
                              "ExpressionAttributeValues": {":prefix": {"S": prefix}}, "ConsistentRead": True}
    while True:
        page = client.scan(**params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _live_keys(client: Any, table: str, partition: str) -> Iterator[tuple[str, str]]:
    params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :pk",
                              "ExpressionAttributeValues": {":pk": {"S": partition}},
                              "ProjectionExpression": "pk, sk", "ConsistentRead": True}
    while True:
        page = client.query(**params)
        yield from ((i["pk"]["S"], i["sk"]["S"]) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _write(client: Any, table: str, requests: list[dict[str, Any]]) -> None:
    for start in range(0, len(requests), BATCH):
        pending: dict[str, Any] = {table: requests[start:start + BATCH]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def restore_tenant(tenant: Tenant, source_table: str) -> RestoreReport:
    """Make ``tenant``'s data what ``source_table`` holds of it; the others' is not read or written."""
    data_table = get_settings().data_table
    if source_table == data_table:
        raise ValueError("restore from a restored copy, not from the live data table")
    client = aws.client("dynamodb")
    copied = list(_tenant_items(client, source_table, keys.tenant_prefix(tenant.id)))
    wanted = {(i["pk"]["S"], i["sk"]["S"]) for i in copied}
    partitions = sorted({pk for pk, _ in wanted})
    with bound(TenantContext(tenant=tenant, request_id=f"restore:{tenant.id}")):
        stale = [key for partition in partitions for key in _live_keys(client, data_table, partition)
                 if key not in wanted]
        _write(client, data_table, [{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}
                                    for pk, sk in stale])
        _write(client, data_table, [{"PutRequest": {"Item": item}} for item in copied])
    return RestoreReport(str(tenant.id), source_table, len(copied), len(stale), len(partitions))
