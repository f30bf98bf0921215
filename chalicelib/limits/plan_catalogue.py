"""Plans and per-tenant overrides, stored in the registry (platform-owned).

Plans live in one registry partition (``PLANS``, sort key the name), so listing them is
one Query. The four plans below are the defaults: a plan nobody has edited is its
default (``version`` 0); the first PUT stores it. PUT does not create plans: each plan
is also an API Gateway usage plan that infra deploys, so a new tier needs a deploy, and
an unknown name is a 404.

A tenant's overrides are one registry item beside its tenant item (``LIMITS``). Both
writes are one transaction with their audit events (a plan: the platform trail; a
tenant's overrides: the tenant's trail and the platform's).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import audit, clock
from chalicelib.errors import ConflictError, NotFoundError, PreconditionFailedError
from chalicelib.limits.models import LIMIT_FIELDS, LimitOverrides, Limits, Plan, PlanUpdate
from chalicelib.store import data, keys, registry
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.tenant import Tenant

GiB = 1024**3
MiB = 1024**2
DEFAULT_PLANS: dict[str, PlanUpdate] = {
    "free": PlanUpdate(
        description="Try the platform: a small network", max_professionals=25, max_customers=250,
        max_storage_bytes=100 * MiB, rate_per_second=5, burst=10, requests_per_day=10_000,
        exports_per_day=2, max_concurrent_exports=1),
    "standard": PlanUpdate(
        description="A regional network", max_professionals=250, max_customers=10_000,
        max_storage_bytes=5 * GiB, rate_per_second=25, burst=50, requests_per_day=250_000,
        exports_per_day=10, max_concurrent_exports=2),
    "premium": PlanUpdate(
        description="A national network", max_professionals=2_500, max_customers=250_000,
        max_storage_bytes=50 * GiB, rate_per_second=100, burst=200, requests_per_day=2_000_000,
        exports_per_day=50, max_concurrent_exports=5),
    "enterprise": PlanUpdate(
        description="No practical ceiling; throughput agreed per contract", max_professionals=1_000_000,
        max_customers=100_000_000, max_storage_bytes=10 * 1024 * GiB, rate_per_second=500, burst=1_000,
        requests_per_day=50_000_000, exports_per_day=500, max_concurrent_exports=20),
}


class PlanItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    data = UnicodeAttribute()  # the plan's limits and description, JSON
    version = NumberAttribute()
    updated_at = UnicodeAttribute()


class OverridesItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    data = UnicodeAttribute()  # {limit field: value} for the overridden limits only
    version = NumberAttribute()
    updated_at = UnicodeAttribute()


registry.register_model(PlanItem)
registry.register_model(OverridesItem)


def _plan(name: str, item: PlanItem | None) -> Plan:
    if item is None:
        return Plan(name=name, **DEFAULT_PLANS[name].model_dump())
    return Plan(name=name, version=int(item.version), updated_at=datetime.fromisoformat(item.updated_at),
                **json.loads(item.data))


def list_plans() -> list[Plan]:
    """Every plan: the defaults, replaced by their stored versions (one Query)."""
    registry.bind()
    stored = {item.sk: item for item in PlanItem.query(keys.PLANS_PK, consistent_read=True)}
    names = sorted({*DEFAULT_PLANS, *stored}, key=_plan_order)
    return [_plan(name, stored.get(name)) for name in names]


def _plan_order(name: str) -> tuple[int, str]:
    order = list(DEFAULT_PLANS)
    return (order.index(name) if name in order else len(order), name)


def plan_names() -> frozenset[str]:
    return frozenset(plan.name for plan in list_plans())


def get_plan(name: str) -> Plan:
    """The plan ``name`` (stored, else its default); 404 for an unknown name."""
    registry.bind()
    try:
        item: PlanItem | None = PlanItem.get(keys.PLANS_PK, keys.plan_sk(name))
    except PlanItem.DoesNotExist:
        item = None
    if item is None and name not in DEFAULT_PLANS:
        raise NotFoundError("no such plan")
    return _plan(name, item)


def put_plan(name: str, body: PlanUpdate, expected: int | None) -> Plan:
    """Replace plan ``name``'s limits; with ``expected``, only from that version (else 412)."""
    current = get_plan(name)
    if expected is not None and expected != current.version:
        raise PreconditionFailedError()
    document = body.model_dump()
    before = current.model_dump(include={*LIMIT_FIELDS, "description"})
    item = PlanItem(pk=keys.PLANS_PK, sk=keys.plan_sk(name), data=json.dumps(document, sort_keys=True),
                    version=current.version + 1, updated_at=clock.now_iso())
    condition = PlanItem.pk.does_not_exist() if current.version == 0 else PlanItem.version == current.version
    changes = audit.changes(before, document, pii=frozenset())

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=condition)
        audit.record_platform(tx, audit.Action.PLAN_UPDATED, audit.Target("plan", name), changes=changes)

    _write(build, "the plan")
    return _plan(name, item)


def get_overrides(tenant: Tenant) -> tuple[dict[str, int], int]:
    """The tenant's overrides (set limits only) and their version (0: never set)."""
    registry.bind()
    try:
        item = OverridesItem.get(keys.tenant_pk(tenant.id), keys.LIMITS_SK)
    except OverridesItem.DoesNotExist:
        return {}, 0
    return json.loads(item.data), int(item.version)


def put_overrides(tenant: Tenant, body: LimitOverrides, expected: int | None) -> tuple[dict[str, int], int]:
    """Apply ``body`` (a number sets, null clears, absent keeps) to the tenant's overrides."""
    before, version = get_overrides(tenant)
    if expected is not None and expected != version:
        raise PreconditionFailedError()
    after = dict(before)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            after.pop(name, None)
        else:
            after[name] = value
    if after == before:
        return before, version
    item = OverridesItem(pk=keys.tenant_pk(tenant.id), sk=keys.LIMITS_SK, data=json.dumps(after, sort_keys=True),
                         version=version + 1, updated_at=clock.now_iso())
    condition = OverridesItem.pk.does_not_exist() if version == 0 else OverridesItem.version == version
    changes = audit.changes(before, after, pii=frozenset())

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=condition)
        audit.record_lifecycle(tx, audit.Action.TENANT_LIMITS_CHANGED, changes=changes)

    with tenancy_context.bound(tenancy_context.acting_in(tenant)):
        _write(build, "the tenant's limits")
    return after, version + 1


def _write(build: Callable[[TransactWrite], None], what: str) -> None:
    """One transaction; the stored item's condition is the first action (the only Put
    that can fail: audit event ids are new)."""
    registry.bind()
    try:
        with TransactWrite(connection=data.platform_transaction_connection()) as tx:
            build(tx)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            raise PreconditionFailedError(f"{what} changed meanwhile; read it again") from exc
        if any(r is not None and r.code == "TransactionConflict" for r in reasons):
            raise ConflictError(f"a concurrent request is changing {what}; retry") from exc
        raise


def merge(plan: Limits, overrides: dict[str, int]) -> Limits:
    """Effective limits: the plan's, with each overridden limit replaced."""
    return Limits.model_validate({**plan.model_dump(), **{k: v for k, v in overrides.items() if k in LIMIT_FIELDS}})
