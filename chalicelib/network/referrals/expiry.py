"""``referrals.auto_expiry_days``: pending referrals older than that become ``expired``.

Run by the daily ``referrals_expiry`` schedule once per active tenant (``jobs/referrals.py``).
Each expiry is one transaction like any status change: the referral's status (and its
status index entry) conditioned on it still being pending at the version read, its audit
event, and the release of the ``refs`` it held on its professionals and customer. Then
the ``referral_expired`` notices go to the parties the configuration names. A referral
answered meanwhile fails its condition and is left alone; a second run finds nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib import audit
from chalicelib.clock import now_iso
from chalicelib.network.referrals import notices as referral_notices
from chalicelib.network.referrals import service as referrals
from chalicelib.network.referrals.models import ReferralStatus
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError

S = ReferralStatus


def _cutoff(days: int, now: datetime) -> str:
    return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _expire(item: DataItem) -> bool:
    """Expire one pending referral as read; False when it changed meanwhile."""
    version, now = int(item.version or 1), now_iso()
    fields = data.loads(item.data)
    status_pk = data.partition(keys.REFERRAL_STATUS, S.EXPIRED.value)

    uow = UnitOfWork()
    uow.update("referral", DataItem(pk=item.pk, sk=item.sk), [
        DataItem.status.set(S.EXPIRED.value), DataItem.gsi1pk.set(status_pk),
        DataItem.version.set(version + 1), DataItem.updated_at.set(now)],
        (DataItem.version == version) & (DataItem.status == S.PENDING.value))
    audit.record(uow, audit.Action.REFERRAL_STATUS_CHANGED, audit.Target("referral", item.sk),
                 changes=audit.changes({"status": S.PENDING.value}, {"status": S.EXPIRED.value},
                                       pii=referrals.PII))
    for name, counted in referrals.held_references(fields):
        # Referenced items cannot be deleted while refs > 0, so they exist.
        uow.update(name, counted, [DataItem.refs.add(-1)], DataItem.pk.exists())
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "referral" in exc.failed:
            return False
        raise
    item.status, item.version, item.updated_at, item.gsi1pk = S.EXPIRED.value, version + 1, now, status_pk
    referral_notices.notify(referrals.as_referral(item))
    return True


def expire_pending(now: datetime | None = None) -> int:
    """Expire the bound tenant's pending referrals older than its ``auto_expiry_days``; how many."""
    days = int(referrals.settings()["referrals"]["auto_expiry_days"])
    cutoff = _cutoff(days, now or datetime.now(UTC))
    expired, cursor = 0, None
    while True:
        page = data.query_page(data.partition(keys.REFERRAL_STATUS, S.PENDING.value), index="gsi1",
                               cursor=cursor, limit=data.MAX_PAGE, range_key_condition=DataItem.gsi1sk < cutoff)
        expired += sum(_expire(item) for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return expired
