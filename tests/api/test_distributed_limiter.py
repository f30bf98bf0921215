"""The distributed limiter (chalicelib/ratelimit/distributed.py) against moto's DynamoDB:
the same answers as the in-process bucket, shared by every container, exact under races."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.ratelimit import RateLimits
from chalicelib.ratelimit.bucket import SECONDS_PER_DAY
from chalicelib.ratelimit.distributed import DynamoLimiter
from tests.rate_limit_support import NOON, Clock

LIMITS = RateLimits(rate_per_second=2.0, burst=3, requests_per_day=5)


@pytest.fixture
def moved(aws_mock: None) -> Clock:
    return Clock(NOON)


def test_a_bucket_gives_its_burst_then_refuses_until_a_token_drips_in(moved):
    limiter, bucket = DynamoLimiter(moved), uuid.uuid4()
    answers = [limiter.take(bucket, LIMITS) for _ in range(4)]
    assert [a.allowed for a in answers] == [True, True, True, False]
    assert [a.remaining for a in answers] == [2, 1, 0, 0]
    assert answers[-1].retry_after == 1 and answers[-1].limit == 3
    # Half a second later (rate 2/s) one token is back, and only one
    moved.advance(0.5)
    assert [limiter.take(bucket, LIMITS).allowed for _ in range(2)] == [True, False]


def test_the_daily_quota_refuses_until_midnight_and_counts_only_what_it_let_through(moved):
    limiter, bucket = DynamoLimiter(moved), uuid.uuid4()
    generous = RateLimits(rate_per_second=1000.0, burst=1000, requests_per_day=5)
    assert [limiter.take(bucket, generous).allowed for _ in range(7)] == [True] * 5 + [False] * 2
    refused = limiter.take(bucket, generous)
    assert refused.limit == 5 and refused.retry_after == 12 * 3600  # NOON: twelve hours to midnight
    assert limiter.requests_today(bucket) == 5
    moved.advance(SECONDS_PER_DAY)
    assert limiter.take(bucket, generous).allowed and limiter.requests_today(bucket) == 1


def test_every_container_shares_the_bucket(moved):
    bucket = uuid.uuid4()
    first, second = DynamoLimiter(moved), DynamoLimiter(moved)
    assert [first.take(bucket, LIMITS).allowed for _ in range(3)] == [True] * 3
    # Another container (another limiter, nothing in memory) sees the spent burst
    assert second.take(bucket, LIMITS).allowed is False
    assert second.requests_today(bucket) == 3


def test_buckets_are_apart(moved):
    limiter = DynamoLimiter(moved)
    spent, other = uuid.uuid4(), uuid.uuid4()
    for _ in range(3):
        limiter.take(spent, LIMITS)
    assert limiter.take(spent, LIMITS).allowed is False
    assert limiter.take(other, LIMITS).allowed is True


def test_one_write_per_request_and_two_when_another_container_wrote_since(moved):
    limiter, bucket = DynamoLimiter(moved), uuid.uuid4()
    limiter.take(bucket, LIMITS)
    assert limiter.calls == 1  # a new (idle) bucket
    limiter.take(bucket, LIMITS)
    assert limiter.calls == 2  # busy, as this process last saw it
    limiter.take(bucket, LIMITS)
    limiter.take(bucket, LIMITS)
    assert limiter.calls == 4  # the refusal: one (its failed condition returns the item)
    moved.advance(10)
    limiter.take(bucket, LIMITS)
    assert limiter.calls == 5  # idle again: known from the last sight, one
    # A container that never saw the bucket guesses idle, is told it is busy: two
    other = DynamoLimiter(moved)
    assert other.take(bucket, LIMITS).allowed and other.calls == 2


@pytest.fixture
def atomic_items(aws_mock: None) -> Iterator[None]:
    """Each DynamoDB call atomic, as DynamoDB makes a single-item conditional update: moto
    reads, checks and writes an item in steps with no lock, so threads interleave inside
    one call (seen here: 12 of a burst of 10 let through without this)."""
    events, lock = aws.client("dynamodb").meta.events, threading.Lock()

    def enter(**_: Any) -> None:
        lock.acquire()

    def leave(**_: Any) -> None:
        lock.release()

    events.register("before-call.dynamodb", enter)
    events.register("after-call.dynamodb", leave)
    yield
    events.unregister("before-call.dynamodb", enter)
    events.unregister("after-call.dynamodb", leave)


@pytest.mark.usefixtures("atomic_items")
def test_racing_containers_let_through_exactly_the_burst(moved):
    bucket, allowed = uuid.uuid4(), []
    lock = threading.Lock()
    wide = RateLimits(rate_per_second=0.001, burst=10, requests_per_day=1000)

    def container() -> None:
        limiter = DynamoLimiter(moved)
        for _ in range(4):
            decision = limiter.take(bucket, wide)
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=container) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 24 and allowed.count(True) == 10
    assert DynamoLimiter(moved).requests_today(bucket) == 10
