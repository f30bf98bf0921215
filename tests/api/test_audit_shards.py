"""The trail sharded over several partitions (``keys.AUDIT_SHARD_KINDS``).

Events are spread over the shards; verification walks the merge of every shard against
the one digest chain, so it holds over shards and finds tampering in any of them; the
list merges the shards newest first and pages through them with no event skipped or
repeated; a trail written before sharding (every event in the original partition) still
verifies and lists with the new events.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.audit import chaining, recording
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from tests.audit_helpers import AUDIT_PATH, backdated_event, bound, listed, raw_items
from tests.conftest import body_of

VERIFY = "/api/tenant/audit/verify"
LATER = timedelta(hours=2)
EVENTS = 24
# Event ids are random, so 24 events leave a shard empty about 0.4 % of the time: more are
# written until every shard holds one (the chance of needing more than 200 is below 1e-24).
MAX_EVENTS = 200


def _spread(tenant: Any, count: int = EVENTS) -> list[DataItem]:
    written = 0
    while True:  # written now: after the tenant's creation, so in its chained hours
        backdated_event(tenant, datetime.now(UTC), target_id=f"t{written}")
        written += 1
        if written < count:
            continue
        items = raw_items(tenant)
        if set(_by_shard(items)) >= set(keys.AUDIT_SHARD_KINDS) or written >= MAX_EVENTS:
            return items


def _by_shard(items: list[DataItem]) -> dict[str, list[DataItem]]:
    shards: dict[str, list[DataItem]] = {}
    for item in items:
        shards.setdefault(item.pk.rsplit("#", 1)[1], []).append(item)
    return shards


def _chain(tenant: Any) -> None:
    with bound(tenant):
        assert chaining.chain_closed_hours(datetime.now(UTC) + LATER)["digests_written"] >= 1


def _verify(client: Any, tenant: Any) -> dict[str, Any]:
    response = client.get(VERIFY, tenant=tenant)
    assert response.status_code == 200, response.body
    return body_of(response)


def test_events_are_spread_over_the_shards_their_ids_name(tenant_a):
    items = _spread(tenant_a)
    shards = _by_shard(items)
    assert set(shards) <= set(keys.AUDIT_SHARD_KINDS) and len(shards) > 1
    assert all(item.pk == keys.data_partition(tenant_a.id, keys.audit_shard(item.sk)) for item in items)


def test_verification_holds_over_the_shards(client, tenant_a):
    items = _spread(tenant_a)
    _chain(tenant_a)
    report = _verify(client, tenant_a)
    assert report["valid"] is True, report
    assert report["events_checked"] >= len(items) and report["unsealed_events"] == 0


@pytest.mark.parametrize("shard", keys.AUDIT_SHARD_KINDS)
def test_an_edit_in_any_shard_is_found(client, tenant_a, shard):
    shards = _by_shard(_spread(tenant_a))
    _chain(tenant_a)
    victim = shards[shard][len(shards[shard]) // 2]
    with bound(tenant_a):
        document = json.loads(victim.data)
        document["target"]["id"] = "forged"
        DataItem(pk=victim.pk, sk=victim.sk).update(actions=[DataItem.data.set(json.dumps(document))],
                                                    condition=DataItem.pk.exists())
    report = _verify(client, tenant_a)
    assert report["valid"] is False and report["first_problem"]["kind"] == "altered"
    assert report["first_problem"]["event_id"] == victim.sk


@pytest.mark.parametrize("shard", keys.AUDIT_SHARD_KINDS)
def test_a_deletion_or_an_insertion_in_any_shard_is_found(client, tenant_a, shard):
    shards = _by_shard(_spread(tenant_a))
    _chain(tenant_a)
    victim = shards[shard][0]
    with bound(tenant_a):
        DataItem(pk=victim.pk, sk=victim.sk).delete()
    report = _verify(client, tenant_a)
    assert (report["first_problem"]["kind"], report["first_problem"]["event_id"]) == ("deleted", victim.sk)
    # Put back, and a copy in another shard: the copy is an event no digest lists twice
    other = next(kind for kind in keys.AUDIT_SHARD_KINDS if kind != shard)
    with bound(tenant_a):
        victim.save()
        copy = DataItem.from_raw_data(victim.serialize())
        copy.pk = data.partition(other)
        copy.save()
    report = _verify(client, tenant_a)
    assert (report["first_problem"]["kind"], report["first_problem"]["event_id"]) == ("inserted", victim.sk)


def test_the_list_merges_the_shards_newest_first_and_pages_without_gaps(client, tenant_a):
    items = _spread(tenant_a)
    expected = [item.sk for item in reversed(items)]
    paged = [event["id"] for event in listed(client, tenant_a, "limit=5")]
    whole = body_of(client.get(f"{AUDIT_PATH}?limit=100", tenant=tenant_a))
    assert whole["next_cursor"] is None
    assert [event["id"] for event in whole["items"]] == paged
    # Every event of the tenant (its creation's too), each once, newest first
    assert set(expected) <= set(paged) and len(paged) == len(set(paged)) == len(raw_items(tenant_a))
    assert paged == sorted(paged, reverse=True)


def test_a_filtered_list_pages_across_shards(client, tenant_a):
    items = _spread(tenant_a)
    wanted = sorted((item.sk for item in items if item.target and item.target.startswith("service_category:t")),
                    reverse=True)
    paged = [event["id"] for event in listed(client, tenant_a, "limit=3&target=service_category")]
    assert paged == wanted and len(paged) == EVENTS


def test_a_trail_from_before_sharding_still_verifies_and_lists(client, tenant_a):
    # Given events stored the way they were before sharding: all in the original partition
    legacy = _spread(tenant_a, 6)
    with bound(tenant_a):
        for item in legacy:
            if item.pk != data.partition(keys.AUDIT):
                DataItem(pk=item.pk, sk=item.sk).delete()
                moved = DataItem.from_raw_data(item.serialize())
                moved.pk = data.partition(keys.AUDIT)
                moved.save()
    assert {item.pk for item in raw_items(tenant_a)} == {keys.data_partition(tenant_a.id, keys.AUDIT)}
    # When new, sharded events follow
    everything = _spread(tenant_a, 6)
    assert len(everything) > len(legacy)
    _chain(tenant_a)
    # Then the whole trail verifies and lists in order
    assert _verify(client, tenant_a)["valid"] is True
    paged = [event["id"] for event in listed(client, tenant_a, "limit=4")]
    assert paged == sorted((item.sk for item in everything), reverse=True)


def test_a_platform_read_event_goes_to_its_shard(tenant_a):
    with bound(tenant_a):
        event = recording.tenant_event(recording.Action.TENANT_ACCESSED, recording.Target("tenant", "x"))
        item = recording.item_for(event)
    assert item.pk == keys.data_partition(tenant_a.id, keys.audit_shard(event["id"]))
