"""A scheduled job walking every tenant does not evict the request path's cached tenants.

Each cache has a request and a job partition (``chalicelib.caches``); ``@tenant_handler``
and the tenant-jobs consumer run on the job one. Here the tenant credential and client
caches hold one tenant per partition, and a real schedule (its Lambda entry point, then
the tenant-jobs queue delivered as the local pump does) walks five tenants: the request path still holds its tenant afterwards, and every eviction the walk
caused was in the job partition.
"""
from __future__ import annotations

from app import app
from chalicelib import caches
from chalicelib.local.pump import EventPump, LocalLambdaContext, scheduled_event
from chalicelib.settings import get_settings
from tests.conftest import create_tenant

SCHEDULE = "usage_reconciliation"
CACHES = ("tenant_credentials", "tenant_clients")


def test_a_schedule_over_many_tenants_leaves_the_request_paths_entries(client, tenant_a, monkeypatch):
    # Given caches bounded to one tenant per partition, the request one holding tenant_a
    for name in CACHES:
        monkeypatch.setenv(f"CACHE_SIZE_{name.upper()}", "1")
        monkeypatch.setenv(f"CACHE_SIZE_{name.upper()}_JOB", "1")
    for n in range(4):
        create_tenant(f"walked{n}")
    assert client.get("/api/tenant/usage", tenant=tenant_a).status_code == 200
    before = caches.stats()

    # When the schedule walks every tenant (tenant_a and four more)
    enqueued = app.handler_map[SCHEDULE](scheduled_event(SCHEDULE, "us-east-1"), LocalLambdaContext(SCHEDULE))
    result = EventPump(app, get_settings().region).deliver_run(enqueued["run_id"])
    assert enqueued["tenants_enqueued"] == 5
    assert result["tenants_failed"] == [] and result["tenants_processed"] == 5

    # Then the walk loaded and evicted in the job partitions only
    after = caches.stats()
    for name in CACHES:
        assert after[name]["job"]["misses"] >= 5 and after[name]["job"]["evictions"] >= 4, name
        assert after[name]["job"]["size"] == 1 and after[name]["request"]["size"] == 1, name
        assert after[name]["request"]["evictions"] == before[name]["request"]["evictions"], name
    # And a request for tenant_a is served from its cached credentials and clients
    assert client.get("/api/tenant/usage", tenant=tenant_a).status_code == 200
    again = caches.stats()
    for name in CACHES:
        assert again[name]["request"]["misses"] == after[name]["request"]["misses"], name
