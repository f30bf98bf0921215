"""Provisioning a tenant: ordered, recorded steps, so a crash anywhere is resumed, not redone.

The first step creates the KMS key, then (one transaction) the tenant in status
``provisioning`` with its slug and domain reservations, its ``tenant.created`` events and
the provisioning request (the admin's email sealed under the new key). Then, each a
recorded step: the tenant's API Gateway key in its plan's usage plan (rate limiting,
chalicelib/ratelimit), its custom domains' certificates (chalicelib/domains), roles,
categories, templates, demo data, invitation, welcome mail. Until the last
step sets it ``active`` no client can resolve it (404); super-admins see
``provisioning_steps`` on the record. Every later step is idempotent (conditional
writes, "create what is missing") and is recorded on the tenant when done, so
:func:`resume` (POST /api/admin/tenants/{id}/provision, and the scheduled job for
tenants stuck in provisioning) runs only what is left and duplicates nothing. The
welcome mail is the one effect outside our tables: a crash between SES accepting it
and its step being recorded sends it again on retry (at least once, never lost).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from chalicelib import audit, clock, members
from chalicelib.clock import now_iso
from chalicelib.crypto import pii
from chalicelib.domains import service as custom_domains
from chalicelib.errors import ConflictError
from chalicelib.members.models import MemberInvite
from chalicelib.network.categories import service as categories
from chalicelib.network.categories.models import CategoryCreate
from chalicelib.notifications import install_default_templates, render, send_email
from chalicelib.ratelimit import service as rate_limit
from chalicelib.store import data, keys, registry
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.resolution import invalidate_tenant
from chalicelib.tenancy.tenant import Tenant, TenantStatus
from chalicelib.tenants import demo_data, service
from chalicelib.tenants.admin_models import TenantAdminCreate

log = logging.getLogger("provisioning")
TENANT_STEP = "tenant"
REQUEST_SK = "REQUEST"
ADMIN_ROLE = "tenant_admin"
# A tenant in provisioning for longer than this is taken to be stuck (its request died).
STUCK_AFTER = timedelta(minutes=5)
# Longer than a provisioning run (API Gateway's 29 s), shorter than STUCK_AFTER: a crashed
# holder's lease has lapsed before the schedule resumes its tenant.
LEASE_SECONDS = 120

DEFAULT_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("mechanical-repair", "Mechanical repair"),
    ("diagnostics-and-inspection", "Diagnostics and inspection"),
    ("body-and-paint", "Body and paint"),
    ("glass", "Glass"),
    ("tyres-and-wheels", "Tyres and wheels"),
    ("brakes-and-suspension", "Brakes and suspension"),
    ("transmission", "Transmission"),
    ("electrical-and-ev", "Electrical and EV"),
    ("heating-and-air-conditioning", "Heating and air conditioning"),
    ("detailing", "Detailing"),
    ("towing-and-recovery", "Towing and recovery"),
)


class ProvisioningRequest:
    """What the create request said beyond the tenant itself, kept for resumption."""

    def __init__(self, admin_email: str, seed_demo_data: bool) -> None:
        self.admin_email = admin_email
        self.seed_demo_data = seed_demo_data


def _request_pk() -> str:
    return data.partition(keys.PROVISIONING)


def _request_writer(body: TenantAdminCreate) -> Callable[[UnitOfWork], None]:
    def add(uow: UnitOfWork) -> None:
        now = now_iso()
        item = data.new_item(pk=_request_pk(), sk=REQUEST_SK, kind=keys.PROVISIONING, entity_id=REQUEST_SK,
                             version=1, created_at=now, updated_at=now,
                             data=data.dumps({"seed_demo_data": body.seed_demo_data}),
                             pii=pii.seal(keys.PROVISIONING, REQUEST_SK, {"admin_email": str(body.admin_email)}))
        uow.put("provisioning_request", item, DataItem.pk.does_not_exist())

    return add


def _load_request() -> ProvisioningRequest:
    item = data.get(_request_pk(), REQUEST_SK)
    if item is None:
        raise ConflictError("this tenant has no provisioning request", extra={"conflict": "not_provisionable"})
    sealed = pii.unseal(keys.PROVISIONING, REQUEST_SK, item.pii)
    return ProvisioningRequest(sealed["admin_email"], bool(data.loads(item.data).get("seed_demo_data")))


# ---- the steps (each idempotent, run with the tenant bound) ------------------------------

def _api_key(tenant: Tenant, request: ProvisioningRequest) -> None:
    # The tenant's API Gateway key in its plan's usage plan (found by name, so a rerun
    # after a crash attaches the key it made rather than making another).
    rate_limit.wire_tenant_key(tenant)


def _roles(tenant: Tenant, request: ProvisioningRequest) -> None:
    members.install_default_roles()


def _categories(tenant: Tenant, request: ProvisioningRequest) -> None:
    for slug, name in DEFAULT_CATEGORIES:
        try:
            categories.create_category(CategoryCreate(slug=slug, name=name))
        except ConflictError as exc:
            if exc.extra.get("conflict") != "category_exists":
                raise


def _templates(tenant: Tenant, request: ProvisioningRequest) -> None:
    install_default_templates()


def _demo_data(tenant: Tenant, request: ProvisioningRequest) -> None:
    if request.seed_demo_data:
        demo_data.seed_all()


def _admin_member(tenant: Tenant, request: ProvisioningRequest) -> None:
    if members.member_by_email(request.admin_email) is None:
        try:
            # No invitation mail here: the welcome mail (next step) carries the invitation.
            members.invite_member(MemberInvite(email=request.admin_email, role=ADMIN_ROLE), mail_invitation=False)
        except ConflictError as exc:
            if exc.extra.get("conflict") != "member_exists":
                raise


def _welcome_email(tenant: Tenant, request: ProvisioningRequest) -> None:
    member = members.member_by_email(request.admin_email)
    if member is None:
        raise ConflictError("the tenant admin member is missing", extra={"conflict": "admin_missing"})
    url = members.invitation_url(member.id)
    subject, body = render("welcome", {"network_name": tenant.display_name, "invitation_url": url})
    send_email(request.admin_email, subject, body)


def _custom_domains(tenant: Tenant, _request: ProvisioningRequest) -> None:
    # The reservations were written with the tenant; each domain's certificate and API
    # Gateway domain name follow (chalicelib/domains; the schedule finishes what fails).
    custom_domains.adopt(tenant.id, tenant.domains)


STEPS: tuple[tuple[str, Callable[[Tenant, ProvisioningRequest], None]], ...] = (
    ("api_key", _api_key),
    ("custom_domains", _custom_domains),
    ("roles", _roles),
    ("categories", _categories),
    ("email_templates", _templates),
    ("demo_data", _demo_data),
    ("admin_member", _admin_member),
    ("welcome_email", _welcome_email),
)
STEP_NAMES = (TENANT_STEP, *(name for name, _ in STEPS))


def provision(body: TenantAdminCreate) -> Tenant:
    """Create the tenant (first step) and run every other step; the active tenant."""
    custom_domains.check_claimable(body.domains)
    tenant = service.create_tenant(body.tenant_fields(), status=TenantStatus.PROVISIONING,
                                   steps=(TENANT_STEP,), also=_request_writer(body))
    return resume(tenant)


def resume(tenant: Tenant) -> Tenant:
    """Run the steps ``tenant`` has not recorded, then activate it; idempotent.

    One resume at a time holds the tenant's provisioning lease (the schedule and an
    admin's POST may race): another gets 409 ``provisioning_in_progress``, or the active
    tenant if the holder finished meanwhile.
    """
    if tenant.status != TenantStatus.PROVISIONING:
        return tenant
    owner = str(uuid4())
    if not registry.take_provisioning_lease(tenant.id, owner, LEASE_SECONDS):
        current = registry.get_tenant(tenant.id)
        if current is not None and current.status != TenantStatus.PROVISIONING:
            return current
        raise ConflictError("this tenant's provisioning is running; retry shortly",
                            extra={"conflict": "provisioning_in_progress"})
    try:
        # The steps a previous holder recorded, not those of the copy the caller read
        current = registry.get_tenant(tenant.id) or tenant
        with tenancy_context.bound(tenancy_context.acting_in(current)):
            request = _load_request()
            for name, step in STEPS:
                if name in current.provisioning_steps:
                    continue
                step(current, request)
                registry.mark_provisioning_step(current.id, name)
                log.info("provisioning step done", extra={"fields": {"tenant_id": str(current.id), "step": name}})
        return _activate(current.id)
    finally:
        registry.release_provisioning_lease(tenant.id, owner)


def _activate(tenant_id: UUID) -> Tenant:
    current = registry.get_tenant(tenant_id)
    if current is None:
        raise ConflictError("the tenant disappeared during provisioning")
    if current.status != TenantStatus.PROVISIONING:
        return current
    active = current.model_copy(update={"status": TenantStatus.ACTIVE, "updated_at": clock.now()})
    changes = audit.changes({"status": current.status.value}, {"status": TenantStatus.ACTIVE.value},
                            pii=frozenset())

    def add(uow: UnitOfWork) -> None:
        audit.record_lifecycle(uow, audit.Action.TENANT_PROVISIONED, changes=changes)

    with tenancy_context.bound(tenancy_context.acting_in(current)):
        try:
            stored = registry.update_tenant(active, expected_version=current.version, also=add)
        except ConflictError:
            # A concurrent resume activated it first: that is the outcome we wanted.
            latest = registry.get_tenant(current.id)
            if latest is None or latest.status == TenantStatus.PROVISIONING:
                raise
            return latest
    invalidate_tenant(stored)
    return stored


def resume_stuck(now: datetime | None = None) -> list[Tenant]:
    """Resume every tenant whose provisioning made no progress (no step recorded, so no
    ``updated_at`` change) for ``STUCK_AFTER``; those resumed. A slow provisioning that
    is still recording steps is left to its own request."""
    cutoff = (now or clock.now()) - STUCK_AFTER
    resumed = []
    for tenant in registry.iter_tenants(TenantStatus.PROVISIONING):
        if tenant.updated_at > cutoff:
            continue
        try:
            resumed.append(resume(tenant))
        except Exception:
            log.exception("resuming provisioning failed", extra={"fields": {"tenant_id": str(tenant.id)}})
    return resumed
