"""Every scheduled function runs through its Lambda entry point for an active tenant.

The schedules' own tests call their services directly; this runs each as Lambda would
(``app.handler_map[name]`` with a scheduled event), so a handler that cannot run is seen
here, and the deployment contract (tests/infra/test_contract.py) records what each one's
code path calls in AWS: without it, a schedule's role would be granted nothing. A
per-tenant schedule (``@tenant_schedule``) enqueues its tenants' jobs; the pump then
delivers them to the ``tenant_jobs`` function, whose calls are recorded as that function's.
"""
from __future__ import annotations

import pytest
from chalice.app import ScheduledEventConfig

from app import app
from chalicelib.entry import fanout
from chalicelib.local.pump import EventPump, LocalLambdaContext, scheduled_event
from chalicelib.settings import get_settings

SCHEDULES = sorted(s.name for s in app.event_sources if isinstance(s, ScheduledEventConfig))


@pytest.mark.parametrize("name", SCHEDULES)
def test_each_schedule_runs_for_an_active_tenant_without_a_failure(name, tenant_a, tenant_b):
    result = app.handler_map[name](scheduled_event(name, "us-east-1"), LocalLambdaContext(name))

    assert isinstance(result, dict)
    if "run_id" in result:  # the per-tenant schedules (@tenant_schedule): each tenant's job is a message
        assert result["tenants_enqueued"] >= 2 and result["continued"] is False
        delivered = EventPump(app, get_settings().region).deliver_run(result["run_id"])
        assert delivered == {"tenants_processed": result["tenants_enqueued"], "tenants_failed": []}


class _NearDeadline:
    """A schedule invocation with less than the enumeration's margin left after its first page."""

    def get_remaining_time_in_millis(self) -> int:
        return fanout.ENQUEUE_MARGIN_MS - 1


def test_a_schedule_near_its_deadline_continues_in_the_tenant_jobs_function(tenant_a, tenant_b, monkeypatch):
    # One tenant a page: the schedule stops after the first, and the consumer lists the rest.
    monkeypatch.setattr(fanout, "ENQUEUE_PAGE", 1)
    result = app.handler_map["audit_chain"](scheduled_event("audit_chain", "us-east-1"), _NearDeadline())
    assert (result["tenants_enqueued"], result["continued"]) == (1, True)

    delivered = EventPump(app, get_settings().region).deliver_run(result["run_id"])

    assert delivered == {"tenants_processed": 2, "tenants_failed": []}
