"""Data exports: request, worker, round trips, download, isolation, idempotency, failures."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import aws, clock
from chalicelib.exports import records, worker
from chalicelib.exports.models import ExportStatus
from chalicelib.local import bootstrap
from chalicelib.settings import EXPORTS_QUEUE, get_settings, reset_settings
from chalicelib.store import data
from chalicelib.store import keys as store_keys
from chalicelib.store.data import DataItem
from chalicelib.tenancy.resolution import clear_cache
from tests.audit_helpers import stored_events
from tests.conftest import body_of
from tests.exports_support import (
    EXPORTS,
    FakeLambdaContext,
    deliver,
    download,
    export_of,
    listing,
    open_uploads,
    parse_csv_export,
    parse_json_export,
    pump,
    queue_url,
    request,
    run_queue,
    seed_customers,
    stored_keys,
    take_messages,
)
from tests.security.encryption_support import as_tenant, populate


def set_export_limits(client: Any, tenant: Any, per_day: int, concurrent: int) -> None:
    response = client.request("PUT", f"/api/admin/tenants/{tenant.id}/limits", role="platform_admin",
                              body={"exports_per_day": per_day, "max_concurrent_exports": concurrent})
    assert response.status_code == 200, response.body


@pytest.fixture(autouse=True)
def roomy_limits(client, tenant_a):
    """The free plan allows two exports a day, one at a time; these tests need more."""
    set_export_limits(client, tenant_a, 1000, 50)


def sent_mail() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends["123456789012"]["us-east-1"].sent_messages)


def api_view(client: Any, tenant: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        "professionals": listing(client, tenant, "/api/professionals"),
        "customers": listing(client, tenant, "/api/customers"),
        "referrals": listing(client, tenant, "/api/referrals"),
        "service_categories": listing(client, tenant, "/api/service-categories"),
    }


def by_id(rows: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def completed_export(client: Any, tenant: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = request(client, tenant, body)
    assert response.status_code == 202, response.body
    export_id = body_of(response)["id"]
    assert response.headers["Location"] == f"{EXPORTS}/{export_id}"
    assert body_of(response)["status"] == "queued"
    run_queue()
    found = export_of(client, tenant, export_id)
    assert found["status"] == "completed", found
    return found


# ---- round trips ------------------------------------------------------------------------

def test_a_json_export_round_trips_every_entity_with_pii_in_clear(client, tenant_a):
    populate(client, tenant_a, professionals=3, customers=4)
    expected = api_view(client, tenant_a)
    mails_before = len(sent_mail())

    found = completed_export(client, tenant_a, {"format": "json", "notify_email": "owner@acme.example"})
    blob, key, query = download(client, tenant_a, found["id"])

    exported = parse_json_export(blob)
    assert set(exported) == set(expected)
    for entity, rows in expected.items():
        key_field = "slug" if entity == "service_categories" else "id"
        assert by_id(exported[entity], key_field) == by_id(rows, key_field), entity
    assert found["counts"] == {entity: len(rows) for entity, rows in expected.items()}
    assert any(c["name"] == "Vision 0" and c["notes"] == "Door code 1200" for c in exported["customers"])
    assert found["size_bytes"] == len(blob)
    assert found["sha256"] == hashlib.sha256(blob).hexdigest()
    assert query["X-Amz-Expires"] == ["300"]
    assert key.endswith(".ndjson.gz")

    mail = sent_mail()[mails_before:]
    assert len(mail) == 1 and mail[0].destinations["ToAddresses"] == ["owner@acme.example"]
    assert f"/api/tenant/exports/{found['id']}/download" in mail[0].body
    assert "X-Amz" not in mail[0].body  # never a presigned URL in a mail


def test_a_csv_export_is_a_zip_of_one_csv_per_entity_with_headers(client, tenant_a):
    populate(client, tenant_a, professionals=2, customers=3)
    expected = api_view(client, tenant_a)

    found = completed_export(client, tenant_a, {"format": "csv", "notify_email": "owner@acme.example",
                                                "include": ["customers", "professionals", "audit"]})
    blob, key, _ = download(client, tenant_a, found["id"])

    exported = parse_csv_export(blob)
    assert key.endswith(".zip") and set(exported) == {"customers", "professionals", "audit"}
    customers = by_id(exported["customers"])
    assert set(customers) == {c["id"] for c in expected["customers"]}
    for original in expected["customers"]:
        row = customers[original["id"]]
        assert row["name"] == original["name"] and row["email"] == original["email"]
        assert row["notes"] == original["notes"] and json.loads(row["vehicles"]) == original["vehicles"]
    professionals = by_id(exported["professionals"])
    for original in expected["professionals"]:
        row = professionals[original["id"]]
        assert row["contact_name"] == original["contact_name"] and row["license_number"] == original["license_number"]
        assert json.loads(row["address"]) == original["address"]
        assert json.loads(row["service_categories"]) == original["service_categories"]
    assert len(exported["audit"]) == found["counts"]["audit"] > 0
    assert {"professional.created", "export.requested"} <= {row["action"] for row in exported["audit"]}
    assert found["sha256"] == hashlib.sha256(blob).hexdigest()


# ---- isolation and encryption at rest ------------------------------------------------------

def test_another_tenant_gets_404_for_an_export_and_its_download(client, tenant_a, tenant_b):
    populate(client, tenant_a, professionals=2, customers=1)
    found = completed_export(client, tenant_a, {"format": "json", "notify_email": "owner@acme.example"})
    events_before = len(stored_events(tenant_b))

    for path in (f"{EXPORTS}/{found['id']}", f"{EXPORTS}/{found['id']}/download"):
        response = client.get(path, tenant=tenant_b)
        assert response.status_code == 404 and body_of(response)["code"] == "not_found", path
    assert body_of(client.get(EXPORTS, tenant=tenant_b))["items"] == []
    assert len(stored_events(tenant_b)) == events_before
    assert not any(e["action"] == "export.downloaded" for e in stored_events(tenant_a))


def test_the_object_is_under_the_tenants_prefix_encrypted_with_its_own_key(client, tenant_a, tenant_b):
    populate(client, tenant_a, professionals=2, customers=1)
    found = completed_export(client, tenant_a, {"format": "csv", "notify_email": "owner@acme.example"})
    _, key, _ = download(client, tenant_a, found["id"])

    assert key.startswith(f"tenants/{tenant_a.id}/exports/{found['id']}")
    head = aws.client("s3").head_object(Bucket=get_settings().exports_bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == tenant_a.kms_key_arn != tenant_b.kms_key_arn
    assert stored_keys() == [key]  # nothing parked or left beside it
    assert open_uploads() == []


def test_the_download_is_audited_and_redirects_to_a_five_minute_url(client, tenant_a):
    populate(client, tenant_a, professionals=2, customers=1)
    found = completed_export(client, tenant_a, {"format": "json", "notify_email": "owner@acme.example"})
    response = client.get(f"{EXPORTS}/{found['id']}/download", tenant=tenant_a)
    assert response.status_code == 302 and response.headers["Cache-Control"] == "no-store"
    assert "X-Amz-Expires=300" in response.headers["Location"]
    [event] = [e for e in stored_events(tenant_a) if e["action"] == "export.downloaded"]
    assert event["target"] == {"kind": "export", "id": found["id"]} and event["actor"]["type"] == "user"
    actions = [e["action"] for e in stored_events(tenant_a) if e["target"]["kind"] == "export"]
    assert actions == ["export.requested", "export.completed", "export.downloaded"]


@pytest.mark.parametrize("role", ["manager", "professional", "customer"])
def test_only_roles_with_exports_manage_reach_exports(client, tenant_a, role):
    populate(client, tenant_a, professionals=2, customers=1)
    found = completed_export(client, tenant_a, {"format": "json", "notify_email": "owner@acme.example"})
    for method, path in (("POST", EXPORTS), ("GET", EXPORTS), ("GET", f"{EXPORTS}/{found['id']}"),
                         ("GET", f"{EXPORTS}/{found['id']}/download")):
        response = client.request(method, path, tenant=tenant_a, role=role,
                                  body={"format": "json", "notify_email": "x@acme.example"})
        assert response.status_code == 403, (method, path)
    assert len(body_of(client.get(EXPORTS, tenant=tenant_a))["items"]) == 1


# ---- requests ------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"format": "xml", "notify_email": "a@acme.example"},
    {"format": "json", "include": ["members"], "notify_email": "a@acme.example"},
    {"format": "json", "include": ["customers", "customers"], "notify_email": "a@acme.example"},
    {"format": "json", "include": [], "notify_email": "a@acme.example"},
    {"format": "json", "notify_email": "not-an-address"},
    {"format": "json", "notify_email": "a@acme.example", "status": "completed"},
    {"format": "json"},  # no address: the token has no email claim
])
def test_a_bad_request_is_422_and_stores_nothing(client, tenant_a, body):
    response = request(client, tenant_a, body)
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"
    assert body_of(client.get(EXPORTS, tenant=tenant_a))["items"] == []
    assert take_messages() == []


def test_the_link_goes_to_the_tokens_email_claim_by_default(client, tenant_a, tokens):
    token = tokens.token(tenant=tenant_a, email="claim@acme.example")
    response = client.request("POST", EXPORTS, tenant=tenant_a, token=token, body={"format": "csv"})
    assert response.status_code == 202
    before = len(sent_mail())
    run_queue()
    [mail] = sent_mail()[before:]
    assert mail.destinations["ToAddresses"] == ["claim@acme.example"]


def test_list_shows_status_counts_and_pages_newest_first(client, tenant_a):
    ids = [body_of(request(client, tenant_a))["id"] for _ in range(3)]
    page = body_of(client.get(f"{EXPORTS}?limit=2", tenant=tenant_a))
    assert [e["id"] for e in page["items"]] == ids[::-1][:2] and page["next_cursor"]
    rest = body_of(client.get(f"{EXPORTS}?limit=2&cursor={page['next_cursor']}", tenant=tenant_a))
    assert [e["id"] for e in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert {e["status"] for e in page["items"]} == {"queued"}
    assert "notify_email" not in page["items"][0] and "progress" not in page["items"][0]
    not_ready = client.get(f"{EXPORTS}/{ids[0]}/download", tenant=tenant_a)
    assert not_ready.status_code == 409 and body_of(not_ready)["code"] == "export_not_ready"
    run_queue()
    done = export_of(client, tenant_a, ids[0])
    assert done["status"] == "completed" and done["started_at"] and done["completed_at"] and done["expires_at"]
    assert set(done["counts"]) == {"professionals", "customers", "referrals", "service_categories"}


# ---- delivery: duplicates, poison messages ----------------------------------------------------

def test_a_duplicate_delivery_runs_the_export_once(client, tenant_a):
    populate(client, tenant_a, professionals=2, customers=2)
    export_id = body_of(request(client, tenant_a))["id"]
    [message] = take_messages()
    mails = len(sent_mail())

    assert deliver(message) == []
    first = export_of(client, tenant_a, export_id)
    assert deliver(message) == []  # acknowledged, and nothing done
    assert export_of(client, tenant_a, export_id) == first
    completed = [e for e in stored_events(tenant_a) if e["action"] == "export.completed"]
    assert len(completed) == 1 and len(sent_mail()) == mails + 1
    assert len(stored_keys(f"tenants/{tenant_a.id}/exports/")) == 1


def test_a_copy_delivered_while_a_run_holds_the_export_is_dropped(client, tenant_a):
    export_id = uuid.UUID(body_of(request(client, tenant_a))["id"])
    [message] = take_messages()
    with as_tenant(tenant_a):
        held = records.load(export_id)
        records.save(held.model_copy(update={"status": ExportStatus.RUNNING,
                                             "lease_until": clock.now() + timedelta(seconds=60)}))
    assert deliver(message) == []
    assert export_of(client, tenant_a, str(export_id))["status"] == "running"
    assert open_uploads() == []


def test_a_poison_message_reaches_the_dead_letter_queue(client, tenant_a):
    """The real redrive policy (moto applies maxReceiveCount on receive, as SQS does)."""
    sqs = aws.client("sqs")
    for body, attributes in (
        ("not json", {"tenant_id": {"DataType": "String", "StringValue": str(tenant_a.id)}}),
        (json.dumps({"tenant_id": str(uuid.uuid4()), "export_id": str(uuid.uuid4()), "step": 1}), {}),
        (json.dumps({"tenant_id": str(tenant_a.id), "export_id": "nope", "step": 1}),
         {"tenant_id": {"DataType": "String", "StringValue": str(tenant_a.id)}}),
    ):
        sqs.send_message(QueueUrl=queue_url(), MessageBody=body, MessageAttributes=attributes)
    for _ in range(bootstrap.MAX_RECEIVES + 1):
        received = sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       AttributeNames=["All"]).get("Messages", [])
        for message in received:
            count = int(message["Attributes"]["ApproximateReceiveCount"])
            assert deliver(message, receive_count=count) == [message["MessageId"]]  # reported failed
            # Lambda returns it to the queue; its visibility timeout is skipped here.
            sqs.change_message_visibility(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
    assert take_messages() == []
    dead = take_messages(EXPORTS_QUEUE + "-dlq")
    assert len(dead) == 3 and {m["Body"] for m in dead} >= {"not json"}


# ---- checkpoints, crashes, failures --------------------------------------------------------------

def _query_crash(after: int) -> Any:
    """A DynamoDB hook that fails the ``after``-th Query of the customers partition."""
    seen: list[int] = []

    def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "Query" and "#CUS" in json.dumps(params.get("ExpressionAttributeValues", {})):
            seen.append(1)
            if len(seen) == after:
                raise RuntimeError("the worker died")

    return hook


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_an_export_checkpoints_crashes_and_resumes_with_no_row_lost_or_repeated(client, tenant_a, fmt,
                                                                                monkeypatch):
    monkeypatch.setenv("EXPORT_PAGE_SIZE", "50")
    reset_settings()
    seed_customers(tenant_a, 620)
    export_id = body_of(request(client, tenant_a, {"format": fmt, "notify_email": "o@acme.example",
                                                   "include": ["service_categories", "customers", "referrals"]}))["id"]
    [first] = take_messages()

    # Step 1: time runs short after four pages; the worker checkpoints and sends step 2.
    assert deliver(first, FakeLambdaContext(plenty_calls=4)) == []
    halfway = export_of(client, tenant_a, export_id)
    assert halfway["status"] == "running" and 0 < halfway["counts"]["customers"] < 620
    [second] = take_messages()
    assert json.loads(second["Body"])["step"] == 2
    parked = [k for k in stored_keys() if ".pending-" in k]
    assert len(parked) == 1

    # Step 2 dies mid-way (after its own checkpoint-free pages): reported failed, lease released.
    hook = _query_crash(after=3)
    aws.install_session_hook("before-parameter-build.dynamodb", hook)
    try:
        assert deliver(second) == [second["MessageId"]]
    finally:
        aws.remove_session_hook("before-parameter-build.dynamodb", hook)
    assert export_of(client, tenant_a, export_id)["counts"] == halfway["counts"]  # from the checkpoint

    # The redelivery resumes from the checkpoint, checkpoints once more, and a step 3 finishes.
    assert deliver(second, FakeLambdaContext(plenty_calls=3), receive_count=2) == []
    [third] = take_messages()
    assert deliver(third) == [] and take_messages() == []

    done = export_of(client, tenant_a, export_id)
    assert done["status"] == "completed" and done["counts"]["customers"] == 620
    blob, _, _ = download(client, tenant_a, export_id)
    rows = parse_json_export(blob)["customers"] if fmt == "json" else parse_csv_export(blob)["customers"]
    names = sorted(row["name"] for row in rows)
    assert names == sorted(f"Customer {n}" for n in range(620))  # none missing, none twice
    assert done["sha256"] == hashlib.sha256(blob).hexdigest() and done["size_bytes"] == len(blob)
    assert [k for k in stored_keys() if ".pending-" in k] == [] and open_uploads() == []


def test_an_item_that_does_not_decrypt_fails_the_export_aborts_the_upload_and_mails(client, tenant_a):
    populate(client, tenant_a, professionals=2, customers=2)
    [victim] = listing(client, tenant_a, "/api/customers")[:1]
    with as_tenant(tenant_a):
        item = data.get(data.partition(store_keys.CUSTOMER), victim["id"])
        item.update(actions=[DataItem.pii.set(item.pii[:-8] + "AAAAAAAA")])
    mails = len(sent_mail())
    export_id = body_of(request(client, tenant_a))["id"]
    run_queue()

    failed = export_of(client, tenant_a, export_id)
    assert failed["status"] == "failed" and "could not be decrypted" in failed["error"]
    assert failed["completed_at"] and failed["sha256"] is None
    assert open_uploads() == [] and stored_keys() == []
    [mail] = sent_mail()[mails:]
    assert "failed" in mail.subject and "could not be decrypted" in mail.body
    assert [e["action"] for e in stored_events(tenant_a) if e["target"]["kind"] == "export"] == [
        "export.requested", "export.failed"]
    assert client.get(f"{EXPORTS}/{export_id}/download", tenant=tenant_a).status_code == 409


def test_an_error_on_the_last_receive_fails_the_export_instead_of_retrying(client, tenant_a):
    populate(client, tenant_a, professionals=2, customers=2)
    export_id = body_of(request(client, tenant_a))["id"]
    [message] = take_messages()
    hook = _query_crash(after=1)
    aws.install_session_hook("before-parameter-build.dynamodb", hook)
    try:
        assert deliver(message, receive_count=1) == [message["MessageId"]]
        assert export_of(client, tenant_a, export_id)["status"] == "running"
        hook2 = _query_crash(after=1)
        aws.install_session_hook("before-parameter-build.dynamodb", hook2)
        assert deliver(message, receive_count=bootstrap.MAX_RECEIVES) == []  # handled: recorded failed
    finally:
        aws.remove_session_hook("before-parameter-build.dynamodb", hook)
        aws.remove_session_hook("before-parameter-build.dynamodb", hook2)
    failed = export_of(client, tenant_a, export_id)
    assert failed["status"] == "failed" and "repeatedly" in failed["error"]
    assert open_uploads() == []


def test_a_message_for_an_inactive_tenant_is_refused(client, tenant_a):
    export_id = body_of(request(client, tenant_a))["id"]
    [message] = take_messages()
    client.request("DELETE", f"/api/admin/tenants/{tenant_a.id}", role="platform_admin")
    clear_cache()
    assert deliver(message) == [message["MessageId"]]
    with as_tenant(tenant_a):
        assert records.load(uuid.UUID(export_id)).status is ExportStatus.QUEUED
    assert open_uploads() == []


# ---- expiry ----------------------------------------------------------------------------------

def test_the_cleanup_expires_old_exports_and_their_downloads_are_gone(client, tenant_a):
    populate(client, tenant_a, professionals=2, customers=1)
    found = completed_export(client, tenant_a, {"format": "json", "notify_email": "owner@acme.example"})
    fresh = completed_export(client, tenant_a, {"format": "csv", "notify_email": "owner@acme.example"})
    with as_tenant(tenant_a):
        old = records.load(uuid.UUID(found["id"]))
        days = timedelta(days=get_settings().export_retention_days + 1)
        records.save(old.model_copy(update={"created_at": old.created_at - days,
                                            "expires_at": clock.now() - timedelta(hours=1)}))

    result = pump().fire("exports_cleanup")
    assert result["tenants_failed"] == []
    assert export_of(client, tenant_a, found["id"])["status"] == "expired"
    assert export_of(client, tenant_a, fresh["id"])["status"] == "completed"
    gone = client.get(f"{EXPORTS}/{found['id']}/download", tenant=tenant_a)
    assert gone.status_code == 410 and body_of(gone)["code"] == "export_expired"
    assert stored_keys(f"tenants/{tenant_a.id}/exports/{found['id']}") == []


def test_the_cleanup_resends_a_stalled_export_which_then_completes(client, tenant_a):
    populate(client, tenant_a, professionals=2, customers=1)
    export_id = uuid.UUID(body_of(request(client, tenant_a))["id"])
    take_messages()  # the message is lost
    with as_tenant(tenant_a):
        stalled = records.load(export_id)
        stalled = records.save(stalled.model_copy(update={"status": ExportStatus.RUNNING}))
    # An hour later (the record's clock is moved back instead of waiting).
    with as_tenant(tenant_a):
        item = data.get(data.partition(store_keys.EXPORT), str(export_id))
        item.update(actions=[DataItem.updated_at.set((clock.now() - timedelta(hours=1)).isoformat())])

    assert pump().fire("exports_cleanup")["tenants_failed"] == []
    run_queue()
    assert export_of(client, tenant_a, str(export_id))["status"] == "completed"


# ---- scale ------------------------------------------------------------------------------------

def test_a_twenty_thousand_item_export_completes_with_every_row(client, tenant_a):
    seed_customers(tenant_a, 20_000)
    export_id = body_of(request(client, tenant_a, {"format": "json", "notify_email": "o@acme.example",
                                                   "include": ["customers"]}))["id"]
    run_queue()
    done = export_of(client, tenant_a, export_id)
    assert done["status"] == "completed" and done["counts"] == {"customers": 20_000}
    blob, _, _ = download(client, tenant_a, export_id)
    rows = parse_json_export(blob)["customers"]
    assert len({row["id"] for row in rows}) == 20_000
    assert {row["name"] for row in rows} == {f"Customer {n}" for n in range(20_000)}
    assert done["sha256"] == hashlib.sha256(blob).hexdigest()


# ---- limits -----------------------------------------------------------------------------------

def test_exports_per_day_is_a_429_with_retry_after_and_nothing_stored(client, tenant_a):
    set_export_limits(client, tenant_a, per_day=2, concurrent=5)
    assert [request(client, tenant_a).status_code for _ in range(2)] == [202, 202]
    run_queue()
    refused = request(client, tenant_a)
    problem = body_of(refused)
    assert refused.status_code == 429 and problem["code"] == "export_daily_limit"
    assert problem["limit"] == 2 and problem["usage"] == 2
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    assert len(body_of(client.get(EXPORTS, tenant=tenant_a))["items"]) == 2
    assert take_messages() == []
    assert [e["action"] for e in stored_events(tenant_a)].count("export.requested") == 2


def test_max_concurrent_exports_is_a_409_until_one_finishes(client, tenant_a):
    set_export_limits(client, tenant_a, per_day=10, concurrent=1)
    assert request(client, tenant_a).status_code == 202
    busy = request(client, tenant_a)
    assert busy.status_code == 409 and body_of(busy)["code"] == "export_concurrency_limit"
    assert body_of(busy)["limit"] == 1 and body_of(busy)["usage"] == 1
    assert len(body_of(client.get(EXPORTS, tenant=tenant_a))["items"]) == 1
    run_queue()  # it completes, giving its slot back
    assert request(client, tenant_a).status_code == 202


def test_a_failed_export_gives_its_slot_back(client, tenant_a):
    set_export_limits(client, tenant_a, per_day=10, concurrent=1)
    export_id = body_of(request(client, tenant_a))["id"]
    with as_tenant(tenant_a):
        worker.fail(uuid.UUID(export_id), "test")
    assert request(client, tenant_a).status_code == 202


def test_the_free_plan_limits_apply_without_overrides(client, tenant_b):
    assert request(client, tenant_b).status_code == 202
    assert request(client, tenant_b).status_code == 409  # one at a time
    run_queue()
    assert request(client, tenant_b).status_code == 202
    run_queue()
    third = request(client, tenant_b)
    assert third.status_code == 429 and body_of(third)["limit"] == 2
