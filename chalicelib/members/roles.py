"""A tenant's roles: stored per tenant, seeded from the defaults, edited by tenant admins.

Route permissions come from the tenant's stored roles for the roles a token names
(:func:`permissions_in`), cached briefly per process and tenant; a tenant with no
stored roles gets the defaults of ``auth.permissions``. ``platform_admin`` is never
stored: a super-admin's permissions are the platform's, not a tenant's to edit.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from chalicelib import audit
from chalicelib.auth.permissions import DEFAULT_ROLES, TENANT_PERMISSIONS, Permission, Role, permissions_for
from chalicelib.caches import TtlCache
from chalicelib.clock import now_iso
from chalicelib.errors import (
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    PreconditionRequiredError,
    RequestValidationError,
)
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError
from chalicelib.tenancy.context import current_tenant_id

TENANT_ROLES = tuple(r for r in Role if r is not Role.PLATFORM_ADMIN)
# What the built-in tenant_admin keeps whatever an edit says: without them nobody could
# repair the tenant's roles again.
ROLE_MANAGEMENT = frozenset({Permission.ROLES_READ, Permission.ROLES_WRITE})
MAX_ROLES = 50


def _pk() -> str:
    return data.partition(keys.ROLE)


def _role(item: DataItem) -> dict[str, Any]:
    fields = data.loads(item.data)
    return {"name": item.sk, "permissions": sorted(fields["permissions"]), "built_in": fields.get("built_in", False),
            "version": int(item.version or 1), "updated_at": item.updated_at}


def install_default_roles() -> int:
    """Store the default roles the bound tenant lacks (idempotent); how many were written."""
    written = 0
    now = now_iso()
    for role in TENANT_ROLES:
        fields = {"permissions": sorted(p.value for p in DEFAULT_ROLES[role]), "built_in": True}
        item = data.new_item(pk=_pk(), sk=role.value, kind=keys.ROLE, entity_id=role.value, version=1,
                             created_at=now, updated_at=now, data=data.dumps(fields))
        changes = audit.changes(None, fields, pii=frozenset())

        uow = UnitOfWork()
        uow.put("role", item, DataItem.pk.does_not_exist())
        audit.record(uow, audit.Action.ROLE_CREATED, audit.Target("role", item.sk), changes=changes)
        try:
            uow.commit()
            written += 1
        except WriteCancelledError as exc:
            if "role" not in exc.failed:
                raise
    _cache.pop(current_tenant_id())
    return written


def list_roles() -> list[dict[str, Any]]:
    """The stored roles, and the defaults of built-in roles the tenant has not stored."""
    stored = {i.sk: _role(i) for i in data.query_page(_pk(), limit=MAX_ROLES).items}
    for role in TENANT_ROLES:
        stored.setdefault(role.value, {"name": role.value, "permissions": sorted(p.value for p in DEFAULT_ROLES[role]),
                                       "built_in": True, "version": 0, "updated_at": None})
    return sorted(stored.values(), key=lambda r: r["name"])


def put_role(name: str, permissions: list[Permission], expected: int | None) -> tuple[dict[str, Any], bool]:
    """Create role ``name`` or replace its permissions (If-Match for an existing one); (role, created)."""
    if name == Role.PLATFORM_ADMIN.value:
        raise RequestValidationError("platform_admin is not a tenant role",
                                     extra={"errors": [{"loc": ["path", "name"], "type": "reserved"}]})
    granted = set(permissions)
    if name == Role.TENANT_ADMIN.value and not ROLE_MANAGEMENT <= granted:
        raise RequestValidationError(
            "tenant_admin keeps roles:read and roles:write",
            extra={"errors": [{"loc": ["body", "permissions"], "type": "role_management_required"}]})
    current = data.get(_pk(), name)
    if current is None and len(_stored()) >= MAX_ROLES:
        raise ConflictError(f"a tenant has at most {MAX_ROLES} roles", extra={"conflict": "too_many_roles"})
    if current is not None and expected is None:
        raise PreconditionRequiredError("send If-Match with the role's ETag")
    if current is not None and int(current.version or 1) != expected:
        raise PreconditionFailedError()
    now = now_iso()
    before = data.loads(current.data) if current is not None else None
    fields = {"permissions": sorted(p.value for p in granted),
              "built_in": bool(before and before.get("built_in"))}
    version = 1 if current is None else int(current.version or 1) + 1
    item = data.new_item(pk=_pk(), sk=name, kind=keys.ROLE, entity_id=name, version=version,
                         created_at=current.created_at if current is not None else now, updated_at=now,
                         data=data.dumps(fields))
    condition = DataItem.pk.does_not_exist() if current is None else DataItem.version == expected
    action = audit.Action.ROLE_CREATED if current is None else audit.Action.ROLE_UPDATED

    uow = UnitOfWork()
    uow.put("role", item, condition)
    audit.record(uow, action, audit.Target("role", name), changes=audit.changes(before, fields, pii=frozenset()))
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "role" in exc.failed:
            raise PreconditionFailedError() from exc
        raise
    _cache.pop(current_tenant_id())
    return _role(item), current is None


def role_exists(name: str) -> bool:
    return name in _stored() or name in {r.value for r in TENANT_ROLES}


def get_role(name: str) -> dict[str, Any]:
    item = data.get(_pk(), name)
    if item is None:
        raise NotFoundError("no such role")
    return _role(item)


# Stored roles per tenant, for a few seconds (a role edit shows within the TTL).
_cache: TtlCache[UUID, dict[str, frozenset[Permission]]] = TtlCache(
    4096, lambda: get_settings().tenant_cache_ttl_seconds, name="tenant_roles")


def clear_cache() -> None:
    _cache.clear()


def _stored() -> dict[str, frozenset[Permission]]:
    tenant_id = current_tenant_id()
    hit, roles = _cache.get(tenant_id)
    if not hit or roles is None:
        known = {p.value for p in TENANT_PERMISSIONS}
        roles = {i.sk: frozenset(Permission(p) for p in data.loads(i.data)["permissions"] if p in known)
                 for i in data.query_page(_pk(), limit=MAX_ROLES).items}
        _cache.put(tenant_id, roles)
    return roles


def permissions_in(role_names: Iterable[str]) -> frozenset[Permission]:
    """What ``role_names`` grant in the bound tenant: each role as the tenant stored it, else
    its default (a tenant with no stored roles gets the defaults throughout).

    ``platform_admin`` always maps to the platform defaults.
    """
    stored = _stored()
    granted: set[Permission] = set()
    for name in set(role_names):
        if name in stored and name != Role.PLATFORM_ADMIN.value:
            granted |= stored[name]
        else:
            granted |= permissions_for([name])
    return frozenset(granted)
