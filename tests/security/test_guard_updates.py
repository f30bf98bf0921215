"""The guard reads what an update writes, whatever the table is called, and refuses
table management while a tenant is bound (issue 19, finding 4), and the platform
transaction connection reads conditions structurally (finding 5).

Each case is a raw boto3/pynamodb call that no route makes today: the guard exists to
hold when code is wrong, so each one would otherwise write into another tenant's index
partitions, create an item with no tenant, scan every tenant by ARN, or drop the table.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pynamodb.transactions import TransactWrite

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.guard import IsolationViolationError
from chalicelib.store.unit_of_work import UnitOfWork
from chalicelib.tenancy import context
from chalicelib.tenancy.context import TenantContext


@contextmanager
def as_tenant(tenant: Any) -> Iterator[None]:
    with context.bound(TenantContext(tenant=tenant, request_id="req-guard-upd")):
        yield


def table() -> str:
    return get_settings().data_table


def arn() -> str:
    return f"arn:aws:dynamodb:{get_settings().region}:123456789012:table/{table()}"


def key(tenant: Any, sk: str = "x") -> dict:
    return {"pk": {"S": keys.data_partition(tenant.id, "CAT")}, "sk": {"S": sk}}


def item(tenant: Any, sk: str = "x") -> dict:
    return {**key(tenant, sk), "tenant_id": {"S": str(tenant.id)}, "kind": {"S": "CAT"}}


def update(tenant: Any, expression: str, values: dict, *, sk: str = "x", condition: str | None = None,
           names: dict | None = None) -> dict:
    body: dict[str, Any] = {"TableName": table(), "Key": key(tenant, sk), "UpdateExpression": expression,
                            "ExpressionAttributeValues": values}
    if condition:
        body["ConditionExpression"] = condition
    if names:
        body["ExpressionAttributeNames"] = names
    return body


@pytest.fixture
def ddb(aws_mock):
    return aws.client("dynamodb")


def _foreign_index(a: Any) -> dict:
    return {":g": {"S": keys.data_partition(a.id, "REFSTATUS", "pending")}, ":s": {"S": "1"}}


REFUSED_UPDATES = {
    "set-foreign-index-key": lambda a, b: update(b, "SET gsi1pk = :g, gsi1sk = :s", _foreign_index(a),
                                                 condition="attribute_exists(pk)"),
    "set-foreign-index-key-by-name": lambda a, b: update(b, "SET #g = :g", _foreign_index(a),
                                                         names={"#g": "gsi2pk"}, condition="attribute_exists(pk)"),
    "set-computed-index-key": lambda a, b: update(b, "SET gsi3pk = if_not_exists(gsi1pk, :g)", _foreign_index(a),
                                                  condition="attribute_exists(pk)"),
    "set-foreign-tenant-id": lambda a, b: update(b, "SET tenant_id = :t", {":t": {"S": str(a.id)}},
                                                 condition="attribute_exists(pk)"),
    "remove-tenant-id": lambda a, b: update(b, "SET kind = :k REMOVE tenant_id", {":k": {"S": "X"}},
                                            condition="attribute_exists(pk)"),
    "set-key-attribute": lambda a, b: update(b, "SET pk = :p", {":p": {"S": keys.data_partition(a.id, "CAT")}},
                                             condition="attribute_exists(pk)"),
    "upsert-without-tenant": lambda a, b: update(b, "SET kind = :k", {":k": {"S": "X"}}, sk="new"),
    "upsert-behind-an-or": lambda a, b: update(b, "SET kind = :k", {":k": {"S": "X"}}, sk="new",
                                               condition="attribute_exists(pk) OR attribute_not_exists(pk)"),
    "unparseable": lambda a, b: update(b, "SET kind = :k; DROP", {":k": {"S": "X"}},
                                       condition="attribute_exists(pk)"),
}


@pytest.mark.parametrize("build", REFUSED_UPDATES.values(), ids=REFUSED_UPDATES.keys())
def test_an_update_that_writes_outside_the_tenant_is_refused(ddb, tenant_a, tenant_b, build):
    # Given tenant B's item exists and B is bound
    with as_tenant(tenant_b):
        ddb.put_item(TableName=table(), Item=item(tenant_b))
        body = build(tenant_a, tenant_b)
        # When an UpdateItem, or the same update inside a transaction, writes outside B
        with pytest.raises(IsolationViolationError):
            ddb.update_item(**body)
        with pytest.raises(IsolationViolationError):
            ddb.transact_write_items(TransactItems=[{"Update": body}])
        # Then nothing changed: B's item is as written and no item was created
        stored = ddb.get_item(TableName=table(), Key=key(tenant_b))["Item"]
        assert stored == item(tenant_b)
        assert "Item" not in ddb.get_item(TableName=table(), Key=key(tenant_b, "new"))


def test_updates_inside_the_tenant_pass(ddb, tenant_b):
    with as_tenant(tenant_b):
        ddb.put_item(TableName=table(), Item=item(tenant_b))
        own_index = {":g": {"S": keys.data_partition(tenant_b.id, "REFSTATUS", "pending")}, ":s": {"S": "1"}}
        ddb.update_item(**update(tenant_b, "SET gsi1pk = :g, gsi1sk = :s", own_index, condition="attribute_exists(pk)"))
        ddb.update_item(**update(tenant_b, "SET #u = if_not_exists(#u, :zero) + :one", {":one": {"N": "1"}, ":zero": {"N": "0"}},
                                 names={"#u": "used"}, condition="attribute_exists(pk)"))
        # An upsert that carries the bound tenant id may create the item
        ddb.update_item(**update(tenant_b, "ADD used :one SET tenant_id = :t, kind = :k",
                                 {":one": {"N": "1"}, ":t": {"S": str(tenant_b.id)}, ":k": {"S": "USAGE"}}, sk="new"))
        created = ddb.get_item(TableName=table(), Key=key(tenant_b, "new"))["Item"]
        assert created["tenant_id"]["S"] == str(tenant_b.id)
        assert ddb.get_item(TableName=table(), Key=key(tenant_b))["Item"]["gsi1pk"] == own_index[":g"]


def _commit(action) -> None:
    uow = UnitOfWork()
    action.add(uow)
    uow.commit()


def test_the_codes_own_counter_updates_pass(aws_mock, tenant_a):
    # Given pynamodb's own update shapes (counters: ADD conditioned on the value)
    from chalicelib.limits import counters

    with as_tenant(tenant_a):
        data.bind()
        shards = counters.read(counters.METERS[0])
        _commit(counters.Take(counters.METERS[0], shards.quota, shard=0))
        _commit(counters.GiveBack(counters.METERS[0], shard=0, epoch=int(shards.items[0].version)))
        assert counters.current(counters.METERS[0]) == 0


REFUSED_BY_ARN = {
    "scan": lambda ddb, a: ddb.scan(TableName=arn()),
    "get-foreign": lambda ddb, a: ddb.get_item(TableName=arn(), Key=key(a)),
    "put-foreign": lambda ddb, a: ddb.put_item(TableName=arn(), Item=item(a, "arn")),
    "query-foreign": lambda ddb, a: ddb.query(TableName=arn(), KeyConditionExpression="pk = :p",
                                              ExpressionAttributeValues={":p": key(a)["pk"]}),
    "batch-get-foreign": lambda ddb, a: ddb.batch_get_item(RequestItems={arn(): {"Keys": [key(a)]}}),
    "transact-foreign": lambda ddb, a: ddb.transact_write_items(TransactItems=[
        {"Delete": {"TableName": arn(), "Key": key(a)}}]),
}


@pytest.mark.parametrize("call", REFUSED_BY_ARN.values(), ids=REFUSED_BY_ARN.keys())
def test_a_table_arn_is_checked_like_the_table_name(ddb, tenant_a, tenant_b, call):
    with as_tenant(tenant_a):
        ddb.put_item(TableName=table(), Item=item(tenant_a))
    with as_tenant(tenant_b), pytest.raises(IsolationViolationError):
        call(ddb, tenant_a)
    with as_tenant(tenant_a):
        assert ddb.get_item(TableName=table(), Key=key(tenant_a))["Item"] == item(tenant_a)
        assert "Item" not in ddb.get_item(TableName=table(), Key=key(tenant_a, "arn"))


CONTROL_PLANE = {
    "delete-table": lambda ddb: ddb.delete_table(TableName=table()),
    "update-ttl": lambda ddb: ddb.update_time_to_live(
        TableName=table(), TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"}),
    "update-backups": lambda ddb: ddb.update_continuous_backups(
        TableName=table(), PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}),
    "delete-registry": lambda ddb: ddb.delete_table(TableName=get_settings().registry_table),
}


@pytest.mark.parametrize("call", CONTROL_PLANE.values(), ids=CONTROL_PLANE.keys())
def test_table_management_is_refused_while_a_tenant_is_bound(ddb, tenant_a, call):
    with as_tenant(tenant_a), pytest.raises(IsolationViolationError):
        call(ddb)
    tables = set(ddb.list_tables()["TableNames"])
    assert {table(), get_settings().registry_table} <= tables


def test_a_platform_transaction_reads_the_new_item_condition(aws_mock, tenant_a):
    # Given a usage counter with a value
    from chalicelib.limits import counters

    data.bind()
    meter = counters.METERS[0]
    with as_tenant(tenant_a):
        _commit(counters.Take(meter, counters.read(meter).quota, shard=0))
        reset = data.new_item(pk=data.partition(keys.USAGE), sk=counters.shard_sk(meter, 0), kind=keys.USAGE, used=0)
        for condition in (DataItem.entity_id.does_not_exist() | DataItem.pk.exists(),
                          DataItem.entity_id.does_not_exist(),
                          ~DataItem.pk.exists()):
            # When a platform transaction Puts over it with a condition that merely mentions
            # attribute_not_exists, then it is refused and the counter keeps its value
            with pytest.raises(IsolationViolationError):
                with TransactWrite(connection=data.platform_transaction_connection()) as tx:
                    tx.save(reset, condition=condition)
        assert counters.current(meter) == 1
