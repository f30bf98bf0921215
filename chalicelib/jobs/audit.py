"""The audit trail's scheduled jobs, run once per active tenant with the tenant bound.

Registered in app.py: ``audit_seal`` hourly (seals hours closed more than
``policy.SEAL_MARGIN`` ago), ``audit_retention`` daily. Locally the runner fires them on
their cadence, and ``python -m chalicelib.cli schedule run audit_seal`` runs one now.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.entry import tenant_schedule

if TYPE_CHECKING:
    from chalicelib.audit import retention, sealing
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    retention = lazy.module("chalicelib.audit.retention")
    sealing = lazy.module("chalicelib.audit.sealing")

SEAL_SCHEDULE = "cron(25 * * * ? *)"
RETENTION_SCHEDULE = "cron(40 3 * * ? *)"


@tenant_schedule
def seal_audit_trail(_detail: dict[str, Any]) -> None:
    sealing.seal()


@tenant_schedule
def apply_audit_retention(_detail: dict[str, Any]) -> None:
    retention.apply_retention()
