"""The guard refuses, before sending, every data-table request outside the bound tenant."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.guard import IsolationViolationError
from chalicelib.tenancy import context
from chalicelib.tenancy.context import TenantContext
from tests.conftest import body_of


@contextmanager
def as_tenant(tenant, request_id: str = "req-guard-0001") -> Iterator[None]:
    with context.bound(TenantContext(tenant=tenant, request_id=request_id)):
        yield


def table() -> str:
    return get_settings().data_table


def key(tenant, kind: str = "CAT", sk: str = "x") -> dict:
    return {"pk": {"S": keys.data_partition(tenant.id, kind)}, "sk": {"S": sk}}


def item(tenant, sk: str = "x", tenant_id: str | None = None) -> dict:
    return {**key(tenant, sk=sk), "tenant_id": {"S": tenant_id or str(tenant.id)}, "kind": {"S": "CAT"}}


@pytest.fixture
def ddb(aws_mock):
    return aws.client("dynamodb")


def test_own_tenant_requests_pass(ddb, tenant_a):
    # Given tenant A bound, when it writes and reads its own key, then the guard lets it through
    with as_tenant(tenant_a):
        ddb.put_item(TableName=table(), Item=item(tenant_a))
        assert ddb.get_item(TableName=table(), Key=key(tenant_a))["Item"]["tenant_id"]["S"] == str(tenant_a.id)


@pytest.mark.parametrize("call", [
    lambda ddb, a, b: ddb.get_item(TableName=table(), Key=key(a)),
    lambda ddb, a, b: ddb.put_item(TableName=table(), Item=item(a)),
    lambda ddb, a, b: ddb.put_item(TableName=table(), Item=item(b, tenant_id=str(a.id))),
    lambda ddb, a, b: ddb.update_item(TableName=table(), Key=key(a), UpdateExpression="SET kind = :k",
                                      ExpressionAttributeValues={":k": {"S": "X"}}),
    lambda ddb, a, b: ddb.delete_item(TableName=table(), Key=key(a)),
    lambda ddb, a, b: ddb.query(TableName=table(), KeyConditionExpression="pk = :p",
                                ExpressionAttributeValues={":p": {"S": keys.data_partition(a.id, "CAT")}}),
    lambda ddb, a, b: ddb.query(TableName=table(), IndexName="gsi1", KeyConditionExpression="#n = :p",
                                ExpressionAttributeNames={"#n": "gsi1pk"},
                                ExpressionAttributeValues={":p": {"S": keys.data_partition(a.id, "REFSTATUS", "pending")}}),
    lambda ddb, a, b: ddb.query(TableName=table(), KeyConditionExpression="sk = :s AND pk = :p",
                                ExpressionAttributeValues={":p": {"S": "T#" + str(a.id) + "#CAT"}, ":s": {"S": "x"}}),
    lambda ddb, a, b: ddb.query(TableName=table(), KeyConditionExpression="begins_with(pk, :p)",
                                ExpressionAttributeValues={":p": {"S": "T#"}}),
    lambda ddb, a, b: ddb.scan(TableName=table()),
    lambda ddb, a, b: ddb.execute_statement(Statement=f'SELECT * FROM "{table()}"'),
    lambda ddb, a, b: ddb.batch_get_item(RequestItems={table(): {"Keys": [key(b, sk=str(i)) for i in range(5)] + [key(a)]}}),
    lambda ddb, a, b: ddb.batch_write_item(RequestItems={table(): [{"PutRequest": {"Item": item(b, sk=str(i))}} for i in range(5)]
                                                         + [{"PutRequest": {"Item": item(a)}}]}),
    lambda ddb, a, b: ddb.batch_write_item(RequestItems={table(): [{"DeleteRequest": {"Key": key(a)}}]}),
    lambda ddb, a, b: ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table(), "Key": key(b)}},
                                                            {"Get": {"TableName": table(), "Key": key(a)}}]),
    lambda ddb, a, b: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table(), "Item": item(b, sk="ok")}},
        {"ConditionCheck": {"TableName": table(), "Key": key(a), "ConditionExpression": "attribute_exists(pk)"}}]),
    lambda ddb, a, b: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table(), "Item": item(b, sk="ok")}},
        {"Update": {"TableName": table(), "Key": key(a), "UpdateExpression": "SET kind = :k",
                    "ExpressionAttributeValues": {":k": {"S": "X"}}}}]),
    lambda ddb, a, b: ddb.put_item(TableName=table(), Item={**item(b), "gsi1pk": {"S": keys.data_partition(a.id, "X")},
                                                            "gsi1sk": {"S": "1"}}),
], ids=["get", "put-foreign-key", "put-foreign-tenant-id", "update", "delete", "query", "query-index",
        "query-reordered", "query-prefix-scan", "scan", "partiql", "batch-get-mixed", "batch-write-mixed",
        "batch-delete", "transact-get-mixed", "transact-write-condition", "transact-write-update",
        "put-foreign-index-key"])
def test_raw_boto3_outside_the_tenant_is_refused(ddb, tenant_a, tenant_b, call):
    # Given tenant A's data exists and tenant B is bound
    with as_tenant(tenant_a):
        ddb.put_item(TableName=table(), Item=item(tenant_a))
    with as_tenant(tenant_b):
        # When B's code makes a raw call that reaches A (or scans), then it is refused
        with pytest.raises(IsolationViolationError):
            call(ddb, tenant_a, tenant_b)
    # And A's item is untouched
    with as_tenant(tenant_a):
        assert ddb.get_item(TableName=table(), Key=key(tenant_a))["Item"]["kind"]["S"] == "CAT"


def test_nothing_reaches_the_table_without_a_bound_tenant(ddb, tenant_a):
    with pytest.raises(IsolationViolationError):
        ddb.get_item(TableName=table(), Key=key(tenant_a))
    with pytest.raises(IsolationViolationError):
        ddb.query(TableName=table(), KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": keys.data_partition(tenant_a.id, "CAT")}})


def test_raw_pynamodb_is_refused(aws_mock, tenant_a, tenant_b):
    data.bind()
    foreign_pk = keys.data_partition(tenant_a.id, "CAT")
    with as_tenant(tenant_b):
        with pytest.raises(IsolationViolationError):
            DataItem.get(foreign_pk, "x")
        with pytest.raises(IsolationViolationError):
            list(DataItem.query(foreign_pk))
        with pytest.raises(IsolationViolationError):
            list(DataItem.by_gsi2.query(keys.data_partition(tenant_a.id, "REFFROM", "p")))
        with pytest.raises(IsolationViolationError):
            list(DataItem.scan())
        with pytest.raises(IsolationViolationError):
            DataItem(pk=foreign_pk, sk="x", tenant_id=str(tenant_b.id), kind="CAT").save()
        with pytest.raises(IsolationViolationError):
            list(DataItem.batch_get([(keys.data_partition(tenant_b.id, "CAT"), "y"), (foreign_pk, "x")]))
        with pytest.raises(IsolationViolationError):
            with TransactWrite(connection=_connection()) as tx:
                tx.save(DataItem(pk=keys.data_partition(tenant_b.id, "CAT"), sk="ok", tenant_id=str(tenant_b.id), kind="CAT"))
                tx.condition_check(DataItem, foreign_pk, "x", condition=DataItem.pk.exists())
        with pytest.raises(IsolationViolationError):
            with TransactGet(connection=_connection()) as tg:
                tg.get(DataItem, foreign_pk, "x")
    with as_tenant(tenant_b):
        assert data.get(keys.data_partition(tenant_b.id, "CAT"), "ok") is None  # the mixed transaction sent nothing


def _connection():
    from pynamodb.connection import Connection

    return Connection(region=get_settings().region)


def test_refusal_is_a_security_event_with_the_request_id(ddb, tenant_a, tenant_b, caplog):
    caplog.set_level(logging.WARNING, logger="security")
    with as_tenant(tenant_b, request_id="req-guard-4242"), pytest.raises(IsolationViolationError):
        ddb.get_item(TableName=table(), Key=key(tenant_a))
    events = [r for r in caplog.records if r.name == "security"]
    assert events and events[-1].fields["security_event"] == "isolation_refused"
    assert events[-1].fields["request_id"] == "req-guard-4242"
    assert events[-1].fields["bound_tenant"] == str(tenant_b.id)


def test_client_gets_a_plain_500(client, tenant_a, tenant_b, monkeypatch):
    # Given a service with a bug that reaches another tenant's partition
    from chalicelib.network.categories import service as categories

    def leaky(limit, cursor):
        data.get(keys.data_partition(tenant_a.id, "CAT"), "x")
        return [], None

    monkeypatch.setattr(categories, "list_categories", leaky)
    # When tenant B calls the route
    response = client.get("/api/service-categories", tenant=tenant_b)
    # Then it is a 500 that says nothing about why
    assert response.status_code == 500
    problem = body_of(response)
    assert problem["code"] == "internal_error" and problem["detail"] == "Internal server error"
    assert str(tenant_a.id) not in response.body.decode()


def test_registry_and_control_plane_calls_are_not_data_access(aws_mock, tenant_a):
    # The registry is another table; describing the data table reads no item.
    assert aws.client("dynamodb").describe_table(TableName=table())["Table"]["TableName"] == table()


def test_guard_reaches_clients_built_before_it_was_installed(app_env, tenant_a_id_only):
    # botocore copies handlers into a client when the client is built: the guard must
    # still see calls from a client made before the hook list changed.
    from moto import mock_aws

    from chalicelib.store import guard

    with mock_aws():
        early_client = aws.client("dynamodb")  # built now
        aws._hooks["before-parameter-build.dynamodb"].remove(guard._before_parameter_build)
        try:
            guard.install_guard()
            with pytest.raises(IsolationViolationError):
                early_client.get_item(TableName=table(), Key={"pk": {"S": f"T#{tenant_a_id_only}#CAT"}, "sk": {"S": "x"}})
        finally:
            guard.install_guard()


@pytest.fixture
def tenant_a_id_only():
    import uuid

    return uuid.uuid4()
