"""Key rotation: the admin routes, the re-encryption job, concurrent edits, crashes, the grace period."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.crypto import pii
from chalicelib.key_rotation import record
from chalicelib.key_rotation import service as rotation
from chalicelib.local.bootstrap import app_queue_names, create_queue_with_dlq
from chalicelib.network.customers import service as customers
from chalicelib.network.customers.models import CustomerUpdate
from chalicelib.network.professionals import service as professionals
from chalicelib.network.professionals.models import ProfessionalUpdate
from chalicelib.settings import reset_settings
from chalicelib.store import data, registry
from chalicelib.store import keys as store_keys
from tests.conftest import body_of
from tests.security.encryption_support import (
    POPULATED_PII,
    as_tenant,
    customer_body,
    deliver,
    keys_of_sealed,
    populate,
    queue_url,
    run_jobs,
    table_items,
    take_messages,
)

ADMIN = "/api/admin/tenants"


@pytest.fixture
def grace(aws_mock, monkeypatch):
    """Set the rotation's grace period (0 by default here); the queue the app declares."""
    def set_grace(seconds: int) -> None:
        monkeypatch.setenv("TENANT_CACHE_TTL_SECONDS", "0")
        monkeypatch.setenv("KEY_ROTATION_GRACE_SECONDS", str(seconds))
        reset_settings()

    set_grace(0)
    create_queue_with_dlq(rotation.QUEUE)
    return set_grace


def rotate(client, reference: str) -> Any:
    return client.request("POST", f"{ADMIN}/{reference}/keys/rotate", role="platform_admin")


def stored_rotation(tenant) -> record.Rotation:
    with as_tenant(tenant):
        found = record.load()
    assert found is not None
    return found


def snapshot(client, tenant, made) -> dict[str, Any]:
    paths = [f"/api/professionals/{p['id']}" for p in made["professionals"]]
    paths += [f"/api/customers/{c['id']}" for c in made["customers"]]
    paths += [f"/api/referrals/{r['id']}" for r in made["referrals"]]
    responses = {path: client.get(path, tenant=tenant) for path in paths}
    assert all(r.status_code == 200 for r in responses.values())
    return {path: (body_of(r), r.headers["ETag"]) for path, r in responses.items()}


def kms_state(arn: str) -> str:
    return aws.client("kms").describe_key(KeyId=arn.rsplit("/", 1)[-1])["KeyMetadata"]["KeyState"]


# ---- the whole rotation ----------------------------------------------------------------

def test_rotation_moves_every_document_to_a_new_key_and_retires_the_old(client, tenant_a, grace):
    made = populate(client, tenant_a)
    before = snapshot(client, tenant_a, made)
    old = tenant_a.kms_key_arn
    assert keys_of_sealed(tenant_a) == {frozenset({old})}
    shown = body_of(client.request("GET", f"{ADMIN}/{tenant_a.id}/keys", role="platform_admin"))
    assert shown["current_key"] == {"arn": old, "state": "Enabled", "automatic_rotation": True,
                                    "deletion_date": None} and shown["rotation"] is None

    response = rotate(client, "acme")  # by slug
    assert response.status_code == 202 and response.headers["Location"] == f"{ADMIN}/{tenant_a.id}/keys"
    started = body_of(response)["rotation"]
    switched = registry.get_tenant(tenant_a.id)
    new = switched.kms_key_arn
    assert new != old and switched.previous_kms_key_arns == (old,) and started["status"] == "reencrypting"
    assert started["new_key"] == new and started["old_keys"] == [old]

    # Until the job runs, old documents read and new ones are sealed under the new key.
    assert snapshot(client, tenant_a, made) == before
    late = client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(7))
    assert late.status_code == 201
    assert keys_of_sealed(switched) == {frozenset({old}), frozenset({new})}
    progress = body_of(client.request("GET", f"{ADMIN}/{tenant_a.id}/keys", role="platform_admin"))
    assert [k["arn"] for k in progress["previous_keys"]] == [old] and progress["rotation"]["status"] == "reencrypting"

    messages = take_messages()
    assert len(messages) == 1
    assert messages[0]["MessageAttributes"]["tenant_id"]["StringValue"] == str(tenant_a.id)
    assert json.loads(messages[0]["Body"]) == {"tenant_id": str(tenant_a.id), "rotation_id": started["id"]}
    assert deliver(messages[0]) == []

    done = registry.get_tenant(tenant_a.id)
    assert done.kms_key_arn == new and done.previous_kms_key_arns == ()
    assert keys_of_sealed(done) == {frozenset({new})}
    assert kms_state(old) == "PendingDeletion" and kms_state(new) == "Enabled"
    alias = f"alias/tenant-platform/local/tenant/{tenant_a.id}"
    assert aws.client("kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"] == new
    final = body_of(client.request("GET", f"{ADMIN}/{tenant_a.id}/keys", role="platform_admin"))
    assert final["rotation"]["status"] == "complete" and final["rotation"]["finished_at"]
    assert final["rotation"]["items_checked"] == 10 and final["rotation"]["items_reencrypted"] == 9
    assert final["previous_keys"] == [] and final["retired_keys"][0]["state"] == "PendingDeletion"
    # Content and versions (ETags) are untouched: re-encryption is not an edit.
    assert snapshot(client, tenant_a, made) == before
    assert not [v for v in POPULATED_PII if v.lower() in json.dumps(table_items()).lower()]
    assert take_messages() == []


