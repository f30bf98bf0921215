"""bench/moto_scale.py changes how moto does its work, never what it answers.

The scale benchmark fills moto with 10,000 tenants only because a transaction there
snapshots the items it writes instead of deep-copying the table, a base-table Query
starts from its partition and an index Query from the index entries kept on each write.
A cancelled transaction must still leave no trace (the design relies on it:
reservations, counters), a committed one must stay, and a Query must return what moto's
own walk returns. Without the cost model these hold by moto's copy and walk; with it
they hold only if the snapshot, the partition lookup and the index entries are right.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bench.moto_scale import dynamodb_cost_model

TABLE = "cost-model"
INDEXED = "cost-model-indexed"


def _table(name: str, index: bool = False) -> Any:
    """A client and a table keyed pk/sk (with ``index``: and a gsi1 keyed gsi1pk/gsi1sk)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    names = ("pk", "sk", "gsi1pk", "gsi1sk") if index else ("pk", "sk")
    indexes = [{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                              {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}] if index else []
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in names],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
    )
    return client


@pytest.fixture
def dynamodb(aws_mock: None) -> Iterator[Any]:
    yield _table(TABLE)


def _item(pk: str, sk: str, value: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, "value": {"S": value}}


def _everything(client: Any) -> list[dict[str, Any]]:
    items = client.scan(TableName=TABLE)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def _seed(client: Any) -> None:
    for pk in ("A", "B"):
        for n in range(3):
            client.put_item(TableName=TABLE, Item=_item(pk, f"{n:02d}", f"{pk}{n}"))


def test_a_cancelled_transaction_leaves_the_table_as_it_was(dynamodb: Any) -> None:
    _seed(dynamodb)
    before = _everything(dynamodb)
    with dynamodb_cost_model(), pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _item("A", "99", "new")}},  # a new item: must vanish
            {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "A"}, "sk": {"S": "00"}},
                        "UpdateExpression": "SET #v = :v", "ExpressionAttributeNames": {"#v": "value"},
                        "ExpressionAttributeValues": {":v": {"S": "changed"}}}},  # changed: must be restored
            {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "B"}, "sk": {"S": "01"}}}},  # must come back
            {"ConditionCheck": {"TableName": TABLE, "Key": {"pk": {"S": "B"}, "sk": {"S": "02"}},
                                "ConditionExpression": "attribute_not_exists(pk)"}},  # fails: cancels all
        ])

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _everything(dynamodb) == before


def test_a_committed_transaction_is_kept(dynamodb: Any) -> None:
    _seed(dynamodb)
    with dynamodb_cost_model():
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _item("A", "99", "new")}},
            {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "B"}, "sk": {"S": "01"}}}},
        ])

    keys = [(i["pk"]["S"], i["sk"]["S"]) for i in _everything(dynamodb)]
    assert ("A", "99") in keys and ("B", "01") not in keys and len(keys) == 6


@pytest.mark.parametrize("forward", [True, False])
def test_a_query_answers_as_moto_does(dynamodb: Any, forward: bool) -> None:
    _seed(dynamodb)
    request = {"TableName": TABLE, "KeyConditionExpression": "pk = :pk AND sk > :sk", "Limit": 1,
               "ExpressionAttributeValues": {":pk": {"S": "A"}, ":sk": {"S": "00"}}, "ScanIndexForward": forward}
    expected = dynamodb.query(**request)
    with dynamodb_cost_model():
        answered = dynamodb.query(**request)
        missing = dynamodb.query(**{**request, "ExpressionAttributeValues": {":pk": {"S": "Z"}, ":sk": {"S": "0"}}})

    assert answered["Items"] == expected["Items"] and len(answered["Items"]) == 1
    assert answered["LastEvaluatedKey"] == expected["LastEvaluatedKey"]
    assert missing["Items"] == []


@pytest.fixture
def indexed(aws_mock: None) -> Iterator[Any]:
    yield _table(INDEXED, index=True)


