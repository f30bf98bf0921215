"""The store's labelled unit of work (``chalicelib/store/unit_of_work.py``).

The failure these tests prevent: a cancelled transaction read by position, where a new
action added to a write (an event, a counter) silently shifts which condition a caller
thinks failed. DynamoDB reports one cancellation reason per action *sent*, and pynamodb
sends ConditionCheck, Delete, Put, Update in groups whatever order they were added in;
so the tests add actions out of that order and check that each failure is reported
under its own label. They run against moto's DynamoDB, which honours transaction
conditions and reports a reason for every action.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.store import data, keys
from chalicelib.store.data import ConcurrentWriteError, DataItem
from chalicelib.store.faults import StoreUnavailableError, unavailable_error
from chalicelib.store.guard import IsolationViolationError
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError
from chalicelib.tenancy.context import TenantContext, bound

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
ABSENT = DataItem.pk.does_not_exist()
EXISTS = DataItem.pk.exists()


@pytest.fixture
def as_a(tenant_a: Any) -> Iterator[Any]:
    with bound(TenantContext(tenant=tenant_a, request_id="test")):
        yield tenant_a


def _item(sk: str, **fields: Any) -> DataItem:
    return data.new_item(pk=data.partition(keys.CATEGORY), sk=sk, kind=keys.CATEGORY, entity_id=sk, **fields)


def _key(sk: str) -> DataItem:
    return DataItem(pk=data.partition(keys.CATEGORY), sk=sk)


def _stored(sk: str) -> DataItem | None:
    return data.get(data.partition(keys.CATEGORY), sk)


def _seed(*sks: str) -> None:
    for sk in sks:
        _item(sk, version=1, refs=0).save()


def _cancelled(uow: UnitOfWork) -> frozenset[str]:
    with pytest.raises(WriteCancelledError) as caught:
        uow.commit()
    return caught.value.failed


# ---- success ------------------------------------------------------------------------------

def test_a_committed_unit_writes_every_action_and_reports_no_labels(as_a):
    # Given two stored items
    _seed("kept", "gone", "referenced")
    uow = UnitOfWork()
    # When a unit with one action of each kind, all conditions holding, is committed
    uow.update("bump", _key("kept"), [DataItem.refs.add(1)], EXISTS)
    uow.put("new", _item("new", version=1), ABSENT)
    uow.check("still-there", _key("referenced"), EXISTS)
    uow.delete("remove", _key("gone"), EXISTS)
    result = uow.commit()
    # Then everything was written, and nothing failed
    assert result is None
    assert _stored("new") is not None and _stored("gone") is None
    assert int(_stored("kept").refs) == 1
    assert uow.labels == ("bump", "new", "still-there", "remove")


# ---- failures, by label -------------------------------------------------------------------

@pytest.mark.parametrize("failing", ["check", "delete", "put", "update"])
def test_a_failed_condition_is_reported_under_its_own_label_and_nothing_is_written(as_a, failing):
    # Given a unit whose actions are added in the reverse of the order pynamodb sends them,
    # each kind once failing (on a missing or existing item) and once holding
    _seed("present", "referenced", "taken")
    uow = UnitOfWork()
    uow.update("update-ok", _key("present"), [DataItem.refs.add(1)], EXISTS)
    if failing == "update":
        uow.update("update-bad", _key("missing"), [DataItem.refs.add(1)], EXISTS)
    uow.put("put-ok", _item("fresh", version=1), ABSENT)
    if failing == "put":
        uow.put("put-bad", _item("taken", version=9), ABSENT)
    if failing == "delete":
        uow.delete("delete-bad", _key("missing-too"), EXISTS)
    uow.check("check-ok", _key("referenced"), EXISTS)
    if failing == "check":
        uow.check("check-bad", _key("absent"), EXISTS)
    # When it is committed, then exactly the failing action's label is reported
    assert _cancelled(uow) == {f"{failing}-bad"}
    # And nothing was written
    assert _stored("fresh") is None
    assert int(_stored("present").refs) == 0 and int(_stored("taken").version) == 1


def test_every_failed_condition_is_reported_when_several_fail(as_a):
    # Given a unit where one action of each kind fails, interleaved with ones that hold
    _seed("present", "old", "taken", "referenced")
    uow = UnitOfWork()
    uow.update("counter", _key("present"), [DataItem.refs.add(1)], EXISTS)
    uow.update("stale", _key("old"), [DataItem.refs.add(1)], DataItem.version == 7)
    uow.put("event", _item("event", version=1), ABSENT)
    uow.put("taken", _item("taken", version=2), ABSENT)
    uow.delete("gone", _key("never-stored"), EXISTS)
    uow.check("reference", _key("unknown"), EXISTS)
    uow.check("referenced", _key("referenced"), EXISTS)
    # When it is committed, then every failed label, and only those, is reported
    failed = _cancelled(uow)
    assert failed == {"stale", "taken", "gone", "reference"}
    assert isinstance(failed, frozenset)
    # And nothing was written
    assert _stored("event") is None and int(_stored("present").refs) == 0


def test_a_cancelled_unit_can_be_committed_again_once_its_condition_holds(as_a):
    # Given a unit refused because a referenced item is missing
    uow = UnitOfWork()
    uow.check("reference", _key("later"), EXISTS)
    uow.put("item", _item("dependent", version=1), ABSENT)
    assert _cancelled(uow) == {"reference"}
    # When the reference appears and the same unit is committed again
    _seed("later")
    uow.commit()
    # Then it is written
    assert _stored("dependent") is not None


# ---- declaring ----------------------------------------------------------------------------

def test_a_label_is_used_once_per_unit(as_a):
    uow = UnitOfWork()
    uow.put("item", _item("a"), ABSENT)
    for add in (lambda: uow.put("item", _item("b"), ABSENT),
                lambda: uow.update("item", _key("a"), [DataItem.refs.add(1)]),
                lambda: uow.delete("item", _key("a")),
                lambda: uow.check("item", _key("a"), EXISTS)):
        with pytest.raises(ValueError, match="already used"):
            add()
    assert uow.labels == ("item",)


@pytest.mark.parametrize("label", ["", None])
def test_every_action_needs_a_label(as_a, label):
    with pytest.raises(ValueError, match="needs a label"):
        UnitOfWork().put(label, _item("a"), ABSENT)  # type: ignore[arg-type]


def test_an_empty_unit_is_refused(as_a):
    with pytest.raises(ValueError):
        UnitOfWork().commit()


# ---- the store's guard and error mapping ---------------------------------------------------

def test_a_unit_goes_through_the_guard(aws_mock, tenant_a):
    # Given an item of tenant A, and no tenant bound
    uow = UnitOfWork()
    uow.put("item", DataItem(pk=keys.data_partition(tenant_a.id, keys.CATEGORY), sk="x",
                             tenant_id=str(tenant_a.id), kind=keys.CATEGORY), ABSENT)
    # Then the write is refused before it is sent
    with pytest.raises(IsolationViolationError):
        uow.commit()


@contextmanager
def _cancellation(*codes: str) -> Iterator[None]:
    """The next TransactWriteItems is cancelled with ``codes`` as DynamoDB would."""
    def hook(model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "injected"},
                               "CancellationReasons": [{"Code": c} for c in codes],
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems")

    aws.install_session_hook("before-call.dynamodb", hook)
    try:
        yield
    finally:
        aws.remove_session_hook("before-call.dynamodb", hook)


def _two_puts() -> UnitOfWork:
    uow = UnitOfWork()
    uow.put("first", _item("first"), ABSENT)
    uow.put("second", _item("second"), ABSENT)
    return uow


def test_a_cancellation_by_a_concurrent_transaction_is_a_retryable_conflict(as_a):
    with _cancellation("None", "TransactionConflict"), pytest.raises(ConcurrentWriteError) as caught:
        _two_puts().commit()
    assert caught.value.status == 409 and caught.value.headers["Retry-After"]


def test_a_failed_condition_wins_over_a_concurrent_transaction(as_a):
    with _cancellation("TransactionConflict", "ConditionalCheckFailed"), \
            pytest.raises(WriteCancelledError) as caught:
        _two_puts().commit()
    assert caught.value.failed == {"second"}


def test_a_throttled_cancellation_stays_a_store_unavailable_error(as_a):
    with _cancellation("ThrottlingError", "None"), pytest.raises(Exception) as caught:
        _two_puts().commit()
    assert not isinstance(caught.value, WriteCancelledError)
    assert isinstance(unavailable_error(caught.value), StoreUnavailableError)


# ---- one way to write several items ---------------------------------------------------------

def test_nothing_outside_the_unit_of_work_builds_a_transaction_or_reads_reasons_by_position():
    """Transactions are declared with labels only: no module but the unit of work may use
    pynamodb's TransactWrite or a cancellation's reason list (``store/faults.py`` only asks
    whether any reason is throttling, for the 503)."""
    allowed = {"store/unit_of_work.py": set(), "store/faults.py": {"cancellation_reasons"}}
    offenders = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        relative = path.relative_to(CHALICELIB).as_posix()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "pynamodb.transactions":
                found = "pynamodb.transactions"
            elif isinstance(node, ast.Attribute) and node.attr in ("cancellation_reasons", "TransactWrite"):
                found = node.attr
            elif isinstance(node, ast.Constant) and node.value == "cancellation_reasons":
                found = "cancellation_reasons"
            else:
                continue
            if relative not in allowed or (allowed[relative] and found not in allowed[relative]):
                offenders.append(f"{relative}:{node.lineno} {found}")
    assert offenders == []


def test_a_cancellation_exposes_labels_not_positions():
    error = WriteCancelledError(frozenset({"item", "email"}))
    assert error.failed == {"item", "email"}
    assert not hasattr(error, "reasons") and not callable(error.failed)
