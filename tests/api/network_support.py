"""Helpers the network entity tests share: raw items, counters, fault injection."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.tenancy import context
from chalicelib.tenancy.context import TenantContext


@contextmanager
def as_tenant(tenant) -> Iterator[None]:
    with context.bound(TenantContext(tenant=tenant, request_id="t")):
        yield


def raw_items(tenant, kind: str, *qualifiers: str) -> list[dict]:
    """The stored items of one partition, as DynamoDB holds them."""
    with as_tenant(tenant):
        response = aws.client("dynamodb").query(
            TableName=get_settings().data_table, KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": keys.data_partition(tenant.id, kind, *qualifiers)}})
    return response["Items"]


def set_refs(tenant, kind: str, entity_id: str, refs: int) -> None:
    """Stand in for the referrals' transactions, which count open referrals in ``refs``."""
    with as_tenant(tenant):
        item = data.get(data.partition(kind), entity_id)
        assert item is not None
        item.update(actions=[DataItem.refs.set(refs)], condition=DataItem.pk.exists())


@contextmanager
def before_first_transaction(action) -> Iterator[None]:
    """Run ``action`` just before the next TransactWriteItems is sent (fault injection)."""
    fired: list[bool] = []

    def hook(model, **_) -> None:
        if model.name == "TransactWriteItems" and not fired:
            fired.append(True)
            action()

    aws.install_session_hook("before-call.dynamodb", hook)
    try:
        yield
    finally:
        aws._hooks["before-call.dynamodb"].remove(hook)
    assert fired, "no transaction was sent"


def transaction_conflict() -> None:
    raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                       "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
                      "TransactWriteItems")
