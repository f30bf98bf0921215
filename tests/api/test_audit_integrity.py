"""Tamper evidence: chaining closed hours into digests, and GET /api/tenant/audit/verify.

Tampering is done as an attacker with data-table access would: raw items edited,
removed or added inside the tenant's partition (a context for the tenant is bound, so
the guard lets the writes through). Chaining runs with a clock two hours ahead, so the
events just written are in closed hours.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.audit import chain, chaining, recording, retention
from chalicelib.audit.actions import Action
from chalicelib.audit.events import Target
from chalicelib.store import keys
from chalicelib.store.data import DataItem
from tests.audit_helpers import backdated_event, bound, raw_items, set_retention
from tests.conftest import body_of

VERIFY = "/api/tenant/audit/verify"
LATER = timedelta(hours=2)


def _events(client: Any, tenant: Any, count: int = 4) -> list[Any]:
    for i in range(count):
        response = client.request("POST", "/api/service-categories", tenant=tenant, body={"slug": f"c{i}", "name": "C"})
        assert response.status_code == 201
    return raw_items(tenant)


def _chain(tenant: Any, now: datetime | None = None) -> dict[str, Any]:
    with bound(tenant):
        return chaining.chain_closed_hours(now or datetime.now(UTC) + LATER)


def _verify(client: Any, tenant: Any) -> dict[str, Any]:
    response = client.get(VERIFY, tenant=tenant)
    assert response.status_code == 200, response.body
    return body_of(response)


def _problem(report: dict[str, Any]) -> tuple[str, str | None]:
    assert report["valid"] is False, report
    return report["first_problem"]["kind"], report["first_problem"]["event_id"]


def test_an_untouched_trail_verifies(client, tenant_a):
    items = _events(client, tenant_a)
    written = _chain(tenant_a)
    assert written["digests_written"] == 1
    report = _verify(client, tenant_a)
    assert report["valid"] is True and report["problems"] == []
    assert report["events_checked"] == len(items) and report["unsealed_events"] == 0
    # A second run has nothing new to chain
    assert _chain(tenant_a)["digests_written"] == 0


def test_an_edited_event_is_found(client, tenant_a):
    items = _events(client, tenant_a)
    _chain(tenant_a)
    victim = items[2]
    with bound(tenant_a):
        document = json.loads(victim.data)
        document["actor"]["sub"] = "someone-else"
        DataItem(pk=victim.pk, sk=victim.sk).update(actions=[DataItem.data.set(json.dumps(document))],
            condition=DataItem.pk.exists())
    assert _problem(_verify(client, tenant_a)) == ("altered", victim.sk)


def test_an_edited_filter_copy_is_found(client, tenant_a):
    items = _events(client, tenant_a)
    _chain(tenant_a)
    with bound(tenant_a):
        DataItem(pk=items[1].pk, sk=items[1].sk).update(actions=[DataItem.action.set("tenant.created")],
            condition=DataItem.pk.exists())
    assert _problem(_verify(client, tenant_a)) == ("altered", items[1].sk)


def test_a_removed_event_is_found(client, tenant_a):
    items = _events(client, tenant_a)
    _chain(tenant_a)
    with bound(tenant_a):
        DataItem(pk=items[3].pk, sk=items[3].sk).delete()
    report = _verify(client, tenant_a)
    assert _problem(report) == ("deleted", items[3].sk) and report["problem_count"] == 1


def test_an_inserted_event_is_found(client, tenant_a):
    _events(client, tenant_a)
    _chain(tenant_a)
    with bound(tenant_a):
        forged = recording.tenant_event(Action.SERVICE_CATEGORY_DELETED, Target("service_category", "c0"))
        recording.item_for(forged).save()
    assert _problem(_verify(client, tenant_a)) == ("inserted", forged["id"])


def test_events_after_the_last_digest_are_unchained_not_wrong(client, tenant_a):
    _events(client, tenant_a, 2)
    # Chaining now chains only hours closed more than the margin ago: not this one
    # (the tenant's chain starts in this hour, which has not closed: whatever the time of
    # day, nothing is chainable yet)
    written = _chain(tenant_a, datetime.now(UTC))
    assert written["digests_written"] == 0
    report = _verify(client, tenant_a)
    assert report["valid"] is True and report["unsealed_events"] == 3  # tenant.created and two categories


def test_digests_chain_and_a_missing_or_edited_digest_is_found(client, tenant_a, monkeypatch):
    monkeypatch.setattr(chain, "MAX_EVENTS", 2)  # a busy hour is split across digests
    _events(client, tenant_a, 5)
    assert _chain(tenant_a)["digests_written"] == 3
    digests = raw_items(tenant_a, keys.AUDIT_DIGEST)
    documents = [json.loads(d.data) for d in digests]
    assert [d["previous"] for d in documents[1:]] == [chain.digest_hash(d) for d in documents[:-1]]
    assert _verify(client, tenant_a)["valid"] is True
    # An edited digest (its own list and hash recomputed) breaks the next one's link
    forged = {**documents[0], "entries": documents[0]["entries"][:1]}
    forged = {**forged, "count": 1, "entries_hash": chain.entries_hash(forged["entries"])}
    with bound(tenant_a):
        DataItem(pk=digests[0].pk, sk=digests[0].sk).update(actions=[DataItem.data.set(json.dumps(forged))],
            condition=DataItem.pk.exists())
    report = _verify(client, tenant_a)
    assert report["first_problem"]["kind"] == "digest_altered"
    # A removed digest leaves a gap
    with bound(tenant_a):
        DataItem(pk=digests[1].pk, sk=digests[1].sk).delete()
    assert "digest_missing" in [p["kind"] for p in _verify(client, tenant_a)["problems"]]


def test_cutting_off_the_newest_digest_and_its_events_is_found_and_not_rechained(client, tenant_a, monkeypatch):
    monkeypatch.setattr(chain, "MAX_EVENTS", 2)
    items = _events(client, tenant_a, 3)
    _chain(tenant_a)
    newest = raw_items(tenant_a, keys.AUDIT_DIGEST)[-1]
    with bound(tenant_a):
        for event_id, _ in json.loads(newest.data)["entries"]:
            DataItem(pk=items[0].pk, sk=event_id).delete()
        DataItem(pk=newest.pk, sk=newest.sk).delete()
    # The anchor, out of tenant-scoped reach, still names the removed digest
    assert _problem(_verify(client, tenant_a))[0] == "digest_missing"
    with pytest.raises(chain.BrokenChainError):
        _chain(tenant_a)  # the chain is not extended past the cut


def test_verification_survives_retention(client, tenant_a):
    now = datetime.now(UTC)
    set_retention(tenant_a, 30)
    _events(client, tenant_a, 2)
    _chain(tenant_a)
    later = now + timedelta(days=45)
    with bound(tenant_a):
        first = retention.apply_retention(later)  # events go now, digests on a later run
        second = retention.apply_retention(later + timedelta(days=1))
        chaining.chain_closed_hours(later + timedelta(days=1))  # catch up (bounded per run)
        from chalicelib.audit import verification

        report = verification.verify(later + timedelta(days=1))
    assert first["events_deleted"] == 3 and first["digests_deleted"] == 0
    assert second["digests_deleted"] >= 1
    assert report["valid"] is True, report["problems"]


def test_an_old_event_inserted_before_the_first_digest_is_found(client, tenant_a):
    _events(client, tenant_a, 1)
    _chain(tenant_a)
    forged = backdated_event(tenant_a, datetime.now(UTC) - timedelta(days=3))  # before the tenant existed
    assert _problem(_verify(client, tenant_a)) == ("inserted", forged["id"])


def test_chaining_reads_only_its_own_partition(client, tenant_a, tenant_b):
    a_items = _events(client, tenant_a, 2)
    b_items = _events(client, tenant_b, 1)
    _chain(tenant_a)
    _chain(tenant_b)
    digest = json.loads(raw_items(tenant_b, keys.AUDIT_DIGEST)[0].data)
    assert digest["tenant_id"] == str(tenant_b.id)
    assert {e[0] for e in digest["entries"]} == {i.sk for i in b_items}
    assert not {e[0] for e in digest["entries"]} & {i.sk for i in a_items}
    assert _verify(client, tenant_b)["events_checked"] == 2  # tenant.created and its one category
