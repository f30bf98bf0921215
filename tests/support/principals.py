"""Test principals are members: a token minted for a tenant role names an active member.

Inside a tenant the member record is the authority (chalicelib/members/authority.py), so
a token alone grants nothing. ``TokenFactory.claims`` and ``.sign`` call :func:`ensure_member_for`
for every token they make with a tenant claim and a role: the token's identity (``iss``
+ ``sub``), unless already a member, becomes an active member of that tenant with the
token's first role, written
with the service's own item builders (no audit event: fixtures are not tenant activity,
and audit tests count events). Emails are ``<digest>@principals.test``; tests that list
members leave those out with :func:`real_members`. Seeding runs only while moto is up
(``seeding()``); ``token(member=False)`` mints a token whose identity is no member
(an invitee, an outsider).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

PRINCIPAL_DOMAIN = "principals.test"
_enabled = [False]
# Identities already seeded in this moto world: minting another token for one costs no
# AWS call (tests that count calls, or move a credentials clock, see only their own).
_seeded: set[tuple[UUID, str, str]] = set()


@contextmanager
def seeding() -> Iterator[None]:
    _enabled[0] = True
    _seeded.clear()
    try:
        yield
    finally:
        _enabled[0] = False
        _seeded.clear()


def principal_email(issuer: str, subject: str) -> str:
    return f"{hashlib.sha256(f'{issuer}|{subject}'.encode()).hexdigest()[:16]}@{PRINCIPAL_DOMAIN}"


def real_members(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A member listing without the test principals seeded here."""
    return [m for m in items if not m["email"].endswith("@" + PRINCIPAL_DOMAIN)]


def is_test_principal(item: dict[str, Any]) -> bool:
    """A raw (boto3-shaped) data-table item that is a member bound to an identity: in a
    test that accepts no invitation, one seeded here."""
    return item["pk"]["S"].endswith("#MEMBER") and '"subject"' in item.get("data", {}).get("S", "")


def ensure_member_for(claims: dict[str, Any]) -> None:
    """Make the identity of ``claims`` an active member with its first role (if it has a
    tenant that exists, a subject, an issuer and a non-platform role)."""
    tenant, sub, iss, roles = (claims.get(k) for k in ("tenant_id", "sub", "iss", "roles"))
    if not (_enabled[0] and isinstance(tenant, str) and isinstance(sub, str) and sub and isinstance(iss, str)
            and isinstance(roles, list) and roles and isinstance(roles[0], str) and roles[0] != "platform_admin"):
        return
    try:
        tenant_id = UUID(tenant)
    except ValueError:
        return
    if (tenant_id, iss, sub) not in _seeded:
        ensure_member(tenant_id, iss, sub, roles[0], update=False)


def ensure_member(tenant_id: UUID, issuer: str, subject: str, role: str, status: str = "active", *,
                  update: bool = True) -> None:
    """The identity as a member with ``role`` and ``status``; ``update=False`` leaves an
    existing member as it is (a test may have changed it through the API)."""
    from chalicelib.members import authority, service
    from chalicelib.store import data, keys, registry
    from chalicelib.store.data import DataItem
    from chalicelib.store.unit_of_work import UnitOfWork
    from chalicelib.tenancy.context import TenantContext, bound

    tenant = registry.get_tenant(tenant_id)
    if tenant is None:
        return
    with bound(TenantContext(tenant=tenant, request_id="test-principal")):
        key = service.subject_key(issuer, subject)
        pointer = data.get(key.pk, key.sk)
        if pointer is None:
            member_id = str(uuid4())
            fields = {"role": role, "subject": subject, "issuer": issuer}
            item, email = service.member_items(member_id, principal_email(issuer, subject), fields, status)
            identity = service.identity_item(member_id, issuer, subject)

            uow = UnitOfWork()
            for label, new in (("member", item), ("email", email), ("identity", identity)):
                uow.put(label, new)
            uow.commit()
        elif update:
            item = data.get(data.partition(keys.MEMBER), str(pointer.entity_id))
            fields = data.loads(item.data)
            if fields.get("role") != role or item.status != status:
                actions = [DataItem.data.set(data.dumps({**fields, "role": role})), DataItem.status.set(status)]
                uow = UnitOfWork()
                uow.update("member", item, actions, DataItem.pk.exists())
                uow.commit()
        authority.forget(issuer, subject)
    _seeded.add((tenant_id, issuer, subject))
