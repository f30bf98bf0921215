"""The permission vocabulary and the default roles, in one module.

Routes name one permission each. A principal's roles (from its token) map to
permissions here; tenant-customised roles (stored per tenant) replace these defaults
once a tenant has them.
"""
from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Permission(StrEnum):
    TENANT_READ = "tenant:read"
    CONFIG_READ = "config:read"
    CONFIG_WRITE = "config:write"
    BRANDING_WRITE = "branding:write"
    CATEGORIES_READ = "categories:read"
    CATEGORIES_WRITE = "categories:write"
    PROFESSIONALS_READ = "professionals:read"
    PROFESSIONALS_WRITE = "professionals:write"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    CUSTOMERS_READ_OWN = "customers:read_own"
    REFERRALS_READ = "referrals:read"
    REFERRALS_WRITE = "referrals:write"
    REFERRALS_PARTICIPATE = "referrals:participate"
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    ROLES_READ = "roles:read"
    ROLES_WRITE = "roles:write"
    AUDIT_READ = "audit:read"
    EXPORTS_MANAGE = "exports:manage"
    INTEGRATIONS_READ = "integrations:read"
    INTEGRATIONS_WRITE = "integrations:write"
    USAGE_READ = "usage:read"
    PLATFORM_ADMIN = "platform:admin"


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    MANAGER = "manager"
    PROFESSIONAL = "professional"
    CUSTOMER = "customer"


P = Permission
TENANT_PERMISSIONS = frozenset(p for p in Permission if p is not P.PLATFORM_ADMIN)

DEFAULT_ROLES: dict[Role, frozenset[Permission]] = {
    # A platform admin acting inside a tenant (explicitly named) may do what a tenant
    # admin may; that access is audited in the tenant's trail.
    Role.PLATFORM_ADMIN: frozenset(Permission),
    Role.TENANT_ADMIN: TENANT_PERMISSIONS,
    Role.MANAGER: frozenset(
        {
            P.TENANT_READ, P.CONFIG_READ, P.CATEGORIES_READ, P.CATEGORIES_WRITE,
            P.PROFESSIONALS_READ, P.PROFESSIONALS_WRITE, P.CUSTOMERS_READ, P.CUSTOMERS_WRITE,
            P.REFERRALS_READ, P.REFERRALS_WRITE, P.MEMBERS_READ, P.USAGE_READ,
        }
    ),
    Role.PROFESSIONAL: frozenset(
        {P.TENANT_READ, P.CATEGORIES_READ, P.PROFESSIONALS_READ, P.REFERRALS_PARTICIPATE}
    ),
    Role.CUSTOMER: frozenset({P.TENANT_READ, P.CATEGORIES_READ, P.CUSTOMERS_READ_OWN}),
}


def permissions_for(roles: Iterable[str]) -> frozenset[Permission]:
    """The union of the default permissions of ``roles``; unknown role names grant nothing."""
    granted: set[Permission] = set()
    known = {r.value: r for r in Role}
    for name in roles:
        role = known.get(name)
        if role is not None:
            granted |= DEFAULT_ROLES[role]
    return frozenset(granted)
