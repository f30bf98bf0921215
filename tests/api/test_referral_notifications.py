"""Referral notices: the parties the tenant's configuration names are mailed (and texted when
the tenant has texts on) with its branding, after the referral is stored; nothing when the
configuration says so; one tenant's configuration never reaches another's referrals."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.network.referrals.notices import e164
from tests.api.config_helpers import put_config
from tests.api.integration_support import configure, free_port, ses_sent, smtp_body, sns_sent
from tests.audit_helpers import raw_items
from tests.conftest import body_of

REFERRALS = "/api/referrals"


@dataclass
class Parties:
    tenant: Any
    sender: dict[str, Any]
    receiver: dict[str, Any]
    customer: dict[str, Any]
    tag: str

    def body(self) -> dict[str, Any]:
        return {"from_professional_id": self.sender["id"], "to_professional_id": self.receiver["id"],
                "customer_id": self.customer["id"], "service_category": "brakes"}


def _post(client, tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.request("POST", path, tenant=tenant, body=body)
    assert response.status_code == 201, response.body
    return body_of(response)


def parties(client, tenant, tag: str, display_name: str) -> Parties:
    client.request("PUT", "/api/tenant/branding", tenant=tenant, headers={"If-Match": '"1"'},
                   body={"display_name": display_name})
    _post(client, tenant, "/api/service-categories", {"slug": "brakes", "name": "Brakes and suspension"})
    common = {"contact_name": "Pat", "service_categories": ["brakes"]}
    sender = _post(client, tenant, "/api/professionals", {**common, "business_name": f"Sender {tag}",
                                                          "email": f"sender@{tag}.example", "phone": "+44 20 7946 0958"})
    receiver = _post(client, tenant, "/api/professionals", {**common, "business_name": f"Receiver {tag}",
                                                            "email": f"receiver@{tag}.example",
                                                            "phone": "+1 (555) 010-2000"})
    customer = _post(client, tenant, "/api/customers", {"name": "Casey", "email": f"casey@{tag}.example"})
    return Parties(tenant, sender, receiver, customer, tag)


@pytest.fixture
def acme(client, tenant_a) -> Parties:
    return parties(client, tenant_a, "acme", "Acme Motors")


@pytest.fixture
def globex(client, tenant_b) -> Parties:
    return parties(client, tenant_b, "globex", "Globex Garages")


def mails_to(address: str) -> list:
    return [m for m in ses_sent() if m.destinations["ToAddresses"] == [address]]


def refer(client, p: Parties) -> dict[str, Any]:
    return _post(client, p.tenant, REFERRALS, p.body())


def answer(client, p: Parties, referral: dict[str, Any], status: str) -> None:
    response = client.request("PATCH", f"{REFERRALS}/{referral['id']}", tenant=p.tenant, body={"status": status},
                              headers={"If-Match": f'"{referral["version"]}"'})
    assert response.status_code == 200, response.body


def test_the_receiver_hears_of_a_new_referral_with_the_tenants_branding(client, acme):
    referral = refer(client, acme)
    [mail] = mails_to("receiver@acme.example")
    assert mail.source == "Acme Motors <no-reply@platform.localhost>"
    assert mail.subject == "New referral from Sender acme"
    assert "Hello Receiver acme" in mail.body and "for Brakes and suspension" in mail.body
    assert f"https://acme.localhost/referrals/{referral['id']}" in mail.body
    assert mails_to("sender@acme.example") == [] and mails_to("casey@acme.example") == []
    assert sns_sent() == []  # texts are off by default


@pytest.mark.parametrize("status", ["accepted", "declined"])
def test_the_sender_hears_of_the_answer(client, acme, status):
    referral = refer(client, acme)
    answer(client, acme, referral, status)
    [mail] = mails_to("sender@acme.example")
    assert mail.subject == f"Receiver acme {status} your referral"
    assert "Hello Sender acme" in mail.body and mail.source.startswith("Acme Motors <")
    assert len(mails_to("receiver@acme.example")) == 1  # only the creation notice


def test_notes_edits_completion_and_cancellation_send_nothing(client, acme):
    referral = refer(client, acme)
    before = len(ses_sent())
    answer(client, acme, referral, "cancelled")
    other = refer(client, acme)
    client.request("PATCH", f"{REFERRALS}/{other['id']}", tenant=acme.tenant, body={"notes": "call first"},
                   headers={"If-Match": '"1"'})
    assert len(ses_sent()) == before + 1  # the second referral's creation notice only


def test_the_configuration_chooses_the_parties_and_can_turn_an_event_off(client, tokens, acme):
    # Given an active manager, and a configuration that mails the creation to nobody and
    # the acceptance to the customer, the managers and (as before) the sender
    manager = _post(client, acme.tenant, "/api/tenant/members", {"email": "boss@acme.example", "role": "manager"})
    [invitation] = mails_to("boss@acme.example")
    token = invitation.body.split("token=")[1].split()[0]
    accepted = client.request("POST", f"/api/tenant/invitations/{manager['id']}/accept", body={"token": token},
                              token=tokens.token(role="customer", tenant=acme.tenant, sub="idp|boss"))
    assert accepted.status_code == 200
    put_config(client, acme.tenant, {"notifications": {
        "referral_created": {"email": []},
        "referral_accepted": {"email": ["sender", "customer", "manager"]}}}, 1)
    referral = refer(client, acme)
    assert mails_to("receiver@acme.example") == []
    answer(client, acme, referral, "accepted")
    for address in ("sender@acme.example", "casey@acme.example", "boss@acme.example"):
        assert [m.subject for m in mails_to(address) if "accepted" in m.subject] == \
            ["Receiver acme accepted your referral"], address


def test_referrals_turned_off_send_nothing(client, acme):
    put_config(client, acme.tenant, {"features": {"referrals": False}}, 1)
    refer(client, acme)
    assert mails_to("receiver@acme.example") == []


def test_texts_need_the_feature_and_an_e164_phone(client, acme):
    put_config(client, acme.tenant, {"notifications": {"referral_created": {"sms": ["receiver", "sender"]}}}, 1)
    refer(client, acme)
    assert sns_sent() == []  # sms_notifications is off
    put_config(client, acme.tenant, {"features": {"sms_notifications": True},
                                     "notifications": {"referral_created": {"sms": ["receiver", "sender"]}}}, 2)
    referral = refer(client, acme)
    texts = dict(sns_sent())
    assert set(texts) == {"+15550102000", "+442079460958"}
    assert texts["+15550102000"] == (f"Acme Motors: New referral from Sender acme "
                                     f"https://acme.localhost/referrals/{referral['id']}")


def test_e164_normalisation():
    assert e164("+1 (555) 010-2000") == "+15550102000"
    assert e164("+44 20 7946 0958") == "+442079460958"
    assert e164("020 7946 0958") is None and e164(None) is None and e164("+12") is None


def test_another_tenants_configuration_never_applies(client, acme, globex):
    # Given B mails nothing on creation and its senders on everything
    put_config(client, globex.tenant, {"notifications": {"referral_created": {"email": ["sender"]}},
                                       "features": {"sms_notifications": True}}, 1)
    refer(client, acme)
    refer(client, globex)
    # Then A follows its own (default) configuration and branding, B its own
    [mail] = mails_to("receiver@acme.example")
    assert mail.source.startswith("Acme Motors <") and mails_to("sender@acme.example") == []
    assert mails_to("receiver@globex.example") == []
    [theirs] = mails_to("sender@globex.example")
    assert theirs.source.startswith("Globex Garages <") and "Sender globex" in theirs.subject
    assert sns_sent() == []


def test_a_failing_provider_keeps_the_referral_and_queues_the_notice(client, acme):
    configure(client, acme.tenant, "email", smtp_body(free_port()))  # nothing listens there
    referral = refer(client, acme)
    assert body_of(client.get(f"{REFERRALS}/{referral['id']}", tenant=acme.tenant))["status"] == "pending"
    [item] = raw_items(acme.tenant, "OUTBOX")
    assert item.status == "pending" and json.loads(item.data)["channel"] == "email"
    assert "receiver@acme.example" not in json.dumps(item.attribute_values)
