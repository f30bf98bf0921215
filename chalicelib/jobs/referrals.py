"""The daily expiry of pending referrals (``referrals.auto_expiry_days``), once per active tenant.

Registered in app.py as ``referrals_expiry``; locally the runner fires it, and
``python -m chalicelib.cli schedule run referrals_expiry`` runs it now.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.entry import tenant_schedule

if TYPE_CHECKING:
    from chalicelib.network.referrals import expiry as referral_expiry
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    referral_expiry = lazy.module("chalicelib.network.referrals.expiry")


EXPIRY_SCHEDULE = "cron(40 2 * * ? *)"


@tenant_schedule
def expire_referrals(_detail: dict[str, Any]) -> None:
    referral_expiry.expire_pending()
