"""The audit trail through HTTP: an event per change, in the change's transaction, redacted."""
from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.store import keys
from tests.audit_helpers import AUDIT_PATH, listed, platform_events, raw_items, stored_events
from tests.conftest import body_of, create_tenant

AGENT = "garage-app/2.1 (+tests)"
INVITEE, INVITEE_EMAIL = "invitee-7", "new.member@shop.example"
CONTACT = {"contact_name": "Zelda Quirinus", "email": "zelda.quirinus@shop.example", "phone": "+44 20 7946 0958",
           "license_number": "LIC-7731-QZ"}
CUSTOMER = {"name": "Yorick Vandermeer", "email": "yorick.v@mail.example", "phone": "+1 555 010 9988",
            "notes": "prefers calls after 5pm", "vehicles": [{"vin": "1HGCM82633A004352", "make": "Honda",
                                                             "model": "Accord", "year": 2003}]}
PII_VALUES = ["Zelda Quirinus", "zelda.quirinus@shop.example", "+44 20 7946 0958", "LIC-7731-QZ",
              "Yorick Vandermeer", "yorick.v@mail.example", "+1 555 010 9988", "prefers calls after 5pm",
              "1HGCM82633A004352", "Xavier Street 12", "referral notes: urgent brake job", "zq.new@shop.example"]
STRIPE_SECRET = "sk_test_QuirinusStripeSecret42"


_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