def _indexed_item(pk: str, sk: str, gsi1pk: str, gsi1sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, "gsi1pk": {"S": gsi1pk}, "gsi1sk": {"S": gsi1sk}}


def _set_gsi1pk(pk: str, sk: str, value: str) -> dict[str, Any]:
    return {"TableName": INDEXED, "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": "SET gsi1pk = :v", "ExpressionAttributeValues": {":v": {"S": value}}}


def _index_queries(client: Any) -> list[dict[str, Any]]:
    """Every page of several index Queries: both hash keys, a range condition, both orders."""
    answers = []
    for value, range_condition, forward in (("P", "", True), ("P", "", False), ("Q", "", True),
                                            ("P", " AND gsi1sk < :cut", True), ("none", "", True)):
        values = {":h": {"S": value}, **({":cut": {"S": "m"}} if range_condition else {})}
        request = {"TableName": INDEXED, "IndexName": "gsi1", "Limit": 2, "ScanIndexForward": forward,
                   "KeyConditionExpression": f"gsi1pk = :h{range_condition}", "ExpressionAttributeValues": values}
        while True:
            page = client.query(**request)
            answers.append({"Items": page["Items"], "LastEvaluatedKey": page.get("LastEvaluatedKey")})
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return answers


def test_an_index_query_answers_as_moto_does_after_every_kind_of_write(indexed: Any) -> None:
    # Written before the block: the index is built from the table on first use.
    for n, (h, r) in enumerate([("P", "c"), ("P", "a"), ("Q", "b"), ("P", "z"), ("Q", "y")]):
        indexed.put_item(TableName=INDEXED, Item=_indexed_item(f"T{n % 2}", f"{n:02d}", h, r))

    with dynamodb_cost_model():
        _index_queries(indexed)  # builds the index: every write below must keep it true
        indexed.put_item(TableName=INDEXED, Item=_indexed_item("T0", "10", "P", "b"))  # new
        indexed.put_item(TableName=INDEXED, Item=_indexed_item("T1", "01", "Q", "n"))  # P -> Q by a put
        indexed.update_item(**_set_gsi1pk("T0", "02", "P"))  # Q -> P by an update
        indexed.update_item(TableName=INDEXED, Key={"pk": {"S": "T1"}, "sk": {"S": "03"}},
                            UpdateExpression="REMOVE gsi1pk")  # leaves the index
        indexed.delete_item(TableName=INDEXED, Key={"pk": {"S": "T0"}, "sk": {"S": "04"}})
        with pytest.raises(ClientError):  # a refused write changes nothing
            indexed.put_item(TableName=INDEXED, Item=_indexed_item("T0", "00", "Q", "q"),
                             ConditionExpression="attribute_not_exists(pk)")
        with pytest.raises(ClientError):  # a cancelled transaction: nothing it wrote stays
            indexed.transact_write_items(TransactItems=[
                {"Put": {"TableName": INDEXED, "Item": _indexed_item("T0", "11", "P", "d")}},
                {"Update": _set_gsi1pk("T0", "10", "Q")},
                {"ConditionCheck": {"TableName": INDEXED, "Key": {"pk": {"S": "T9"}, "sk": {"S": "x"}},
                                    "ConditionExpression": "attribute_exists(pk)"}}])
        indexed.transact_write_items(TransactItems=[  # a committed one stays
            {"Put": {"TableName": INDEXED, "Item": _indexed_item("T1", "12", "Q", "e")}},
            {"Delete": {"TableName": INDEXED, "Key": {"pk": {"S": "T0"}, "sk": {"S": "00"}}}}])
        indexed.batch_write_item(RequestItems={INDEXED: [
            {"PutRequest": {"Item": _indexed_item("T1", "13", "P", "f")}},
            {"DeleteRequest": {"Key": {"pk": {"S": "T1"}, "sk": {"S": "12"}}}}]})
        answered = _index_queries(indexed)

    expected = _index_queries(indexed)  # moto's own walk of the table
    assert answered == expected
    assert sum(len(page["Items"]) for page in expected) >= 8  # the queries found something


