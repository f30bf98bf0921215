"""Outside the local stage, a tenant cannot point the server at loopback, private or
link-local hosts: refused when saved, and refused again when a name resolves to one at
send time (DNS rebinding), before any connection is made."""
from __future__ import annotations

import socket

import pytest

from chalicelib.settings import reset_settings
from tests.api.integration_support import INTEGRATIONS, TWILIO_SID, put_integration, smtp_body, twilio_body
from tests.audit_helpers import raw_items
from tests.conftest import body_of


@pytest.fixture
def dev_stage(monkeypatch, app_env):
    monkeypatch.setenv("STAGE", "dev")
    monkeypatch.delenv("JWT_HS256_SECRET", raising=False)
    # A deployed stage has its own cursor signing key (infra generates it).
    monkeypatch.setenv("CURSOR_SIGNING_KEY", "a-dev-stage-cursor-signing-key-for-tests")
    reset_settings()
    yield
    reset_settings()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.0.0.8", "169.254.169.254", "[::1]", "mail.internal"])
def test_private_smtp_hosts_are_refused(client, tenant_a, dev_stage, host):
    response = put_integration(client, tenant_a, "email", smtp_body(2525, host=host))
    assert response.status_code == 422, response.body
    assert body_of(response)["errors"][0]["loc"] == ["body", "config", "host"]
    assert raw_items(tenant_a, "INTEG") == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "https://192.168.0.10", "http://api.twilio.com",
                                 "https://169.254.169.254/latest"])
def test_private_or_plain_http_base_urls_are_refused(client, tenant_a, dev_stage, url):
    response = put_integration(client, tenant_a, "sms", twilio_body(url))
    assert response.status_code == 422 and body_of(response)["errors"][0]["loc"] == ["body", "config", "base_url"]


def test_a_name_rebound_to_a_private_address_is_refused_at_send_time(client, tokens, tenant_a, dev_stage,
                                                                     monkeypatch):
    member = body_of(client.request("POST", "/api/tenant/members", tenant=tenant_a,
                                    body={"email": "owner@acme-motors.example", "role": "tenant_admin"}))
    token = tokens.token(role="tenant_admin", tenant=tenant_a, sub=member["id"])
    assert put_integration(client, tenant_a, "email", smtp_body(2525, host="mail.rebound.example")).status_code == 201
    assert put_integration(client, tenant_a, "sms", twilio_body("https://api.rebound.example")).status_code == 201
    connections: list[object] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))])
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connections.append(a))
    mail = client.request("POST", f"{INTEGRATIONS}/email/test", tenant=tenant_a, token=token, body={})
    text = client.request("POST", f"{INTEGRATIONS}/sms/test", tenant=tenant_a, body={"to": "+15550100200"})
    assert mail.status_code == 502 and body_of(mail)["detail"] == "smtp: host resolves to an address that is not public"
    assert text.status_code == 502 and "not public" in body_of(text)["detail"]
    assert connections == []
    assert TWILIO_SID not in text.body.decode()
