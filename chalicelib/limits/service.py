"""Super-admin operations on plans and a tenant's overrides; each drops this process's
cached entries at once (other processes see the change within the cache TTL)."""
from __future__ import annotations

from chalicelib.limits import effective
from chalicelib.limits import plan_catalogue as plans
from chalicelib.limits.models import LimitOverrides, Plan, PlanList, PlanUpdate, TenantLimits
from chalicelib.ratelimit import service as rate_limit
from chalicelib.tenancy.tenant import Tenant


def list_plans() -> PlanList:
    return PlanList(items=plans.list_plans())


def update_plan(name: str, body: PlanUpdate, expected: int | None) -> Plan:
    plan = plans.put_plan(name, body, expected)
    effective.invalidate(plan=name)
    # The limiter applies the stored limits; API Gateway's usage plan is the stack's and is
    # only checked (a plan raised above it is logged: it needs a deploy).
    rate_limit.plan_limits_changed(name)
    return plan


def tenant_limits(tenant: Tenant) -> TenantLimits:
    overrides, version = plans.get_overrides(tenant)
    limits = plans.merge(plans.get_plan(tenant.plan).limits(), overrides)
    return TenantLimits(tenant_id=str(tenant.id), plan=tenant.plan, overrides=overrides, effective=limits,
                        version=version)


def set_overrides(tenant: Tenant, body: LimitOverrides, expected: int | None) -> TenantLimits:
    plans.put_overrides(tenant, body, expected)
    effective.invalidate(tenant_id=tenant.id)
    rate_limit.wire_tenant_key(tenant)  # raised above its plan's usage plan: the key moves to overflow
    return tenant_limits(tenant)