def test_a_block_within_a_block_leaves_the_outer_model_in_place(indexed: Any) -> None:
    from moto.dynamodb.models.table import Table

    original = Table.query
    indexed.put_item(TableName=INDEXED, Item=_indexed_item("T0", "00", "P", "a"))
    expected = _index_queries(indexed)
    with dynamodb_cost_model():
        outer = Table.query
        with dynamodb_cost_model():
            assert Table.query is outer  # not patched twice
            inner_answers = _index_queries(indexed)
        assert Table.query is outer  # the inner block did not undo the outer's model
        indexed.put_item(TableName=INDEXED, Item=_indexed_item("T0", "01", "P", "b"))
        after = _index_queries(indexed)
    assert Table.query is original
    assert inner_answers == expected
    assert after == _index_queries(indexed) and after != expected


def test_the_cost_model_is_undone_after_its_block(dynamodb: Any) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    def patched() -> tuple[Any, ...]:
        return (DynamoDBBackend.transact_write_items, DynamoDBBackend.put_item, DynamoDBBackend.update_item,
                DynamoDBBackend.delete_item, Table.query)

    originals = patched()
    with dynamodb_cost_model():
        assert all(now is not before for now, before in zip(patched(), originals, strict=True))
    assert patched() == originals



@pytest.fixture
def queue(aws_mock: None) -> Iterator[tuple[Any, str]]:
    client = boto3.client("sqs", region_name="us-east-1")
    yield client, client.create_queue(QueueName="cost-model")["QueueUrl"]


def test_deletes_under_the_sqs_cost_model_answer_as_moto_does(queue: tuple[Any, str]) -> None:
    from bench.moto_scale import sqs_cost_model

    client, url = queue
    for n in range(25):
        client.send_message(QueueUrl=url, MessageBody=f"m{n}")
    with sqs_cost_model():
        seen: list[str] = []
        while batch := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            seen += [m["Body"] for m in batch]
            answer = client.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)])
            assert len(answer["Successful"]) == len(batch) and not answer.get("Failed")
            client.delete_message(QueueUrl=url, ReceiptHandle=batch[0]["ReceiptHandle"])  # again: accepted
        with pytest.raises(ClientError, match="ReceiptHandleIsInvalid"):
            client.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")

    # Every message was received once and, deleted, is gone
    assert sorted(seen) == sorted(f"m{n}" for n in range(25))
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_message_past_its_queues_retention_is_not_received_under_the_sqs_cost_model(queue: tuple[Any, str]) -> None:
    import time

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    from bench.moto_scale import sqs_cost_model

    client, url = queue
    client.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
    client.send_message(QueueUrl=url, MessageBody="old")
    [old] = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues["cost-model"]._messages
    old.sent_timestamp = int((time.time() - 61) * 1000)

    with sqs_cost_model():
        received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        # (a message within it is received: test_deletes_under_the_sqs_cost_model_answer_as_moto_does)

    assert received == []


def test_the_sqs_cost_model_is_undone_after_its_block(queue: tuple[Any, str]) -> None:
    import moto.sqs.models as sqs_module
    from moto.sqs.models import Queue, SQSBackend

    from bench.moto_scale import sqs_cost_model

    def patched() -> tuple[Any, ...]:
        return (Queue.delete_message, SQSBackend.is_message_valid_based_on_retention_period,
                sqs_module.unix_time, sqs_module.unix_time_millis)

    original = patched()
    with sqs_cost_model():
        assert all(now is not before for now, before in zip(patched(), original, strict=True))
        assert abs(sqs_module.unix_time_millis() - original[3]()) < 1000  # the same clock
    assert patched() == original
