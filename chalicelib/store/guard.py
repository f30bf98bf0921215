"""The guard: our row-level security for the pooled data table.

A ``before-parameter-build.dynamodb`` hook on every botocore session of the process
(see ``aws.py``), so it sees each request that any DynamoDB client, boto3's or
pynamodb's, is about to send. For requests that touch the data table it refuses:

* any request when no tenant is bound;
* any Scan (and PartiQL, whose keys cannot be checked before sending);
* any key or item whose partition key (table or index) is not under the bound
  tenant's prefix ``T#<uuid>#``, and any item whose ``tenant_id`` is another tenant's,
  in Get/Put/Update/Delete, Query (table and indexes), Batch* and Transact*;
* any update (UpdateItem, a transaction's Update) whose parsed ``UpdateExpression``
  writes a key attribute, an index partition key outside the prefix (or a computed
  one), or ``tenant_id`` other than the bound tenant; and any update that could create
  an item (its condition does not require an existing one) without setting the bound
  ``tenant_id`` (``store/expressions.py`` parses; what does not parse is refused);
* table-management (control-plane) calls on any table while a tenant is bound.

Table names given as ARNs are reduced to names before any check, so an ARN is the
table it names.

A refusal raises :class:`IsolationViolationError` before anything is sent, is logged
as a security event with the request id, and reaches the client as a plain 500.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NoReturn

from chalicelib import aws, metrics
from chalicelib.errors import InternalError
from chalicelib.logs import security_event
from chalicelib.settings import get_settings
from chalicelib.store import expressions, keys
from chalicelib.tenancy.context import current_or_none

PARTITION_KEYS = {None: "pk", "gsi1": "gsi1pk", "gsi2": "gsi2pk", "gsi3": "gsi3pk"}
_PARTIQL = ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction")
# Table management, not item access: the local bootstrap and infra tooling call these.
CONTROL_PLANE = frozenset({
    "CreateTable", "DeleteTable", "DescribeTable", "UpdateTable", "UpdateTimeToLive",
    "DescribeTimeToLive", "DescribeContinuousBackups", "UpdateContinuousBackups",
    "TagResource", "UntagResource", "ListTagsOfResource",
    # Backups copy the whole table by AWS's hand, item access never comes back through them
    # (operators restore to a new table: chalicelib/operations/restore.py).
    "CreateBackup",
})
_TABLE_ARN = re.compile(r"^arn:[\w-]+:dynamodb:[^:]*:[^:]*:table/([^/]+)(?:/.*)?$")
KEY_ATTRIBUTES = frozenset({"pk", "sk"})
_EQUALITY = re.compile(r"^\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?$")


class IsolationViolationError(InternalError):
    """A data-table request outside the bound tenant. The client learns nothing more."""


def refuse(operation: str, reason: str) -> NoReturn:
    ctx = current_or_none()
    metrics.record("GuardRefusals")
    security_event(
        "isolation_refused",
        operation=operation,
        reason=reason,
        bound_tenant=str(ctx.tenant_id) if ctx else None,
        request_id=ctx.request_id if ctx else None,
    )
    raise IsolationViolationError()


def string_value(value: Any) -> str | None:
    return value.get("S") if isinstance(value, dict) else None


def _check_key(operation: str, key: dict[str, Any] | None, prefix: str, attribute: str = "pk") -> None:
    pk = string_value((key or {}).get(attribute))
    if pk is None or not pk.startswith(prefix):
        refuse(operation, f"{attribute} outside the bound tenant")


def _check_item(operation: str, item: dict[str, Any] | None, prefix: str, tenant_id: str) -> None:
    item = item or {}
    _check_key(operation, item, prefix)
    if string_value(item.get("tenant_id")) != tenant_id:
        refuse(operation, "item tenant_id is not the bound tenant")
    for attribute in ("gsi1pk", "gsi2pk", "gsi3pk"):
        if attribute in item:
            _check_key(operation, item, prefix, attribute)


def table_name(value: Any) -> Any:
    """The table a ``TableName`` names: an ARN (``arn:...:table/<name>``) becomes <name>."""
    if isinstance(value, str):
        match = _TABLE_ARN.match(value)
        if match:
            return match.group(1)
    return value


def _check_update(operation: str, body: dict[str, Any], prefix: str, tenant_id: str) -> None:
    """Refuse an update that writes outside the bound tenant, or may create a tenantless item."""
    _check_key(operation, body.get("Key"), prefix)
    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    if body.get("AttributeUpdates") is not None:
        refuse(operation, "legacy AttributeUpdates are not accepted")
    try:
        update = expressions.parse_update(body.get("UpdateExpression") or "", names)
        condition = body.get("ConditionExpression")
        existing_only = condition is not None and expressions.requires_existing_item(
            expressions.parse_condition(condition, names))
    except expressions.ExpressionError:
        refuse(operation, "an update expression the guard cannot read")
    if body.get("Expected") is not None:
        refuse(operation, "legacy Expected conditions are not accepted")
    written = update.written()
    if written & KEY_ATTRIBUTES:
        refuse(operation, "an update may not change a key attribute")
    assigned = {path.names: expressions.plain_value(value, values) for path, value in update.sets}
    for attribute in set(PARTITION_KEYS.values()) - {"pk"}:
        if attribute in written:
            value = string_value(assigned.get((attribute,)))
            if (attribute,) in assigned and (value is None or not value.startswith(prefix)):
                refuse(operation, f"{attribute} set outside the bound tenant")
            if (attribute,) not in assigned and attribute not in {p.attribute for p in update.removes}:
                refuse(operation, f"{attribute} changed other than by assignment")
    sets_tenant = ("tenant_id",) in assigned
    if "tenant_id" in written and (not sets_tenant or string_value(assigned[("tenant_id",)]) != tenant_id):
        refuse(operation, "tenant_id set to another tenant")
    if not existing_only and not sets_tenant:
        refuse(operation, "an update that may create an item must set the bound tenant_id")


def _query_partition(params: dict[str, Any]) -> str | None:
    """The partition key value a Query asks for, from its key condition."""
    attribute = PARTITION_KEYS.get(params.get("IndexName"))
    if attribute is None:
        return None
    legacy = params.get("KeyConditions")
    if legacy:
        condition = legacy.get(attribute) or {}
        values = condition.get("AttributeValueList") or []
        return string_value(values[0]) if condition.get("ComparisonOperator") == "EQ" and len(values) == 1 else None
    expression = params.get("KeyConditionExpression") or ""
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for clause in re.split(r"\s+AND\s+", expression, flags=re.IGNORECASE):
        match = _EQUALITY.match(clause.strip())
        if match and names.get(match.group(1), match.group(1)) == attribute:
            return string_value(values.get(match.group(2)))
    return None


def _transact_entries(params: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for entry in params.get("TransactItems") or []:
        yield from entry.items()


def _normalise_tables(params: dict[str, Any]) -> None:
    """Replace every table ARN in ``params`` by the table's name, in place: what is checked
    is then what is sent (botocore builds the request from these very params)."""
    if "TableName" in params:
        params["TableName"] = table_name(params["TableName"])
    if isinstance(params.get("RequestItems"), dict):
        params["RequestItems"] = {table_name(name): body for name, body in params["RequestItems"].items()}
    for _, body in _transact_entries(params):
        if isinstance(body, dict) and "TableName" in body:
            body["TableName"] = table_name(body["TableName"])


def _touches(table: str, params: dict[str, Any], operation: str) -> bool:
    if params.get("TableName") == table or table in (params.get("RequestItems") or {}):
        return True
    if any(body.get("TableName") == table for _, body in _transact_entries(params)):
        return True
    if operation in _PARTIQL:
        return table in repr(params)
    return False


def check_request(operation: str, params: dict[str, Any], table: str) -> None:
    """Refuse (raise) unless ``params`` keep within the bound tenant. Public for tests."""
    _normalise_tables(params)
    if operation in CONTROL_PLANE:
        # Table management is the bootstrap's and the operator's, never a tenant's request.
        if current_or_none() is not None:
            refuse(operation, "table management while a tenant is bound")
        return
    if not _touches(table, params, operation):
        return
    ctx = current_or_none()
    if ctx is None:
        refuse(operation, "no tenant bound")
        return
    tenant_id = str(ctx.tenant_id)
    prefix = keys.tenant_prefix(ctx.tenant_id)
    if operation == "Scan" or operation in _PARTIQL:
        refuse(operation, f"{operation} is never allowed on the data table")
    elif operation == "PutItem":
        _check_item(operation, params.get("Item"), prefix, tenant_id)
    elif operation == "UpdateItem":
        _check_update(operation, params, prefix, tenant_id)
    elif operation in ("GetItem", "DeleteItem"):
        _check_key(operation, params.get("Key"), prefix)
    elif operation == "Query":
        partition = _query_partition(params)
        if partition is None or not partition.startswith(prefix):
            refuse(operation, "query partition outside the bound tenant")
    elif operation == "BatchGetItem":
        for key in (params["RequestItems"].get(table) or {}).get("Keys", []):
            _check_key(operation, key, prefix)
    elif operation == "BatchWriteItem":
        for request in params["RequestItems"].get(table) or []:
            if "PutRequest" in request:
                _check_item(operation, request["PutRequest"].get("Item"), prefix, tenant_id)
            else:
                _check_key(operation, (request.get("DeleteRequest") or {}).get("Key"), prefix)
    elif operation in ("TransactGetItems", "TransactWriteItems"):
        for kind, body in _transact_entries(params):
            if body.get("TableName") != table:
                continue
            if kind == "Put":
                _check_item(operation, body.get("Item"), prefix, tenant_id)
            elif kind == "Update":
                _check_update(operation, body, prefix, tenant_id)
            else:
                _check_key(operation, body.get("Key"), prefix)
    else:
        refuse(operation, f"{operation} is not a tenant data operation")


def _before_parameter_build(params: dict[str, Any], model: Any, **_: Any) -> None:
    check_request(model.name, params, get_settings().data_table)


def install_guard() -> None:
    aws.install_session_hook("before-parameter-build.dynamodb", _before_parameter_build)
