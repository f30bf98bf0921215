"""The audit trail's scheduled jobs, run once per active tenant with the tenant bound.

Registered in app.py: ``audit_chain`` hourly (chains hours closed more than
``policy.CHAIN_MARGIN`` ago), ``audit_retention`` daily. Locally the runner fires them on
their cadence, and ``python -m chalicelib.cli schedule run audit_chain`` runs one now.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.entry import tenant_schedule

if TYPE_CHECKING:
    from chalicelib.audit import chaining, retention
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    chaining = lazy.module("chalicelib.audit.chaining")
    retention = lazy.module("chalicelib.audit.retention")

CHAIN_SCHEDULE = "cron(25 * * * ? *)"
RETENTION_SCHEDULE = "cron(40 3 * * ? *)"


@tenant_schedule
def chain_audit_trail(_detail: dict[str, Any]) -> None:
    chaining.chain_closed_hours()


@tenant_schedule
def apply_audit_retention(_detail: dict[str, Any]) -> None:
    retention.apply_retention()
