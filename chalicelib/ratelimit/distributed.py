"""The distributed per-tenant limiter: one registry item per bucket, updated conditionally.

Every Lambda container shares it, so a tenant's limits hold across the fleet (the
in-process limiter counts per container), and it has no per-account quota to outgrow:
API Gateway caps usage plans at 300 and keys at 10,000 per account and Region; this is
one small item per tenant in a table that scales by partition.

The algorithm is GCRA, the token bucket of ``bucket.py`` written as one timestamp: the
bucket's theoretical arrival time ``tat`` (microseconds). A request is allowed when
``max(tat, now) + T - now <= burst * T`` (``T`` = 1 / rate) and then sets
``tat = max(tat, now) + T``. DynamoDB's update expressions have no ``max``, so the two
cases are two conditional updates, and the day's count rides in the same write:

- busy (``now <= tat <= now + (burst - 1) T``): ``SET tat = tat + T`` (one write);
- idle (``tat < now`` or no item yet): ``SET tat = now + T``;
- each also adds one to ``n<UTC day>`` on condition that it is under ``requests_per_day``,
  removes yesterday's count, and sets ``expires_at`` (idle buckets expire by TTL).

Which case is tried first comes from this process's last sight of the bucket (its
``tat`` after our last write, a bounded map): most tenants send slower than their rate,
so their bucket is idle at each request. When the guess is wrong (another container
wrote since), the failed condition returns the old item, which says which case applies
or that the request is refused: an allowed request costs one write, two on a wrong
guess, and a refused one costs one. The update is atomic, so racing
containers never both take the last token. When DynamoDB cannot answer (throttled after
the SDK's retries), the request is let through and logged: the usage plan's throttle in
front of the Lambda still bounds the tenant.

The item lives in the registry (``RATE#<bucket>``), which tenant-scoped access never
reaches: a tenant cannot reset its own budget.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.caches import TtlCache
from chalicelib.logs import get_logger
from chalicelib.ratelimit.bucket import SECONDS_PER_DAY, Decision, RateLimits, day_of, seconds_to_midnight
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.schema import TTL_ATTRIBUTE

Clock = Callable[[], float]
MICROS = 1_000_000
# An idle bucket's item expires after two days (the day's count must outlive the day).
EXPIRY_SECONDS = 2 * SECONDS_PER_DAY
MAX_ATTEMPTS = 3
# Buckets whose last ``tat`` this process remembers (to guess the case): ~100 bytes each.
HINTS = 10_000

log = get_logger(__name__)


def _interval(limits: RateLimits) -> int:
    """Microseconds between tokens (a rate of zero: one a day)."""
    if limits.rate_per_second <= 0:
        return SECONDS_PER_DAY * MICROS
    return max(1, math.ceil(MICROS / limits.rate_per_second))


def _count_name(day: int) -> str:
    return f"n{day}"


class DynamoLimiter:
    """``take`` and ``requests_today`` over the registry table; counts its DynamoDB calls."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self.calls = 0
        # Each bucket's last seen theoretical arrival time: a hint, bounded (CACHE_SIZE_RATE_LIMIT_HINTS).
        self._seen: TtlCache[UUID, int] = TtlCache(HINTS, name="rate_limit_hints")

    def _guess(self, bucket: UUID, now_us: int) -> str:
        _, tat = self._seen.get(bucket)
        return "busy" if tat is not None and tat >= now_us else "idle"

    def _remember(self, bucket: UUID, tat: int) -> None:
        self._seen.put(bucket, tat)

    def _key(self, bucket: UUID) -> dict[str, Any]:
        return {"pk": {"S": keys.rate_pk(bucket)}, "sk": {"S": keys.RATE_SK}}

    def take(self, bucket: UUID, limits: RateLimits) -> Decision:
        """Count one request in ``bucket`` against ``limits``: let it through or refuse it."""
        now = self._clock()
        now_us, interval = int(now * MICROS), _interval(limits)
        tolerance = (limits.burst - 1) * interval
        day = day_of(now)
        case = self._guess(bucket, now_us)
        for _ in range(MAX_ATTEMPTS):
            try:
                new = self._update(bucket, case, limits, now_us, interval, tolerance, day, now)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    return self._unavailable(bucket, limits, exc)
                old = exc.response.get("Item") or {}
                tat = int(old["tat"]["N"]) if "tat" in old else None
                if tat is not None:
                    self._remember(bucket, tat)
                count = int(old.get(_count_name(day), {}).get("N", 0))
                if count >= limits.requests_per_day:
                    to_midnight = seconds_to_midnight(now)
                    return Decision(False, limits.requests_per_day, 0, to_midnight, to_midnight)
                if tat is not None and tat > now_us + tolerance:
                    wait = max(1, math.ceil((tat - tolerance - now_us) / MICROS))
                    return Decision(False, limits.burst, 0, max(1, math.ceil((tat - now_us) / MICROS)), wait)
                case = "idle" if tat is None or tat < now_us else "busy"
                continue
            except BotoCoreError as exc:
                return self._unavailable(bucket, limits, exc)
            tat = int(new["tat"]["N"])
            self._remember(bucket, tat)
            return self._allowed(limits, now, now_us, interval, tat, int(new[_count_name(day)]["N"]))
        # Lost the race MAX_ATTEMPTS times: others are taking this bucket's tokens right now.
        return Decision(False, limits.burst, 0, 1, 1)

    def _update(self, bucket: UUID, case: str, limits: RateLimits, now_us: int, interval: int, tolerance: int,
                day: int, now: float) -> dict[str, Any]:
        under_quota = "(attribute_not_exists(#today) OR #today < :quota)"
        if case == "busy":
            setting, condition = "tat = tat + :t", f"tat BETWEEN :now AND :edge AND {under_quota}"
            values = {":t": {"N": str(interval)}, ":now": {"N": str(now_us)},
                      ":edge": {"N": str(now_us + tolerance)}}
        else:
            setting, condition = "tat = :next", f"(attribute_not_exists(tat) OR tat < :now) AND {under_quota}"
            values = {":next": {"N": str(now_us + interval)}, ":now": {"N": str(now_us)}}
        self.calls += 1
        answer = aws.client("dynamodb").update_item(
            TableName=get_settings().registry_table, Key=self._key(bucket),
            UpdateExpression=f"SET {setting}, #today = if_not_exists(#today, :zero) + :one, #exp = :exp "
                             "REMOVE #yesterday",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#today": _count_name(day), "#yesterday": _count_name(day - 1),
                                      "#exp": TTL_ATTRIBUTE},
            ExpressionAttributeValues={**values, ":zero": {"N": "0"}, ":one": {"N": "1"},
                                       ":quota": {"N": str(limits.requests_per_day)},
                                       ":exp": {"N": str(int(now) + EXPIRY_SECONDS)}},
            ReturnValues="UPDATED_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        return dict(answer["Attributes"])

    @staticmethod
    def _allowed(limits: RateLimits, now: float, now_us: int, interval: int, tat: int, count: int) -> Decision:
        bucket_remaining = max(0, (now_us + limits.burst * interval - tat) // interval)
        day_remaining = limits.requests_per_day - count
        if day_remaining < bucket_remaining:
            return Decision(True, limits.requests_per_day, day_remaining, seconds_to_midnight(now))
        return Decision(True, limits.burst, int(bucket_remaining), max(1, math.ceil((tat - now_us) / MICROS)))

    @staticmethod
    def _unavailable(bucket: UUID, limits: RateLimits, exc: Exception) -> Decision:
        log.warning("rate limiter store unavailable: request let through",
                    extra={"fields": {"bucket": str(bucket), "error": type(exc).__name__}})
        return Decision(True, limits.burst, limits.burst, 1)

    def requests_today(self, bucket: UUID) -> int:
        """Requests let through in ``bucket`` since 00:00 UTC, fleet-wide."""
        name = _count_name(day_of(self._clock()))
        self.calls += 1
        item = aws.client("dynamodb").get_item(
            TableName=get_settings().registry_table, Key=self._key(bucket), ProjectionExpression="#n",
            ExpressionAttributeNames={"#n": name}).get("Item") or {}
        return int(item.get(name, {}).get("N", 0))
