"""The one clock: wall time (UTC) for stored timestamps, monotonic time for caches and deadlines.

Code asks this module for the time instead of calling ``datetime.now`` or
``time.monotonic`` itself, so a test moves time for the whole process with
:func:`use` (no patching of a module's private ``_now``), and every timestamp is
written in one format.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

Wall = Callable[[], datetime]
Monotonic = Callable[[], float]


def _system_wall() -> datetime:
    return datetime.now(UTC)


_wall: Wall = _system_wall
_monotonic: Monotonic = time.monotonic


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _wall()


def monotonic() -> float:
    """Seconds on a clock that never goes back: for TTLs and deadlines, never stored."""
    return _monotonic()


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``: the one stored timestamp format (sortable)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(now())


@contextmanager
def use(*, wall: Wall | None = None, monotonic: Monotonic | None = None) -> Iterator[None]:
    """Replace the wall and/or monotonic clock for the duration (tests, benchmarks)."""
    global _wall, _monotonic
    saved = _wall, _monotonic
    _wall = wall or _wall
    _monotonic = monotonic or _monotonic
    try:
        yield
    finally:
        _wall, _monotonic = saved
