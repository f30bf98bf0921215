"""API Gateway usage plans (CloudFormation's, one per plan) and API keys (the app's, one per tenant).

The stack creates the usage plans (infra/platform_infra/api.py): one per plan, the
``platform`` one and the ``overflow`` one; the app never creates, edits or deletes them
(editing them made the stack drift). What the app does here:

- :func:`ensure_tenant_key` (a provisioning step, and after a plan or override change)
  makes the tenant's key if missing, attaches it to the usage plan that holds its limits
  (:func:`target_usage_plan`) and records it in the registry (``key_records``), where the
  authorizer reads it. Idempotent: it looks (by name) before it creates.
- :func:`reclaim_tenant_key` (a tenant deleted) detaches the key from every usage plan,
  deletes it and its record: API Gateway allows 10,000 keys per account and Region.
- When API Gateway refuses a new key (``LimitExceededException``: the account's key
  quota is reached), the tenant is recorded with the shared ``overflow`` key instead: its
  requests are metered in the ``overflow`` usage plan, whose throttle is the platform's
  ceiling, and limited per tenant by the distributed limiter alone (``distributed.py``).

A usage plan's throttle and quota are ceilings in front of the Lambda; the exact
per-tenant limits (a plan edited at run time, a tenant's overrides) are the distributed
limiter's. A tenant whose effective limits exceed its plan's usage plan (raising
overrides) is attached to ``overflow``, so the gateway never refuses what its limits allow.

Names carry the app and stage (``tenant-platform-prod-plan-free``,
``tenant-platform-prod-tenant-<uuid>``) so stages sharing an account never mix.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from botocore.exceptions import ClientError

from chalicelib import aws, lazy
from chalicelib.logs import get_logger
from chalicelib.ratelimit.bucket import RateLimits
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.ratelimit import key_records
    from chalicelib.ratelimit.key_records import KeyRecord
else:
    # Deferred to the first call that reads or writes a key record: `import app` (every
    # function's cold start) does not load the store (cold start: docs/cold-start.md).
    key_records = lazy.module("chalicelib.ratelimit.key_records")

# Super-admins acting inside a tenant carry no tenant claim: their requests are counted
# under this usage plan and its one key, apart from every tenant's.
PLATFORM_PLAN = "platform"
# Metered at the platform's ceiling, limited per tenant by the distributed limiter only:
# tenants beyond the key quota (one shared key) and tenants whose overrides exceed their
# plan's usage plan (their own keys).
OVERFLOW_PLAN = "overflow"
# Usage plans of a tenant's own, which an earlier version made for overrides: keys are
# moved off them; ``usage-plans sync`` deletes them once empty.
LEGACY_TENANT_PLAN_PREFIX = "tenant-"

log = get_logger(__name__)


def _prefix() -> str:
    settings = get_settings()
    return f"{settings.app_name}-{settings.stage}"


def usage_plan_name(plan: str) -> str:
    return f"{_prefix()}-plan-{plan}"


def tenant_key_name(tenant_id: UUID) -> str:
    return f"{_prefix()}-tenant-{tenant_id}"


def platform_key_name() -> str:
    return f"{_prefix()}-platform"


def overflow_key_name() -> str:
    return f"{_prefix()}-overflow"


def _apigateway() -> Any:
    return aws.client("apigateway")


def _pages(operation: str, **params: Any) -> Iterator[dict[str, Any]]:
    yield from (item for page in _apigateway().get_paginator(operation).paginate(**params)
                for item in page.get("items", []))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def managed_usage_plans() -> dict[str, dict[str, Any]]:
    """This stage's usage plans, by plan name."""
    head = usage_plan_name("")
    return {p["name"][len(head):]: p for p in _pages("get_usage_plans") if p.get("name", "").startswith(head)}


def covers(usage_plan: dict[str, Any], limits: RateLimits) -> bool:
    """Whether ``usage_plan``'s throttle and quota let through everything ``limits`` allow."""
    throttle, quota = usage_plan.get("throttle") or {}, usage_plan.get("quota")
    return (float(throttle.get("rateLimit", 0)) >= limits.rate_per_second
            and int(throttle.get("burstLimit", 0)) >= limits.burst
            and (not quota or int(quota.get("limit", 0)) >= limits.requests_per_day))


def target_usage_plan(plan: str, limits: RateLimits, plans: dict[str, dict[str, Any]]) -> str:
    """The plan's usage plan, or ``overflow`` when the tenant's limits exceed it."""
    own = plans.get(plan)
    if own is None:
        raise LookupError(f"no usage plan for plan {plan!r}: the stack makes one per plan")
    return plan if covers(own, limits) else OVERFLOW_PLAN


def find_key(name: str) -> dict[str, Any] | None:
    """The API key called exactly ``name`` (with its value), the oldest if a race made two."""
    found = [k for k in _pages("get_api_keys", nameQuery=name, includeValues=True) if k.get("name") == name]
    found.sort(key=lambda k: (k.get("createdDate") or datetime.min.replace(tzinfo=UTC), k["id"]))
    return found[0] if found else None


