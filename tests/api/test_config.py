"""GET/PUT /api/tenant/config: defaults, overrides only, versions, preconditions, audit."""
from __future__ import annotations

import json
import threading

from chalicelib import aws
from chalicelib.config import models as schema
from tests.api.config_helpers import CONFIG, config_of, put, put_config
from tests.audit_helpers import bound, raw_items, stored_events
from tests.conftest import body_of, create_tenant


def test_a_new_tenant_reads_the_platform_defaults(client, tenant_a):
    response = client.get(CONFIG, tenant=tenant_a)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    body = body_of(response)
    assert body["version"] == 1 and body["overrides"] == {}
    assert body["configuration"] == schema.platform_defaults()
    assert body["configuration"]["audit"]["retention_days"] == 365


def test_the_creation_time_configuration_is_version_1(client, aws_mock):
    # Given a tenant created with a valid configuration
    tenant = create_tenant("initech", configuration={"general": {"date_format": "DD/MM/YYYY"}})
    body = config_of(client, tenant)
    assert body["version"] == 1 and body["overrides"] == {"general": {"date_format": "DD/MM/YYYY"}}


def test_legacy_configuration_outside_the_schema_is_trimmed_to_its_valid_part(client, aws_mock, monkeypatch):
    # Given a tenant stored before creation validated configurations (part unknown or invalid)
    from chalicelib.tenants import service

    monkeypatch.setattr(service, "check_configuration", lambda configuration: None)
    tenant = create_tenant("initech", configuration={
        "general": {"date_format": "DD/MM/YYYY", "timezone": "Mars/Olympus"}, "integrations": {"api_key": "sk-1"}})
    body = config_of(client, tenant)
    # Then the valid part applies, the rest falls back to the defaults
    assert body["version"] == 1 and body["overrides"] == {"general": {"date_format": "DD/MM/YYYY"}}
    assert body["configuration"]["general"] == {**schema.platform_defaults()["general"], "date_format": "DD/MM/YYYY"}


def test_put_stores_only_the_overrides_and_merges_them_over_the_defaults(client, tenant_a):
    body = put_config(client, tenant_a, {"general": {"timezone": "Europe/Paris"}, "features": {"sms_notifications": True}}, 1,
                      comment="go euro")
    assert body["version"] == 2
    assert body["configuration"]["general"]["timezone"] == "Europe/Paris"
    assert body["configuration"]["general"]["date_format"] == "YYYY-MM-DD"  # a default, untouched
    assert body["configuration"]["features"] == {**schema.platform_defaults()["features"], "sms_notifications": True}
    stored = [json.loads(i.data) for i in raw_items(tenant_a, "CONFIG")]
    assert stored == [{"general": {"timezone": "Europe/Paris"}, "features": {"sms_notifications": True}}]
    assert config_of(client, tenant_a) == body


def test_a_changed_platform_default_reaches_tenants_that_did_not_override_it(client, tenant_a, tenant_b,
                                                                              monkeypatch):
    put_config(client, tenant_a, {"general": {"timezone": "Europe/Paris"}}, 1)
    original = schema.platform_defaults

    def changed() -> dict:
        defaults = original()
        defaults["general"].update(timezone="Europe/London", date_format="MM/DD/YYYY")
        return defaults

    monkeypatch.setattr(schema, "platform_defaults", changed)
    a, b = config_of(client, tenant_a)["configuration"], config_of(client, tenant_b)["configuration"]
    assert a["general"]["timezone"] == "Europe/Paris" and a["general"]["date_format"] == "MM/DD/YYYY"
    assert b["general"]["timezone"] == "Europe/London" and b["general"]["date_format"] == "MM/DD/YYYY"


def test_if_match_is_required_and_must_be_current(client, tenant_a):
    missing = put(client, tenant_a, CONFIG, {"overrides": {"exports": {"default_format": "csv"}}}, None)
    assert missing.status_code == 428 and body_of(missing)["code"] == "precondition_required"
    put_config(client, tenant_a, {"exports": {"default_format": "csv"}}, 1)
    stale = put(client, tenant_a, CONFIG, {"overrides": {}}, 1)
    assert stale.status_code == 412 and body_of(stale)["code"] == "precondition_failed"
    body = config_of(client, tenant_a)
    assert body["version"] == 2 and body["overrides"] == {"exports": {"default_format": "csv"}}


