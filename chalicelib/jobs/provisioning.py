"""The scheduled job that resumes tenants whose provisioning stopped half-way."""
from __future__ import annotations

from typing import Any

from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenants import provisioning

RESUME_SCHEDULE = "rate(5 minutes)"


def resume_stuck_provisioning(event: Any) -> dict[str, int]:
    tenancy_context.clear()
    try:
        return {"resumed": len(provisioning.resume_stuck())}
    finally:
        tenancy_context.clear()
