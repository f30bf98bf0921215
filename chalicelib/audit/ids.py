"""Time-ordered event ids: ULIDs (https://github.com/ulid/spec), from the standard library.

26 Crockford base-32 characters: 48 bits of milliseconds since the epoch, then 80
random bits. They sort as strings in time order, so an event's id is its sort key and
time ranges are key conditions: ``floor(t)`` sorts before every id minted at or after
``t`` and after every id minted before it. The id's time is when the event was written
(minted as its transaction is built), which is what decides the hour it is chained in.
"""
from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 26
_TIME_CHARS = 10
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _millis(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return (at - _EPOCH) // _MS


def new_id(at: datetime) -> str:
    return _encode(_millis(at), _TIME_CHARS) + _encode(secrets.randbits(80), LENGTH - _TIME_CHARS)


def floor(at: datetime) -> str:
    """The smallest id of the millisecond ``at``: a key bound for "at or after ``at``"."""
    return _encode(_millis(at), _TIME_CHARS) + ALPHABET[0] * (LENGTH - _TIME_CHARS)


def ceiling(at: datetime) -> str:
    """The largest id of the millisecond ``at``: a key bound for "at or before ``at``"."""
    return _encode(_millis(at), _TIME_CHARS) + ALPHABET[-1] * (LENGTH - _TIME_CHARS)


def is_id(value: str) -> bool:
    return len(value) == LENGTH and all(ch in ALPHABET for ch in value) and value[0] <= "7"


def moment(event_id: str) -> datetime:
    """When ``event_id`` (or a bound made by :func:`floor`) was minted, to the millisecond."""
    millis = 0
    for ch in event_id[:_TIME_CHARS]:
        millis = millis * 32 + ALPHABET.index(ch)
    return _EPOCH + millis * _MS


def hour_floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)