def test_unknown_keys_and_wrong_types_are_422_with_their_paths(client, tenant_a):
    cases = {
        ("body", "overrides", "general", "bogus"): {"general": {"bogus": 1}},
        ("body", "overrides", "nonsense"): {"nonsense": {}},
        ("body", "overrides", "audit", "retention_days"): {"audit": {"retention_days": "90"}},
        ("body", "overrides", "features", "sms_notifications"): {"features": {"sms_notifications": "yes"}},
        ("body", "overrides", "general"): {"general": "fr"},
        ("body", "overrides", "exports", "default_format"): {"exports": {"default_format": "xml"}},
        ("body", "overrides", "general", "timezone"): {"general": {"timezone": "Mars/Olympus"}},
    }
    for path, overrides in cases.items():
        response = put(client, tenant_a, CONFIG, {"overrides": overrides}, 1)
        assert response.status_code == 422, (overrides, response.body)
        problem = body_of(response)
        assert problem["code"] == "validation_error"
        assert tuple(problem["errors"][0]["loc"]) == path
        assert "Olympus" not in response.body.decode() and '"90"' not in response.body.decode()
    assert config_of(client, tenant_a)["version"] == 1
    assert raw_items(tenant_a, "CONFIG") == [] and raw_items(tenant_a, "CONFIGVER") == []


def test_retention_out_of_range_is_refused_and_the_audit_policy_reads_the_effective_value(client, tenant_a):
    from chalicelib.audit import policy

    for days in (29, 3651):
        response = put(client, tenant_a, CONFIG, {"overrides": {"audit": {"retention_days": days}}}, 1)
        assert response.status_code == 422
    put_config(client, tenant_a, {"audit": {"retention_days": 90}}, 1)
    with bound(tenant_a) as tenant:
        assert policy.retention_days(tenant) == 90


def test_bad_bodies_are_clear_4xx_and_change_nothing(client, tenant_a):
    put_config(client, tenant_a, {"general": {"date_format": "DD.MM.YYYY"}}, 1)
    deep_json = "[" * 100_000 + "]" * 100_000
    nested: dict = {}
    cursor = nested
    for _ in range(60):
        cursor["x"] = {}
        cursor = cursor["x"]
    cases = [
        ("{not json", 400, "invalid_json"),
        ("[1, 2]", 422, "validation_error"),
        ('"overrides"', 422, "validation_error"),
        (json.dumps({"overrides": {"general": {"timezone": "x" * (1024 * 1024)}}}), 413, "payload_too_large"),
        (deep_json, 400, "invalid_json"),
        (json.dumps({"overrides": {"general": nested}}), 422, "validation_error"),
        (json.dumps({"overrides": {}, "version": 2}), 422, "validation_error"),
    ]
    for raw, status, code in cases:
        response = client.request("PUT", CONFIG, tenant=tenant_a, body=raw, headers={"If-Match": '"2"'})
        assert (response.status_code, body_of(response)["code"]) == (status, code), raw[:40]
    body = config_of(client, tenant_a)
    assert body["version"] == 2 and body["overrides"] == {"general": {"date_format": "DD.MM.YYYY"}}


def test_versions_are_complete_immutable_and_paginated(client, tenant_a):
    first = put_config(client, tenant_a, {"general": {"timezone": "Europe/Paris"}}, 1, comment="euro")
    put_config(client, tenant_a, {"general": {"timezone": "Europe/Zurich"}, "exports": {"default_format": "csv"}}, 2)
    v2_before = body_of(client.get(f"{CONFIG}/versions/2", tenant=tenant_a))
    put_config(client, tenant_a, {}, 3)
    # Version 2 is exactly what it was, and complete
    v2 = body_of(client.get(f"{CONFIG}/versions/2", tenant=tenant_a))
    assert v2 == v2_before
    assert v2["version"] == 2 and v2["comment"] == "euro" and v2["document"] == {"general": {"timezone": "Europe/Paris"}}
    assert v2["snapshot"] == first["configuration"]
    assert v2["changes"] == {"general.timezone": {"before": "UTC", "after": "Europe/Paris"}}
    assert v2["actor"]["type"] == "user" and v2["actor"]["sub"] and v2["at"]
    v1 = body_of(client.get(f"{CONFIG}/versions/1", tenant=tenant_a))
    assert v1["document"] == {} and v1["snapshot"] == schema.platform_defaults() and v1["actor"]["type"] == "system"
    # Listed newest first, page by page
    page = body_of(client.get(f"{CONFIG}/versions?limit=3", tenant=tenant_a))
    assert [v["version"] for v in page["items"]] == [4, 3, 2] and page["next_cursor"]
    rest = body_of(client.get(f"{CONFIG}/versions?limit=3&cursor={page['next_cursor']}", tenant=tenant_a))
    assert [v["version"] for v in rest["items"]] == [1]
    for missing in ("5", "0", "abc", "-1"):
        response = client.get(f"{CONFIG}/versions/{missing}", tenant=tenant_a)
        assert response.status_code == 404 and body_of(response)["code"] == "not_found"


def test_before_any_write_the_history_is_the_creation_version(client, tenant_a):
    page = body_of(client.get(f"{CONFIG}/versions", tenant=tenant_a))
    assert [v["version"] for v in page["items"]] == [1] and page["next_cursor"] is None


