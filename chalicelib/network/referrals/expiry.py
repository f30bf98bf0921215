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
from typing import TYPE_CHECKING

from chalicelib import audit
from chalicelib.clock import now_iso
from chalicelib.network.referrals import notices as referral_notices
from chalicelib.network.referrals import service as referrals
from chalicelib.network.referrals.models import ReferralStatus
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem, TransactionCancelledError

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

S = ReferralStatus


def _cutoff(days: int, now: datetime) -> str:
    return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _expire(item: DataItem) -> bool:
    """Expire one pending referral as read; False when it changed meanwhile."""
    version, now = int(item.version or 1), now_iso()
    fields = data.loads(item.data)
    status_pk = data.partition(keys.REFERRAL_STATUS, S.EXPIRED.value)

    def build(tx: TransactWrite) -> None:
        tx.update(DataItem(pk=item.pk, sk=item.sk), actions=[
            DataItem.status.set(S.EXPIRED.value), DataItem.gsi1pk.set(status_pk),
            DataItem.version.set(version + 1), DataItem.updated_at.set(now)],
            condition=(DataItem.version == version) & (DataItem.status == S.PENDING.value))
        audit.record(tx, audit.Action.REFERRAL_STATUS_CHANGED, audit.Target("referral", item.sk),
                     changes=audit.changes({"status": S.PENDING.value}, {"status": S.EXPIRED.value},
                                           pii=referrals.PII))
        for _, counted in referrals.held_references(fields):
            tx.update(counted, actions=[DataItem.refs.add(-1)], condition=DataItem.pk.exists())

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if any(exc.failed(i) for i in range(len(exc.reasons))):
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
