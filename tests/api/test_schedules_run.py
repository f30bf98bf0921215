"""Every scheduled function runs through its Lambda entry point for an active tenant.

The schedules' own tests call their services directly; this runs each as Lambda would
(``app.handler_map[name]`` with a scheduled event), so a handler that cannot run is seen
here, and the deployment contract (tests/infra/test_contract.py) records what each one's
code path calls in AWS: without it, a schedule's role would be granted nothing.
"""
from __future__ import annotations

import pytest
from chalice.app import ScheduledEventConfig

from app import app
from chalicelib.local.pump import LocalLambdaContext, scheduled_event

SCHEDULES = sorted(s.name for s in app.event_sources if isinstance(s, ScheduledEventConfig))


@pytest.mark.parametrize("name", SCHEDULES)
def test_each_schedule_runs_for_an_active_tenant_without_a_failure(name, tenant_a, tenant_b):
    result = app.handler_map[name](scheduled_event(name, "us-east-1"), LocalLambdaContext(name))

    assert isinstance(result, dict)
    if "tenants_processed" in result:  # the per-tenant schedules (@tenant_handler)
        assert result["tenants_failed"] == []
        assert result["tenants_processed"] >= 2
