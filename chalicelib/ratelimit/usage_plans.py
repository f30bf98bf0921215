"""API Gateway usage plans (one per plan) and API keys (one per tenant), wired with boto3.

Chalice cannot declare usage plans or keys, and plans change at run time (a super-admin
edits a plan's limits, moves a tenant to another plan), so the application owns them:

- :func:`sync_usage_plans` creates the usage plan of every plan that lacks one and sets
  each one's throttle (``rate_per_second``/``burst``) and quota (``requests_per_day`` per
  ``DAY``). The local bootstrap runs it against moto; in AWS infra runs it once after a
  deploy with the API's id and stage (``python -m chalicelib.cli usage-plans sync``),
  and the plans API runs it when a plan's limits change. A usage plan created later
  takes the API stages of the ones already there.
- :func:`ensure_tenant_key` (a provisioning step) creates the tenant's key, named after
  the tenant, and attaches it to its plan's usage plan; :func:`attach_key` moves it when
  the tenant's plan changes. Both are idempotent: they look before they create.

Names carry the app and stage (``tenant-platform-prod-plan-free``,
``tenant-platform-prod-tenant-<uuid>``) so stages sharing an account never mix. The
client never holds its key: the authorizer (``ratelimit/authorizer.py``) returns it as
``usageIdentifierKey`` for each request.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from botocore.exceptions import ClientError

from chalicelib import aws, clock
from chalicelib.errors import ServiceUnavailableError
from chalicelib.ratelimit.bucket import PLATFORM_LIMITS, RateLimits
from chalicelib.settings import get_settings

# Super-admins acting inside a tenant carry no tenant claim: their requests are counted
# under this usage plan and its one key, apart from every tenant's.
PLATFORM_PLAN = "platform"
TENANT_PLAN_PREFIX = "tenant-"


def _prefix() -> str:
    settings = get_settings()
    return f"{settings.app_name}-{settings.stage}"


def usage_plan_name(plan: str) -> str:
    return f"{_prefix()}-plan-{plan}"


def tenant_plan_name(tenant_id: UUID) -> str:
    """The plan name of a usage plan of the tenant's own (its overrides change its rate limits)."""
    return f"{TENANT_PLAN_PREFIX}{tenant_id}"


def tenants_with_own_usage_plans() -> list[UUID]:
    found = []
    for plan in managed_usage_plans():
        if plan.startswith(TENANT_PLAN_PREFIX):
            try:
                found.append(UUID(plan[len(TENANT_PLAN_PREFIX):]))
            except ValueError:
                continue
    return found


def tenant_key_name(tenant_id: UUID) -> str:
    return f"{_prefix()}-tenant-{tenant_id}"


def platform_key_name() -> str:
    return f"{_prefix()}-platform"


def _apigateway() -> Any:
    return aws.client("apigateway")


def _pages(operation: str, **params: Any) -> Iterator[dict[str, Any]]:
    yield from (item for page in _apigateway().get_paginator(operation).paginate(**params)
                for item in page.get("items", []))


def managed_usage_plans() -> dict[str, dict[str, Any]]:
    """This stage's usage plans, by plan name."""
    head = usage_plan_name("")
    return {p["name"][len(head):]: p for p in _pages("get_usage_plans") if p.get("name", "").startswith(head)}


def _rate(value: float) -> str:
    # A whole rate is written without ".0": moto's update_usage_plan parses it with int().
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _patch(limits: RateLimits) -> list[dict[str, str]]:
    return [
        {"op": "replace", "path": "/throttle/rateLimit", "value": _rate(limits.rate_per_second)},
        {"op": "replace", "path": "/throttle/burstLimit", "value": str(limits.burst)},
        {"op": "replace", "path": "/quota/limit", "value": str(limits.requests_per_day)},
        {"op": "replace", "path": "/quota/period", "value": "DAY"},
    ]


def _matches(usage_plan: dict[str, Any], limits: RateLimits) -> bool:
    throttle, quota = usage_plan.get("throttle") or {}, usage_plan.get("quota") or {}
    return (float(throttle.get("rateLimit", -1)) == float(limits.rate_per_second)
            and int(throttle.get("burstLimit", -1)) == limits.burst
            and int(quota.get("limit", -1)) == limits.requests_per_day and quota.get("period") == "DAY")


