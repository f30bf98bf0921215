"""Upload reservations: a presigned POST holds its bytes against the storage limit.

Without them, a presigned POST could be reused for its whole life (upload 1 byte, then
its full size to the same key), and any number of presigns could each be granted what
was left. Now each presign records ``{key, bytes, until}`` in one reservations item of
the tenant (``USAGE``/``upload_reservations``), written with a version condition, so
grants are serialised; a grant is at most the limit minus what is stored minus what the
live reservations may still add. A reservation may still add ``bytes`` less what its
key already holds in the ledger (so a reused POST that overwrites its key is covered
by its own reservation). It lives until the POST expires plus ``GRACE_SECONDS`` for
the upload's S3 event to arrive and be counted.

Worst-case overshoot: none while S3 events are counted within ``GRACE_SECONDS`` of the
POST's expiry (sequential or concurrent uploads alike); a later event can add at most
that one upload's size (``MAX_ASSET_BYTES``). The daily reconciliation's item-bytes
estimate is not an upload and can move usage either way.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib import clock
from chalicelib.errors import ConflictError, RateLimitedError
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem

RESERVATIONS = "upload_reservations"
GRACE_SECONDS = 300
# At most this many presigned POSTs outstanding per tenant (each one's bytes are held).
MAX_OUTSTANDING = 50
_ATTEMPTS = 5


def _now() -> float:
    return clock.now().timestamp()


@dataclass(frozen=True)
class Reservation:
    key: str
    size: int
    until: float


class ReservationChangedError(ConflictError):
    code, title = "concurrent_write", "Another request changed the same data; retry"


class TooManyUploadsError(RateLimitedError):
    code, title = "too_many_uploads", "Too many uploads outstanding"


def _load() -> tuple[list[Reservation], int]:
    data.bind()
    try:
        item = DataItem.get(data.partition(keys.USAGE), RESERVATIONS, consistent_read=True)
    except DataItem.DoesNotExist:
        return [], 0
    stored = data.loads(item.data).get("r", [])
    return [Reservation(r["k"], int(r["b"]), float(r["u"])) for r in stored], int(item.version or 0)


def _save(reservations: list[Reservation], read_version: int) -> None:
    item = data.new_item(pk=data.partition(keys.USAGE), sk=RESERVATIONS, kind=keys.USAGE, entity_id=RESERVATIONS,
                         version=read_version + 1,
                         data=data.dumps({"r": [{"k": r.key, "b": r.size, "u": r.until} for r in reservations]}))
    data.save_versioned(item, read_version, ReservationChangedError)


def _ledger_sizes(object_keys: list[str]) -> dict[str, int]:
    if not object_keys:
        return {}
    pk = data.partition(keys.STORED_OBJECT)
    return {item.sk: int(item.used or 0)
            for item in DataItem.batch_get([(pk, key) for key in object_keys], consistent_read=True)}


def pending_bytes(live: list[Reservation]) -> int:
    """What the live reservations may still add beyond what their keys hold now."""
    sizes = _ledger_sizes([r.key for r in live])
    return sum(max(0, r.size - sizes.get(r.key, 0)) for r in live)


def reserve(key: str, wanted: int, lifetime_seconds: int, stored_bytes: Callable[[], tuple[int, int]]) -> int:
    """Hold up to ``wanted`` bytes for an upload to ``key``; the bytes granted (0: none left).

    ``stored_bytes`` answers (used, limit) and is read after the ledger, so an upload
    counted in between is counted twice (refusing too early), never not at all.
    """
    for _ in range(_ATTEMPTS):
        reservations, version = _load()
        now = _now()
        live = [r for r in reservations if r.until > now]
        if len(live) >= MAX_OUTSTANDING:
            retry = max(1, int(min(r.until for r in live) - now) + 1)
            raise TooManyUploadsError("too many uploads are outstanding; retry later",
                                      headers={"Retry-After": str(retry)})
        pending = pending_bytes(live)
        used, limit = stored_bytes()
        granted = min(wanted, limit - used - pending)
        if granted < 1:
            return 0
        try:
            _save([*live, Reservation(key, granted, now + lifetime_seconds + GRACE_SECONDS)], version)
        except ReservationChangedError:
            continue
        return granted
    raise ReservationChangedError(headers={"Retry-After": "1"})


def outstanding() -> list[Reservation]:
    now = _now()
    return [r for r in _load()[0] if r.until > now]