class Writes:
    """Every DynamoDB write request: (operation, partition keys it touches)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in _WRITES:
            self.calls.append((model.name, [pk for pk in _partitions(params)]))


def _partitions(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pk"]["S"]] if isinstance(node.get("pk"), dict) and "S" in node["pk"] else []
        return own + [pk for key, value in node.items() if key != "pk" for pk in _partitions(value)]
    if isinstance(node, list):
        return [pk for value in node for pk in _partitions(value)]
    return []


class Session:
    """Requests as one tenant admin (fixed sub and user agent), recording each response."""

    def __init__(self, client: Any, tenant: Any, writes: Writes | None = None) -> None:
        self.client, self.tenant, self.writes = client, tenant, writes
        self.sub = "admin-7"
        self.token = client.tokens.token(role="tenant_admin", tenant=tenant, sub=self.sub)
        # Only the invitee accepts its invitation (signed in with the invited, verified email)
        self.invitee = client.tokens.token(role="manager", tenant=tenant, sub=INVITEE, member=False,
                                           email=INVITEE_EMAIL, email_verified=True)

    def send(self, method: str, path: str, body: Any = None, version: int | None = None,
             token: str | None = None) -> Any:
        headers = {"User-Agent": AGENT, **({"If-Match": f'"{version}"'} if version else {})}
        return self.client.request(method, path, tenant=self.tenant, token=token or self.token, headers=headers,
                                   body=body)


def _walkthrough(s: Session) -> list[tuple[str, str, Any, str, str, list[Any]]]:
    """Every mutating tenant route once: (method, route, response, action, target id, its writes)."""
    steps: list[tuple[str, str, Any, str, str, list[Any]]] = []

    def step(method: str, route: str, path: str, action: str, body: Any = None, version: int | None = None,
             target: str | None = None, token: str | None = None) -> Any:
        first = len(s.writes.calls) if s.writes else 0
        response = s.send(method, path, body, version, token)
        assert response.status_code in (200, 201, 202, 204), (method, path, response.body)
        created = body_of(response) or {}
        writes = s.writes.calls[first:] if s.writes else []
        steps.append((method, route, response, action, target or created.get("id") or created.get("slug"), writes))
        return created

    cats, pros, cus, refs = ("/api/service-categories", "/api/professionals", "/api/customers", "/api/referrals")
    step("POST", cats, cats, "service_category.created", {"slug": "brakes", "name": "Brakes"})
    step("PATCH", cats + "/{slug}", cats + "/brakes", "service_category.updated", {"name": "Brake work"}, 1,
         target="brakes")
    pro_body = {"business_name": "Quirinus Motors", "service_categories": ["brakes"], **CONTACT}
    sender = step("POST", pros, pros, "professional.created", pro_body)
    receiver = step("POST", pros, pros, "professional.created",
                    {**pro_body, "email": "other@shop.example", "contact_name": "Other"})
    step("PATCH", pros + "/{id}", f"{pros}/{sender['id']}", "professional.updated",
         {"email": "zq.new@shop.example", "address": {"street": "Xavier Street 12", "city": "Leeds",
                                                       "postal_code": "LS1", "country": "GB"}}, 1, sender["id"])
    customer = step("POST", cus, cus, "customer.created", CUSTOMER)
    step("PATCH", cus + "/{id}", f"{cus}/{customer['id']}", "customer.updated", {"phone": "+1 555 010 0000"}, 1,
         customer["id"])
    referral = step("POST", refs, refs, "referral.created", {
        "from_professional_id": sender["id"], "to_professional_id": receiver["id"], "customer_id": customer["id"],
        "service_category": "brakes", "notes": "referral notes: urgent brake job"})
    step("PATCH", refs + "/{id}", f"{refs}/{referral['id']}", "referral.status_changed", {"status": "accepted"}, 1,
         referral["id"])
    step("PATCH", refs + "/{id}", f"{refs}/{referral['id']}", "referral.updated", {"notes": "now done"}, 2,
         referral["id"])
    step("DELETE", refs + "/{id}", f"{refs}/{referral['id']}", "referral.deleted", target=referral["id"])
    step("DELETE", cus + "/{id}", f"{cus}/{customer['id']}", "customer.deleted", target=customer["id"])
    step("DELETE", pros + "/{id}", f"{pros}/{receiver['id']}", "professional.deleted", target=receiver["id"])
    step("DELETE", pros + "/{id}", f"{pros}/{sender['id']}", "professional.deleted", target=sender["id"])
    step("DELETE", cats + "/{slug}", cats + "/brakes", "service_category.deleted", target="brakes")
    roles, members = "/api/tenant/roles", "/api/tenant/members"
    step("PUT", roles + "/{name}", roles + "/dispatcher", "role.created", {"permissions": ["referrals:read"]},
         target="dispatcher")
    member = step("POST", members, members, "member.added", {"email": INVITEE_EMAIL, "role": "manager"})
    step("POST", members + "/{id}/invitation", f"{members}/{member['id']}/invitation", "member.invitation_sent",
         target=member["id"])
    step("POST", "/api/tenant/invitations/{id}/accept", f"/api/tenant/invitations/{member['id']}/accept",
         "member.joined", {"token": _invitation_token(s.tenant, member["id"])}, target=member["id"], token=s.invitee)
    # version 3: re-inviting (a new link) and accepting each changed the member
    step("PATCH", members + "/{id}", f"{members}/{member['id']}", "member.updated", {"role": "dispatcher"}, 3,
         member["id"])
    step("DELETE", members + "/{id}", f"{members}/{member['id']}", "member.removed", target=member["id"])
    config, branding = "/api/tenant/config", "/api/tenant/branding"
    step("PUT", config, config, "config.updated", {"overrides": {"general": {"timezone": "Europe/Paris"}}}, 1, "2")
    step("POST", config + "/versions/{n}/restore", config + "/versions/1/restore", "config.updated", None, 2, "3")
    step("PUT", branding, branding, "branding.updated",
         {"display_name": "Quirinus Network", "support_email": "zelda.quirinus@shop.example"}, 1, "2")
    step("POST", branding + "/versions/{n}/restore", branding + "/versions/1/restore", "branding.updated", None, 2,
         "3")
    integrations = "/api/tenant/integrations"
    stripe = {"provider": "stripe", "config": {"publishable_key": "pk_test_QuirinusPublishable1"},
              "secrets": {"secret_key": STRIPE_SECRET}}
    step("PUT", integrations + "/{kind}", integrations + "/payment", "integration.updated", stripe, target="payment")
    step("PUT", integrations + "/{kind}", integrations + "/payment", "integration.updated",
         {**stripe, "enabled": False, "secrets": {}}, 1, target="payment")
    step("DELETE", integrations + "/{kind}", integrations + "/payment", "integration.updated", target="payment")
    exports = "/api/tenant/exports"
    step("POST", exports, exports, "export.requested", {"format": "csv", "notify_email": "zelda.quirinus@shop.example"})
    return steps


def _invitation_token(tenant: Any, member_id: str) -> str:
    from chalicelib import members
    from chalicelib.tenancy import context

    with context.bound(context.TenantContext(tenant=tenant, request_id="test-token")):
        return members.invitation_token(member_id)


# POSTs that store nothing: a presigned upload form is signed, not written (the upload
# goes to S3 under the tenant's prefix; the branding PUT that uses it is audited).
# An integration test sends a message (or validates) and stores nothing.
_NON_WRITING = {("POST", "/api/tenant/branding/assets"), ("POST", "/api/tenant/integrations/{kind}/test")}


def _mutating_tenant_routes() -> set[tuple[str, str]]:
    from app import app

    return {(method, path) for path, methods in app.routes.items() for method, entry in methods.items()
            if method in ("POST", "PUT", "PATCH", "DELETE")
            and getattr(getattr(entry.view_function, "route_spec", None), "access", None) == "tenant"} - _NON_WRITING


def test_every_mutating_route_writes_exactly_its_event(client, tenant_a):
    # Given a tenant admin working through every mutating route
    before = len(stored_events(tenant_a))
    writes = Writes()
    aws.install_session_hook("before-parameter-build.dynamodb", writes)
    try:
        steps = _walkthrough(Session(client, tenant_a, writes))
    finally:
        aws.remove_session_hook("before-parameter-build.dynamodb", writes)
    assert {(m, r) for m, r, *_ in steps} == _mutating_tenant_routes()  # a new route must join this walk
    # Then each change and its event went in one TransactWriteItems, and nothing else was written
    # (but the blind-index secret, made once per tenant on first use, and a notification the
    # change triggers: stored in the outbox by a write of its own once the change committed)
    secret_pk, outbox_pk = (keys.data_partition(tenant_a.id, kind) for kind in (keys.TENANT_SECRET, keys.OUTBOX))
    audit_pks = {keys.data_partition(tenant_a.id, kind) for kind in keys.AUDIT_SHARD_KINDS}
    for method, route, *_, calls in steps:
        assert all(op == "PutItem" for op, pks in calls if pks == [outbox_pk]), (method, route, calls)
        changes = [(op, pks) for op, pks in calls if pks not in ([secret_pk], [outbox_pk])]
        assert len(changes) == 1 and changes[0][0] == "TransactWriteItems", (method, route, calls)
        assert sum(pk in audit_pks for pk in changes[0][1]) == 1 and len(changes[0][1]) > 1, (method, route, calls)
    # And each request wrote one event naming its action, target, actor and request
    events = stored_events(tenant_a)[before:]
    assert len(events) == len(steps)
    for event, (_, _, response, action, target, _) in zip(events, steps, strict=True):
        assert event["action"] == action and event["target"]["id"] == target
        assert event["request_id"] == response.headers["X-Request-ID"]
        actor = (INVITEE, "manager") if action == "member.joined" else ("admin-7", "tenant_admin")
        assert event["actor"] == {"sub": actor[0], "roles": [actor[1]], "platform_admin": False, "type": "user"}
        assert event["source_ip"] == "127.0.0.1" and event["user_agent"] == AGENT
        assert event["tenant_id"] == str(tenant_a.id)
    # And the route lists them newest first, with field-level changes
    listed_events = listed(client, tenant_a)
    assert [e["id"] for e in listed_events] == [e["id"] for e in reversed(stored_events(tenant_a))]
    renamed = next(e for e in events if e["action"] == "service_category.updated")
    assert renamed["changes"] == {"name": {"before": "Brakes", "after": "Brake work"}}
    accepted = next(e for e in events if e["action"] == "referral.status_changed")
    assert accepted["changes"] == {"status": {"before": "pending", "after": "accepted"}}


def test_pii_and_secrets_never_reach_the_trail(client, tenant_a, monkeypatch):
    # Given changes full of PII, and a tenant whose configuration holds a secret (creation
    # now refuses keys outside the schema; a tenant stored before that could hold one)
    from chalicelib.tenants import service

    _walkthrough(Session(client, tenant_a))
    monkeypatch.setattr(service, "check_configuration", lambda configuration: None)
    secret_tenant = create_tenant("secretive", configuration={"integrations": {"api_key": "sk-live-98765"}})
    # Then no stored event, tenant or platform, holds any of those values...
    dumped = json.dumps([item.attribute_values for item in raw_items(tenant_a)], default=str)
    dumped += json.dumps(platform_events()) + json.dumps(stored_events(secret_tenant))
    for value in [*PII_VALUES, "sk-live-98765", STRIPE_SECRET]:
        assert value not in dumped, value
    # ...while the fields are still listed as changed, redacted
    events = stored_events(tenant_a)
    updated = next(e for e in events if e["action"] == "professional.updated")
    assert updated["changes"]["email"] == {"before": "[redacted]", "after": "[redacted]"}
    assert updated["changes"]["address"] == {"before": None, "after": "[redacted]"}
    created = next(e for e in events if e["action"] == "customer.created")
    assert created["changes"]["vehicles"]["after"] == "[redacted]"
    assert created["changes"]["notes"]["after"] == "[redacted]"
    tenant_created = stored_events(secret_tenant)[0]
    assert tenant_created["changes"]["configuration"]["after"] == {"integrations": {"api_key": "[redacted]"}}


class FailTransactions:
    """A botocore before-call hook that fails every TransactWriteItems, counting them."""

    def __init__(self) -> None:
        self.refused = 0

    def __call__(self, model: Any = None, **_: Any) -> None:
        if getattr(model, "name", None) == "TransactWriteItems":
            self.refused += 1
            raise RuntimeError("injected: the transaction never reaches DynamoDB")


def _state(client: Any, tenant: Any) -> tuple[Any, ...]:
    lists = tuple(body_of(client.get(p, tenant=tenant))["items"] for p in (
        "/api/service-categories", "/api/professionals", "/api/customers", "/api/referrals"))
    return (*lists, [item.sk for item in raw_items(tenant)])


def test_a_failed_transaction_stores_neither_the_change_nor_its_event(client, tenant_a):
    # Given one of everything
    s = Session(client, tenant_a)
    s.send("POST", "/api/service-categories", {"slug": "brakes", "name": "Brakes"})
    pro = body_of(s.send("POST", "/api/professionals", {"business_name": "A", "service_categories": ["brakes"],
                                                         **CONTACT}))
    other = body_of(s.send("POST", "/api/professionals", {**CONTACT, "business_name": "B", "email": "b@x.example"}))
    cus = body_of(s.send("POST", "/api/customers", CUSTOMER))
    ref = body_of(s.send("POST", "/api/referrals", {"from_professional_id": pro["id"], "to_professional_id":
                                                    other["id"], "customer_id": cus["id"], "service_category": "brakes"}))
    lonely = body_of(s.send("POST", "/api/customers", {"name": "Unreferenced"}))
    before = _state(client, tenant_a)
    attempts = [("POST", "/api/service-categories", {"slug": "tyres", "name": "Tyres"}, None),
                ("PATCH", "/api/service-categories/brakes", {"name": "Lost"}, 1),
                ("POST", "/api/professionals", {**CONTACT, "business_name": "C", "email": "c@x.example"}, None),
                ("PATCH", f"/api/professionals/{pro['id']}", {"business_name": "Lost"}, 1),
                ("PATCH", f"/api/customers/{cus['id']}", {"name": "Lost"}, 1),
                ("PATCH", f"/api/referrals/{ref['id']}", {"status": "accepted"}, 1),
                ("DELETE", f"/api/referrals/{ref['id']}", None, None),
                ("DELETE", f"/api/customers/{lonely['id']}", None, None)]
    # When every transaction fails on its way to DynamoDB
    hook = FailTransactions()
    aws.install_session_hook("before-call.dynamodb", hook)
    try:
        for method, path, body, version in attempts:
            assert s.send(method, path, body, version).status_code == 500, (method, path)
    finally:
        aws.remove_session_hook("before-call.dynamodb", hook)
    # Then each was attempted, and nothing changed: no entity, no event
    assert hook.refused >= len(attempts)
    assert _state(client, tenant_a) == before


def test_refused_and_rejected_requests_write_no_event(client, tenant_a):
    s = Session(client, tenant_a)
    s.send("POST", "/api/service-categories", {"slug": "brakes", "name": "Brakes"})
    s.send("POST", "/api/professionals", {"business_name": "A", "service_categories": ["brakes"], **CONTACT})
    before = stored_events(tenant_a)
    attempts = [
        (s.send("POST", "/api/service-categories", {"slug": "brakes", "name": "Again"}), 409),  # condition fails
        (s.send("PATCH", "/api/service-categories/brakes", {"name": "Stale"}, version=7), 412),
        (s.send("DELETE", "/api/service-categories/brakes"), 409),  # a professional offers it
        (s.send("DELETE", "/api/service-categories/nothing"), 404),
        (s.send("POST", "/api/service-categories", {"slug": "x", "name": "X", "id": "forged"}), 422),
        (client.request("POST", "/api/service-categories", tenant=tenant_a, role="professional",
                        body={"slug": "tyres", "name": "Tyres"}), 403),
    ]
    assert [r.status_code for r, _ in attempts] == [code for _, code in attempts]
    assert stored_events(tenant_a) == before


def test_tenant_lifecycle_is_in_both_trails(client, tenant_a):
    from chalicelib.tenancy.tenant import TenantStatus
    from chalicelib.tenants.service import change_status

    change_status(tenant_a.id, TenantStatus.SUSPENDED)
    change_status(tenant_a.id, TenantStatus.ACTIVE)
    own = [e for e in stored_events(tenant_a) if e["action"].startswith("tenant.")]
    assert [e["action"] for e in own] == ["tenant.created", "tenant.suspended", "tenant.reactivated"]
    assert own[1]["changes"] == {"status": {"before": "active", "after": "suspended"}}
    assert own[0]["changes"]["slug"] == {"before": None, "after": "acme"}
    platform = [e for e in platform_events() if e["tenant_id"] == str(tenant_a.id)]
    assert platform == own  # the same events, ids included
    as_admin = body_of(client.get("/api/admin/audit?tenant=" + str(tenant_a.id), role="platform_admin"))["items"]
    assert [e["id"] for e in as_admin] == [e["id"] for e in reversed(own)]


def test_a_super_admin_inside_a_tenant_is_named_and_its_reads_are_recorded(client, tenant_a):
    header = {"X-Tenant-ID": str(tenant_a.id)}
    created = client.request("POST", "/api/service-categories", role="platform_admin", headers=header,
                             body={"slug": "brakes", "name": "Brakes"})
    assert created.status_code == 201
    assert client.get("/api/service-categories/brakes", role="platform_admin", headers=header).status_code == 200
    events = stored_events(tenant_a)
    change, read = events[-2], events[-1]
    assert change["action"] == "service_category.created" and change["actor"]["platform_admin"] is True
    assert read["action"] == "tenant.accessed" and read["actor"]["platform_admin"] is True
    assert read["details"] == {"method": "GET", "route": "/api/service-categories/{slug}",
                               "params": {"slug": "brakes"}}
    # A tenant admin's reads are not events
    client.get("/api/service-categories/brakes", tenant=tenant_a)
    assert stored_events(tenant_a) == events


def test_filters_and_pages(client, tenant_a):
    s = Session(client, tenant_a)
    for slug in ("a1", "a2", "a3"):
        s.send("POST", "/api/service-categories", {"slug": slug, "name": slug})
    s.send("PATCH", "/api/service-categories/a2", {"name": "renamed"}, version=1)
    client.request("POST", "/api/service-categories", tenant=tenant_a, body={"slug": "b1", "name": "other admin"})
    assert [e["target"]["id"] for e in listed(client, tenant_a, "action=service_category.created")] == [
        "b1", "a3", "a2", "a1"]
    assert len(listed(client, tenant_a, "action=service_category.*")) == 5
    assert len(listed(client, tenant_a, "action=tenant.*")) == 1
    assert len(listed(client, tenant_a, "actor=admin-7")) == 4
    assert [e["action"] for e in listed(client, tenant_a, "target=service_category:a2")] == [
        "service_category.updated", "service_category.created"]
    assert len(listed(client, tenant_a, "target=service_category")) == 5
    events = stored_events(tenant_a)
    window = listed(client, tenant_a, f"from={events[2]['at']}&to={events[3]['at']}")
    assert {e["id"] for e in events[2:4]} <= {e["id"] for e in window} <= {e["id"] for e in events[1:5]}
    assert listed(client, tenant_a, "to=2001-01-01T00:00:00Z") == []
    pages = [body_of(client.get(f"{AUDIT_PATH}?limit=2", tenant=tenant_a))]
    while pages[-1]["next_cursor"]:
        pages.append(body_of(client.get(f"{AUDIT_PATH}?limit=2&cursor={pages[-1]['next_cursor']}", tenant=tenant_a)))
    paged = [e["id"] for p in pages for e in p["items"]]
    assert paged == [e["id"] for e in reversed(events)] and len(pages) >= 3


@pytest.mark.parametrize("query", ["action=nothing.done", "action=professional.*x", "from=yesterday",
                                   "from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", "target=Bad Target",
                                   "limit=0", "colour=red"])
def test_bad_filters_are_422(client, tenant_a, query):
    response = client.get(f"{AUDIT_PATH}?{query}", tenant=tenant_a)
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"


@pytest.mark.parametrize("role", ["manager", "professional", "customer"])
def test_only_audit_readers_read_the_trail(client, tenant_a, role):
    for path in (AUDIT_PATH, AUDIT_PATH + "/verify"):
        response = client.get(path, tenant=tenant_a, role=role)
        assert response.status_code == 403 and body_of(response)["code"] == "forbidden"
