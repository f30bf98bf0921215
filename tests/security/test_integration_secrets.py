"""Integration secrets are write-only: in no response, log line, audit event or stored item.

One walkthrough configures a secret-bearing provider of every kind, replaces the secrets,
reads, lists, tests (successfully and not), sends a platform notification that fails
and is kept in the outbox, and deletes; everything the system said or stored meanwhile
is then searched for every secret value (and for a password's base64 in SMTP AUTH form).
"""
from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from chalicelib.notifications import send_email
from tests.api.integration_support import (
    ALL_SECRETS,
    INTEGRATIONS,
    SEGMENT_BODY,
    SMTP_PASSWORD,
    STRIPE_BODY,
    free_port,
    log_text,
    make_certificate,
    smtp_body,
    smtp_server,
    trusting,
    twilio_body,
    twilio_server,
)
from tests.audit_helpers import bound, listed, stored_events
from tests.conftest import body_of
from tests.security.encryption_support import table_items

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
ROTATED = "rotated-Smtp-Password-77xq"


def _record(responses: list[Any], response: Any) -> Any:
    responses.append(response)
    return response


def _walkthrough(client: Any, tokens: Any, tenant: Any, responses: list[Any]) -> None:
    member = body_of(client.request("POST", "/api/tenant/members", tenant=tenant,
                                    body={"email": "owner@acme-motors.example", "role": "tenant_admin"}))
    token = tokens.token(role="tenant_admin", tenant=tenant, sub=member["id"])
    certificate = make_certificate()
    with smtp_server(certificate) as server, twilio_server() as twilio, trusting(certificate):
        for kind, body in (("email", smtp_body(server.port)), ("sms", twilio_body(twilio.base_url)),
                           ("payment", STRIPE_BODY), ("analytics", SEGMENT_BODY)):
            responses.append(client.request("PUT", f"{INTEGRATIONS}/{kind}", tenant=tenant, body=body))
        for kind, body in (("email", {"to": None}), ("sms", {"to": "+15550100200"}), ("payment", {}),
                           ("analytics", {})):
            _record(responses, client.request("POST", f"{INTEGRATIONS}/{kind}/test", tenant=tenant, token=token,
                                              body=body))
        assert [m.rcpt_tos for m in server.messages] == [["owner@acme-motors.example"]]
    # The password changes; then a wrong one makes the test and a notification fail
    responses.append(client.request("PUT", f"{INTEGRATIONS}/email", tenant=tenant, headers={"If-Match": '"1"'},
                                    body=smtp_body(free_port(), password=ROTATED)))
    failed = _record(responses, client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant, token=token,
                                               body={}))
    assert failed.status_code == 502
    with bound(tenant):
        assert send_email("owner@acme-motors.example", "Hello", "Body").startswith("queued:")
    for path in ("", "/email", "/sms", "/payment", "/analytics"):
        _record(responses, client.get(f"{INTEGRATIONS}{path}", tenant=tenant))
    responses.append(client.request("DELETE", f"{INTEGRATIONS}/payment", tenant=tenant))


def test_secrets_never_leave_in_responses_logs_audit_or_stored_items(client, tokens, tenant_a, caplog):
    responses: list[Any] = []
    with caplog.at_level(logging.DEBUG):
        _walkthrough(client, tokens, tenant_a, responses)
    assert all(r.status_code < 500 or r.status_code == 502 for r in responses)
    secrets = (*ALL_SECRETS, ROTATED)
    # Responses: bodies and headers
    said = "\n".join(r.body.decode() + json.dumps(dict(r.headers)) for r in responses)
    # Logs: everything but the test SMTP server's own (which echoes what it is sent)
    logged = log_text([r for r in caplog.records if not r.name.startswith("mail.log")])
    # Audit: the stored events and what the audit route returns
    events = stored_events(tenant_a)
    audited = json.dumps(events) + json.dumps(listed(client, tenant_a))
    # Stored: every item of the data table, as DynamoDB holds it
    stored = json.dumps(table_items())
    # (the capture did see the walkthrough: the failures were logged, the items stored)
    assert "integration test failed" in logged and "notification failed; kept for a retry" in logged
    assert '"INTEG"' in stored and '"OUTBOX"' in stored
    for where, text in (("responses", said), ("logs", logged), ("audit", audited), ("stored items", stored)):
        for secret in secrets:
            assert secret not in text, (where, secret)
            assert secret[-8:] not in text, (where, secret)
    assert base64.b64encode(f"\0mailer\0{SMTP_PASSWORD}".encode()).decode() not in logged
    # The audit still says which secret fields changed, redacted
    email_events = [e for e in events if e["target"] == {"kind": "integration", "id": "email"}]
    assert email_events[0]["changes"]["secret.password"] == {"before": None, "after": "[redacted]"}
    assert email_events[1]["changes"]["secret.password"] == {"before": "[redacted]", "after": "[redacted]"}
    assert "config.port" in email_events[1]["changes"]
    # Reads show masks only
    view = body_of(client.get(f"{INTEGRATIONS}/email", tenant=tenant_a))
    assert view["secrets"] == {"password": "****" + ROTATED[-4:]}


def test_masks_never_show_most_of_a_short_secret():
    from chalicelib.integrations.resolution import mask

    assert mask("abcdefghijkl") == "****ijkl"
    assert mask("short-secret"[:11]) == "****"