def sync_usage_plans(plans: Mapping[str, RateLimits],
                     api_stages: Sequence[tuple[str, str]] | None = None) -> dict[str, str]:
    """Make each plan's usage plan exist with its limits (and the platform's); plan -> id.

    ``api_stages`` ((rest api id, stage) pairs) are added to every usage plan; without
    them, new usage plans take the stages of the existing ones.
    """
    existing = managed_usage_plans()
    wanted = {**plans, PLATFORM_PLAN: PLATFORM_LIMITS}
    stages = [{"apiId": a, "stage": s} for a, s in api_stages or ()]
    if not stages:
        stages = next((list(p["apiStages"]) for p in existing.values() if p.get("apiStages")), [])
    ids: dict[str, str] = {}
    for plan, limits in wanted.items():
        current = existing.get(plan)
        if current is None:
            created = _apigateway().create_usage_plan(
                name=usage_plan_name(plan), description=f"Rate limits of the {plan} plan", apiStages=stages,
                throttle={"rateLimit": float(limits.rate_per_second), "burstLimit": limits.burst},
                quota={"limit": limits.requests_per_day, "period": "DAY"}, tags={"plan": plan})
            ids[plan] = created["id"]
            continue
        ids[plan] = current["id"]
        if not _matches(current, limits):
            _apigateway().update_usage_plan(usagePlanId=current["id"], patchOperations=_patch(limits))
        have = {(s["apiId"], s["stage"]) for s in current.get("apiStages") or ()}
        missing = [s for s in stages if (s["apiId"], s["stage"]) not in have]
        if missing:
            _apigateway().update_usage_plan(usagePlanId=current["id"], patchOperations=[
                {"op": "add", "path": "/apiStages", "value": f"{s['apiId']}:{s['stage']}"} for s in missing])
    return ids


def find_key(name: str) -> dict[str, Any] | None:
    """The API key called exactly ``name`` (with its value), the oldest if a race made two."""
    found = [k for k in _pages("get_api_keys", nameQuery=name, includeValues=True) if k.get("name") == name]
    found.sort(key=lambda k: (k.get("createdDate") or datetime.min.replace(tzinfo=UTC), k["id"]))
    return found[0] if found else None


def _ensure_key(name: str, tags: dict[str, str]) -> dict[str, Any]:
    key = find_key(name)
    if key is not None:
        return key
    _apigateway().create_api_key(name=name, enabled=True, tags=tags,
                                 description="Selected by the authorizer; never handed to a client")
    # Read back rather than trust the create: a concurrent resume may have made one too,
    # and every caller must settle on the same (oldest) key.
    settled = find_key(name)
    if settled is None:
        raise RuntimeError("the API key just created cannot be found")
    return settled


def attach_key(key_id: str, plan: str) -> None:
    """Make ``plan``'s usage plan the one usage plan holding the key (idempotent).

    API Gateway refuses a key in two usage plans of the same API stage, so the key
    leaves its other usage plans first. A usage plan missing for ``plan`` is an error:
    plans get theirs from :func:`sync_usage_plans` before any tenant uses them.
    """
    plans = managed_usage_plans()
    target = plans.get(plan)
    if target is None:
        raise LookupError(f"no usage plan for plan {plan!r}; sync the usage plans first")
    holding = {p["id"] for p in _pages("get_usage_plans", keyId=key_id)}
    for other in holding - {target["id"]}:
        if other in {p["id"] for p in plans.values()}:
            _apigateway().delete_usage_plan_key(usagePlanId=other, keyId=key_id)
    if target["id"] not in holding:
        try:
            _apigateway().create_usage_plan_key(usagePlanId=target["id"], keyId=key_id, keyType="API_KEY")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise


def ensure_tenant_key(tenant_id: UUID, plan: str) -> str:
    """The tenant's API key (created if missing), attached to ``plan``'s usage plan; its id."""
    key = _ensure_key(tenant_key_name(tenant_id), {"tenant_id": str(tenant_id)})
    attach_key(key["id"], plan)
    return str(key["id"])


def ensure_platform_key() -> str:
    key = _ensure_key(platform_key_name(), {"scope": "platform"})
    attach_key(key["id"], PLATFORM_PLAN)
    return str(key["id"])


def requests_today(tenant_id: UUID, today: datetime | None = None) -> int:
    """Requests API Gateway counted today (UTC) against the tenant's key in its usage plan."""
    day = (today or clock.now()).strftime("%Y-%m-%d")
    try:
        key = find_key(tenant_key_name(tenant_id))
        if key is None:
            return 0
        used = 0
        for usage_plan in _pages("get_usage_plans", keyId=key["id"]):
            usage = _apigateway().get_usage(usagePlanId=usage_plan["id"], keyId=key["id"], startDate=day,
                                            endDate=day)
            used += sum(int(day_usage[0]) for day_usage in (usage.get("items") or {}).get(key["id"], []))
        return used
    except ClientError as exc:
        # API Gateway's management API allows a few calls a second per account.
        raise ServiceUnavailableError("request counts are unavailable right now; retry shortly",
                                      headers={"Retry-After": "5"}) from exc
