"""moto's DynamoDB with DynamoDB's cost model, for benchmarks that fill it with tenants.

Two moto behaviours make a table's every operation cost O(items in the table), which
DynamoDB does not (it addresses a partition by its key):

- ``transact_write_items`` deep-copies every table it names before writing, to restore
  it on cancellation: a tenant's provisioning (a dozen transactions) into a table that
  already holds 40 tenants took 5 s here, so provisioning N tenants costs O(N^2).
- ``Table.query`` walks (and first sorts) every item of the table to find one partition,
  of the base table or of an index.

And one makes every tenant's provisioning pay for a key it never uses: moto's KMS
generates an RSA-2048 private key (for sign/verify) for every key it creates, symmetric
ones included, about 0.1 s of CPU each.

:func:`dynamodb_cost_model` replaces both, for the duration of a ``with`` block, with
versions that touch only what the request names: a transaction snapshots the items it
writes (and restores exactly those on cancellation: the others are not written by it, so
the outcome is the same), a base-table Query starts from its partition, and an index
Query from the items whose index hash key has the value asked for. For the last, each
table's indexes are kept as DynamoDB keeps them: built from the table on the first index
Query in the block, then updated after every ``PutItem``, ``UpdateItem`` and
``DeleteItem`` of moto's backend (the calls that transactions, batch writes and single
writes all end in) and every rollback of a cancelled transaction. Only writes that bypass
those (PartiQL, which we do not use) would be missed. Conditions, results and errors are
moto's own: moto still checks every key condition on the items it is given; only the
copying and walking change.

A symmetric key's private key is generated on first use instead (never, for our keys).

Transactions are serialised by a lock, as ``chalicelib.local.motoserver`` serialises
DynamoDB requests, because a snapshot is only a faithful rollback when no other request
writes the same items meanwhile.
"""
from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

_lock = threading.RLock()
# Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
#             scan_index_forward, projection_expressions, index_name, ...)
_INDEX_NAME_ARG = 6
# The backend's single-item writes, each (self, table_name, item or key, ...): every write
# of moto's DynamoDB (transactions and batch writes included) ends in one of them.
_WRITES = ("put_item", "update_item", "delete_item")


class _TablesAsTheyAre:
    """Stands in for ``copy`` inside moto's ``transact_write_items``: its whole-table
    snapshot becomes the table itself (the item-level snapshot below does the restoring)."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _written_keys(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """(table, hash key, range key) of every item a transaction names."""
    found = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        key = None if table is None else _primary_key(table, op.get("Key") or op.get("Item") or {})
        if key is not None:  # (without its whole key moto refuses the request itself)
            found.append((table, *key))
    return found


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if item is None:
        if range_key is not None:
            table.items.get(hash_key, {}).pop(range_key, None)
            if hash_key in table.items and not table.items[hash_key]:
                del table.items[hash_key]
        else:
            table.items.pop(hash_key, None)
    elif range_key is not None:
        table.items[hash_key][range_key] = item
    else:
        table.items[hash_key] = item


class _PrivateKeyOnFirstUse:
    def __init__(self, key_spec: str) -> None:
        self._key_spec = key_spec
        self._key: Any = None

    def __getattr__(self, name: str) -> Any:
        from moto.kms.utils import generate_private_key

        if self._key is None:
            self._key = generate_private_key(self._key_spec)
        return getattr(self._key, name)


def _primary_key(table: Any, key: dict[str, Any]) -> tuple[Any, Any] | None:
    """(hash key, range key) of an item named by its key attributes (wire format)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = key.get(table.hash_key_attr)
    range_value = key.get(table.range_key_attr) if table.range_key_attr else None
    if hash_value is None or (table.range_key_attr and range_value is None):
        return None
    return DynamoType(hash_value), DynamoType(range_value) if range_value is not None else None


