"""Tenant integrations: routes, validation, versions, masking, test sends through SES, SMTP,
SNS and a Twilio-like server, and the fallback to the platform's providers."""
from __future__ import annotations

import pytest

from chalicelib import aws
from tests.api.integration_support import (
    GA_BODY,
    INTEGRATIONS,
    SEGMENT_BODY,
    SMTP_PASSWORD,
    STRIPE_BODY,
    STRIPE_SECRET,
    TWILIO_TOKEN,
    configure,
    deliver_notifications,
    get_integration,
    make_certificate,
    put_integration,
    ses_sent,
    smtp_body,
    smtp_server,
    sns_sent,
    trusting,
    twilio_body,
    twilio_server,
)
from tests.audit_helpers import bound, raw_items, stored_events
from tests.conftest import body_of

# The test SMTP server in implicit-TLS mode offers AUTH without knowing the session is TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

@pytest.fixture(scope="module")
def certificate():
    return make_certificate()


def member_token(client, tokens, tenant, email):
    created = client.request("POST", "/api/tenant/members", tenant=tenant, body={"email": email,
                                                                                 "role": "tenant_admin"})
    assert created.status_code == 201, created.body
    return tokens.token(role="tenant_admin", tenant=tenant, sub=body_of(created)["id"])


def test_every_kind_is_listed_with_its_platform_default_until_configured(client, tenant_a):
    response = client.get(INTEGRATIONS, tenant=tenant_a)
    assert response.status_code == 200
    items = {i["kind"]: i for i in body_of(response)["items"]}
    assert set(items) == {"email", "sms", "payment", "analytics"}
    assert items["email"]["source"] == "platform" and items["email"]["provider"] == "ses"
    assert items["email"]["config"] == {"from_address": "no-reply@platform.localhost"}
    assert items["sms"]["provider"] == "sns" and items["payment"]["provider"] is None
    assert all(not i["configured"] and i["tenant"] is None and i["version"] == 0 for i in items.values())


def test_put_stores_public_fields_masks_secrets_and_versions_with_if_match(client, tenant_a):
    created = put_integration(client, tenant_a, "payment", STRIPE_BODY)
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    view = body_of(created)
    assert view["source"] == "tenant" and view["provider"] == "stripe"
    assert view["config"] == {"publishable_key": "pk_test_PublishableKey12345"}
    assert view["secrets"] == {"secret_key": "****" + STRIPE_SECRET[-4:],
                               "webhook_signing_secret": "****9876"}
    assert STRIPE_SECRET not in created.body.decode()
    # An existing integration needs If-Match: missing 428, stale 412
    assert put_integration(client, tenant_a, "payment", STRIPE_BODY).status_code == 428
    assert put_integration(client, tenant_a, "payment", STRIPE_BODY, version=7).status_code == 412
    # Secrets left out are kept: only the publishable key changes
    changed = configure(client, tenant_a, "payment", {"provider": "stripe",
                                                      "config": {"publishable_key": "pk_test_OtherPublishable999"}}, 1)
    assert changed["version"] == 2 and changed["secrets"]["secret_key"].endswith(STRIPE_SECRET[-4:])
    assert get_integration(client, tenant_a, "payment")["tenant"]["version"] == 2


