"""The store's one way to write several items at once: a labelled unit of work.

A change, its audit event, its counters and the conditions it depends on are declared
as labelled actions of one :class:`UnitOfWork` and written by :meth:`UnitOfWork.commit`
as one ``TransactWriteItems``: all of them or none. When DynamoDB cancels the
transaction because conditions failed, :class:`WriteCancelledError` names the labels
whose condition failed (every one of them: DynamoDB gives a reason per action), so a
caller says what each failure means by name, never by its position in the request.

Why positions are kept here and nowhere else: pynamodb sends a transaction's actions
grouped as ConditionCheck, Delete, Put, Update (``Connection.transact_write_items``),
whatever order they were added in, and DynamoDB's cancellation reason *i* belongs to
the *i*-th action sent. The unit of work keeps its actions in that same grouped order,
so reason *i* belongs to the *i*-th label (``tests/unit/test_unit_of_work.py`` proves
this against one failing action of each kind).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.store import data
from chalicelib.store.faults import response_code

CONDITION_FAILED = "ConditionalCheckFailed"
TRANSACTION_CONFLICT = "TransactionConflict"
# pynamodb's send order (see the module docstring).
_SEND_ORDER = ("check", "delete", "put", "update")


class WriteCancelledError(Exception):
    """DynamoDB cancelled a unit of work because conditions failed; nothing was written.

    ``failed`` holds the label of every action whose condition failed (never empty).
    """

    def __init__(self, failed: frozenset[str]) -> None:
        super().__init__(f"conditions failed: {', '.join(sorted(failed))}")
        self.failed = failed


class TransactionConflictError(data.ConcurrentWriteError):
    """DynamoDB cancelled a unit of work for a concurrent transaction on the same items
    (a retryable 409); ``labels`` names the actions whose items were in conflict."""

    def __init__(self, labels: frozenset[str]) -> None:
        super().__init__()
        self.labels = labels


@dataclass(frozen=True)
class _Entry:
    label: str
    kind: str
    item: Any
    condition: Condition | None = None
    actions: tuple[Action, ...] = ()


class UnitOfWork:
    """Labelled actions written together or not at all (one ``TransactWriteItems``).

    ``with_registry``: the unit also changes registry items (a tenant, its reservations,
    the trail's anchor, the platform trail), so it goes out on the platform connection,
    signed with the process's credentials, which admits only new audit items of the bound
    tenant on the data table (``store/connection.py``). Otherwise every action goes out
    on the bound tenant's own client.
    """

    def __init__(self, *, with_registry: bool = False) -> None:
        self._with_registry = with_registry
        self._entries: dict[str, _Entry] = {}

    # ---- declaring -----------------------------------------------------------------

    def put(self, label: str, item: Model, condition: Condition | None = None) -> None:
        """Write ``item`` whole (if ``condition`` holds)."""
        self._add(_Entry(label, "put", item, condition))

    def update(self, label: str, item: Model, actions: Sequence[Action], condition: Condition | None = None) -> None:
        """Apply ``actions`` to the item with ``item``'s key (if ``condition`` holds)."""
        self._add(_Entry(label, "update", item, condition, tuple(actions)))

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        """Remove the item with ``item``'s key (if ``condition`` holds)."""
        self._add(_Entry(label, "delete", item, condition))

    def check(self, label: str, item: Model, condition: Condition) -> None:
        """Write nothing, but only if the item with ``item``'s key meets ``condition``
        (a reference to another item, checked in the same transaction)."""
        self._add(_Entry(label, "check", item, condition))

    def discard(self, label: str) -> None:
        """Forget the action labelled ``label`` (if any), so a retry can declare another
        one under the same label (a sharded counter's Update moves to another shard)."""
        self._entries.pop(label, None)

    def _add(self, entry: _Entry) -> None:
        if not isinstance(entry.label, str) or not entry.label:
            raise ValueError("every action of a unit of work needs a label")
        if entry.label in self._entries:
            raise ValueError(f"label {entry.label!r} is already used in this unit of work")
        self._entries[entry.label] = entry

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels declared so far, in the order they were added."""
        return tuple(self._entries)

    # ---- writing -------------------------------------------------------------------

    def _in_send_order(self) -> Iterator[_Entry]:
        for kind in _SEND_ORDER:
            yield from (e for e in self._entries.values() if e.kind == kind)

    def commit(self) -> None:
        """Write every action or none.

        Raises :class:`WriteCancelledError` (the failed labels) when conditions failed;
        :class:`TransactionConflictError` (a ``data.ConcurrentWriteError``, a retryable
        409) when DynamoDB cancelled only for a concurrent transaction on the same items;
        any other failure (throttling, which ``store/faults.py`` maps to a 503, or a
        malformed request) propagates unchanged.
        """
        if not self._entries:
            raise ValueError("a unit of work with no actions")
        data.bind()
        ordered = list(self._in_send_order())
        connection = data.platform_transaction_connection() if self._with_registry else data.transaction_connection()
        try:
            with TransactWrite(connection=connection) as tx:
                for entry in ordered:
                    _send(tx, entry)
        except TransactWriteError as exc:
            if response_code(exc) != "TransactionCanceledException":
                raise
            codes = [r.code if r is not None else None for r in (exc.cancellation_reasons or [])]
            failed = frozenset(e.label for e, code in zip(ordered, codes, strict=False) if code == CONDITION_FAILED)
            if failed:
                raise WriteCancelledError(failed) from exc
            if TRANSACTION_CONFLICT in codes:
                raise TransactionConflictError(frozenset(
                    e.label for e, code in zip(ordered, codes, strict=False) if code == TRANSACTION_CONFLICT)) from exc
            raise


def _send(tx: TransactWrite, entry: _Entry) -> None:
    item, condition = entry.item, entry.condition
    if entry.kind == "put":
        tx.save(item, condition=condition)
    elif entry.kind == "update":
        tx.update(item, actions=list(entry.actions), condition=condition)
    elif entry.kind == "delete":
        tx.delete(item, condition=condition)
    else:
        tx.condition_check(type(item), *_key_of(item), condition=condition)


def _key_of(item: Model) -> tuple[Any, Any]:
    """The hash and range key values of ``item`` (range None for a hash-only model)."""
    model = type(item)
    hash_name, range_name = model._hash_keyname, model._range_keyname
    if hash_name is None:
        raise ValueError(f"{model.__name__} has no hash key")
    return getattr(item, hash_name), getattr(item, range_name) if range_name else None