class _IndexEntries:
    """One table's indexes as DynamoDB keeps them: each index's hash-key value -> the
    primary keys of the items that carry it (an item without every hash-key attribute
    of an index is not in that index)."""

    def __init__(self, table: Any) -> None:
        self._hash_attrs = {index.name: [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
                            for index in table.all_indexes()}
        self._by_value: dict[str, dict[tuple[Any, ...], set[tuple[Any, Any]]]] = {
            name: {} for name in self._hash_attrs}
        self._of_item: dict[tuple[Any, Any], dict[str, tuple[Any, ...]]] = {}
        for hash_set in table.items.values():
            for item in (hash_set.values() if table.has_range_key else [hash_set]):
                self._add(item)

    def _add(self, item: Any) -> None:
        entries = {}
        for name, attrs in self._hash_attrs.items():
            values = tuple(item.attrs.get(attr) for attr in attrs)
            if all(values):
                entries[name] = values
                self._by_value[name].setdefault(values, set()).add((item.hash_key, item.range_key))
        if entries:
            self._of_item[(item.hash_key, item.range_key)] = entries

    def update(self, table: Any, key: tuple[Any, Any]) -> None:
        """Re-read the item at ``key`` (written, deleted or restored) into the indexes."""
        for name, values in self._of_item.pop(key, {}).items():
            keys = self._by_value[name][values]
            keys.discard(key)
            if not keys:
                del self._by_value[name][values]
        item = table.items.get(key[0])
        if item is not None and table.has_range_key:
            item = item.get(key[1])
        if item is not None:
            self._add(item)

    def items(self, table: Any, index_name: str, conditions: dict[str, Any]) -> list[Any] | None:
        """The items of ``index_name`` whose hash key is ``conditions``' (in moto's order),
        or None when the conditions do not name the whole hash key (moto's walk answers)."""
        attrs = self._hash_attrs.get(index_name)
        if not attrs or any(attr not in conditions for attr in attrs):
            return None
        found = []
        for hash_key, range_key in self._by_value[index_name].get(tuple(conditions[a] for a in attrs), ()):
            item = table.items[hash_key]
            found.append(item[range_key] if table.has_range_key else item)
        return sorted(found, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _partition_items(table: Any, hash_key: Any) -> list[Any]:
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if table.has_range_key else [partition]


_depth = [0]  # dynamodb_cost_model blocks open, in any thread: the patches are the process's


@contextlib.contextmanager
def dynamodb_cost_model() -> Iterator[None]:
    """The cost model for the block; opened within a block already under it, nothing more
    (the patches stay the outermost block's, undone when it closes)."""
    with _lock:
        _depth[0] += 1
        outermost = _depth[0] == 1
    try:
        if not outermost:
            yield
            return
        with _dynamodb_cost_model():
            yield
    finally:
        with _lock:
            _depth[0] -= 1


@contextlib.contextmanager
def _dynamodb_cost_model() -> Iterator[None]:
    import moto.dynamodb.models as backend_module
    import moto.kms.models as kms_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original_transact = DynamoDBBackend.transact_write_items
    original_query = Table.query
    original_writes = {name: getattr(DynamoDBBackend, name) for name in _WRITES}
    # id(table) -> (table, its indexes), for the tables index-queried in this block; the
    # table is held so that its id is not reused by another while the block lasts.
    indexes: dict[int, tuple[Any, _IndexEntries]] = {}

    def reindex(table: Any, key: tuple[Any, Any] | None) -> None:
        held = indexes.get(id(table))
        if held is not None and held[0] is table and key is not None:
            held[1].update(table, key)

    def write(name: str) -> Any:
        original = original_writes[name]

        def written(self: Any, table_name: str, key_or_item: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            with _lock:
                try:
                    return original(self, table_name, key_or_item, *args, **kwargs)
                finally:  # refused or not: the item is re-read as it now is
                    table = self.tables.get(table_name)
                    if table is not None:
                        reindex(table, _primary_key(table, key_or_item))
        return written

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            snapshot = [(table, h, r, copy.deepcopy(table.get_item(h, r)))
                        for table, h, r in _written_keys(self, transact_items)]
            try:
                original_transact(self, transact_items)
            except Exception:
                for table, h, r, item in reversed(snapshot):
                    _restore(table, h, r, item)
                    reindex(table, (h, r))
                raise

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's backend passes index_name positionally (8th argument after self).
        index_name = kwargs.get("index_name", args[_INDEX_NAME_ARG] if len(args) > _INDEX_NAME_ARG else None)
        with _lock:
            if index_name:
                held = indexes.get(id(self))
                if held is None or held[0] is not self:
                    held = indexes[id(self)] = (self, _IndexEntries(self))
                conditions = dict(kwargs.get("hash_key_conditions") or ())
                items = held[1].items(self, index_name, conditions)
                if items is None:
                    return original_query(self, hash_key, *args, **kwargs)
                self.all_items = lambda: items
            elif hash_key is not None:
                # The base table's branch of moto's query reads only ``self.all_items()``.
                self.all_items = lambda: _partition_items(self, hash_key)
            else:
                return original_query(self, hash_key, *args, **kwargs)
            try:
                return original_query(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

    original_private_key = kms_module.generate_private_key

    def private_key(key_spec: str) -> Any:
        if key_spec.startswith("SYMMETRIC") or key_spec.startswith("HMAC"):
            return _PrivateKeyOnFirstUse(key_spec)
        return original_private_key(key_spec)

    saved_copy = backend_module.copy  # type: ignore[attr-defined]
    kms_module.generate_private_key = private_key
    backend_module.copy = _TablesAsTheyAre  # type: ignore[attr-defined,assignment]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name in _WRITES:
        setattr(DynamoDBBackend, name, write(name))
    Table.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend_module.copy = saved_copy  # type: ignore[attr-defined]
        kms_module.generate_private_key = original_private_key
        DynamoDBBackend.transact_write_items = original_transact  # type: ignore[method-assign]
        for name, original in original_writes.items():
            setattr(DynamoDBBackend, name, original)
        Table.query = original_query  # type: ignore[method-assign]


def _fast_clock(original: Any, scale: float) -> Any:
    def now(dt: Any = None) -> float:
        return time.time() * scale if dt is None else float(original(dt))
    return now


@contextlib.contextmanager
def sqs_cost_model() -> Iterator[None]:
    """moto's SQS with SQS's cost model: moto makes several operations O(messages in the
    queue), so draining a queue of N messages costs O(N^2) (10,000 tenants' job messages
    did not drain in 30 minutes here). A profile of 1,000: 9.4 million clock readings (a
    datetime subtraction each) for 7,765 requests. Three changes, none to what it answers:

    - ``DeleteMessage`` finds its receipt handle in an index of the queue's handles
      (rebuilt when a handle is not in it, i.e. once per receive) instead of walking every
      message twice; an unknown handle is still refused, a deleted one accepted again;
    - a received message's retention is checked against the queue's retention period
      attribute, not against ``GetQueueAttributes``, which moto computes three times per
      call, each walking the queue to count its messages;
    - moto's SQS clock reads ``time.time()`` instead of building and subtracting datetimes.
    """
    import moto.sqs.models as sqs_module
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Queue, SQSBackend

    original_delete = Queue.delete_message
    original_retention = SQSBackend.is_message_valid_based_on_retention_period
    clocks = (sqs_module.unix_time, sqs_module.unix_time_millis)  # type: ignore[attr-defined]

    def within_retention(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > sqs_module.unix_time())  # type: ignore[attr-defined]

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # moto: already deleted, accepted again
        handles: dict[str, Any] = self.__dict__.setdefault("_cost_model_handles", {})
        message = handles.get(receipt_handle)
        if message is None:
            handles.clear()
            handles.update({h: m for m in self._messages for h in m.all_receipt_handles if h})
            message = handles.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid()
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)
        self._messages.remove(message)  # Message has no __eq__: found by identity, in C

    Queue.delete_message = delete_message  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign]
    sqs_module.unix_time = _fast_clock(clocks[0], 1.0)  # type: ignore[attr-defined]
    sqs_module.unix_time_millis = _fast_clock(clocks[1], 1000.0)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        Queue.delete_message = original_delete  # type: ignore[method-assign]
        SQSBackend.is_message_valid_based_on_retention_period = original_retention  # type: ignore[method-assign]
        sqs_module.unix_time, sqs_module.unix_time_millis = clocks  # type: ignore[attr-defined]