def test_invalid_bodies_are_refused_with_paths_and_store_nothing(client, tenant_a):
    cases = [
        ({"provider": "mailgun", "config": {}}, ["body", "provider"]),
        ({"provider": "smtp", "config": {"host": "mail.example.com", "from_address": "x@y.example"}, "extra": 1},
         ["body", "extra"]),
        ({"provider": "smtp", "config": {"host": "mail.example.com", "from_address": "x@y.example", "port": 0}},
         ["body", "config", "port"]),
        ({"provider": "smtp", "config": {"from_address": "x@y.example"}}, ["body", "config", "host"]),
        ({"provider": "smtp", "config": {"host": "mail.example.com", "from_address": "x@y.example",
                                         "security": "none"}}, ["body", "config", "security"]),
        ({"provider": "ses", "config": {"from_address": "a@portal.acme-motors.example", "bcc": "spy@evil.example"}},
         ["body", "config", "bcc"]),
    ]
    for body, loc in cases:
        response = put_integration(client, tenant_a, "email", body)
        assert response.status_code == 422, body
        assert body_of(response)["errors"][0]["loc"] == loc, body_of(response)
    mixed = {**STRIPE_BODY, "config": {"publishable_key": "pk_live_PublishableKey12345"}}
    response = put_integration(client, tenant_a, "payment", mixed)
    assert response.status_code == 422 and body_of(response)["errors"][0]["type"] == "mode_mismatch"
    bad_secret = {**STRIPE_BODY, "secrets": {"secret_key": "not-a-key"}}
    refused = put_integration(client, tenant_a, "payment", bad_secret)
    assert refused.status_code == 422 and "not-a-key" not in refused.body.decode()
    assert put_integration(client, tenant_a, "twilio", twilio_body("https://api.twilio.com")).status_code == 404
    assert put_integration(client, tenant_a, "email", SEGMENT_BODY).status_code == 422
    assert raw_items(tenant_a, "INTEG") == []
    assert [e for e in stored_events(tenant_a) if e["action"] == "integration.updated"] == []


def test_only_integration_permissions_reach_the_routes(client, tenant_a):
    for role in ("manager", "professional", "customer"):
        assert client.get(INTEGRATIONS, tenant=tenant_a, role=role).status_code == 403
        assert put_integration(client, tenant_a, "payment", STRIPE_BODY, role=role).status_code == 403
    assert client.get(f"{INTEGRATIONS}/fax", tenant=tenant_a).status_code == 404


def test_delete_falls_back_to_the_platform_and_is_audited(client, tenant_a):
    configure(client, tenant_a, "analytics", GA_BODY)
    assert client.request("DELETE", f"{INTEGRATIONS}/analytics", tenant=tenant_a,
                          headers={"If-Match": '"9"'}).status_code == 412
    deleted = client.request("DELETE", f"{INTEGRATIONS}/analytics", tenant=tenant_a)
    assert deleted.status_code == 204
    view = get_integration(client, tenant_a, "analytics")
    assert view["source"] == "platform" and view["provider"] is None and not view["configured"]
    assert client.request("DELETE", f"{INTEGRATIONS}/analytics", tenant=tenant_a).status_code == 404
    operations = [e["details"]["operation"] for e in stored_events(tenant_a) if e["action"] == "integration.updated"]
    assert operations == ["created", "deleted"]


def test_disabled_integration_falls_back_and_enabling_it_switches_back(client, tenant_a, certificate):
    with smtp_server(certificate) as server, trusting(certificate):
        configure(client, tenant_a, "email", smtp_body(server.port, enabled=False))
        view = get_integration(client, tenant_a, "email")
        assert view["source"] == "platform" and view["provider"] == "ses"
        assert view["tenant"]["provider"] == "smtp" and view["tenant"]["enabled"] is False
        configure(client, tenant_a, "email", smtp_body(server.port, password=None), 1)
        view = get_integration(client, tenant_a, "email")
        assert view["source"] == "tenant" and view["provider"] == "smtp"
        assert view["secrets"] == {"password": "****" + SMTP_PASSWORD[-4:]}


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_smtp_test_sends_to_the_calling_member_over_tls(client, tokens, tenant_a, certificate, security):
    token = member_token(client, tokens, tenant_a, "owner@acme-motors.example")
    with smtp_server(certificate, mode=security) as server, trusting(certificate):
        configure(client, tenant_a, "email", smtp_body(server.port, security=security))
        response = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a, token=token, body={})
        assert response.status_code == 200, response.body
        assert body_of(response)["sent"] is True and body_of(response)["provider"] == "smtp"
    assert [m.rcpt_tos for m in server.messages] == [["owner@acme-motors.example"]]
    assert server.logins == [("mailer", "ok")] and "From: Acme Mail <mail@acme-motors.example>" in \
        server.messages[0].content


