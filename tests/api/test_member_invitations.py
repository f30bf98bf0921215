"""Member invitations: the invitee is mailed a link that works, after the member is stored;
a provider that fails keeps the member and queues the mail; provisioning mails once."""
from __future__ import annotations

import json
import re
from datetime import timedelta

from chalicelib.notifications import outbox
from tests.api.integration_support import configure, deliver_notifications, free_port, ses_sent, smtp_body
from tests.audit_helpers import raw_items
from tests.conftest import body_of
from tests.support.principals import real_members

MEMBERS = "/api/tenant/members"
LINK = re.compile(r"https://(?P<host>[^/\s]+)/invitations/(?P<id>[0-9a-f-]{36})\?token=(?P<token>[0-9a-f]{64})")


def mails_to(address: str) -> list:
    deliver_notifications()
    return [m for m in ses_sent() if m.destinations["ToAddresses"] == [address]]


def invite(client, tenant, email: str, role: str = "manager"):
    response = client.request("POST", MEMBERS, tenant=tenant, body={"email": email, "role": role})
    assert response.status_code == 201, response.body
    return body_of(response)


def accept(client, tokens, tenant, mail, sub: str = "idp|invitee"):
    """The invitee (signed in with the verified address the mail went to) accepts."""
    link = LINK.search(mail.body)
    assert link is not None, mail.body
    [address] = mail.destinations["ToAddresses"]
    invitee = tokens.token(role="customer", tenant=tenant, sub=sub, member=False, email=address, email_verified=True)
    return client.request("POST", f"/api/tenant/invitations/{link['id']}/accept", token=invitee,
                          body={"token": link["token"]})


def test_the_invitee_is_mailed_a_link_that_accepts_the_invitation(client, tokens, tenant_a):
    client.request("PUT", "/api/tenant/branding", tenant=tenant_a, headers={"If-Match": '"1"'},
                   body={"display_name": "Acme Motors", "support_email": "help@acme-motors.example"})
    member = invite(client, tenant_a, "new.hire@shop.example")
    [mail] = mails_to("new.hire@shop.example")
    assert mail.subject == "You are invited to join Acme Motors"
    assert mail.source == "Acme Motors <no-reply@platform.localhost>"
    assert "as manager" in mail.body
    link = LINK.search(mail.body)
    assert link is not None and link["id"] == member["id"] and link["host"] == "acme.localhost"
    accepted = accept(client, tokens, tenant_a, mail)
    assert accepted.status_code == 200, accepted.body
    assert (body_of(accepted)["status"], body_of(accepted)["subject"]) == ("active", "idp|invitee")


def test_a_failing_provider_keeps_the_member_and_queues_the_mail(client, tokens, tenant_a, monkeypatch):
    monkeypatch.setattr(outbox, "FIRST_BACKOFF", timedelta(0))
    configure(client, tenant_a, "email", smtp_body(free_port()))  # nothing listens there
    member = invite(client, tenant_a, "queued.hire@shop.example")
    # The member is stored, once, and the mail waits in the outbox (sealed)
    listed = real_members(body_of(client.get(MEMBERS, tenant=tenant_a))["items"])
    assert [(m["id"], m["status"]) for m in listed] == [(member["id"], "invited")]
    [item] = raw_items(tenant_a, "OUTBOX")
    assert item.status == "pending" and "queued.hire" not in json.dumps(item.attribute_values)
    assert mails_to("queued.hire@shop.example") == []
    # The tenant removes its broken integration: the retry goes through the platform's SES
    assert client.request("DELETE", "/api/tenant/integrations/email", tenant=tenant_a).status_code == 204
    from tests.api.test_notification_delivery import fire

    fire("notifications_retry")
    [mail] = mails_to("queued.hire@shop.example")
    assert raw_items(tenant_a, "OUTBOX") == []
    assert accept(client, tokens, tenant_a, mail).status_code == 200


