"""The usage-key authorizer when API Gateway's management API is throttled.

The failure this prevents: every authorizer container filling its cache with
``GetApiKeys`` after a deploy, against a management API that allows a few calls a second
per account; throttled calls were unhandled, so a cold fleet failed every request of
every tenant. Keys are now read from the registry, and a refresh that fails serves the
cached value, stale but bounded, with backoff, and says so (log and metric).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws, clock, metrics
from chalicelib.ratelimit import authorizer, key_records, usage_plans
from tests.conftest import body_of

ADMIN = "platform_admin"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/api/tenant"


class Throttle:
    """A botocore hook that answers chosen calls with a throttling error, and counts them."""

    def __init__(self, operation: str, code: str) -> None:
        self.operation, self.code = operation, code
        self.on = False
        self.calls = 0

    def __call__(self, model: Any = None, **_: Any) -> None:
        if model is not None and model.name == self.operation:
            self.calls += 1
            if self.on:
                raise ClientError({"Error": {"Code": self.code, "Message": "Rate exceeded"}}, self.operation)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def management_api() -> Any:
    # On the process's API Gateway client: every management call of the app goes through it.
    throttle = Throttle("GetApiKeys", "TooManyRequestsException")
    events = aws.client("apigateway").meta.events
    events.register("before-call.apigateway", throttle)
    yield throttle
    events.unregister("before-call.apigateway", throttle)


@pytest.fixture
def moved() -> Any:
    now = Monotonic()
    with clock.use(monotonic=now):
        yield now


def provision(client: Any, slug: str = "rapid") -> str:
    response = client.request("POST", "/api/admin/tenants", role=ADMIN, body={
        "slug": slug, "name": slug.title(), "display_name": slug.title(), "admin_email": f"owner@{slug}.example",
        "plan": "free"})
    assert response.status_code == 201, response.body
    return str(body_of(response)["id"])


def answer(tokens: Any, tenant_id: str) -> dict[str, Any]:
    return authorizer.usage_key_response(f"Bearer {tokens.token(tenant=tenant_id)}", METHOD_ARN)


def staleness_points() -> list[dict[str, Any]]:
    return [m for m in metrics.summary()["metrics"] if m["name"] == "ApiKeyStaleness"]


def test_a_cold_authorizer_reads_recorded_keys_without_the_management_api(client, tokens, management_api):
    # Given a provisioned tenant (its key recorded in the registry) and a throttled management API
    tenant_id = provision(client)
    value = key_records.get(usage_plans.tenant_key_name(UUID(tenant_id))).value
    authorizer.key_values.clear()
    management_api.on, management_api.calls = True, 0
    # When a cold authorizer answers for it
    result = answer(tokens, tenant_id)
    # Then it selected the key without asking API Gateway at all
    assert result["usageIdentifierKey"] == value
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert management_api.calls == 0


def test_a_throttled_management_api_is_answered_from_the_cache_stale_and_reported(
        client, tokens, management_api, moved, caplog):
    # Given a key with no registry record (made before records were kept): the authorizer
    # reads it from API Gateway and caches it
    tenant_id = provision(client)
    name = usage_plans.tenant_key_name(UUID(tenant_id))
    value = key_records.get(name).value
    key_records.delete(name)
    authorizer.key_values.clear()
    metrics.reset()
    assert answer(tokens, tenant_id)["usageIdentifierKey"] == value
    assert key_records.get(name) is None  # the authorizer only reads the registry
    # When the cache entry has expired and the management API is throttled
    moved.now += authorizer.KEY_CACHE_SECONDS + 1
    management_api.on, management_api.calls = True, 0
    stale = answer(tokens, tenant_id)
    # Then the tenant's requests still get its key, and the staleness is logged and measured
    assert stale["usageIdentifierKey"] == value and stale["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert management_api.calls == 1
    assert any(r.getMessage() == "api key served stale" for r in caplog.records)
    assert [p["count"] for p in staleness_points()] == [1]
    assert authorizer.key_values.stale() == {name: 0.0}
    # And within the backoff it does not call the throttled API again; the age grows
    moved.now += authorizer.FIRST_BACKOFF_SECONDS / 2
    assert answer(tokens, tenant_id)["usageIdentifierKey"] == value
    assert management_api.calls == 1
    assert staleness_points()[0]["max"] == pytest.approx(authorizer.FIRST_BACKOFF_SECONDS / 2 * 1000)
    # After the backoff it tries again (still throttled: still stale, backoff doubled)
    moved.now += authorizer.FIRST_BACKOFF_SECONDS
    assert answer(tokens, tenant_id)["usageIdentifierKey"] == value
    assert management_api.calls == 2
    # When the API answers again, the value is fresh and nothing is stale any more
    management_api.on = False
    moved.now += authorizer.MAX_BACKOFF_SECONDS
    assert answer(tokens, tenant_id)["usageIdentifierKey"] == value
    assert authorizer.key_values.stale() == {}


def test_staleness_is_bounded(client, tokens, management_api, moved):
    tenant_id = provision(client)
    name = usage_plans.tenant_key_name(UUID(tenant_id))
    key_records.delete(name)
    authorizer.key_values.clear()
    answer(tokens, tenant_id)
    management_api.on = True
    moved.now += authorizer.KEY_CACHE_SECONDS + 1
    answer(tokens, tenant_id)  # stale from now on
    # Past the bound, the authorizer fails (API Gateway answers 500) rather than guess forever
    moved.now += authorizer.MAX_STALE_SECONDS + 1
    with pytest.raises(RuntimeError, match="unavailable"):
        answer(tokens, tenant_id)


def test_with_nothing_cached_a_throttled_lookup_fails_the_authorizer(client, tokens, management_api):
    tenant_id = provision(client)
    key_records.delete(usage_plans.tenant_key_name(UUID(tenant_id)))
    authorizer.key_values.clear()
    management_api.on = True
    with pytest.raises(ClientError):
        answer(tokens, tenant_id)


def test_a_throttled_registry_is_answered_from_the_cache_too(client, tokens, moved):
    tenant_id = provision(client)
    value = key_records.get(usage_plans.tenant_key_name(UUID(tenant_id))).value
    authorizer.key_values.clear()
    assert answer(tokens, tenant_id)["usageIdentifierKey"] == value
    throttle = Throttle("GetItem", "ProvisionedThroughputExceededException")
    throttle.on = True
    aws.install_session_hook("before-call.dynamodb", throttle)
    try:
        moved.now += authorizer.KEY_CACHE_SECONDS + 1
        assert answer(tokens, tenant_id)["usageIdentifierKey"] == value
    finally:
        aws.remove_session_hook("before-call.dynamodb", throttle)
    assert throttle.calls >= 1 and authorizer.key_values.stale()
