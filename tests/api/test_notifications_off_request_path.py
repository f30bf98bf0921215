"""A request that triggers a notification does not wait for the tenant's provider: it
stores the message in the outbox, queues it and returns; the notifications queue's handler
sends it. Before issue 21 the referral request sent the mail itself, so a tenant SMTP
server that stalls held the request for up to ``INTEGRATION_TIMEOUT_SECONDS`` (10 s)."""
from __future__ import annotations

import threading
import time

import pytest

from tests.api.integration_support import (
    Stall,
    configure,
    deliver_notifications,
    make_certificate,
    smtp_body,
    smtp_server,
    trusting,
)
from tests.api.test_referral_notifications import parties
from tests.audit_helpers import raw_items

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def test_a_referral_returns_while_the_smtp_server_stalls_and_the_mail_arrives_once_it_answers(client, tenant_a):
    certificate = make_certificate()
    stall = Stall(seconds=10)
    with smtp_server(certificate, stall=stall) as server, trusting(certificate):
        # Given a tenant whose SMTP server takes a message and then says nothing for 10 s
        acme = parties(client, tenant_a, "acme", "Acme Motors")
        configure(client, tenant_a, "email", smtp_body(server.port))
        # When a referral that mails the receiver is created
        started = time.perf_counter()
        response = client.request("POST", "/api/referrals", tenant=tenant_a, body=acme.body())
        elapsed = time.perf_counter() - started
        print(f"referral created in {elapsed * 1000:.0f} ms with the SMTP server stalled")  # the figure, not a gate
        # Then it was answered without the SMTP server being reached: the mail waits in the outbox
        assert response.status_code == 201, response.body
        assert not stall.reached.is_set() and server.messages == []
        [waiting] = raw_items(tenant_a, "OUTBOX")
        assert waiting.status == "pending"
        # When the queue's handler sends it, the server stalls on it; once the server answers
        sender = threading.Thread(target=deliver_notifications)
        sender.start()
        assert stall.reached.wait(10), "the sender never reached the SMTP server"
        assert server.messages == []
        stall.release.set()
        sender.join(15)
        assert not sender.is_alive()
    # Then the mail has arrived, once, and the outbox is empty
    assert [m.rcpt_tos for m in server.messages] == [["receiver@acme.example"]]
    assert "New referral from Sender acme" in server.messages[0].content
    assert raw_items(tenant_a, "OUTBOX") == []
    assert deliver_notifications() == 0
