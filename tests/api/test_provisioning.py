"""Provisioning: ordered steps recorded on the tenant; a crash anywhere is resumed without duplicates."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import aws
from chalicelib.ratelimit import usage_plans
from chalicelib.tenants import provisioning
from tests.conftest import body_of
from tests.support.principals import real_members

ADMIN = "platform_admin"
STEP_NAMES = [name for name, _ in provisioning.STEPS]


class InjectedCrash(RuntimeError):
    pass


def body(slug: str = "rapid", **fields):
    return {"slug": slug, "name": "Rapid Motors", "display_name": "Rapid", "admin_email": f"owner@{slug}.example",
            **fields}


def sent_mail() -> list:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def admin_get(client, ref: str) -> dict:
    return body_of(client.get(f"/api/admin/tenants/{ref}", role=ADMIN))


def counts(client, tenant_id: str) -> dict[str, int]:
    def n(path: str) -> int:
        response = client.get(path + "?limit=100" if "members" not in path and "roles" not in path else path,
                              role="tenant_admin", tenant=tenant_id)
        assert response.status_code == 200, response.body
        items = body_of(response)["items"]
        return len(real_members(items) if "members" in path else items)

    return {"categories": n("/api/service-categories"), "roles": n("/api/tenant/roles"),
            "members": n("/api/tenant/members"), "professionals": n("/api/professionals"),
            "customers": n("/api/customers"), "referrals": n("/api/referrals"),
            "mail": len([m for m in sent_mail() if "owner@rapid.example" in m.destinations["ToAddresses"]]),
            "api_keys": api_keys(tenant_id)}


def api_keys(tenant_id: str) -> list[tuple[str, str]]:
    """(plan, key name) for every usage plan key that is the tenant's, and any stray key."""
    name = usage_plans.tenant_key_name(UUID(tenant_id))
    apigw = aws.client("apigateway")
    keys = [k for k in apigw.get_api_keys(nameQuery=name)["items"] if k["name"] == name]
    attached = [(plan, k["name"]) for plan, p in usage_plans.managed_usage_plans().items()
                for k in apigw.get_usage_plan_keys(usagePlanId=p["id"])["items"] if k["name"] == name]
    return attached + [("unattached", k["name"]) for k in keys[1:]]


EXPECTED_DEMO = {"categories": 11, "roles": 4, "members": 1, "professionals": 4, "customers": 2, "referrals": 2,
                 "mail": 1}


def expected(tenant_id: str, **changes: object) -> dict[str, object]:
    """EXPECTED_DEMO plus exactly one API key, in the free plan's usage plan."""
    return {**EXPECTED_DEMO, "api_keys": [("free", usage_plans.tenant_key_name(UUID(tenant_id)))], **changes}


def test_a_new_tenant_gets_everything_and_a_welcome_mail(client):
    response = client.request("POST", "/api/admin/tenants", role=ADMIN, body=body())
    created = body_of(response)
    assert response.status_code == 201 and created["status"] == "active"
    assert created["provisioning_steps"] == ["tenant", *STEP_NAMES]
    assert counts(client, created["id"]) == expected(created["id"], professionals=0, customers=0, referrals=0)
    members = real_members(body_of(client.get("/api/tenant/members", role="tenant_admin", tenant=created["id"]))["items"])
    assert [(m["email"], m["role"], m["status"]) for m in members] == [("owner@rapid.example", "tenant_admin",
                                                                         "invited")]
    [mail] = sent_mail()
    # Sent on the tenant's behalf: the platform's address under the tenant's display name
    assert mail.source == "Rapid <no-reply@platform.localhost>" and "Welcome to Rapid" in mail.subject
    assert f"/invitations/{members[0]['id']}?token=" in mail.body and "rapid.localhost" in mail.body
    slugs = {c["slug"] for c in body_of(client.get("/api/service-categories?limit=100", role="tenant_admin",
                                                   tenant=created["id"]))["items"]}
    assert {"mechanical-repair", "towing-and-recovery", "electrical-and-ev", "tyres-and-wheels"} <= slugs


def test_demo_data_is_created_through_the_services(client):
    created = body_of(client.request("POST", "/api/admin/tenants", role=ADMIN, body=body(seed_demo_data=True)))
    assert counts(client, created["id"]) == expected(created["id"])
    trail = body_of(client.get("/api/tenant/audit?limit=100", role="tenant_admin", tenant=created["id"]))["items"]
    actions = {e["action"] for e in trail}
    assert {"service_category.created", "professional.created", "referral.created", "member.added",
            "role.created"} <= actions


def _fail_at(monkeypatch, step: str) -> None:
    def crash(*_args):
        raise InjectedCrash(step)

    monkeypatch.setattr(provisioning, "STEPS", tuple((n, crash if n == step else f)
                                                      for n, f in provisioning.STEPS))


def _crash_after(monkeypatch, step: str) -> None:
    """The step's effects are stored, then the process dies before recording it."""
    real = provisioning.registry.mark_provisioning_step

    def mark(tenant_id: UUID, name: str) -> None:
        if name == step:
            raise InjectedCrash(step)
        real(tenant_id, name)

    monkeypatch.setattr(provisioning.registry, "mark_provisioning_step", mark)