def _create_key(name: str, tags: dict[str, str]) -> dict[str, Any]:
    _apigateway().create_api_key(name=name, enabled=True, tags=tags,
                                 description="Selected by the authorizer; never handed to a client")
    # Read back rather than trust the create: a concurrent resume may have made one too,
    # and every caller must settle on the same (oldest) key.
    settled = find_key(name)
    if settled is None:
        raise RuntimeError("the API key just created cannot be found")
    return settled


def attach_key(key_id: str, plan: str, plans: dict[str, dict[str, Any]]) -> None:
    """Make ``plan``'s usage plan the one of this stage's usage plans holding the key (idempotent).

    API Gateway refuses a key in two usage plans of the same API stage, so the key
    leaves the others first; that is also how an attachment is reclaimed when a tenant's
    overrides are cleared or its plan changes.
    """
    target = plans[plan]
    holding = {p["id"] for p in _pages("get_usage_plans", keyId=key_id)}
    for other in holding - {target["id"]}:
        if other in {p["id"] for p in plans.values()}:
            _apigateway().delete_usage_plan_key(usagePlanId=other, keyId=key_id)
    if target["id"] not in holding:
        try:
            _apigateway().create_usage_plan_key(usagePlanId=target["id"], keyId=key_id, keyType="API_KEY")
        except ClientError as exc:
            if _code(exc) != "ConflictException":
                raise


def shared_key(name: str) -> KeyRecord:
    """A key the stack made (platform, overflow), recorded for the authorizer on first use."""
    record = key_records.get(name)
    if record is not None:
        return record
    key = find_key(name)
    if key is None:
        raise LookupError(f"no API key {name!r}: the stack makes it")
    record = key_records.KeyRecord(name=name, key_id=str(key["id"]), value=str(key["value"]),
                                   usage_plan=key_records.SHARED)
    key_records.put(record)
    return record


def ensure_tenant_key(tenant_id: UUID, plan: str, limits: RateLimits) -> KeyRecord:
    """The tenant's key (made if missing) in the usage plan holding ``limits``, recorded.

    Beyond the account's key quota the tenant is recorded with the shared overflow key.
    """
    name = tenant_key_name(tenant_id)
    plans = managed_usage_plans()
    record = key_records.get(name)
    key = find_key(name) if record is None or record.shared else {"id": record.key_id, "value": record.value}
    if key is None:
        try:
            key = _create_key(name, {"tenant_id": str(tenant_id)})
        except ClientError as exc:
            if _code(exc) != "LimitExceededException":
                raise
            log.warning("API key quota reached: tenant limited by the distributed limiter only",
                        extra={"fields": {"tenant_id": str(tenant_id)}})
            shared = shared_key(overflow_key_name())
            record = key_records.KeyRecord(name=name, key_id=shared.key_id, value=shared.value,
                                           usage_plan=key_records.SHARED)
            key_records.put(record)
            return record
    target = target_usage_plan(plan, limits, plans)
    try:
        attach_key(str(key["id"]), target, plans)
    except ClientError as exc:
        if _code(exc) != "NotFoundException" or record is None:
            raise
        # The recorded key was deleted outside the app: forget it and make (or find) another.
        key_records.delete(name)
        return ensure_tenant_key(tenant_id, plan, limits)
    record = key_records.KeyRecord(name=name, key_id=str(key["id"]), value=str(key["value"]), usage_plan=target)
    key_records.put(record)
    return record


def reclaim_tenant_key(tenant_id: UUID) -> bool:
    """Detach the tenant's key from every usage plan, delete it and its record; whether one existed.

    The record goes first: from then on the authorizer cannot find the key for a new
    cache fill (the tenant is deleted, its requests are refused anyway). A shared
    (overflow) key is never deleted: only the tenant's record of it.
    """
    name = tenant_key_name(tenant_id)
    record = key_records.get(name)
    if record is not None:
        key_records.delete(name)
        if record.shared:
            return True
    key_id = record.key_id if record is not None else None
    if key_id is None:
        found = find_key(name)
        if found is None:
            return False
        key_id = str(found["id"])
    for usage_plan in list(_pages("get_usage_plans", keyId=key_id)):
        _apigateway().delete_usage_plan_key(usagePlanId=usage_plan["id"], keyId=key_id)
    try:
        _apigateway().delete_api_key(apiKey=key_id)
    except ClientError as exc:
        if _code(exc) != "NotFoundException":
            raise
    return True


def key_value(name: str) -> str | None:
    """The value of key ``name`` from its registry record (None: no such key).

    A key with no record (made before records were kept, until ``usage-plans sync``
    records it) is read from API Gateway; it is not recorded here, so the authorizer's
    role only reads the registry.
    """
    record = key_records.get(name)
    if record is not None:
        return record.value
    key = find_key(name)
    if key is None or not key.get("enabled", True):
        return None
    return str(key["value"])


def legacy_tenant_usage_plans() -> dict[UUID, dict[str, Any]]:
    """Usage plans of a tenant's own left by an earlier version, by tenant id."""
    found = {}
    for plan, usage_plan in managed_usage_plans().items():
        if plan.startswith(LEGACY_TENANT_PLAN_PREFIX):
            try:
                found[UUID(plan[len(LEGACY_TENANT_PLAN_PREFIX):])] = usage_plan
            except ValueError:
                continue
    return found
