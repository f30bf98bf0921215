"""Super-admin edits of a tenant: fields, plan, domains, status, soft delete.

A plan change also moves the tenant's API Gateway key to the new plan's usage plan.
Every edit is one registry transaction with its lifecycle events (the tenant's trail
and the platform's, ``audit.record_lifecycle``), conditioned on the version the admin
read (If-Match), and moving domain reservations in the same transaction. Custom
domains added or removed get their certificate and API Gateway domain name made or
removed (``chalicelib/domains``): their records are written in the same transaction, the
AWS steps run after it. A new
``display_name`` is the tenant's public face too: the same transaction writes a new
branding version with it (so the public branding's ETag moves and no cache keeps the
old name).
"""
from __future__ import annotations

from typing import Any

from chalicelib import audit, clock
from chalicelib.config import branding, versions
from chalicelib.domains import service as custom_domains
from chalicelib.errors import ConflictError, PreconditionFailedError
from chalicelib.ratelimit import service as rate_limit
from chalicelib.store import registry
from chalicelib.store.unit_of_work import UnitOfWork
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.resolution import invalidate_tenant
from chalicelib.tenancy.tenant import Tenant, TenantStatus
from chalicelib.tenants import service
from chalicelib.tenants.admin_models import TenantUpdate

_DESCRIPTIVE = ("name", "display_name", "domains")


def update_tenant(tenant: Tenant, body: TenantUpdate, expected: int) -> Tenant:
    """Apply ``body`` if ``tenant`` is still at version ``expected``; no-op fields are ignored."""
    if tenant.status in (TenantStatus.INACTIVE, TenantStatus.PROVISIONING):
        raise ConflictError(f"a tenant that is {tenant.status.value} cannot be edited",
                            extra={"conflict": f"tenant_{tenant.status.value}"})
    if tenant.version != expected:
        raise PreconditionFailedError()
    requested = body.model_dump(exclude_unset=True, exclude_none=True)
    if "plan" in requested and requested["plan"] != tenant.plan:
        service.check_plan(requested["plan"])
    if "domains" in requested:
        service.check_custom_domains(requested["domains"])
        requested["domains"] = tuple(requested["domains"])
    before = tenant.model_dump(mode="json")
    update = {k: v for k, v in requested.items() if before.get(k) != (list(v) if isinstance(v, tuple) else v)}
    if not update:
        if "plan" in requested:
            # The same plan again: redo the key move, in case the first PUT's failed.
            rate_limit.wire_tenant_key(tenant)
        return tenant
    changed = tenant.model_copy(update={**update, "status": TenantStatus(update.get("status", tenant.status)),
                                        "updated_at": clock.now()})
    events = _events(before, changed.model_dump(mode="json"), update)
    added = [d for d in changed.domains if d not in tenant.domains] if "domains" in update else []
    removed = [d for d in tenant.domains if d not in changed.domains] if "domains" in update else []
    custom_domains.check_claimable(added)

    try:
        with tenancy_context.bound(tenancy_context.acting_in(tenant)):
            rebrand = _branding_follows(update.get("display_name"))

            def add(uow: UnitOfWork) -> None:
                for action, changes in events:  # one event per kind of change
                    audit.record_lifecycle(uow, action, changes=changes, label=f"event:{action.value}")
                if rebrand is not None:
                    rebrand.add(uow)
                custom_domains.stage(uow, tenant.id, added, removed)

            stored = registry.update_tenant(changed, expected_version=expected, also=add,
                                            previous_domains=tenant.domains if "domains" in update else None)
    except ConflictError as exc:
        if exc.extra.get("conflict") == "stale":
            raise PreconditionFailedError() from exc
        raise
    invalidate_tenant(tenant)
    invalidate_tenant(stored)
    # After the change is stored (ACM and API Gateway are outside the transaction); what
    # fails here stays recorded as pending and the schedule finishes it.
    custom_domains.advance_domains(stored.id, [*added, *removed])
    if "plan" in update:
        # After the change is stored: API Gateway is outside the transaction. A failure
        # here is a 500 with the new plan stored; repeating the PUT finishes the move.
        rate_limit.wire_tenant_key(stored)
    return stored


def _branding_follows(display_name: str | None) -> versions.PreparedWrite | None:
    """The branding version that carries a new display name (bound tenant), if it differs."""
    if display_name is None:
        return None
    version, document, _ = versions.state(branding.DOCUMENT, tenancy_context.current_context().tenant)
    if document.get("display_name") == display_name:
        return None
    return versions.prepare(branding.DOCUMENT, {**document, "display_name": display_name}, version,
                            comment="display name set by a platform administrator")


def _events(before: dict[str, Any], after: dict[str, Any],
            update: dict[str, Any]) -> list[tuple[audit.Action, dict[str, dict[str, Any]]]]:
    """One event per kind of change: status, plan, and the descriptive fields."""
    def diff(fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        return audit.changes({f: before[f] for f in fields}, {f: after[f] for f in fields}, pii=frozenset())

    events: list[tuple[audit.Action, dict[str, dict[str, Any]]]] = []
    if "status" in update:
        events.append((service.STATUS_ACTIONS[TenantStatus(update["status"])], diff(("status",))))
    if "plan" in update:
        events.append((audit.Action.TENANT_PLAN_CHANGED, diff(("plan",))))
    descriptive = tuple(f for f in _DESCRIPTIVE if f in update)
    if descriptive:
        events.append((audit.Action.TENANT_UPDATED, diff(descriptive)))
    return events


def deactivate(tenant: Tenant) -> None:
    """Soft delete: status ``inactive``, every item kept, the API key reclaimed; repeatable."""
    if tenant.status != TenantStatus.INACTIVE:
        service.change_status(tenant.id, TenantStatus.INACTIVE)
    # After the status is stored (API Gateway is outside the transaction), and on a repeat
    # too, so a DELETE that failed here is finished by repeating it: an inactive tenant
    # never comes back, and its key would hold one of the account's 10,000.
    rate_limit.reclaim_tenant_key(tenant)
    # Its custom domains' certificates and domain names too (the reservations stay: an
    # inactive tenant's domains are not given to another tenant).
    custom_domains.release(tenant.id, tenant.domains)
