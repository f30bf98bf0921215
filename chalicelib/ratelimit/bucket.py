"""The limiter's arithmetic: a token bucket and a per-UTC-day counter, with the time passed in.

Nothing here reads a clock, takes a lock or knows a tenant: the limiter does that, so
this can be tested with exact numbers.

A tenant's bucket holds at most ``burst`` tokens and refills at ``rate_per_second``;
a request takes one token. The daily counter counts the requests let through since
00:00 UTC, which is the day API Gateway's usage-plan quota (period ``DAY``) counts in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class RateLimits:
    """A tenant's rate limits, from its plan and overrides (the effective limits)."""

    rate_per_second: float
    burst: int
    requests_per_day: int


# Super-admins acting inside tenants are limited under these, apart from every tenant
# (in-process and in the platform usage plan).
PLATFORM_LIMITS = RateLimits(rate_per_second=50.0, burst=100, requests_per_day=1_000_000)

# The ``overflow`` usage plan's throttle (no quota): API Gateway's default account-level
# throttle per Region, so it never refuses what the distributed limiter lets through.
OVERFLOW_RATE_PER_SECOND = 10_000.0
OVERFLOW_BURST = 5_000


@dataclass(frozen=True)
class Decision:
    """The answer for one request, and the figures its RateLimit-* headers report.

    ``limit``/``remaining``/``reset_seconds`` describe whichever policy is closer to
    running out (the burst bucket or the daily quota); ``retry_after`` is set only when
    the request is refused.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int | None = None

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def day_of(now: float) -> int:
    """The UTC day number of epoch time ``now``."""
    return int(now // SECONDS_PER_DAY)


def seconds_to_midnight(now: float) -> int:
    """Whole seconds until the next 00:00 UTC (at least 1)."""
    return max(1, math.ceil((day_of(now) + 1) * SECONDS_PER_DAY - now))


class TenantBucket:
    """One tenant's state: tokens, when they were last refilled, and today's count."""

    __slots__ = ("tokens", "updated", "day", "count")

    def __init__(self, limits: RateLimits, now: float) -> None:
        self.tokens = float(limits.burst)
        self.updated = now
        self.day = day_of(now)
        self.count = 0

    def _refill(self, limits: RateLimits, now: float) -> None:
        elapsed = max(0.0, now - self.updated)  # a clock stepping back refills nothing
        self.tokens = min(float(limits.burst), self.tokens + elapsed * limits.rate_per_second)
        self.updated = max(self.updated, now)
        today = day_of(now)
        if today != self.day:
            self.day, self.count = today, 0

    def requests_today(self, now: float) -> int:
        return self.count if day_of(now) == self.day else 0

    def take(self, limits: RateLimits, now: float) -> Decision:
        """Let one request through (taking a token and counting it) or refuse it."""
        self._refill(limits, now)
        to_midnight = seconds_to_midnight(now)
        if self.count >= limits.requests_per_day:
            return Decision(False, limits.requests_per_day, 0, to_midnight, to_midnight)
        if self.tokens < 1.0:
            wait = self._seconds_for(1.0 - self.tokens, limits)
            return Decision(False, limits.burst, 0, self._seconds_for(limits.burst - self.tokens, limits), wait)
        self.tokens -= 1.0
        self.count += 1
        bucket_remaining = math.floor(self.tokens)
        day_remaining = limits.requests_per_day - self.count
        if day_remaining < bucket_remaining:
            return Decision(True, limits.requests_per_day, day_remaining, to_midnight)
        return Decision(True, limits.burst, bucket_remaining,
                        self._seconds_for(limits.burst - self.tokens, limits))

    @staticmethod
    def _seconds_for(tokens: float, limits: RateLimits) -> int:
        """Whole seconds (at least 1) until ``tokens`` more tokens have dripped in."""
        if tokens <= 0:
            return 0
        if limits.rate_per_second <= 0:
            return SECONDS_PER_DAY
        return max(1, math.ceil(tokens / limits.rate_per_second))
