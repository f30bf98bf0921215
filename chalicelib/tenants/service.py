"""Tenant lifecycle operations on the registry."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from chalicelib import audit, clock
from chalicelib.config import models as config_schema
from chalicelib.crypto import keys as tenant_keys
from chalicelib.errors import NotFoundError, RequestValidationError, validation_error_from_pydantic
from chalicelib.limits import counters
from chalicelib.limits.plan_catalogue import plan_names
from chalicelib.settings import get_settings
from chalicelib.store import registry
from chalicelib.store.unit_of_work import UnitOfWork
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.resolution import invalidate_tenant
from chalicelib.tenancy.tenant import Tenant, TenantStatus
from chalicelib.tenants.models import TenantCreate

# What a lifecycle event lists of a new tenant (its key ARN is infrastructure, not a setting).
_AUDITED_FIELDS = frozenset({"slug", "name", "display_name", "logo_url", "primary_color", "configuration",
                             "status", "plan", "domains"})
STATUS_ACTIONS = {
    TenantStatus.ACTIVE: audit.Action.TENANT_REACTIVATED,
    TenantStatus.SUSPENDED: audit.Action.TENANT_SUSPENDED,
    TenantStatus.INACTIVE: audit.Action.TENANT_DEACTIVATED,
}


def _audited(action: audit.Action, changes: dict[str, dict[str, Any]],
             at: datetime | None = None) -> Callable[[UnitOfWork], None]:
    """Adds the event to the registry's unit of work, in the tenant's trail and the platform's.
    The caller binds the tenant (the guard admits data-table items of the bound tenant only)."""
    def add(uow: UnitOfWork) -> None:
        audit.record_lifecycle(uow, action, changes=changes, at=at)

    return add


def check_custom_domains(domains: list[str]) -> None:
    """422 for a custom domain under the platform's own domain (those are slugs' hosts)."""
    platform_domain = get_settings().platform_domain
    for domain in domains:
        if domain == platform_domain or domain.endswith("." + platform_domain):
            raise RequestValidationError(
                "custom domains cannot be under the platform domain",
                extra={"errors": [{"loc": ["body", "domains"], "type": "value_error"}]},
            )


def check_configuration(configuration: dict[str, Any]) -> None:
    """A new tenant's configuration obeys the same schema as PUT /api/tenant/config (422 with paths)."""
    try:
        config_schema.validate_overrides(configuration)
    except ValidationError as exc:
        error = validation_error_from_pydantic(exc)
        for entry in error.extra["errors"]:
            entry["loc"] = ["body", "configuration", *entry["loc"][1:]]
        raise error from None


def check_plan(plan: str) -> None:
    """422 unless ``plan`` names a plan the platform has (the stored plans, limits.plans)."""
    if plan not in plan_names():
        raise RequestValidationError(
            "no such plan", extra={"errors": [{"loc": ["body", "plan"], "type": "unknown_plan",
                                               "msg": "no plan of that name"}]})


def create_tenant(data: TenantCreate, *, tenant_id: UUID | None = None, status: TenantStatus = TenantStatus.ACTIVE,
                  steps: tuple[str, ...] = (), also: Callable[[UnitOfWork], None] | None = None) -> Tenant:
    """Create a tenant with its slug and domains reserved atomically, and its KMS key.

    The key comes first, so a tenant never exists without one; if the insert then fails
    (slug or domain taken), the key is scheduled for deletion, so none is left enabled.
    Provisioning creates it in status ``provisioning`` with its first step recorded
    (``steps``), and adds its own items to the transaction with ``also`` (run with the
    new tenant bound).
    """
    check_custom_domains(data.domains)
    check_configuration(data.configuration)
    check_plan(data.plan)
    now = clock.now()
    tenant_id = tenant_id or uuid.uuid4()
    key_arn = tenant_keys.create_tenant_key(tenant_id, alias=True)
    tenant = Tenant(
        id=tenant_id,
        slug=data.slug,
        name=data.name,
        display_name=data.display_name,
        logo_url=data.logo_url,
        primary_color=data.primary_color,
        configuration=data.configuration,
        status=status,
        plan=data.plan,
        domains=tuple(data.domains),
        created_at=now,
        updated_at=now,
        version=1,
        kms_key_arn=key_arn,
        provisioning_steps=steps,
    )
    created = audit.changes(None, tenant.model_dump(mode="json", include=set(_AUDITED_FIELDS)), pii=frozenset())
    try:
        with tenancy_context.bound(tenancy_context.acting_in(tenant)):
            audited = _audited(audit.Action.TENANT_CREATED, created, at=now)

            def add(uow: UnitOfWork) -> None:
                audited(uow)
                counters.add_initial(uow, tenant.plan)
                if also is not None:
                    also(uow)

            registry.insert_tenant(tenant, also=add)
    except BaseException:
        tenant_keys.discard_key(key_arn, tenant_id=tenant_id)
        raise
    invalidate_tenant(tenant)
    return tenant


def change_status(tenant_id: UUID, status: TenantStatus) -> Tenant:
    tenant = registry.get_tenant(tenant_id)
    if tenant is None:
        raise NotFoundError("no such tenant")
    if tenant.status == status:
        return tenant
    changed = tenant.model_copy(update={"status": status, "updated_at": clock.now()})
    changes = audit.changes({"status": tenant.status.value}, {"status": status.value}, pii=frozenset())
    with tenancy_context.bound(tenancy_context.acting_in(tenant)):
        stored = registry.update_tenant(changed, expected_version=tenant.version,
                                        also=_audited(STATUS_ACTIONS[status], changes))
    invalidate_tenant(stored)
    return stored
