"""moto's DynamoDB with DynamoDB's cost model, for benchmarks that fill it with tenants.

Two moto behaviours make a table's every operation cost O(items in the table), which
DynamoDB does not (it addresses a partition by its key):

- ``transact_write_items`` deep-copies every table it names before writing, to restore
  it on cancellation: a tenant's provisioning (a dozen transactions) into a table that
  already holds 40 tenants took 5 s here, so provisioning N tenants costs O(N^2).
- ``Table.query`` on the base table walks every item of the table to find one partition.

And one makes every tenant's provisioning pay for a key it never uses: moto's KMS
generates an RSA-2048 private key (for sign/verify) for every key it creates, symmetric
ones included, about 0.1 s of CPU each.

:func:`dynamodb_cost_model` replaces both, for the duration of a ``with`` block, with
versions that touch only what the request names: a transaction snapshots the items it
writes (and restores exactly those on cancellation: the others are not written by it, so
the outcome is the same), and a base-table Query starts from its partition. Conditions,
results and errors are moto's own: only the copying and walking change. Index (GSI)
queries are left as moto runs them (a walk of the table), so a route that queries an
index still shows moto's growth; benchmarks say so where it matters.

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


class _TablesAsTheyAre:
    """Stands in for ``copy`` inside moto's ``transact_write_items``: its whole-table
    snapshot becomes the table itself (the item-level snapshot below does the restoring)."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _written_keys(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """(table, hash key, range key) of every item a transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    found = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        key = op.get("Key") or {name: op.get("Item", {}).get(name)
                                for name in (table.hash_key_attr, table.range_key_attr) if name}
        hash_value = key.get(table.hash_key_attr)
        if hash_value is None:
            continue
        range_value = key.get(table.range_key_attr) if table.range_key_attr else None
        if table.range_key_attr and range_value is None:
            continue  # moto refuses such a request itself
        found.append((table, DynamoType(hash_value), DynamoType(range_value) if range_value else None))
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


def _partition_items(table: Any, hash_key: Any) -> list[Any]:
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if table.has_range_key else [partition]


@contextlib.contextmanager
def dynamodb_cost_model() -> Iterator[None]:
    import moto.dynamodb.models as backend_module
    import moto.kms.models as kms_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original_transact = DynamoDBBackend.transact_write_items
    original_query = Table.query

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            snapshot = [(table, h, r, copy.deepcopy(table.get_item(h, r)))
                        for table, h, r in _written_keys(self, transact_items)]
            try:
                original_transact(self, transact_items)
            except Exception:
                for table, h, r, item in reversed(snapshot):
                    _restore(table, h, r, item)
                raise

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's backend passes index_name positionally (8th argument after self).
        index_name = kwargs.get("index_name", args[_INDEX_NAME_ARG] if len(args) > _INDEX_NAME_ARG else None)
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        with _lock:
            # The base table's branch of moto's query reads only ``self.all_items()``.
            self.all_items = lambda: _partition_items(self, hash_key)
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
    Table.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend_module.copy = saved_copy  # type: ignore[attr-defined]
        kms_module.generate_private_key = original_private_key
        DynamoDBBackend.transact_write_items = original_transact  # type: ignore[method-assign]
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
