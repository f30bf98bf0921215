"""The Lambda authorizer that selects each request's API key, so clients never hold one.

In AWS (``RATE_LIMIT_MODE=usage_plans``) every tenant route has this authorizer and
``apiKeyRequired``; the REST API's API key source is ``AUTHORIZER`` (set by infra:
Chalice has no option for it). API Gateway then meters the request under the key this
function returns as ``usageIdentifierKey``, in that key's usage plan: the tenant's plan.

Why a Chalice built-in authorizer returning the raw response: Chalice's ``AuthResponse``
(1.34) has no ``usageIdentifierKey`` (aws/chalice PR #2129 adds it, unmerged), but a
built-in authorizer may return the response dict itself and Chalice passes it through.
Built-in authorizers are TOKEN authorizers, seeing only the Authorization header; that
is enough, because a tenant's token always carries its tenant claim (auth/tokens.py),
and the result can be cached per token (``AUTHORIZER_TTL_SECONDS``) since the policy
allows the whole API and the key depends on nothing but the token.

The authorizer selects a key; it does not decide access. The route checks the token
again, resolves the tenant from every source and checks status and permission:
- a token that does not verify: ``Unauthorized`` (401 from API Gateway);
- a platform admin's token (no tenant claim): the platform key, its own usage plan;
- a tenant token: the tenant's key; a tenant with no key (not provisioned with one):
  an explicit Deny (403), since without a key API Gateway would refuse it anyway.

Key values come from the registry (``key_records``: one ``GetItem``, written when the key
was made), not from API Gateway's management API: that API is throttled to a few calls a
second per account, and a cold fleet of authorizers would fail each other. Only a key
with no record yet (the stack's platform key and keys made by earlier versions, until
``usage-plans sync`` records them) is looked up there (``usage_plans.key_value``). Values are cached per container for
``KEY_CACHE_SECONDS`` (a missing one for ``MISSING_KEY_CACHE_SECONDS``).

When a refresh fails (the registry or the management API throttled or unreachable after
the SDK's retries), the cached value is served stale for at most ``MAX_STALE_SECONDS``,
and the failure is retried no sooner than a backoff that doubles up to
``MAX_BACKOFF_SECONDS``: the key of a live tenant never changes (a plan change moves it
between usage plans), so a stale value is right unless the tenant was deleted, which the
route refuses anyway. Each stale answer logs ``api key served stale`` and records the
metric ``ApiKeyStaleness`` (its age); with nothing cached the authorizer fails (500).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chalice import Blueprint, Chalice
from chalice.app import AuthRequest
from pynamodb.exceptions import PynamoDBException

from chalicelib import clock, metrics
from chalicelib.auth.tokens import get_verifier
from chalicelib.errors import UnauthorizedError
from chalicelib.logs import get_logger
from chalicelib.ratelimit import usage_plans
from chalicelib.settings import RateLimitMode, get_settings

AUTHORIZER_NAME = "tenant_usage_key"
AUTHORIZER_TTL_SECONDS = 300
KEY_CACHE_SECONDS = 600
# A missing key is looked up again sooner: provisioning may be making it.
MISSING_KEY_CACHE_SECONDS = 30
KEY_CACHE_SIZE = 10_000
# How long a value may be served after its refresh first failed, and the retry backoff.
MAX_STALE_SECONDS = 3_600
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0

bp = Blueprint(__name__)
log = get_logger(__name__)


@dataclass
class _Entry:
    value: str | None
    fresh_until: float  # monotonic
    stale_since: float | None = None  # when a refresh first failed
    retry_at: float = 0.0
    backoff: float = 0.0


class _KeyValues:
    """API key values by key name: bounded, expiring, thread-safe, served stale (bounded) on failure."""

    def __init__(self) -> None:
        self._values: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> str | None:
        now = clock.monotonic()
        with self._lock:
            hit = self._values.get(name)
            if hit is not None:
                self._values.move_to_end(name)
                if hit.fresh_until > now or (hit.stale_since is not None and hit.retry_at > now):
                    return self._answer(name, hit, now)
        try:
            value = usage_plans.key_value(name)
        except (ClientError, BotoCoreError, PynamoDBException) as exc:
            return self._failed(name, hit, now, exc)
        with self._lock:
            self._values[name] = _Entry(value, now + (KEY_CACHE_SECONDS if value else MISSING_KEY_CACHE_SECONDS))
            while len(self._values) > KEY_CACHE_SIZE:
                self._values.popitem(last=False)
        return value

    def _answer(self, name: str, entry: _Entry, now: float) -> str | None:
        if entry.stale_since is not None:
            age = now - entry.stale_since
            if age > MAX_STALE_SECONDS:
                raise RuntimeError(f"API key {name} unavailable for {int(age)} s")
            metrics.record("ApiKeyStaleness", age * 1000)
            log.warning("api key served stale", extra={"fields": {"key": name, "stale_seconds": round(age, 3)}})
        return entry.value

    def _failed(self, name: str, entry: _Entry | None, now: float, exc: Exception) -> str | None:
        if entry is None or entry.value is None:
            raise exc
        with self._lock:
            if entry.stale_since is None:
                entry.stale_since, entry.backoff = now, FIRST_BACKOFF_SECONDS
            else:
                entry.backoff = min(MAX_BACKOFF_SECONDS, entry.backoff * 2)
            entry.retry_at = now + entry.backoff
        log.warning("api key refresh failed", extra={"fields": {"key": name, "error": type(exc).__name__,
                                                                 "retry_in_seconds": entry.backoff}})
        return self._answer(name, entry, now)

    def stale(self) -> dict[str, float]:
        """Key names served stale now, with the seconds since their refresh first failed."""
        now = clock.monotonic()
        with self._lock:
            return {name: now - e.stale_since for name, e in self._values.items() if e.stale_since is not None}

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


key_values = _KeyValues()


def _policy(effect: str, method_arn: str) -> dict[str, Any]:
    # arn:aws:execute-api:region:account:api-id/stage/METHOD/path: allow (or deny) the
    # whole stage, so a cached answer serves every route of the token's requests.
    api_and_stage = "/".join(method_arn.split("/", 2)[:2])
    return {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [f"{api_and_stage}/*/*"]}]}


def usage_key_response(token: str, method_arn: str) -> dict[str, Any]:
    """The authorizer's answer for the Authorization header value ``token``."""
    try:
        principal = get_verifier(get_settings()).verify_header(token)
    except UnauthorizedError:
        # The one message API Gateway turns into a 401 for a Lambda authorizer. Anything
        # else (the identity provider's keys unreachable) fails the authorizer: a 500.
        raise Exception("Unauthorized") from None
    if principal.tenant_id is None:
        name, context = usage_plans.platform_key_name(), {"scope": "platform"}
    else:
        name, context = usage_plans.tenant_key_name(principal.tenant_id), {"tenant_id": str(principal.tenant_id)}
    value = key_values.get(name)
    if value is None:
        return {"principalId": principal.sub, "policyDocument": _policy("Deny", method_arn),
                "context": {**context, "reason": "no_api_key"}}
    return {"principalId": principal.sub, "policyDocument": _policy("Allow", method_arn),
            "context": context, "usageIdentifierKey": value}


@bp.authorizer(name=AUTHORIZER_NAME, ttl_seconds=AUTHORIZER_TTL_SECONDS)
def select_usage_key(auth_request: AuthRequest) -> dict[str, Any]:
    return usage_key_response(auth_request.token, auth_request.method_arn)


def require_usage_key(app: Chalice, mode: RateLimitMode) -> list[str]:
    """In ``usage_plans`` mode, put every tenant route behind the authorizer with a required
    API key (what ``chalice package`` writes into the API definition); the routes changed.

    Call after every blueprint is registered. Platform and public routes keep no key:
    their callers are not a tenant's, and the public tenant routes have no token.
    """
    if mode != "usage_plans":
        return []
    changed = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            spec = getattr(entry.view_function, "route_spec", None)
            if spec is not None and spec.access == "tenant":
                entry.authorizer = select_usage_key
                entry.api_key_required = True
                changed.append(f"{method} {path}")
    return changed

