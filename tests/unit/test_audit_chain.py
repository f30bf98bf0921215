"""Pure audit logic: time-ordered ids, redaction, canonical hashing, digests, retention numbers."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from chalicelib.audit import chain, events, ids, policy
from chalicelib.audit.actions import Action
from chalicelib.audit.events import REDACTED, changes

T0 = datetime(2025, 3, 1, 10, 59, 59, 999000, tzinfo=UTC)


def test_ids_sort_in_time_order_and_bounds_bracket_them():
    moments = [T0 + timedelta(milliseconds=ms) for ms in (0, 1, 2, 1000, 3_600_000)]
    minted = [ids.new_id(m) for m in moments]
    assert minted == sorted(minted) and all(ids.is_id(i) for i in minted)
    assert [ids.moment(i) for i in minted] == moments
    assert ids.floor(T0) <= minted[0] <= ids.ceiling(T0) < minted[1]
    assert ids.floor(moments[1]) > minted[0]
    assert len({ids.new_id(T0) for _ in range(100)}) == 100  # 80 random bits per millisecond


def test_an_hour_floor_is_a_key_bound_between_hours():
    before, after = ids.new_id(T0), ids.new_id(T0 + timedelta(milliseconds=1))
    boundary = ids.floor(ids.hour_floor(T0 + timedelta(milliseconds=1)))
    assert before < boundary <= after


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        ids.new_id(datetime(2025, 1, 1))


def test_changes_list_changed_fields_and_redact_pii_and_secrets():
    before = {"name": "Shop", "email": "a@b.example", "phone": None, "tags": ["x"], "webhook": {"secret": "s1"}}
    after = {"name": "Shop 2", "email": "c@d.example", "phone": "+1 555", "tags": ["x"],
             "webhook": {"secret": "s2", "url": "https://hooks.example"}, "api_key": "k-123"}
    listed = changes(before, after, pii=frozenset({"email", "phone"}))
    assert listed == {
        "name": {"before": "Shop", "after": "Shop 2"},
        "email": {"before": REDACTED, "after": REDACTED},
        "phone": {"before": None, "after": REDACTED},
        "webhook": {"before": {"secret": REDACTED}, "after": {"secret": REDACTED, "url": "https://hooks.example"}},
        "api_key": {"before": None, "after": REDACTED},
    }
    assert "a@b.example" not in str(listed) and "s2" not in str(listed) and "k-123" not in str(listed)


def test_a_change_of_pii_only_is_still_listed():
    listed = changes({"notes": "one"}, {"notes": "two"}, pii=frozenset({"notes"}))
    assert listed == {"notes": {"before": REDACTED, "after": REDACTED}}
    assert changes({"notes": "same"}, {"notes": "same"}, pii=frozenset({"notes"})) == {}


def test_the_canonical_form_ignores_key_order_and_hashes_every_field():
    event = events.new_event(Action.TENANT_CREATED, events.Target("tenant", "t"), tenant_id=uuid4(), source=None,
                             at=T0)
    shuffled = dict(reversed(list(event.items())))
    assert events.canonical(shuffled) == events.canonical(event)
    for field in ("action", "at", "request_id"):
        assert events.event_hash({**event, field: "other"}) != events.event_hash(event)
    assert event["actor"] == {"sub": None, "roles": [], "platform_admin": False, "type": "system"}


def test_a_digest_notices_its_own_edits():
    entries = [[ids.new_id(T0), "a" * 64], [ids.new_id(T0 + timedelta(seconds=1)), "b" * 64]]
    digest = chain.make_digest(uuid4(), ids.floor(ids.hour_floor(T0)), ids.floor(T0 + timedelta(hours=1)),
                               entries, chain.GENESIS, T0)
    assert chain.self_consistent(digest)
    assert not chain.self_consistent({**digest, "entries": entries[:1]})  # list hash no longer matches
    assert not chain.self_consistent({**digest, "count": 3})
    reordered = list(reversed(entries))
    assert not chain.self_consistent({**digest, "entries": reordered, "entries_hash": chain.entries_hash(reordered)})
    outside = [[ids.new_id(T0 + timedelta(hours=2)), "c" * 64]]
    assert not chain.self_consistent({**digest, "entries": outside, "count": 1,
                                      "entries_hash": chain.entries_hash(outside)})
    assert chain.digest_hash({**digest, "previous": "1" * 64}) != chain.digest_hash(digest)


@pytest.mark.parametrize("configured,expected", [
    (None, 365), ({}, 365), ({"retention_days": 90}, 90), ({"retention_days": 5}, 30),
    ({"retention_days": 99999}, 3650), ({"retention_days": "90"}, 365), ({"retention_days": True}, 365),
])
def test_retention_days_are_read_and_clamped(configured, expected):
    from chalicelib.tenancy.tenant import Tenant, TenantStatus

    configuration = {} if configured is None else {"audit": configured}
    tenant = Tenant(id=uuid4(), slug="acme", name="A", display_name="A", configuration=configuration,
                    status=TenantStatus.ACTIVE, plan="free", created_at=T0, updated_at=T0, kms_key_arn="arn:k")
    assert policy.retention_days(tenant) == expected
    assert policy.cutoff(tenant, T0) == T0 - timedelta(days=expected)


def test_the_ttl_backstop_outlasts_the_longest_retention():
    assert policy.ttl_backstop(T0) > (T0 + timedelta(days=policy.MAX_RETENTION_DAYS)).timestamp()


def test_the_chain_margin_outlasts_a_lambda_invocation():
    assert policy.CHAIN_MARGIN > timedelta(minutes=15)
