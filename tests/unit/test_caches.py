"""Per-process caches: bounded by configuration, counted, partitioned by path (issue 20).

The failures these prevent: a cache sized in code that thrashes (or grows) with the
tenants a container serves; a benchmark that cannot see hit ratios; and a scheduled job
that walks every tenant and pushes the request path's working set out of the cache.
"""
from __future__ import annotations

from uuid import uuid4

import pytest

from chalicelib import caches
from chalicelib.caches import TtlCache
from chalicelib.tenancy.credentials import SingleFlightLRU


def test_the_size_comes_from_the_environment(monkeypatch):
    # Given a cache whose code default is 100, configured to 3 (request) and 2 (job)
    monkeypatch.setenv("CACHE_SIZE_SIZED_BY_ENV", "3")
    monkeypatch.setenv("CACHE_SIZE_SIZED_BY_ENV_JOB", "2")
    cache: TtlCache[int, int] = TtlCache(100, name="sized_by_env")
    # When 10 keys are put
    for key in range(10):
        cache.put(key, key)
    # Then 3 are kept, the 7 oldest were evicted, and the stats say so
    assert [cache.get(key)[0] for key in range(10)] == [False] * 7 + [True] * 3
    stats = caches.stats()["sized_by_env"]
    assert stats["request"] == {"hits": 3, "misses": 7, "evictions": 7, "size": 3, "maxsize": 3}
    assert stats["job"]["maxsize"] == 2 and stats["job"]["size"] == 0


def test_the_default_applies_without_configuration_and_a_bad_value_fails(monkeypatch):
    monkeypatch.delenv("CACHE_SIZE_DEFAULTED", raising=False)
    cache: TtlCache[int, int] = TtlCache(40, name="defaulted")
    cache.put(1, 1)
    assert caches.stats()["defaulted"]["request"]["maxsize"] == 40
    assert caches.stats()["defaulted"]["job"]["maxsize"] == 16  # a quarter, at least 16
    monkeypatch.setenv("CACHE_SIZE_DEFAULTED", "0")
    cache.clear()  # a new container reads the size again
    with pytest.raises(ValueError, match="CACHE_SIZE_DEFAULTED"):
        cache.put(1, 1)


def test_the_job_path_does_not_evict_the_request_paths_entries(monkeypatch):
    # Given a request working set that fills its partition
    monkeypatch.setenv("CACHE_SIZE_WORKING_SET", "4")
    cache: TtlCache[str, str] = TtlCache(4, name="working_set")
    for key in "abcd":
        cache.put(key, key)
    # When a job walks 100 tenants through the same cache
    with caches.using_job_path():
        for n in range(100):
            cache.get_or_load(f"tenant-{n}", lambda n=n: str(n))
    # Then every request entry is still there, and the job's evictions were its own
    assert [cache.get(key) for key in "abcd"] == [(True, key) for key in "abcd"]
    stats = caches.stats()["working_set"]
    assert stats["request"]["evictions"] == 0 and stats["job"]["evictions"] == 100 - stats["job"]["maxsize"]


def test_an_invalidation_reaches_both_partitions():
    cache: TtlCache[str, int] = TtlCache(8, name="invalidated")
    cache.put("t", 1)
    with caches.using_job_path():
        cache.put("t", 2)
    cache.pop("t")
    assert cache.get("t") == (False, None)
    with caches.using_job_path():
        assert cache.get("t") == (False, None)


def test_the_single_flight_caches_are_bounded_counted_and_partitioned(monkeypatch):
    # Given the tenant client sets' cache, configured to 2 entries
    monkeypatch.setenv("CACHE_SIZE_FLIGHTS", "2")
    lru: SingleFlightLRU[str, int] = SingleFlightLRU(50, "flights")
    for key in ("a", "b"):
        lru.get(key, lambda: 1)
    # When a job loads three other tenants, and the request path one more
    with caches.using_job_path():
        for key in ("x", "y", "z"):
            lru.get(key, lambda: 2)
    lru.get("a", lambda: 3)
    # Then the request partition kept its two, the job partition its own bound
    assert lru.peek("a") == 1 and lru.peek("b") == 1
    stats = caches.stats()["flights"]
    assert stats["request"] == {"hits": 1, "misses": 2, "evictions": 0, "size": 2, "maxsize": 2}
    assert stats["job"]["misses"] == 3 and stats["job"]["size"] == 3  # job default: at least 16


def test_a_handler_runs_on_the_job_path():
    seen: list[str] = []

    @caches.job_path
    def handler(_event: object) -> None:
        seen.append(caches.current_path())

    handler(uuid4())
    assert seen == [caches.JOB] and caches.current_path() == caches.REQUEST


def test_every_cache_of_the_app_is_registered_with_stats():
    import app  # noqa: F401 - registers the modules' caches
    from chalicelib.crypto import envelope

    envelope.EnvelopeCodec()
    names = set(caches.stats())
    assert {"tenant_names", "tenant_records", "tenant_roles", "plan_limits", "tenant_overrides",
            "blind_index_secrets", "keyrings"} <= names
