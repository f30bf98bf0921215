"""Which tenant a request is for (REQ-MT-B003).

Sources, each optional: the Host's subdomain under the platform domain, a custom
domain mapped to a tenant, the ``X-Tenant-ID`` header (UUID or slug), the token's
``tenant_id`` claim. Every source present must name the same tenant (else 403
``tenant_mismatch``); a source naming no tenant, or an inactive one, is 404
``tenant_not_found``; a suspended tenant is 403 ``tenant_suspended``.

Lookups are cached per process for a few seconds, negative results included, so the
common request reads at most one registry item a second per tenant (its record, for
its status: ``STATUS_BOUND_SECONDS``). The cache is keyed by what the source
said (a slug, a domain, an id), never by who asked, so it cannot carry one request's
tenant into another's.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from uuid import UUID

from chalicelib.caches import TtlCache
from chalicelib.errors import TenantMismatchError, TenantNotFoundError, TenantSuspendedError
from chalicelib.settings import get_settings
from chalicelib.store import registry
from chalicelib.tenancy.tenant import RESERVED_SLUGS, SLUG_PATTERN, Tenant, TenantStatus

TENANT_HEADER = "x-tenant-id"
MAX_HEADER_VALUE = 100
# A custom domain may be as long as DNS allows (what tenant creation accepts), so it is
# not held to the header limit: a longer one could be created but never resolved.
MAX_DOMAIN_LENGTH = 253
# Hosts that address the platform itself rather than a tenant (API Gateway's default
# endpoint, load balancers): a request through them names no tenant by host.
_PLATFORM_HOST_SUFFIXES = (".amazonaws.com", ".on.aws")


@dataclass(frozen=True)
class Reference:
    source: str  # "host", "header" or "token"
    kind: str  # "slug", "domain" or "id"
    value: str


# The longest a process serves a tenant's status (and its slug and domains) from its
# cache: a suspension, soft delete or removed domain made in any container applies in
# every other one within this bound (the record is then read again, consistently).
STATUS_BOUND_SECONDS = 1.0

# Two caches: what a slug, domain or id names (the tenant's id; negative answers too),
# kept for TENANT_CACHE_TTL_SECONDS; and each tenant's record, which carries its status,
# slug and domains, kept at most STATUS_BOUND_SECONDS. A name is answered only while the
# record still carries it, so a removed domain or changed slug stops resolving with it.
_names: TtlCache[tuple[str, str], UUID | None] = TtlCache(8192, name="tenant_names")
_records: TtlCache[UUID, Tenant | None] = TtlCache(4096, name="tenant_records")


def invalidate_tenant(tenant: Tenant) -> None:
    """Forget cached lookups of ``tenant`` in this process (others re-read its record
    within STATUS_BOUND_SECONDS; a name it no longer carries stops resolving then)."""
    _records.pop(tenant.id)
    for key in [("id", str(tenant.id)), ("slug", tenant.slug)] + [("domain", d) for d in tenant.domains]:
        _names.pop(key)


def clear_cache() -> None:
    _names.clear()
    _records.clear()


def _record(tenant_id: UUID) -> Tenant | None:
    hit, tenant = _records.get(tenant_id)
    if hit:
        return tenant
    tenant = registry.get_tenant(tenant_id, consistent=True)
    _records.put(tenant_id, tenant, min(get_settings().tenant_cache_ttl_seconds, STATUS_BOUND_SECONDS))
    return tenant


def _still_names(kind: str, value: str, tenant: Tenant) -> bool:
    if kind == "slug":
        return tenant.slug == value
    if kind == "domain":
        return value in tenant.domains
    return True


def _lookup(kind: str, value: str) -> Tenant | None:
    hit, tenant_id = _names.get((kind, value))
    if not hit:
        if kind == "id":
            tenant_id = UUID(value)
        elif kind == "slug":
            tenant_id = registry.tenant_id_for_slug(value)
        else:
            tenant_id = registry.tenant_id_for_domain(value)
        _names.put((kind, value), tenant_id, get_settings().tenant_cache_ttl_seconds)
    if tenant_id is None:
        return None
    tenant = _record(tenant_id)
    return tenant if tenant is not None and _still_names(kind, value, tenant) else None


def _host_reference(host_header: str | None, platform_domain: str) -> Reference | None:
    if not host_header:
        return None
    host = host_header.strip().lower()
    if host.startswith("["):  # IPv6 literal, with or without a port
        return None
    host = host.rsplit(":", 1)[0] if ":" in host else host
    host = host.rstrip(".")
    if not host or host == platform_domain or host == "localhost" or host.endswith(_PLATFORM_HOST_SUFFIXES):
        return None
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if host.endswith("." + platform_domain):
        label = host[: -len(platform_domain) - 1]
        if label in RESERVED_SLUGS:
            return None  # www.platform, api.platform: the platform's own hosts
        return Reference("host", "slug", label)
    return Reference("host", "domain", host)


def _header_reference(value: str | None) -> Reference | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return Reference("header", "id", str(UUID(value)))
    except ValueError:
        return Reference("header", "slug", value.lower())


def references(headers: Mapping[str, str], claim: UUID | None, *, use_header: bool = True) -> list[Reference]:
    found = [
        _host_reference(headers.get("host"), get_settings().platform_domain),
        _header_reference(headers.get(TENANT_HEADER)) if use_header else None,
        Reference("token", "id", str(claim)) if claim else None,
    ]
    return [r for r in found if r is not None]


def _named_tenant(ref: Reference) -> Tenant | None:
    if len(ref.value) > (MAX_DOMAIN_LENGTH if ref.kind == "domain" else MAX_HEADER_VALUE):
        return None
    if ref.kind == "slug" and not SLUG_PATTERN.fullmatch(ref.value):
        return None
    return _lookup(ref.kind, ref.value)


def _resolve_reference(ref: Reference) -> Tenant | None:
    tenant = _named_tenant(ref)
    if tenant is None or tenant.status in (TenantStatus.INACTIVE, TenantStatus.PROVISIONING):
        return None
    return tenant


def _resolve_retired_too(ref: Reference) -> Tenant | None:
    """Super-admin reads: a suspended or soft-deleted tenant's data stays readable."""
    tenant = _named_tenant(ref)
    if tenant is None or tenant.status == TenantStatus.PROVISIONING:
        return None
    return tenant