def test_re_inviting_mails_a_new_link_and_voids_the_old_one(client, tokens, tenant_a):
    member = invite(client, tenant_a, "slow.reader@shop.example")
    path = f"{MEMBERS}/{member['id']}/invitation"
    assert client.request("POST", path, tenant=tenant_a, role="manager").status_code == 403
    resent = client.request("POST", path, tenant=tenant_a)
    assert resent.status_code == 202, resent.body
    first, second = mails_to("slow.reader@shop.example")
    assert LINK.search(first.body)["token"] != LINK.search(second.body)["token"]  # a new link
    # The old link no longer works (404, as any wrong token); the new one does
    assert accept(client, tokens, tenant_a, first).status_code == 404
    trail = body_of(client.get("/api/tenant/audit?action=member.invitation_sent", tenant=tenant_a))["items"]
    assert [e["target"]["id"] for e in trail] == [member["id"]]
    # Once accepted there is nothing to send: 409, no mail, no event
    assert accept(client, tokens, tenant_a, second).status_code == 200
    closed = client.request("POST", path, tenant=tenant_a)
    assert closed.status_code == 409 and body_of(closed)["conflict"] == "not_invited"
    assert len(mails_to("slow.reader@shop.example")) == 2
    assert len(body_of(client.get("/api/tenant/audit?action=member.invitation_sent", tenant=tenant_a))["items"]) == 1
    unknown = client.request("POST", f"{MEMBERS}/00000000-0000-4000-8000-000000000000/invitation", tenant=tenant_a)
    assert unknown.status_code == 404


def test_another_tenants_member_cannot_be_sent_an_invitation(client, tenant_a, tenant_b):
    member = invite(client, tenant_a, "only.acme@shop.example")
    response = client.request("POST", f"{MEMBERS}/{member['id']}/invitation", tenant=tenant_b)
    assert response.status_code == 404
    assert len(mails_to("only.acme@shop.example")) == 1


def test_provisioning_mails_the_admin_once_and_its_welcome_link_accepts(client, tokens):
    created = client.request("POST", "/api/admin/tenants", role="platform_admin", body={
        "slug": "rapid", "name": "Rapid Motors", "display_name": "Rapid", "admin_email": "owner@rapid.example"})
    assert created.status_code == 201, created.body
    [mail] = mails_to("owner@rapid.example")
    assert mail.subject == "Welcome to Rapid"  # the welcome carries the invitation: no second mail
    tenant_id = body_of(created)["id"]
    assert accept(client, tokens, tenant_id, mail, sub="idp|owner").status_code == 200


def test_a_mail_that_cannot_even_be_queued_still_answers_201_with_the_member(client, tenant_a, caplog):
    # Given a member's data key already cached (the outbox's not), and KMS refusing new
    # data keys: the outbox cannot seal the mail
    from chalicelib.crypto import pii
    from chalicelib.store import keys
    from tests.audit_helpers import bound
    from tests.security.encryption_support import kms_error, kms_fault

    invite(client, tenant_a, "first@shop.example")
    deliver_notifications()
    pii.reset_state()
    with bound(tenant_a):
        pii.seal(keys.MEMBER, "warm-up", {})
    configure(client, tenant_a, "email", smtp_body(free_port()))
    with kms_fault(lambda: kms_error("ThrottlingException"), ("GenerateDataKey",)) as refused:
        response = client.request("POST", MEMBERS, tenant=tenant_a, body={"email": "second@shop.example",
                                                                          "role": "manager"})
    # Then the stored member is still the answer (a retried 500 would invite twice), the loss is logged
    assert response.status_code == 201, response.body
    assert refused == ["GenerateDataKey"]
    emails = {m["email"] for m in real_members(body_of(client.get(MEMBERS, tenant=tenant_a))["items"])}
    assert emails == {"first@shop.example", "second@shop.example"}
    assert raw_items(tenant_a, "OUTBOX") == []
    assert [r.fields["notification"] for r in caplog.records if r.getMessage() == "notification not sent"] == \
        ["member_invitation"]
