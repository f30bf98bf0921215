"""The scheduled job that resumes tenants whose provisioning stopped half-way."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.tenancy import context as tenancy_context

if TYPE_CHECKING:
    from chalicelib.tenants import provisioning
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    provisioning = lazy.module("chalicelib.tenants.provisioning")


RESUME_SCHEDULE = "rate(5 minutes)"


def resume_stuck_provisioning(event: Any) -> dict[str, int]:
    tenancy_context.clear()
    try:
        return {"resumed": len(provisioning.resume_stuck())}
    finally:
        tenancy_context.clear()