def test_a_second_post_resumes_the_unfinished_rotation(client, tenant_a, grace):
    populate(client, tenant_a, professionals=2, customers=1)
    first, second = body_of(rotate(client, str(tenant_a.id))), body_of(rotate(client, "acme"))
    assert first["rotation"]["id"] == second["rotation"]["id"]
    tagged = [k for k in aws.client("kms").list_keys()["Keys"]
              if {"TagKey": "tenant_id", "TagValue": str(tenant_a.id)}
              in aws.client("kms").list_resource_tags(KeyId=k["KeyId"])["Tags"]]
    assert len(tagged) == 2  # the original and one new key, not two
    run_jobs()
    assert stored_rotation(tenant_a).status == "complete"
    third = body_of(rotate(client, "acme"))["rotation"]  # a finished rotation allows a new one
    assert third["id"] != first["rotation"]["id"] and third["old_keys"] == [first["rotation"]["new_key"]]


# ---- concurrency and crashes -----------------------------------------------------------

def _is_reseal(model: Any, params: dict[str, Any]) -> bool:
    """The job's conditional re-encryption write: an UpdateItem that sets ``pii`` alone."""
    names = params.get("ExpressionAttributeNames") or {}
    return model.name == "UpdateItem" and set(names.values()) == {"pii"} and "ConditionExpression" in params


def test_rotation_under_concurrent_edits_loses_no_edit(client, tenant_a, grace):
    made = populate(client, tenant_a)
    stale = tenant_a  # a process that resolved the tenant before the switch: it seals under the old key
    old = tenant_a.kms_key_arn
    assert rotate(client, "acme").status_code == 202
    pro, customer = made["professionals"][1], made["customers"][1]
    edits = {
        store_keys.data_partition(tenant_a.id, store_keys.PROFESSIONAL) + "|" + pro["id"]: lambda: (
            professionals.update_professional(uuid.UUID(pro["id"]), ProfessionalUpdate(
                contact_name="Edited By Stale", phone="+1 555 010 1111"), 1)),
        store_keys.data_partition(tenant_a.id, store_keys.CUSTOMER) + "|" + customer["id"]: lambda: (
            customers.update_customer(uuid.UUID(customer["id"]), CustomerUpdate(notes="Edited concurrently"), 1)),
    }
    done: list[str] = []

    def edit_first(model: Any, params: dict[str, Any], **_: Any) -> None:
        if not _is_reseal(model, params):
            return
        target = params["Key"]["pk"]["S"] + "|" + params["Key"]["sk"]["S"]
        if target in edits and target not in done:
            done.append(target)

            def as_stale_process() -> None:
                with as_tenant(stale):
                    edits[target]()

            editor = threading.Thread(target=as_stale_process)  # its own (empty) context
            editor.start()
            editor.join()

    aws.install_session_hook("before-parameter-build.dynamodb", edit_first)
    try:
        run_jobs()
    finally:
        aws.remove_session_hook("before-parameter-build.dynamodb", edit_first)

    assert len(done) == 2
    edited_pro = body_of(client.get(f"/api/professionals/{pro['id']}", tenant=tenant_a))
    assert edited_pro["contact_name"] == "Edited By Stale" and edited_pro["phone"] == "+1 555 010 1111"
    assert edited_pro["version"] == 2 and edited_pro["email"] == pro["email"]
    listed = body_of(client.get("/api/professionals?category=paint", tenant=tenant_a))["items"]
    assert [p["contact_name"] for p in listed if p["id"] == pro["id"]] == ["Edited By Stale"]  # its copy too
    edited_customer = body_of(client.get(f"/api/customers/{customer['id']}", tenant=tenant_a))
    assert edited_customer["notes"] == "Edited concurrently" and edited_customer["version"] == 2
    tenant = registry.get_tenant(tenant_a.id)
    assert keys_of_sealed(tenant) == {frozenset({tenant.kms_key_arn})} and kms_state(old) == "PendingDeletion"
    assert "Edited By Stale".lower() not in json.dumps(table_items()).lower()


