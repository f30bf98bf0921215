"""The kernel's one cursor codec, one cache, one clock and one exception-chain helper.

Each replaced several hand-written copies (issue 16); these tests pin the behaviour the
copies had, so a later change to the shared one cannot quietly loosen a caller.
"""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from chalicelib import caches, clock, cursors, settings
from chalicelib.errors import exception_chain

KEY = {"pk": {"S": "T#a#PRO"}, "sk": {"S": "p-1"}}


def _accept_all(_key: dict[str, str]) -> bool:
    return True


def test_a_cursor_resumes_only_in_the_scope_it_was_made_for(app_env):
    # Given a cursor made for tenant A's listing
    cursor = cursors.encode("tenant:a", KEY)
    # Then it resumes there, and is refused for tenant B with the one error
    assert cursors.decode("tenant:a", cursor, _accept_all) == KEY
    with pytest.raises(cursors.InvalidCursorError) as refused:
        cursors.decode("tenant:b", cursor, _accept_all)
    assert refused.value.status == 400 and refused.value.code == "invalid_cursor"


@pytest.mark.parametrize("cursor", [
    "not base64!",
    base64.urlsafe_b64encode(b"[]").decode(),
    base64.urlsafe_b64encode(json.dumps({"s": "tenant:a"}).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps({"s": "tenant:a", "k": {"pk": {"N": "1"}}}).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps({"s": "tenant:a", "k": {}}).encode()).decode(),
])
def test_a_malformed_cursor_is_the_one_error(cursor, app_env):
    with pytest.raises(cursors.InvalidCursorError):
        cursors.decode("tenant:a", cursor, _accept_all)


def _resigned(cursor: str, payload: dict) -> str:
    """``cursor`` with its payload replaced and its signature kept."""
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=") + "." + cursor.partition(".")[2]


def test_a_cursor_whose_key_or_scope_was_altered_is_refused(app_env):
    # Given a cursor of tenant A's listing
    cursor = cursors.encode("tenant:a", KEY)
    assert cursor
    # When its key or its scope is rewritten, the signature kept
    moved = _resigned(cursor, {"s": "tenant:a", "k": {**KEY, "sk": {"S": "p-9"}}})
    rescoped = _resigned(cursor, {"s": "tenant:b", "k": KEY})
    # Then neither resumes anything, and the original still does
    for forged in (moved, rescoped, cursor.partition(".")[0], cursor + "x"):
        with pytest.raises(cursors.InvalidCursorError):
            cursors.decode("tenant:a", forged, _accept_all)
    with pytest.raises(cursors.InvalidCursorError):
        cursors.decode("tenant:b", rescoped, _accept_all)
    assert cursors.decode("tenant:a", cursor, _accept_all) == KEY


def test_a_cursor_signed_with_another_key_is_refused(app_env, monkeypatch):
    # Given a cursor signed by a deployment with another key
    monkeypatch.setenv("CURSOR_SIGNING_KEY", "another-deployments-key-of-32-bytes-or-more")
    settings.reset_settings()
    foreign = cursors.encode("tenant:a", KEY)
    # When this deployment (the local default key) reads it, it is refused
    monkeypatch.delenv("CURSOR_SIGNING_KEY")
    settings.reset_settings()
    with pytest.raises(cursors.InvalidCursorError):
        cursors.decode("tenant:a", foreign, _accept_all)
    assert cursors.decode("tenant:a", cursors.encode("tenant:a", KEY), _accept_all) == KEY


def test_a_key_the_listing_does_not_make_is_refused(app_env):
    cursor = cursors.encode("tenant:a", KEY)
    with pytest.raises(cursors.InvalidCursorError):
        cursors.decode("tenant:a", cursor, lambda key: key["pk"].startswith("T#b#"))


def test_no_cursor_means_the_first_page_and_no_key_means_the_last(app_env):
    assert cursors.decode("tenant:a", None, _accept_all) is None
    assert cursors.encode("tenant:a", None) is None


def test_the_cache_forgets_entries_when_the_clock_passes_their_ttl():
    now = [1000.0]
    with clock.use(monotonic=lambda: now[0]):
        cache: caches.TtlCache[str, int | None] = caches.TtlCache(8, ttl=5, name="test_ttl")
        cache.put("a", 1)
        cache.put("missing", None)  # a negative result is cached like any other
        assert cache.get("a") == (True, 1) and cache.get("missing") == (True, None)
        now[0] += 6
        assert cache.get("a") == (False, None)


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache: caches.TtlCache[str, int] = caches.TtlCache(2, name="test_lru")
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert cache.get("b") == (False, None)
    assert cache.get("a") == (True, 1) and cache.get("c") == (True, 3)


def test_a_zero_ttl_keeps_nothing_and_load_fills_a_miss():
    cache: caches.TtlCache[str, int] = caches.TtlCache(4, ttl=lambda: 0, name="test_zero_ttl")
    cache.put("a", 1)
    assert cache.get("a") == (False, None)
    loaded = caches.TtlCache[str, int](4, ttl=60, name="test_loaded")
    assert loaded.get_or_load("b", lambda: 7) == 7 and loaded.get("b") == (True, 7)


def test_the_clock_is_injected_and_restored():
    fixed = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    with clock.use(wall=lambda: fixed):
        assert clock.now() == fixed
        assert clock.now_iso() == "2026-01-02T03:04:05.678Z"
    assert clock.now() != fixed


def test_the_exception_chain_follows_cause_context_and_library_wrappers_once():
    class Wrapped(Exception):
        def __init__(self, cause: BaseException) -> None:
            super().__init__("wrapped")
            self.cause = cause  # pynamodb keeps botocore's error here

    root = KeyError("root")
    try:
        try:
            raise root
        except KeyError as exc:
            raise ValueError("middle") from exc
    except ValueError as middle:
        outer = Wrapped(middle)
    root.__context__ = outer  # a loop must not hang
    assert [type(e) for e in exception_chain(outer)] == [Wrapped, ValueError, KeyError]
