"""Retention: reads follow the retention in force at once; the daily job deletes within a day.

Old events are written as every event is (a transaction with a Put), with an id and
time in the past; the jobs run through the local runner's pump, as EventBridge would
fire them.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.audit import policy
from tests.audit_helpers import backdated_event, listed, raw_items, set_retention, stored_events
from tests.conftest import body_of, create_tenant

DAY = timedelta(days=1)


def _fire(name: str) -> dict[str, Any]:
    from app import app
    from chalicelib.local.pump import EventPump
    from chalicelib.settings import get_settings

    return EventPump(app, get_settings().region).fire(name)


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {e["id"] for e in items}


def test_reads_follow_the_retention_in_force(client, tenant_a):
    now = datetime.now(UTC)
    old = backdated_event(tenant_a, now - 40 * DAY, "old")
    recent = backdated_event(tenant_a, now - 20 * DAY, "recent")
    assert {old["id"], recent["id"]} <= _ids(listed(client, tenant_a))  # the default keeps a year
    # Shortened: the 40-day-old event is hidden at once, whatever the query asks
    set_retention(tenant_a, 30)
    assert _ids(listed(client, tenant_a)) & {old["id"], recent["id"]} == {recent["id"]}
    assert old["id"] not in _ids(listed(client, tenant_a, "from=2000-01-01T00:00:00Z"))
    # Lengthened before the job ran: it is back, since it was never deleted
    set_retention(tenant_a, 60)
    assert old["id"] in _ids(listed(client, tenant_a))


def test_the_daily_job_deletes_only_what_expired_and_audits_itself(client, tenant_a, tenant_b):
    now = datetime.now(UTC)
    set_retention(tenant_a, 30)
    expired = backdated_event(tenant_a, now - 30 * DAY - timedelta(minutes=5), "expired")
    kept = backdated_event(tenant_a, now - 30 * DAY + timedelta(hours=1), "kept")
    b_old = backdated_event(tenant_b, now - 40 * DAY, "b-old")  # B keeps the default year
    result = _fire("audit_retention")
    assert (result["tenants_enqueued"], result["tenants_processed"], result["tenants_failed"]) == (2, 2, [])
    remaining = _ids(stored_events(tenant_a))
    assert expired["id"] not in remaining and kept["id"] in remaining
    assert b_old["id"] in _ids(stored_events(tenant_b))
    run = [e for e in stored_events(tenant_a) if e["action"] == "audit.retention_applied"]
    assert len(run) == 1 and run[0]["details"]["events_deleted"] == 1
    assert run[0]["details"]["retention_days"] == 30 and run[0]["actor"]["type"] == "system"


def test_shortened_and_lengthened_retention_over_several_runs(client, tenant_a):
    now = datetime.now(UTC)
    events = {age: backdated_event(tenant_a, now - age * DAY, f"age-{age}")["id"] for age in (100, 50, 10)}

    def present() -> set[int]:
        stored = _ids(stored_events(tenant_a))
        return {age for age, event_id in events.items() if event_id in stored}

    _fire("audit_retention")
    assert present() == {100, 50, 10}  # a year
    set_retention(tenant_a, 60)
    _fire("audit_retention")
    assert present() == {50, 10}
    set_retention(tenant_a, 3650)  # lengthened: nothing more goes, and the kept one is readable
    _fire("audit_retention")
    assert present() == {50, 10} and events[50] in _ids(listed(client, tenant_a))
    set_retention(tenant_a, 30)
    _fire("audit_retention")
    assert present() == {10}


def test_a_too_short_retention_is_held_at_the_minimum(client, tenant_a):
    now = datetime.now(UTC)
    set_retention(tenant_a, 5)
    month_old = backdated_event(tenant_a, now - 29 * DAY, "month")
    _fire("audit_retention")
    assert month_old["id"] in _ids(stored_events(tenant_a))
    assert month_old["id"] in _ids(listed(client, tenant_a))


def test_items_carry_a_ttl_that_no_retention_can_outlast(client, tenant_a):
    client.request("POST", "/api/service-categories", tenant=tenant_a, body={"slug": "brakes", "name": "Brakes"})
    for item in raw_items(tenant_a):
        written = datetime.fromisoformat(item.created_at)
        assert item.expires_at >= (written + timedelta(days=policy.MAX_RETENTION_DAYS)).timestamp()


def test_the_chain_job_runs_for_every_active_tenant(client, tenant_a):
    from chalicelib.audit.platform import AnchorItem
    from chalicelib.store import keys, registry
    from chalicelib.store.registry import TenantItem
    from chalicelib.tenancy.tenant import TenantStatus
    from chalicelib.tenants.service import change_status

    # Given a tenant created three hours ago (its registry item says so), and a suspended one
    registry.bind()
    item = TenantItem.get(keys.tenant_pk(tenant_a.id), keys.TENANT_SK)
    item.update(actions=[TenantItem.created_at.set(clock.iso(clock.now() - timedelta(hours=3)))])
    suspended = create_tenant("dormant")
    change_status(suspended.id, TenantStatus.SUSPENDED)
    # When the hourly job fires
    result = _fire("audit_chain")
    # Then the active tenant's closed hours are chained, and the suspended tenant is left alone
    assert (result["tenants_enqueued"], result["tenants_processed"], result["tenants_failed"]) == (1, 1, [])
    assert raw_items(tenant_a, keys.AUDIT_DIGEST)
    assert AnchorItem.get(keys.tenant_pk(tenant_a.id), keys.AUDIT_ANCHOR_SK).chained_end
    assert not raw_items(suspended, keys.AUDIT_DIGEST)
    report = client.get("/api/tenant/audit/verify", tenant=tenant_a)
    assert report.status_code == 200 and body_of(report)["valid"] is True
