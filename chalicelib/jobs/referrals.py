"""The daily expiry of pending referrals (``referrals.auto_expiry_days``), once per active tenant.

Registered in app.py as ``referrals_expiry``; locally the runner fires it, and
``python -m chalicelib.cli schedule run referrals_expiry`` runs it now.
"""
from __future__ import annotations

from typing import Any

from chalicelib.entry import tenant_schedule
from chalicelib.network.referrals import expiry as referral_expiry

EXPIRY_SCHEDULE = "cron(40 2 * * ? *)"


@tenant_schedule
def expire_referrals(_detail: dict[str, Any]) -> None:
    referral_expiry.expire_pending()
