"""The pooled data table: one pynamodb model, tenant-scoped helpers, cursors, single-item writes.

Writes of several items go through ``store/unit_of_work.py`` (labelled actions, one
transaction), on the connections made here.

Every helper derives keys from the bound tenant (``tenancy.current_tenant_id``); none
takes a tenant id. Importing this module installs the guard, so nothing can reach the
data table without it. Every item request goes out on the bound tenant's own pooled
client, signed with its role credentials (``store/connection.py``).

Item layout: ``pk``/``sk`` and up to three index key pairs (all partition keys under
``T#<tenant>#``), ``tenant_id``, ``kind``, ``version``, timestamps, ``data`` (the
entity's non-PII fields as JSON), ``pii`` (its PII fields, one document per item: the
encryption layer replaces this document with one ciphertext), and server-owned
counters.
"""
# Over 300 lines: the data table's model, its tenant-bound reads, pages and write helpers are
# one repository; the pynamodb behaviour each depends on is explained once, here.
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, PynamoDBException
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib import cursors
from chalicelib.errors import ConflictError
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.connection import PlatformTransactionConnection, TenantDataConnection, adopt
from chalicelib.store.faults import response_code
from chalicelib.store.guard import install_guard
from chalicelib.tenancy.context import current_tenant_id

install_guard()

MAX_PAGE = 100
# Pages for bulk readers (exports): fewer round trips; DynamoDB still stops a page at 1 MB.
MAX_BULK_PAGE = 1000
DEFAULT_PAGE = 25


class _Gsi1(GlobalSecondaryIndex["DataItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _Gsi2(GlobalSecondaryIndex["DataItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class _Gsi3(GlobalSecondaryIndex["DataItem"]):
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class DataItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    tenant_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    entity_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)
    pii = UnicodeAttribute(null=True)
    # How many live items point at this one (open referrals, member professionals); a
    # delete is conditioned on zero, so a referenced item can never be removed.
    refs = NumberAttribute(null=True)
    # Usage counters (``USAGE`` items, limits.counters): how much of a limit is used.
    used = NumberAttribute(null=True)
    # A sharded counter's shards: the limit their values were balanced for (limits.counters).
    quota = NumberAttribute(null=True)
    # Audit events: top-level copies of what GET /api/tenant/audit filters on (the event
    # itself, hashed into the trail's digests, is the ``data`` document).
    action = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    target = UnicodeAttribute(null=True)
    # DynamoDB's TTL attribute (``schema.TTL_ATTRIBUTE``), epoch seconds.
    expires_at = NumberAttribute(null=True)

    by_gsi1 = _Gsi1()
    by_gsi2 = _Gsi2()
    by_gsi3 = _Gsi3()

    @classmethod
    def _get_connection(cls) -> Any:
        # pynamodb builds (and may rebuild) the table connection; its requests must still
        # go out on the tenant's client, so the inner Connection is swapped for ours.
        table = super()._get_connection()
        if not isinstance(table.connection, TenantDataConnection):
            table.connection = adopt(table.connection)
        return table


_bind_lock = threading.Lock()


def bind() -> None:
    """Point the model at the configured table (settings are read lazily)."""
    settings = get_settings()
    with _bind_lock:
        if DataItem.Meta.table_name != settings.data_table or DataItem.Meta.region != settings.region:
            DataItem.Meta.table_name = settings.data_table
            DataItem.Meta.region = settings.region
            DataItem._connection = None


_transaction_connection: TenantDataConnection | None = None
_platform_connection: PlatformTransactionConnection | None = None


def transaction_connection() -> Connection:
    """The Connection for data-table transactions: each one on the bound tenant's client."""
    global _transaction_connection
    with _bind_lock:
        if _transaction_connection is None:
            _transaction_connection = TenantDataConnection(region=get_settings().region)
        return _transaction_connection


def platform_transaction_connection() -> Connection:
    """The Connection for transactions across registry and data table (process credentials).

    Only for what must change both atomically; it refuses data-table actions other
    than new audit items of the bound tenant (see ``store/connection.py``).
    """
    global _platform_connection
    with _bind_lock:
        if _platform_connection is None:
            _platform_connection = PlatformTransactionConnection(region=get_settings().region)
        return _platform_connection


def reset_connections() -> None:
    global _transaction_connection, _platform_connection
    DataItem._connection = None
    _transaction_connection = None
    _platform_connection = None


def partition(kind: str, *qualifiers: str) -> str:
    """A partition key of the bound tenant."""
    return keys.data_partition(current_tenant_id(), kind, *qualifiers)


def new_item(**attributes: Any) -> DataItem:
    bind()
    return DataItem(tenant_id=str(current_tenant_id()), **attributes)


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str)


def loads(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def get(pk: str, sk: str) -> DataItem | None:
    bind()
    try:
        return DataItem.get(pk, sk)
    except DataItem.DoesNotExist:
        return None


# ---- cursors ---------------------------------------------------------------------------


def _cursor_scope() -> str:
    return f"tenant:{current_tenant_id()}"


def _in_bound_tenant(key: dict[str, str]) -> bool:
    prefix = keys.tenant_prefix(current_tenant_id())
    partitions = [value for name, value in key.items() if name.endswith("pk")]
    return bool(partitions) and all(p.startswith(prefix) for p in partitions)


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    return cursors.encode(_cursor_scope(), last_key)


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The key to resume from; refused unless it was made for the bound tenant."""
    return cursors.decode(_cursor_scope(), cursor, _in_bound_tenant)


@dataclass
class Page:
    items: list[DataItem]
    next_cursor: str | None


def query_page(
    hash_key: str,
    *,
    index: str | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    filter_condition: Any = None,
    newest_first: bool = False,
    range_key_condition: Any = None,
    bulk: bool = False,
) -> Page:
    """One Query (table or index) for one page of a tenant partition (``bulk``: up to
    MAX_BULK_PAGE items, for readers that are not API pages)."""
    bind()
    source: Any = {None: DataItem, "gsi1": DataItem.by_gsi1, "gsi2": DataItem.by_gsi2, "gsi3": DataItem.by_gsi3}[index]
    results = source.query(
        hash_key,
        limit=max(1, min(limit, MAX_BULK_PAGE if bulk else MAX_PAGE)),
        last_evaluated_key=decode_cursor(cursor),
        filter_condition=filter_condition,
        range_key_condition=range_key_condition,
        scan_index_forward=not newest_first,
    )
    items = list(results)
    return Page(items, encode_cursor(results.last_evaluated_key))


# ---- writes ----------------------------------------------------------------------------


class ConcurrentWriteError(ConflictError):
    code, title = "concurrent_write", "Another request changed the same data; retry"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


def condition_failed(exc: PynamoDBException) -> bool:
    return response_code(exc) == "ConditionalCheckFailedException"


def version_condition(read_version: int) -> Any:
    """The stored item is still the version it was read as (version 0: no item yet)."""
    return DataItem.pk.does_not_exist() if read_version == 0 else DataItem.version == read_version


class RecordChangedError(Exception):
    """The item was saved by someone else since it was read: this run stops, the other goes on."""


def save_versioned(item: DataItem, read_version: int, changed: type[Exception] = RecordChangedError) -> None:
    """Put ``item`` if the stored one is still ``read_version``; else raise ``changed``."""
    try:
        item.save(condition=version_condition(read_version))
    except PutError as exc:
        if condition_failed(exc):
            raise changed() from exc
        raise