def test_restore_makes_a_new_version_equal_to_the_old_one(client, tenant_a):
    put_config(client, tenant_a, {"general": {"timezone": "Europe/Paris"}}, 1)
    put_config(client, tenant_a, {"features": {"sms_notifications": True}}, 2)
    missing = client.request("POST", f"{CONFIG}/versions/2/restore", tenant=tenant_a)
    assert missing.status_code == 428
    stale = client.request("POST", f"{CONFIG}/versions/2/restore", tenant=tenant_a, headers={"If-Match": '"2"'})
    assert stale.status_code == 412
    response = client.request("POST", f"{CONFIG}/versions/2/restore", tenant=tenant_a, headers={"If-Match": '"3"'})
    assert response.status_code == 200 and response.headers["ETag"] == '"4"'
    body = body_of(response)
    assert body["version"] == 4 and body["overrides"] == {"general": {"timezone": "Europe/Paris"}}
    v4 = body_of(client.get(f"{CONFIG}/versions/4", tenant=tenant_a))
    assert v4["restored_from"] == 2 and v4["snapshot"] == body_of(client.get(f"{CONFIG}/versions/2",
                                                                             tenant=tenant_a))["snapshot"]
    gone = client.request("POST", f"{CONFIG}/versions/9/restore", tenant=tenant_a, headers={"If-Match": '"4"'})
    assert gone.status_code == 404 and config_of(client, tenant_a)["version"] == 4


def test_two_writers_from_the_same_version_exactly_one_wins(client, tenant_a):
    # Given two admins who both read version 1
    assert config_of(client, tenant_a)["version"] == 1
    results: dict[str, int] = {}

    def second_writer() -> None:
        response = put(client, tenant_a, CONFIG, {"overrides": {"general": {"timezone": "Europe/London"}}}, 1)
        results["second"] = response.status_code

    def interleave(model, **_):
        # The first writer has checked its version and is about to send its transaction:
        # the second writer runs start to finish in between (its own thread and context).
        if model.name == "TransactWriteItems" and "second" not in results:
            results["second"] = 0
            thread = threading.Thread(target=second_writer)
            thread.start()
            thread.join()

    aws.install_session_hook("before-call.dynamodb", interleave)
    try:
        first = put(client, tenant_a, CONFIG, {"overrides": {"general": {"timezone": "Europe/Paris"}}}, 1)
    finally:
        aws.remove_session_hook("before-call.dynamodb", interleave)
    # Then the second (which wrote first) won and the first was refused
    assert results["second"] == 200
    assert first.status_code == 412, first.body
    body = config_of(client, tenant_a)
    assert body["version"] == 2 and body["overrides"] == {"general": {"timezone": "Europe/London"}}
    assert len(raw_items(tenant_a, "CONFIGVER")) == 2  # versions 1 and 2, nothing of the loser
    assert len([e for e in stored_events(tenant_a) if e["action"] == "config.updated"]) == 1


def test_every_write_is_audited_with_its_field_changes(client, tenant_a):
    put_config(client, tenant_a, {"general": {"timezone": "Europe/Paris"}}, 1)
    client.request("POST", f"{CONFIG}/versions/1/restore", tenant=tenant_a, headers={"If-Match": '"2"'})
    events = [e for e in stored_events(tenant_a) if e["action"] == "config.updated"]
    assert [e["target"] for e in events] == [{"kind": "configuration", "id": "2"},
                                             {"kind": "configuration", "id": "3"}]
    assert events[0]["changes"] == {"general.timezone": {"before": "UTC", "after": "Europe/Paris"}}
    assert events[1]["details"] == {"version": 3, "restored_from": 1}
    assert events[0]["actor"]["type"] == "user"
    # The version, the pointer and the event were one transaction: one event per version
    assert len(raw_items(tenant_a, "CONFIGVER")) == 3


def test_roles_manager_reads_but_cannot_write(client, tenant_a):
    assert client.get(CONFIG, tenant=tenant_a, role="manager").status_code == 200
    assert client.get(f"{CONFIG}/versions", tenant=tenant_a, role="manager").status_code == 200
    denied = put(client, tenant_a, CONFIG, {"overrides": {}}, 1, role="manager")
    assert denied.status_code == 403 and body_of(denied)["code"] == "forbidden"
    restore = client.request("POST", f"{CONFIG}/versions/1/restore", tenant=tenant_a, role="manager",
                             headers={"If-Match": '"1"'})
    assert restore.status_code == 403
    for role in ("professional", "customer"):
        assert client.get(CONFIG, tenant=tenant_a, role=role).status_code == 403
    assert client.get(CONFIG, tenant=tenant_a, role=None).status_code == 401
    assert config_of(client, tenant_a)["version"] == 1