@pytest.mark.parametrize("step", STEP_NAMES)
@pytest.mark.parametrize("how", ["before", "after"])
def test_a_crash_at_any_step_is_resumed_without_duplicates(client, monkeypatch, step, how):
    (_fail_at if how == "before" else _crash_after)(monkeypatch, step)
    failed = client.request("POST", "/api/admin/tenants", role=ADMIN, body=body(seed_demo_data=True))
    assert failed.status_code == 500
    record = admin_get(client, "rapid")
    done = ["tenant", *STEP_NAMES[:STEP_NAMES.index(step)]]
    assert record["status"] == "provisioning" and record["provisioning_steps"] == done
    hidden = client.get("/api/tenant", role="tenant_admin", tenant=record["id"])
    assert hidden.status_code == 404 and body_of(hidden)["code"] == "tenant_not_found"
    monkeypatch.undo()

    retried = client.request("POST", f"/api/admin/tenants/{record['id']}/provision", role=ADMIN)
    assert retried.status_code == 200, retried.body
    assert body_of(retried)["status"] == "active"
    wanted = expected(record["id"])
    if how == "after" and step == "welcome_email":
        wanted["mail"] = 2  # SES accepted it before the crash: at least once, never lost
    assert counts(client, record["id"]) == wanted
    again = client.request("POST", f"/api/admin/tenants/{record['id']}/provision", role=ADMIN)
    assert again.status_code == 200 and counts(client, record["id"]) == wanted


def test_a_kms_failure_creates_nothing(client, http):
    def refuse(**_kwargs):
        raise InjectedCrash("kms down")

    kms = aws.client("kms")
    kms.meta.events.register("before-call.kms.CreateKey", refuse)
    try:
        failed = client.request("POST", "/api/admin/tenants", role=ADMIN, body=body())
    finally:
        kms.meta.events.unregister("before-call.kms.CreateKey", refuse)
    assert failed.status_code == 500
    assert client.get("/api/admin/tenants/rapid", role=ADMIN).status_code == 404
    assert body_of(client.get("/api/admin/tenants", role=ADMIN))["items"] == []
    assert client.request("POST", "/api/admin/tenants", role=ADMIN, body=body()).status_code == 201


def test_the_scheduled_job_resumes_stuck_tenants_only(client, monkeypatch):
    _fail_at(monkeypatch, "categories")
    client.request("POST", "/api/admin/tenants", role=ADMIN, body=body())
    monkeypatch.undo()
    assert provisioning.resume_stuck() == []  # too recent: its request may still be running
    assert admin_get(client, "rapid")["status"] == "provisioning"
    [resumed] = provisioning.resume_stuck(datetime.now(UTC) + timedelta(minutes=10))
    assert resumed.status.value == "active" and admin_get(client, "rapid")["status"] == "active"


def test_a_recorded_step_counts_as_progress_for_the_stuck_check(client, monkeypatch):
    from chalicelib.store import registry

    _fail_at(monkeypatch, "categories")
    client.request("POST", "/api/admin/tenants", role=ADMIN, body=body())
    monkeypatch.undo()
    started = registry.get_tenant(UUID(admin_get(client, "rapid")["id"]))
    stamp = started.updated_at
    while datetime.now(UTC) <= stamp:  # the next step's stamp must be strictly later
        pass
    registry.mark_provisioning_step(started.id, "categories")
    progressed = registry.get_tenant(started.id)
    assert progressed.updated_at > started.updated_at
    # Quiet for STUCK_AFTER since its first step, but not since its last one: left alone.
    assert provisioning.resume_stuck(progressed.updated_at + provisioning.STUCK_AFTER - timedelta(microseconds=1)) == []
    [resumed] = provisioning.resume_stuck(progressed.updated_at + provisioning.STUCK_AFTER + timedelta(seconds=1))
    assert resumed.status.value == "active"


def test_the_schedule_is_registered():
    from app import app

    assert any(getattr(s, "name", None) == "provisioning_resume" for s in app.event_sources)


def test_resuming_an_active_tenant_is_a_no_op(client, tenant_a):
    response = client.request("POST", f"/api/admin/tenants/{tenant_a.id}/provision", role=ADMIN)
    assert response.status_code == 200 and body_of(response)["status"] == "active"


def test_a_failed_record_insert_leaves_no_tenant_and_no_enabled_key(client):
    def refuse(model=None, params=None, **_kwargs):
        if getattr(model, "name", "") == "TransactWriteItems":
            raise InjectedCrash("dynamodb down")

    aws.install_session_hook("before-call.dynamodb", refuse)
    try:
        failed = client.request("POST", "/api/admin/tenants", role=ADMIN, body=body())
    finally:
        aws.remove_session_hook("before-call.dynamodb", refuse)
    assert failed.status_code == 500
    assert client.get("/api/admin/tenants/rapid", role=ADMIN).status_code == 404
    kms = aws.client("kms")
    states = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]]
    assert states.count("PendingDeletion") == 1  # the new tenant's key; the platform key stays enabled
    assert client.request("POST", "/api/admin/tenants", role=ADMIN, body=body()).status_code == 201


def test_the_scheduled_function_resumes_a_stuck_tenant_through_its_entry_point(client, monkeypatch):
    """Through the Lambda entry point, so the deployment contract records every call the
    resume makes as provisioning_resume's (tests/infra/test_contract.py): every step but
    the tenant item is left to it."""
    from app import app
    from chalicelib import clock
    from chalicelib.local.pump import LocalLambdaContext, scheduled_event
    from chalicelib.settings import get_settings

    _fail_at(monkeypatch, STEP_NAMES[0])
    client.request("POST", "/api/admin/tenants", role=ADMIN, body=body(seed_demo_data=True))
    monkeypatch.undo()
    record = admin_get(client, "rapid")
    assert record["status"] == "provisioning" and record["provisioning_steps"] == ["tenant"]

    later = clock.now() + provisioning.STUCK_AFTER + timedelta(minutes=1)
    with clock.use(wall=lambda: later):
        result = app.handler_map["provisioning_resume"](
            scheduled_event("provisioning_resume", get_settings().region), LocalLambdaContext("provisioning_resume"))

    assert result == {"resumed": 1}
    assert admin_get(client, "rapid")["status"] == "active"
    assert counts(client, record["id"]) == expected(record["id"])