def test_a_failing_smtp_server_gives_a_clear_error_on_test(client, tokens, tenant_a, certificate):
    token = member_token(client, tokens, tenant_a, "owner@acme-motors.example")
    with smtp_server(certificate, password="the-right-one") as server, trusting(certificate):
        configure(client, tenant_a, "email", smtp_body(server.port))
        refused = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a, token=token, body={})
    assert refused.status_code == 502
    assert body_of(refused)["code"] == "integration_test_failed"
    assert body_of(refused)["detail"] == "smtp: the server refused the login"
    # Untrusted certificate (no test CA): the handshake fails, nothing is sent in the clear
    with smtp_server(certificate) as server:
        configure(client, tenant_a, "email", smtp_body(server.port), 1)
        untrusted = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a, token=token, body={})
    assert untrusted.status_code == 502 and "TLS" in body_of(untrusted)["detail"] and server.messages == []
    # Nothing listening
    configure(client, tenant_a, "email", smtp_body(server.port), 2)
    closed = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a, token=token, body={})
    assert closed.status_code == 502 and body_of(closed)["detail"] == "smtp: could not connect to the server"


def test_email_test_goes_only_to_members(client, tenant_a, certificate):
    with smtp_server(certificate) as server, trusting(certificate):
        configure(client, tenant_a, "email", smtp_body(server.port))
        stranger = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a,
                                  body={"to": "victim@elsewhere.example"})
        assert stranger.status_code == 422 and body_of(stranger)["errors"][0]["type"] == "recipient_not_member"
        no_member = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a, body={})
        assert no_member.status_code == 422 and body_of(no_member)["errors"][0]["type"] == "recipient_required"
        client.request("POST", "/api/tenant/members", tenant=tenant_a, body={"email": "ops@acme-motors.example",
                                                                             "role": "manager"})
        deliver_notifications()
        named = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a,
                               body={"to": "ops@acme-motors.example"})
        assert named.status_code == 200, named.body
    # The member's invitation went through the tenant's SMTP server too, then the test mail
    assert [m.rcpt_tos for m in server.messages] == [["ops@acme-motors.example"]] * 2
    assert "You are invited to join" in server.messages[0].content
    assert "You are invited to join" not in server.messages[1].content


def test_test_needs_a_configured_integration(client, tenant_a):
    response = client.request("POST", f"{INTEGRATIONS}/sms/test", tenant=tenant_a, body={"to": "+15550100200"})
    assert response.status_code == 409 and body_of(response)["code"] == "integration_not_configured"


def test_ses_test_sends_through_moto_from_the_tenant_identity(client, tokens, tenant_a):
    aws.client("ses").verify_email_identity(EmailAddress="news@portal.acme-motors.example")
    token = member_token(client, tokens, tenant_a, "owner@acme-motors.example")
    configure(client, tenant_a, "email", {"provider": "ses", "config": {
        "from_address": "news@portal.acme-motors.example", "from_name": "Acme News"}})
    response = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a, token=token, body={})
    assert response.status_code == 200, response.body
    sent = ses_sent()[-1]
    assert sent.source == "Acme News <news@portal.acme-motors.example>"
    assert sent.destinations["ToAddresses"] == ["owner@acme-motors.example"]
    # SES identities are the platform's: only the tenant's own domains may be the sender
    for address in ("news@acme-motors.example", "news@globex.example", "no-reply@platform.localhost"):
        refused = put_integration(client, tenant_a, "email", {"provider": "ses", "config": {"from_address": address}},
                                  version=1)
        assert refused.status_code == 422 and body_of(refused)["errors"][0]["type"] == "sender_domain_not_owned"
    # An identity SES does not know: a clear error, not a 500
    configure(client, tenant_a, "email", {"provider": "ses", "config": {
        "from_address": "x@mail.portal.acme-motors.example"}}, 1)
    refused = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a, token=token, body={})
    assert refused.status_code == 502 and body_of(refused)["detail"].startswith("ses: SES refused the message")


