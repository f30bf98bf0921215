"""The scheduled job that advances tenants' custom domains (chalicelib/domains).

Platform-level, not per tenant: one run pages through the registry's domains with work
left (a certificate awaiting validation, resources to remove), a bounded number of pages,
and takes each one's next steps; an AWS failure leaves that domain for the next run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.tenancy import context as tenancy_context

if TYPE_CHECKING:
    from chalicelib.domains import service
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    service = lazy.module("chalicelib.domains.service")


DOMAINS_SCHEDULE = "rate(5 minutes)"


def advance_custom_domains(event: Any) -> dict[str, int]:
    tenancy_context.clear()
    try:
        return {"domains": service.run_pending()}
    finally:
        tenancy_context.clear()
