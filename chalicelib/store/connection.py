"""pynamodb connections that choose their credentials: the tenant's, or the platform's.

Design (the least invasive way found in pynamodb 6.1): a pynamodb ``Connection`` sends
every request through ``_make_api_call``, which reads its ``client`` property once.
:class:`TenantDataConnection` overrides that property to answer the bound tenant's
pooled DynamoDB client (``tenancy/clients.py``: one botocore client, one connection
pool and one set of role credentials per tenant), and checks each request in
``dispatch`` before it is sent:

* no tenant bound: refused (a data access must belong to a tenant);
* any table but the data table: refused. Tenant credentials cannot reach the registry
  in AWS (the role's policy), so a request that mixes tables would fail there; failing
  here makes every test prove it never happens.

``DataItem`` (``store/data.py``) gets this connection in place of the one pynamodb
builds, and data-table transactions run on one too: every item request of the data
table is signed with the tenant's credentials. The guard (``store/guard.py``) still
checks every key, on every client.

A few transactions must change registry and data items atomically (a tenant's
creation and changes with their audit events in both trails; chaining and retention,
which move the trail's anchor). One TransactWriteItems is signed with one set of
credentials, and the tenant role must never reach the registry (the anchor exists so
that tenant-scoped access cannot cut the trail short), so these run on
:func:`platform_connection` with the process's own credentials. Its checks keep that
privilege narrow: in a platform transaction the data table may only receive new items
(Puts whose parsed condition requires ``attribute_not_exists(pk)``: a condition that
merely mentions it, ``attribute_not_exists(x) OR attribute_exists(pk)``, is refused)
in these partitions of the bound tenant:
``AUDIT`` and its shards ``AUDIT1``..``AUDIT3`` (events), ``AUDITDIGEST`` (digests), ``PROV`` (the provisioning request,
written with the tenant), ``USAGE`` (the zero usage counters, written with the tenant)
and ``BRANDVER`` (a branding version: a super-admin's new display name is the tenant's
public name too), plus a conditional Put of the branding
pointer (``BRAND``, conditioned on the version read). That is all the Lambda role's IAM
policy allows on the data table (``dynamodb:PutItem`` under those leading keys).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.connection import Connection

from chalicelib.settings import get_settings
from chalicelib.store import expressions, guard, keys
from chalicelib.tenancy import clients
from chalicelib.tenancy.context import current_or_none

_TRANSACTIONS = ("TransactWriteItems", "TransactGetItems")
# The only data-table partitions a platform transaction may add items to (kept in keys.py,
# a leaf module, so infra can read it without importing the store).
PLATFORM_WRITABLE_KINDS = keys.PLATFORM_WRITABLE_KINDS


def _tables(operation_kwargs: dict[str, Any]) -> set[str]:
    names = {guard.table_name(name) for name in operation_kwargs.get("RequestItems") or ()}
    if operation_kwargs.get("TableName"):
        names.add(guard.table_name(operation_kwargs["TableName"]))
    for entry in operation_kwargs.get("TransactItems") or ():
        names.update(guard.table_name(body.get("TableName")) for body in entry.values())
    return names


def _only_new(body: dict[str, Any]) -> bool:
    """The Put's condition, parsed, can only hold when no item has its key."""
    condition = body.get("ConditionExpression")
    if not condition:
        return False
    try:
        parsed = expressions.parse_condition(condition, body.get("ExpressionAttributeNames") or {})
    except expressions.ExpressionError:
        return False
    return expressions.requires_absent(parsed, "pk")


def _transact_entries(operation_kwargs: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for entry in operation_kwargs.get("TransactItems") or ():
        yield from entry.items()


class TenantDataConnection(Connection):
    """Sends each data-table request on the bound tenant's pooled client."""

    @property
    def client(self) -> Any:
        ctx = current_or_none()
        if ctx is None:
            # Only reachable for the table-management calls dispatch lets through.
            return Connection.client.fget(self)  # type: ignore[attr-defined]
        return clients.pool().for_tenant(ctx.tenant_id).dynamodb

    def dispatch(self, operation_name: str, operation_kwargs: dict[str, Any]) -> dict[str, Any]:
        if operation_name not in guard.CONTROL_PLANE:
            data_table = get_settings().data_table
            if current_or_none() is None:
                guard.refuse(operation_name, "data access with no tenant bound")
            if _tables(operation_kwargs) - {data_table}:
                guard.refuse(operation_name, "tenant credentials reach only the data table")
        return dict(super().dispatch(operation_name, operation_kwargs))


class PlatformTransactionConnection(Connection):
    """Transactions across registry and data table, on the process's own credentials."""

    def dispatch(self, operation_name: str, operation_kwargs: dict[str, Any]) -> dict[str, Any]:
        if operation_name != "TransactWriteItems":
            guard.refuse(operation_name, "the platform transaction connection only writes transactions")
        data_table = get_settings().data_table
        ctx = current_or_none()
        for kind, body in _transact_entries(operation_kwargs):
            if guard.table_name(body.get("TableName")) != data_table:
                continue
            pk = guard.string_value((body.get("Item") or {}).get("pk"))
            condition = body.get("ConditionExpression") or ""
            new_item = kind == "Put" and _only_new(body)
            allowed = ctx is not None and kind == "Put" and (
                (new_item and pk in {keys.data_partition(ctx.tenant_id, k) for k in PLATFORM_WRITABLE_KINDS})
                or (bool(condition) and pk == keys.data_partition(ctx.tenant_id, keys.BRANDING)))
            if not allowed:
                guard.refuse(operation_name, "a platform transaction may only add audit, provisioning, usage and "
                                             "branding-version items")
        return dict(super().dispatch(operation_name, operation_kwargs))


def adopt(connection: Connection) -> TenantDataConnection:
    """A :class:`TenantDataConnection` with ``connection``'s settings and table schemas."""
    routed = TenantDataConnection(region=connection.region, host=connection.host)
    for table in getattr(connection, "_tables", {}).values():
        routed.add_meta_table(table)
    return routed