def test_sns_and_twilio_texts(client, tenant_a):
    configure(client, tenant_a, "sms", {"provider": "sns", "config": {"sender_id": "ACME"}})
    response = client.request("POST", f"{INTEGRATIONS}/sms/test", tenant=tenant_a, body={"to": "+15550100200"})
    assert response.status_code == 200, response.body
    assert sns_sent()[-1][0] == "+15550100200"
    bad = client.request("POST", f"{INTEGRATIONS}/sms/test", tenant=tenant_a, body={"to": "5550100"})
    assert bad.status_code == 422
    with twilio_server() as twilio:
        configure(client, tenant_a, "sms", twilio_body(twilio.base_url), 1)
        sent = client.request("POST", f"{INTEGRATIONS}/sms/test", tenant=tenant_a, body={"to": "+15550100200"})
        assert sent.status_code == 200, sent.body
        assert body_of(sent)["message_id"].startswith("SM")
        assert twilio.requests[-1]["authorized"] and twilio.requests[-1]["form"]["To"] == "+15550100200"
        configure(client, tenant_a, "sms", twilio_body(twilio.base_url, token="wrongTokenValue12345678"), 2)
        refused = client.request("POST", f"{INTEGRATIONS}/sms/test", tenant=tenant_a, body={"to": "+15550100200"})
    assert refused.status_code == 502
    assert body_of(refused)["detail"] == "twilio: the API refused the account SID or auth token"
    assert TWILIO_TOKEN not in refused.body.decode()


def test_payment_and_analytics_tests_validate_without_sending(client, tenant_a):
    configure(client, tenant_a, "payment", STRIPE_BODY)
    configure(client, tenant_a, "analytics", SEGMENT_BODY)
    for kind in ("payment", "analytics"):
        response = client.request("POST", f"{INTEGRATIONS}/{kind}/test", tenant=tenant_a, body={})
        assert response.status_code == 200, response.body
        assert body_of(response)["sent"] is False and "nothing was sent" in body_of(response)["detail"]


def test_public_branding_shows_public_analytics_ids_only(client, tenant_a):
    headers = {"X-Tenant-ID": str(tenant_a.id)}
    before = client.request("GET", "/api/tenant/branding", role=None, headers=headers)
    assert body_of(before)["analytics"] is None and before.headers["ETag"] == '"1"'
    configure(client, tenant_a, "analytics", GA_BODY)
    after = client.request("GET", "/api/tenant/branding", role=None, headers=headers)
    assert body_of(after)["analytics"] == {"provider": "google_analytics", "measurement_id": "G-ABC123XYZ"}
    # The ETag follows the analytics ids, so a cached copy is not answered 304 with the old ones
    assert after.headers["ETag"] != '"1"'
    stale = client.request("GET", "/api/tenant/branding", role=None, headers={**headers, "If-None-Match": '"1"'})
    assert stale.status_code == 200
    fresh = client.request("GET", "/api/tenant/branding", role=None,
                           headers={**headers, "If-None-Match": after.headers["ETag"]})
    assert fresh.status_code == 304
    # That ETag still works as If-Match for a branding PUT
    put = client.request("PUT", "/api/tenant/branding", tenant=tenant_a, body={"display_name": "Acme"},
                         headers={"If-Match": after.headers["ETag"]})
    assert put.status_code == 200, put.body
    configure(client, tenant_a, "analytics", SEGMENT_BODY, 1)
    assert body_of(client.request("GET", "/api/tenant/branding", role=None, headers=headers))["analytics"] is None


def test_stored_roles_carry_the_integration_permissions(client, tenant_a):
    from chalicelib.members import roles

    with bound(tenant_a):
        roles.install_default_roles()
        stored = {r["name"]: r["permissions"] for r in roles.list_roles()}
    assert {"integrations:read", "integrations:write"} <= set(stored["tenant_admin"])
    assert client.get(INTEGRATIONS, tenant=tenant_a).status_code == 200
    granted = client.request("PUT", "/api/tenant/roles/integrator", tenant=tenant_a,
                             body={"permissions": ["integrations:read"]})
    assert granted.status_code == 201
    assert client.get(INTEGRATIONS, tenant=tenant_a, role="integrator").status_code == 200
    assert put_integration(client, tenant_a, "payment", STRIPE_BODY, role="integrator").status_code == 403
