"""Mail the platform sends on a tenant's behalf goes through the tenant's effective provider,
with its branding; a provider that fails leaves the message in the outbox, retried by the
``notifications_retry`` schedule, never lost."""
from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.notifications import install_default_templates, outbox, render, send_email, send_sms
from tests.api.integration_support import (
    configure,
    free_port,
    make_certificate,
    ses_sent,
    smtp_body,
    smtp_server,
    sns_sent,
    trusting,
)
from tests.audit_helpers import bound, raw_items

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def certificate():
    return make_certificate()


def fire(name: str) -> dict[str, Any]:
    from app import app
    from chalicelib.local.pump import EventPump
    from chalicelib.settings import get_settings

    return EventPump(app, get_settings().region).fire(name)


def outbox_items(tenant: Any) -> list[dict[str, Any]]:
    return [{"status": i.status, **json.loads(i.data)} for i in raw_items(tenant, "OUTBOX")]


def test_platform_ses_with_the_tenant_branding_until_the_tenant_configures_smtp(client, tenant_a, certificate):
    client.request("PUT", "/api/tenant/branding", tenant=tenant_a, headers={"If-Match": '"1"'},
                   body={"display_name": "Acme Motors", "support_email": "help@acme-motors.example"})
    requests: list[dict[str, Any]] = []
    ses = aws.client("ses")
    ses.meta.events.register("before-parameter-build.ses.SendEmail", lambda params, **_: requests.append(params))
    with bound(tenant_a):
        install_default_templates()
        subject, body = render("export_ready", {"download_url": "https://x.example/d", "expires_at": "soon"})
        assert subject == "Your Acme Motors export is ready"
        first = send_email("owner@acme-motors.example", subject, body)
    sent = ses_sent()[-1]
    assert sent.id == first and sent.source == "Acme Motors <no-reply@platform.localhost>"
    assert requests[-1]["ReplyToAddresses"] == ["help@acme-motors.example"]
    with smtp_server(certificate) as server, trusting(certificate):
        configure(client, tenant_a, "email", smtp_body(server.port, from_name=None))
        with bound(tenant_a):
            send_email("owner@acme-motors.example", subject, body)
        configure(client, tenant_a, "email", smtp_body(server.port, enabled=False), 1)
        with bound(tenant_a):
            send_email("owner@acme-motors.example", subject, body)
    assert len(server.messages) == 1 and "From: Acme Motors <mail@acme-motors.example>" in server.messages[0].content
    assert "Reply-To: help@acme-motors.example" in server.messages[0].content
    assert len(ses_sent()) == 2  # disabled: back to the platform


def test_texts_fall_back_to_platform_sns(tenant_a):
    with bound(tenant_a):
        message_id = send_sms("+15550100200", "Your referral was accepted")
    assert message_id and sns_sent()[-1] == ("+15550100200", "Your referral was accepted")


def test_without_a_tenant_the_platform_sends(aws_mock):
    send_email("ops@platform.example", "Platform notice", "Hello")
    assert ses_sent()[-1].source == "no-reply@platform.localhost"


def test_a_failing_provider_queues_the_mail_and_the_schedule_delivers_it_once_fixed(
        client, tenant_a, certificate, caplog, monkeypatch):
    monkeypatch.setattr(outbox, "FIRST_BACKOFF", timedelta(0))  # due at once, not in 5 minutes
    dead_port = free_port()
    configure(client, tenant_a, "email", smtp_body(dead_port))
    with caplog.at_level(logging.INFO), bound(tenant_a):
        result = send_email("owner@acme-motors.example", "Your export is ready", "Download it here")
    assert result.startswith("queued:")
    warning = [r for r in caplog.records if r.getMessage() == "notification failed; kept for a retry"]
    assert warning and warning[0].fields["reason"] == "could not connect to the server"
    [item] = raw_items(tenant_a, "OUTBOX")
    assert item.status == "pending" and "owner@acme-motors.example" not in json.dumps(item.attribute_values)
    # Still failing: the retry is deferred with a longer backoff, nothing lost
    assert fire("notifications_retry")["tenants_failed"] == []
    assert [(i["status"], i["attempts"]) for i in outbox_items(tenant_a)] == [("pending", 2)]
    # The admin fixes the integration: the next run delivers and empties the outbox
    with smtp_server(certificate) as server, trusting(certificate):
        configure(client, tenant_a, "email", smtp_body(server.port), 1)
        fire("notifications_retry")
    assert [m.rcpt_tos for m in server.messages] == [["owner@acme-motors.example"]]
    assert "Download it here" in server.messages[0].content
    assert outbox_items(tenant_a) == []


def test_an_undeliverable_mail_is_kept_as_failed_after_the_last_attempt(client, tenant_a, caplog, monkeypatch):
    monkeypatch.setattr(outbox, "FIRST_BACKOFF", timedelta(0))
    monkeypatch.setattr(outbox, "MAX_ATTEMPTS", 3)
    configure(client, tenant_a, "email", smtp_body(free_port()))
    with bound(tenant_a):
        send_email("owner@acme-motors.example", "Hello", "Body")
    with caplog.at_level(logging.WARNING):
        fire("notifications_retry")
        fire("notifications_retry")
        fire("notifications_retry")  # failed items are not retried again
    assert [(i["status"], i["attempts"]) for i in outbox_items(tenant_a)] == [("failed", 3)]
    assert [r.levelname for r in caplog.records if r.getMessage() == "notification abandoned"] == ["ERROR"]


def test_a_retry_waits_for_its_backoff(client, tenant_a):
    configure(client, tenant_a, "email", smtp_body(free_port()))
    with bound(tenant_a):
        send_email("owner@acme-motors.example", "Hello", "Body")
    fire("notifications_retry")
    assert [i["attempts"] for i in outbox_items(tenant_a)] == [1]  # not due for 5 minutes


def test_items_kept_as_failed_do_not_hide_pending_ones(client, tenant_a, certificate, monkeypatch):
    monkeypatch.setattr(outbox, "FIRST_BACKOFF", timedelta(0))
    monkeypatch.setattr(outbox, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(outbox, "PAGE", 1)  # one item read per page: the failed one fills the first
    configure(client, tenant_a, "email", smtp_body(free_port()))
    with bound(tenant_a):
        send_email("first@acme-motors.example", "First", "Body")
    fire("notifications_retry")
    with bound(tenant_a):
        send_email("second@acme-motors.example", "Second", "Body")
    with smtp_server(certificate) as server, trusting(certificate):
        configure(client, tenant_a, "email", smtp_body(server.port), 1)
        fire("notifications_retry")
    assert [m.rcpt_tos for m in server.messages] == [["second@acme-motors.example"]]
    assert [(i["status"], i["attempts"]) for i in outbox_items(tenant_a)] == [("failed", 2)]
