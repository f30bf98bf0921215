"""What plans, overrides, effective limits and usage look like (requests and responses).

The eight limits, every one a non-negative whole number:

| field | unit | enforced by |
|---|---|---|
| max_professionals, max_customers | items | the create transaction's usage counter (limits.counters) |
| max_storage_bytes | bytes | presigned upload size (limits.storage), reported by GET /api/tenant/usage |
| rate_per_second, burst | requests | the per-tenant rate limiter (API Gateway usage plans in AWS) |
| requests_per_day | requests | the same limiter's daily quota |
| exports_per_day, max_concurrent_exports | exports | the exports feature |
"""
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from chalicelib.fields import Model

# Big enough for an "unlimited" enterprise figure, small enough for any JSON reader (2**53).
MAX_LIMIT = 2**53 - 1
LimitValue = Annotated[int, Field(ge=0, le=MAX_LIMIT, strict=True)]
LIMIT_FIELDS = ("max_professionals", "max_customers", "max_storage_bytes", "rate_per_second", "burst",
                "requests_per_day", "exports_per_day", "max_concurrent_exports")
PLAN_NAME_PATTERN = r"^[a-z][a-z0-9-]{1,31}$"


class Limits(Model):
    """A full set of limits: a plan's, or a tenant's effective ones (plan + overrides)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_professionals: LimitValue
    max_customers: LimitValue
    max_storage_bytes: LimitValue
    rate_per_second: LimitValue
    burst: LimitValue
    requests_per_day: LimitValue
    exports_per_day: LimitValue
    max_concurrent_exports: LimitValue


class PlanUpdate(Limits):
    """PUT /api/admin/plans/{name}: the plan's limits, all of them (a replacement)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = Field(default=None, max_length=200)


class Plan(PlanUpdate):
    """A plan as stored (or as defaulted: ``version`` 0 until first edited)."""

    name: str
    version: int = 0
    updated_at: datetime | None = None

    def limits(self) -> Limits:
        return Limits.model_validate(self.model_dump(include=set(LIMIT_FIELDS)))


class PlanList(Model):
    items: list[Plan]


class LimitOverrides(Model):
    """PUT /api/admin/tenants/{id}/limits: a number sets that limit for the tenant, ``null``
    clears its override (the plan's value applies again), an absent field is left as is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_professionals: LimitValue | None = None
    max_customers: LimitValue | None = None
    max_storage_bytes: LimitValue | None = None
    rate_per_second: LimitValue | None = None
    burst: LimitValue | None = None
    requests_per_day: LimitValue | None = None
    exports_per_day: LimitValue | None = None
    max_concurrent_exports: LimitValue | None = None


class TenantLimits(Model):
    """A tenant's plan, its overrides (only those set) and the effective limits."""

    tenant_id: str
    plan: str
    overrides: dict[str, int]
    effective: Limits
    version: int


class Meter(Model):
    """One counted resource against its limit (``remaining`` never below zero)."""

    used: int
    limit: int
    remaining: int

    @classmethod
    def of(cls, used: int, limit: int) -> "Meter":
        return cls(used=used, limit=limit, remaining=max(0, limit - used))


class StorageMeter(Meter):
    """Storage: ``used`` is ``files_bytes`` (objects under the tenant's prefix, kept current
    by S3 events) plus ``items_bytes_estimate`` (its DynamoDB items, refreshed daily)."""

    files_bytes: int
    items_bytes_estimate: int


class TenantUsage(Model):
    """GET /api/tenant/usage. One member per metered resource, each a :class:`Meter`;
    further meters (the rate limiter's ``requests``) are added as members of their own."""

    plan: str
    limits: Limits
    professionals: Meter
    customers: Meter
    storage: StorageMeter
    # API requests since 00:00 UTC against requests_per_day (chalicelib/ratelimit): API
    # Gateway's count for the tenant's key in AWS, this process's count in-process.
    requests: Meter
    reconciled_at: datetime | None = None