def test_a_crash_mid_reencryption_is_resumed_by_the_retry(client, tenant_a, grace):
    populate(client, tenant_a)
    rotate(client, "acme")
    [message] = take_messages()
    writes: list[str] = []

    def crash_on_fifth(model: Any, params: dict[str, Any], **_: Any) -> None:
        if _is_reseal(model, params):
            writes.append(params["Key"]["sk"]["S"])
            if len(writes) == 5:
                raise RuntimeError("the worker died")

    aws.install_session_hook("before-parameter-build.dynamodb", crash_on_fifth)
    try:
        assert deliver(message) == [message["MessageId"]]  # reported failed: SQS redelivers it
    finally:
        aws.remove_session_hook("before-parameter-build.dynamodb", crash_on_fifth)

    halfway = stored_rotation(tenant_a)
    tenant = registry.get_tenant(tenant_a.id)
    assert halfway.status == "reencrypting" and halfway.checkpoint is not None
    assert 0 < halfway.items_reencrypted < 9
    assert keys_of_sealed(tenant) == {frozenset({tenant_a.kms_key_arn}), frozenset({tenant.kms_key_arn})}

    assert deliver(message) == []  # the redelivery
    run_jobs()
    finished = stored_rotation(tenant_a)
    assert finished.status == "complete" and finished.sweeps == 1  # resumed, not restarted
    assert finished.items_checked < 9 + halfway.items_checked
    assert keys_of_sealed(registry.get_tenant(tenant_a.id)) == {frozenset({tenant.kms_key_arn})}
    assert kms_state(tenant_a.kms_key_arn) == "PendingDeletion"


def test_retirement_waits_for_a_sweep_that_starts_after_the_grace_period(client, tenant_a, grace):
    grace(60)
    made = populate(client, tenant_a, professionals=2, customers=1)
    rotate(client, "acme")
    [message] = take_messages()
    assert deliver(message) == []
    first = stored_rotation(tenant_a)
    assert first.status == "reencrypting" and first.sweeps == 1 and first.sweep_started_at is None
    assert registry.get_tenant(tenant_a.id).previous_kms_key_arns == (tenant_a.kms_key_arn,)
    assert kms_state(tenant_a.kms_key_arn) == "Enabled"
    counts = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url(), AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1" and take_messages() == []

    # Meanwhile a process that still holds the old keys seals a document under them.
    with as_tenant(tenant_a):
        customers.update_customer(uuid.UUID(made["customers"][0]["id"]), CustomerUpdate(notes="Late"), 1)
    # The grace period passes (the switch is moved back instead of sleeping a minute).
    with as_tenant(tenant_a):
        record.save(first.model_copy(update={"switched_at": first.switched_at - timedelta(seconds=61)}))
    assert deliver(message) == []  # the delayed message, delivered
    final = stored_rotation(tenant_a)
    assert final.status == "complete" and final.sweeps == 2 and final.items_reencrypted == first.items_reencrypted + 1
    tenant = registry.get_tenant(tenant_a.id)
    assert keys_of_sealed(tenant) == {frozenset({tenant.kms_key_arn})}
    assert body_of(client.get(f"/api/customers/{made['customers'][0]['id']}", tenant=tenant_a))["notes"] == "Late"


def test_a_process_holding_the_old_keys_reads_documents_sealed_under_the_new_one(client, tenant_a, grace):
    rotate(client, "acme")
    made = client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(3))
    customer_id = body_of(made)["id"]
    with as_tenant(tenant_a):  # the old snapshot: no idea the new key exists
        assert customers.get_customer(customers.Reader(None), uuid.UUID(customer_id)).name == "Vision 3"
        assert pii.tenant_keys(tenant_a).previous == ()


# ---- refusals --------------------------------------------------------------------------

def test_unknown_tenants_and_foreign_messages_are_refused(client, tenant_a, grace):
    assert rotate(client, str(uuid.uuid4())).status_code == 404
    assert rotate(client, "no-such-tenant").status_code == 404
    assert client.request("GET", f"{ADMIN}/nope/keys", role="platform_admin").status_code == 404
    body = json.dumps({"tenant_id": str(tenant_a.id), "rotation_id": "x"})
    unattributed = {"MessageId": "m-1", "Body": body, "MessageAttributes": {}}
    assert deliver(unattributed) == ["m-1"]
    with as_tenant(tenant_a):
        assert data.get(data.partition(store_keys.KEY_ROTATION), "ROTATION") is None


def test_the_rotation_queue_is_declared_for_the_local_bootstrap():
    from app import app

    assert rotation.QUEUE in app_queue_names(app)


def test_a_rotation_is_in_the_tenants_audit_trail_once(client, tenant_a, grace):
    from tests.audit_helpers import stored_events

    # Given a rotation started by a super-admin, and its POST repeated while it runs
    started = rotate(client, str(tenant_a.id))
    assert started.status_code == 202
    assert rotate(client, str(tenant_a.id)).status_code == 202
    # Then the tenant's trail holds exactly one key.rotated event, for that rotation, by that admin
    events = [e for e in stored_events(tenant_a) if e["action"] == "key.rotated"]
    assert len(events) == 1
    assert events[0]["target"] == {"kind": "tenant_key", "id": stored_rotation(tenant_a).id}
    assert events[0]["actor"]["platform_admin"] is True
    assert "arn:" not in json.dumps(events[0])
