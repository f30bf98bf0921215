"""Membership is the authority inside a tenant.

The token proves who the caller is (``iss`` + ``sub``); the tenant's member record for
that identity decides whether it may act (only ``active`` members) and with which role
(resolved through the tenant's stored roles, ``members.roles``). Role or group names in
the token narrow what the member's role grants, never widen it: a ``customer`` member
whose token says ``tenant_admin`` has customer rights. Names the tenant does not know as
roles (an identity provider's other groups) are ignored. Platform admins come from the
identity provider's claim (``auth.claims``), never from a tenant's member list.

The lookup (member pointer, member record, and the tenant's session limit) is cached
per container for ``MEMBERSHIP_CACHE_TTL_SECONDS`` (default 5 s, at most
``MEMBERSHIP_CACHE_SIZE`` identities, least recently used first out), so a warm request
makes no extra DynamoDB call and a disable or role change made in another container
takes effect everywhere within that window; the container that made the change drops
its entry at once (:func:`forget`). A refused lookup (no member) is cached too: an
accepted invitation is seen at once where it was accepted, elsewhere within the window.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from uuid import UUID

from chalicelib import clock
from chalicelib.auth.permissions import Permission, Role
from chalicelib.auth.principal import Principal
from chalicelib.caches import TtlCache
from chalicelib.config import effective
from chalicelib.errors import MemberDisabledError, NotAMemberError, SessionExpiredError
from chalicelib.members import roles
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.tenancy.context import current_context

ACTIVE, DISABLED = "active", "disabled"
# What a signed-in caller who is not (yet) a member may do on the few routes that take
# one (accepting an invitation): see the tenant it is accepting into.
INVITEE_PERMISSIONS = frozenset({Permission.TENANT_READ})

CacheKey = tuple[UUID, str, str]


@dataclass(frozen=True)
class Standing:
    """An identity's member record in one tenant, as far as authority needs it."""

    status: str | None  # None: no member record
    role: str | None
    session_minutes: int


class _Cache:
    """The per-container standings (see the module doc): one ``caches.TtlCache``, sized and
    timed from the settings when first used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: TtlCache[CacheKey, Standing] | None = None

    def _store(self) -> TtlCache[CacheKey, Standing]:
        with self._lock:
            if self._entries is None:
                settings = get_settings()
                self._entries = TtlCache(settings.membership_cache_size, settings.membership_cache_ttl_seconds,
                                         name="memberships")
            return self._entries

    def get(self, key: CacheKey) -> Standing | None:
        return self._store().get(key)[1]

    def put(self, key: CacheKey, standing: Standing) -> None:
        self._store().put(key, standing)

    def drop(self, key: CacheKey) -> None:
        self._store().pop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries = None


_cache = _Cache()


def clear_cache() -> None:
    """Forget every standing (a fresh container; tests; settings changed)."""
    _cache.clear()


def forget(issuer: str, subject: str) -> None:
    """Drop the bound tenant's cached standing of an identity: its member changed here."""
    _cache.drop((current_context().tenant_id, issuer, subject))


def _load(principal: Principal) -> Standing:
    """Read the identity's member record and the tenant's session limit (2-3 GetItems)."""
    ctx = current_context()
    session_minutes = int(effective.setting(ctx.tenant, "security", "session_lifetime_minutes"))
    pointer = data.get(data.partition(keys.MEMBER_SUBJECT), keys.member_subject_sk(principal.issuer, principal.sub))
    member = data.get(data.partition(keys.MEMBER), str(pointer.entity_id)) if pointer is not None else None
    if member is None:
        return Standing(None, None, session_minutes)
    return Standing(str(member.status), str(data.loads(member.data)["role"]), session_minutes)


def standing(principal: Principal) -> Standing:
    key = (current_context().tenant_id, principal.issuer, principal.sub)
    found = _cache.get(key)
    if found is None:
        found = _load(principal)
        _cache.put(key, found)
    return found


def granted(principal: Principal, *, members_only: bool = True) -> frozenset[Permission]:
    """What ``principal`` may do in the bound tenant; raises when it may do nothing.

    401 ``session_expired`` past the tenant's session lifetime (by ``auth_time``, else
    ``iat``); 403 ``member_disabled`` for a disabled member; 403 ``not_a_member`` for an
    identity with no active member record (unless the route is ``members_only=False``,
    where such a caller gets ``INVITEE_PERMISSIONS``).
    """
    if principal.is_platform_admin:
        return roles.permissions_in([Role.PLATFORM_ADMIN.value])
    found = standing(principal)
    if clock.now().timestamp() - principal.session_started > found.session_minutes * 60:
        raise SessionExpiredError("sign in again: this tenant limits sessions")
    # A member record never makes a platform admin (nor grants its permissions).
    if found.status != ACTIVE or found.role in (None, Role.PLATFORM_ADMIN.value):
        if not members_only:
            return INVITEE_PERMISSIONS
        if found.status == DISABLED:
            raise MemberDisabledError("your membership in this tenant is disabled")
        raise NotAMemberError("you are not a member of this tenant")
    permissions = roles.permissions_in([found.role])
    claimed = [name for name in principal.roles if roles.role_exists(name)]
    if claimed:
        permissions &= roles.permissions_in(claimed)
    return permissions
