"""The tenant credential cache: one AssumeRole per tenant, reused until near expiry, bounded."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from chalicelib.tenancy.credentials import SingleFlightLRU, TenantCredentialCache

ROLE = "arn:aws:iam::123456789012:role/tenant-data"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class FakeSts:
    """Answers AssumeRole like STS: fresh keys that expire ``DurationSeconds`` from the clock."""

    def __init__(self, clock: Clock, gate: threading.Event | None = None) -> None:
        self.clock = clock
        self.calls: list[dict[str, Any]] = []
        self.gate = gate
        self.fail_next = False
        self._lock = threading.Lock()

    def assume_role(self, **params: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(params)
            number = len(self.calls)
        if self.gate is not None:
            assert self.gate.wait(timeout=30)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("sts is throttling")
        return {"Credentials": {
            "AccessKeyId": f"ASIA{number:016d}", "SecretAccessKey": f"secret-{number}",
            "SessionToken": f"token-{number}",
            "Expiration": self.clock() + timedelta(seconds=params["DurationSeconds"]),
        }}

    def tenants(self) -> list[str]:
        return [call["Tags"][0]["Value"] for call in self.calls]


def cache_with(clock: Clock, sts: FakeSts, **options: Any) -> TenantCredentialCache:
    return TenantCredentialCache(lambda: sts, ROLE, clock=clock, **options)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sts(clock: Clock) -> FakeSts:
    return FakeSts(clock)


def test_assume_role_names_the_role_and_tags_the_session_with_the_tenant(clock, sts):
    tenant = uuid4()
    credentials = cache_with(clock, sts, duration_seconds=1800).get(tenant)
    assert sts.calls == [{
        "RoleArn": ROLE, "RoleSessionName": f"tenant-{tenant}", "DurationSeconds": 1800,
        "Tags": [{"Key": "tenant_id", "Value": str(tenant)}], "TransitiveTagKeys": ["tenant_id"],
    }]
    assert credentials.tenant_id == tenant and credentials.access_key == "ASIA0000000000000001"
    assert credentials.expiration == START + timedelta(seconds=1800)
    assert "secret" not in repr(credentials) and "token" not in repr(credentials)


def test_one_assume_role_serves_every_later_request_of_the_tenant(clock, sts):
    cache, tenant = cache_with(clock, sts), uuid4()
    first = cache.get(tenant)
    for minute in range(54):
        clock.now = START + timedelta(minutes=minute)
        assert cache.get(tenant) is first
    assert len(sts.calls) == 1


def test_credentials_are_refreshed_five_minutes_before_they_expire(clock, sts):
    cache, tenant = cache_with(clock, sts, duration_seconds=3600), uuid4()
    first = cache.get(tenant)
    clock.now = first.expiration - timedelta(minutes=5, seconds=1)
    assert cache.get(tenant) is first
    clock.now = first.expiration - timedelta(minutes=5)
    second = cache.get(tenant)
    assert second.access_key != first.access_key and len(sts.calls) == 2
    assert second.expiration == clock.now + timedelta(hours=1)


def test_a_caller_can_ask_for_credentials_that_live_longer(clock, sts):
    cache, tenant = cache_with(clock, sts), uuid4()
    first = cache.get(tenant)
    clock.now = first.expiration - timedelta(minutes=10)
    assert cache.get(tenant) is first
    assert cache.get(tenant, at_least=timedelta(minutes=15)) is not first
    with pytest.raises(ValueError):
        cache.get(tenant, at_least=timedelta(hours=2))


def test_each_tenant_gets_its_own_credentials(clock, sts):
    cache, a, b = cache_with(clock, sts), uuid4(), uuid4()
    assert cache.get(a).access_key != cache.get(b).access_key
    assert cache.get(a) is cache.get(a) and sts.tenants() == [str(a), str(b)]


def test_the_cache_is_bounded_and_evicts_the_least_recently_used_tenant(clock, sts):
    cache = cache_with(clock, sts, max_tenants=2)
    a, b, c = uuid4(), uuid4(), uuid4()
    cache.get(a)
    cache.get(b)
    cache.get(a)  # a is now the most recently used
    cache.get(c)  # evicts b
    assert set(cache.cached_tenants()) == {a, c}
    cache.get(a)
    cache.get(b)  # b again costs an AssumeRole; that evicts c
    assert sts.tenants() == [str(a), str(b), str(c), str(b)]
    assert set(cache.cached_tenants()) == {a, b}


def test_concurrent_first_use_of_a_tenant_makes_one_assume_role(clock):
    gate = threading.Event()
    sts = FakeSts(clock, gate)
    cache, tenant = cache_with(clock, sts), uuid4()
    threads = 12
    arrived = threading.Barrier(threads + 1)
    results: list[Any] = []

    def use() -> None:
        arrived.wait()
        results.append(cache.get(tenant))

    workers = [threading.Thread(target=use) for _ in range(threads)]
    for worker in workers:
        worker.start()
    arrived.wait()
    # Every thread is now inside get() or about to be; the one AssumeRole is held open
    # until the first caller is in it, so the others find it in flight.
    # Bounded: a caller that fails before reaching AssumeRole fails the test instead of hanging it.
    for _ in range(30_000):
        if sts.calls:
            break
        threading.Event().wait(0.001)
    gate.set()
    for worker in workers:
        worker.join(timeout=30)
    assert len(sts.calls) == 1
    assert len(results) == threads and all(r is results[0] for r in results)


def test_concurrent_misses_of_different_tenants_do_not_wait_for_each_other(clock):
    gate = threading.Event()
    sts = FakeSts(clock, gate)
    cache, slow, quick = cache_with(clock, sts), uuid4(), uuid4()
    blocked = threading.Thread(target=cache.get, args=(slow,))
    blocked.start()
    while not sts.calls:
        threading.Event().wait(0.001)
    sts.gate = None  # the next AssumeRole answers at once
    assert cache.get(quick).tenant_id == quick  # while the first one is still held
    gate.set()
    blocked.join(timeout=30)
    assert sts.tenants() == [str(slow), str(quick)]


def test_a_failed_assume_role_reaches_the_caller_and_caches_nothing(clock, sts):
    cache, tenant = cache_with(clock, sts), uuid4()
    sts.fail_next = True
    with pytest.raises(RuntimeError, match="throttling"):
        cache.get(tenant)
    assert cache.cached_tenants() == []
    assert cache.get(tenant).tenant_id == tenant and len(sts.calls) == 2


def test_string_expirations_from_a_json_answer_are_understood(clock):
    class JsonSts(FakeSts):
        def assume_role(self, **params: Any) -> dict[str, Any]:
            answer = super().assume_role(**params)
            answer["Credentials"]["Expiration"] = "2026-01-01T13:00:00Z"
            return answer

    credentials = cache_with(clock, JsonSts(clock)).get(uuid4())
    assert credentials.expiration == datetime(2026, 1, 1, 13, 0, tzinfo=UTC)


def test_a_refresh_margin_as_long_as_the_credentials_is_refused(clock, sts):
    with pytest.raises(ValueError):
        cache_with(clock, sts, duration_seconds=900, refresh_margin=timedelta(minutes=15))


def test_the_single_flight_lru_refuses_a_zero_bound():
    with pytest.raises(ValueError):
        SingleFlightLRU[UUID, int](0)
