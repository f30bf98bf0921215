"""The limiter's arithmetic, with a clock the tests move (never the wall clock)."""
from __future__ import annotations

import threading
import uuid

import pytest

from chalicelib.ratelimit import InProcessLimiter, RateLimits
from chalicelib.ratelimit.bucket import SECONDS_PER_DAY, TenantBucket, seconds_to_midnight

# 2026-11-27T12:00:00Z: mid-day, so a few seconds never cross midnight by accident.
NOON = 1_795_780_800.0
LIMITS = RateLimits(rate_per_second=2.0, burst=4, requests_per_day=1_000)


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_burst_requests_through_then_refuses():
    bucket = TenantBucket(LIMITS, NOON)
    decisions = [bucket.take(LIMITS, NOON) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, True, False]
    assert [d.remaining for d in decisions[:4]] == [3, 2, 1, 0]
    refused = decisions[4]
    assert refused.retry_after == 1 and refused.remaining == 0 and refused.limit == 4
    assert refused.reset_seconds == 2  # 4 tokens at 2 per second


def test_tokens_drip_back_at_the_rate_and_never_past_burst():
    bucket = TenantBucket(LIMITS, NOON)
    for _ in range(4):
        bucket.take(LIMITS, NOON)
    assert not bucket.take(LIMITS, NOON + 0.4).allowed  # 0.8 of a token
    assert bucket.take(LIMITS, NOON + 0.5).allowed  # exactly one
    assert not bucket.take(LIMITS, NOON + 0.5).allowed
    later = bucket.take(LIMITS, NOON + 3600)
    assert later.allowed and later.remaining == 3  # refilled to burst (4), not 7,200


def test_retry_after_is_the_whole_seconds_until_a_token():
    slow = RateLimits(rate_per_second=0.1, burst=1, requests_per_day=1_000)
    bucket = TenantBucket(slow, NOON)
    assert bucket.take(slow, NOON).allowed
    refused = bucket.take(slow, NOON + 2.5)
    assert not refused.allowed and refused.retry_after == 8  # 0.75 token missing at 0.1/s: 7.5 s -> 8
    assert bucket.take(slow, NOON + 10).allowed


def test_the_daily_quota_refuses_until_midnight_utc_then_starts_again():
    daily = RateLimits(rate_per_second=100.0, burst=100, requests_per_day=3)
    bucket = TenantBucket(daily, NOON)
    allowed = [bucket.take(daily, NOON + i) for i in range(3)]
    assert [d.remaining for d in allowed] == [2, 1, 0] and allowed[0].limit == 3  # the tighter policy is shown
    refused = bucket.take(daily, NOON + 3)
    assert not refused.allowed and refused.limit == 3 and refused.remaining == 0
    assert refused.retry_after == refused.reset_seconds == SECONDS_PER_DAY // 2 - 3
    assert bucket.requests_today(NOON + 3) == 3
    tomorrow = NOON + SECONDS_PER_DAY // 2
    assert bucket.requests_today(tomorrow) == 0
    assert bucket.take(daily, tomorrow).allowed


def test_refused_requests_are_not_counted_and_take_no_token():
    bucket = TenantBucket(LIMITS, NOON)
    for _ in range(10):
        bucket.take(LIMITS, NOON)
    assert bucket.requests_today(NOON) == 4


def test_a_clock_stepping_back_refills_nothing():
    bucket = TenantBucket(LIMITS, NOON)
    for _ in range(4):
        bucket.take(LIMITS, NOON)
    assert not bucket.take(LIMITS, NOON - 100).allowed
    assert bucket.take(LIMITS, NOON + 0.5).allowed


def test_new_limits_apply_from_the_next_request():
    bucket = TenantBucket(LIMITS, NOON)
    bucket.take(LIMITS, NOON)  # 3 tokens left
    smaller = RateLimits(rate_per_second=2.0, burst=1, requests_per_day=1_000)
    first = bucket.take(smaller, NOON)
    assert first.allowed and first.limit == 1 and first.remaining == 0  # clamped to the new burst
    assert not bucket.take(smaller, NOON).allowed
    bigger = RateLimits(rate_per_second=2.0, burst=10, requests_per_day=1)
    assert not bucket.take(bigger, NOON + 100).allowed  # two already counted today against a quota of 1


def test_headers_name_the_policy_and_the_wait():
    bucket = TenantBucket(LIMITS, NOON)
    assert bucket.take(LIMITS, NOON).headers() == {
        "RateLimit-Limit": "4", "RateLimit-Remaining": "3", "RateLimit-Reset": "1"}
    for _ in range(3):
        bucket.take(LIMITS, NOON)
    assert bucket.take(LIMITS, NOON).headers() == {
        "RateLimit-Limit": "4", "RateLimit-Remaining": "0", "RateLimit-Reset": "2", "Retry-After": "1"}


@pytest.mark.parametrize("offset,expected", [(0, SECONDS_PER_DAY // 2), (SECONDS_PER_DAY // 2 - 0.2, 1),
                                             (-SECONDS_PER_DAY // 2, SECONDS_PER_DAY)])
def test_seconds_to_midnight(offset, expected):
    assert seconds_to_midnight(NOON + offset) == expected


def test_tenants_have_separate_buckets():
    clock = Clock()
    limiter = InProcessLimiter(100, clock)
    noisy, quiet = uuid.uuid4(), uuid.uuid4()
    assert [limiter.take(noisy, LIMITS).allowed for _ in range(6)] == [True] * 4 + [False] * 2
    assert limiter.take(quiet, LIMITS).remaining == 3
    assert limiter.requests_today(noisy) == 4 and limiter.requests_today(quiet) == 1


def test_memory_is_bounded_least_recently_seen_first():
    clock = Clock()
    limiter = InProcessLimiter(2, clock)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    limiter.take(a, LIMITS)
    limiter.take(b, LIMITS)
    limiter.take(a, LIMITS)  # a is now the most recent
    limiter.take(c, LIMITS)  # evicts b
    assert len(limiter) == 2
    assert limiter.requests_today(a) == 2 and limiter.requests_today(c) == 1
    assert limiter.requests_today(b) == 0


def test_concurrent_requests_of_one_tenant_never_overspend():
    clock = Clock()
    limits = RateLimits(rate_per_second=1.0, burst=100, requests_per_day=10_000)
    limiter = InProcessLimiter(10, clock)
    tenant = uuid.uuid4()
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        results = [limiter.take(tenant, limits).allowed for _ in range(50)]
        with lock:
            allowed.extend(results)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 400 and allowed.count(True) == 100
    assert limiter.requests_today(tenant) == 100


def test_a_limiter_needs_room_for_one_tenant():
    with pytest.raises(ValueError):
        InProcessLimiter(0)
