"""How long events are kept, and when an hour may be chained: the trail's numbers in one place.

Retention is the tenant's effective ``audit.retention_days`` (``config.effective``:
its override, else the platform default 365; 30 to 3650), read whenever it is needed,
so a change applies at once: reads hide events older
than the retention in force, and the daily retention job deletes them (within a day of
expiry). DynamoDB's TTL cannot follow a later change of retention (it is fixed at write
time), so items carry a TTL of the longest retention allowed plus a day: a backstop that
can never delete an event the retention in force still keeps.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.config import effective
from chalicelib.tenancy.tenant import Tenant

DEFAULT_RETENTION_DAYS = 365
MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650
TTL_BACKSTOP = timedelta(days=MAX_RETENTION_DAYS + 1)
# An event's hour is the hour of its id, minted as its transaction is built, and the
# transaction is sent within the same invocation; Lambda runs at most 15 minutes. So
# 20 minutes after an hour closes no event of that hour can still arrive, and the hour
# can be chained.
CHAIN_MARGIN = timedelta(minutes=20)


def retention_days(tenant: Tenant) -> int:
    """The retention in force. A value out of range is clamped, never ignored: a stored 7
    keeps events 30 days, not the default 365, and not 7."""
    value = effective.setting(tenant, "audit", "retention_days")
    if isinstance(value, bool) or not isinstance(value, int):
        return DEFAULT_RETENTION_DAYS
    return min(max(value, MIN_RETENTION_DAYS), MAX_RETENTION_DAYS)


def cutoff(tenant: Tenant, now: datetime) -> datetime:
    """Events written before this moment have expired."""
    return now - timedelta(days=retention_days(tenant))


def ttl_backstop(at: datetime) -> int:
    """The TTL (epoch seconds) for an item written at ``at``."""
    return int((at + TTL_BACKSTOP).timestamp())
