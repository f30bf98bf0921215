"""GET /api/tenant/usage: the bound tenant's counters against its effective limits.

One Query of the tenant's ``USAGE`` partition (every counter, a counted meter's shards
summed) and the cached effective limits. A counter not complete yet (a tenant from before
sharded counters, until its first create or the daily reconciliation) reads as a count of
its partition.
"""
from __future__ import annotations

from chalicelib.limits import counters, storage
from chalicelib.limits.effective import effective_limits
from chalicelib.limits.models import Meter, StorageMeter, TenantUsage
from chalicelib.ratelimit import service as rate_limit
from chalicelib.tenancy.context import current_context


def report() -> TenantUsage:
    limits = effective_limits()
    values = storage.counter_values()

    def used(meter: str) -> int:
        total = counters.total_of(meter, values)
        return total if total is not None else counters.count_items(counters.COUNTED[meter])

    stored = storage.usage(values)
    tenant = current_context().tenant
    return TenantUsage(
        plan=tenant.plan,
        limits=limits,
        professionals=Meter.of(used(counters.PROFESSIONALS), limits.max_professionals),
        customers=Meter.of(used(counters.CUSTOMERS), limits.max_customers),
        storage=StorageMeter(**Meter.of(stored.used, stored.limit).model_dump(), files_bytes=stored.file_bytes,
                             items_bytes_estimate=stored.item_bytes),
        requests=Meter.of(rate_limit.requests_today(tenant), limits.requests_per_day),
        reconciled_at=stored.reconciled_at,
    )