def resolve_for_platform_read(refs: list[Reference]) -> Tenant:
    """:func:`resolve` for a super-admin's read-only request: the tenant whatever its
    status (suspended or ``inactive`` after a soft delete), except one still being
    provisioned. Writes never come here; the read is audited in the tenant's trail."""
    return resolve(refs, _resolve_retired_too, refuse_suspended=False)


def resolve(refs: list[Reference], lookup: Callable[[Reference], Tenant | None] = _resolve_reference,
            *, refuse_suspended: bool = True, anonymous: bool = False) -> Tenant:
    """The one tenant every reference names; raises the documented errors otherwise.

    ``anonymous``: the caller has no token, so a suspended tenant is answered exactly as
    one that does not exist (404 ``tenant_not_found``): telling them apart would let
    anyone enumerate the platform's tenants and learn which are suspended."""
    if not refs:
        raise TenantNotFoundError("no tenant is named by host, X-Tenant-ID header or token")
    tenants: list[Tenant] = []
    for ref in refs:
        tenant = lookup(ref)
        if tenant is None:
            raise TenantNotFoundError(f"the {ref.source} names no active tenant")
        tenants.append(tenant)
    if len({t.id for t in tenants}) > 1:
        raise TenantMismatchError("host, X-Tenant-ID header and token name different tenants")
    tenant = tenants[0]
    if refuse_suspended and tenant.status == TenantStatus.SUSPENDED:
        if anonymous:
            raise TenantNotFoundError(f"the {refs[0].source} names no active tenant")
        raise TenantSuspendedError("this tenant is suspended")
    return tenant
