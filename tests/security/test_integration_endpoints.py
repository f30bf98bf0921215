"""Changing where an integration sends its secrets requires the secrets again (issue 19, finding 1).

Without this, a tenant admin (or a stolen admin session) keeps the stored Twilio token or
SMTP password, points ``base_url``/``host`` at a server they control, and the next test
or notification hands the secret over (``Basic <sid>:<stored token>``).
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.integration_support import (
    SMTP_PASSWORD,
    TWILIO_TOKEN,
    configure,
    free_port,
    get_integration,
    put_integration,
    smtp_body,
    twilio_body,
)
from tests.audit_helpers import stored_events
from tests.conftest import body_of


def _integration_events(tenant: Any) -> list[dict[str, Any]]:
    return [e for e in stored_events(tenant) if e["action"] == "integration.updated"]


def _smtp(password: str | None = SMTP_PASSWORD, **change: Any) -> dict[str, Any]:
    body = smtp_body(2525, password=password)
    body["config"].update(change)
    return body


def _without_secrets(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "secrets": {}}


def test_a_new_twilio_base_url_without_the_token_is_422_and_nothing_changes(client, tenant_a):
    # Given a Twilio integration with its token stored
    configure(client, tenant_a, "sms", twilio_body(f"http://127.0.0.1:{free_port()}"))
    before = get_integration(client, tenant_a, "sms")
    # When the base URL moves to another host and no secrets are sent
    attacker = twilio_body(f"http://127.0.0.1:{free_port()}")
    response = put_integration(client, tenant_a, "sms", _without_secrets(attacker), 1)
    # Then 422 secrets_required naming the secret, and the stored integration is as it was
    assert response.status_code == 422, response.body
    problem = body_of(response)
    assert problem["code"] == "secrets_required"
    assert [e["loc"] for e in problem["errors"]] == [["body", "secrets", "auth_token"]]
    assert TWILIO_TOKEN not in str(response.body)
    assert get_integration(client, tenant_a, "sms") == before
    assert len(_integration_events(tenant_a)) == 1
    # And with the token sent again, the change is accepted and the audit says what moved
    configure(client, tenant_a, "sms", attacker, 1)
    event = _integration_events(tenant_a)[-1]
    assert event["details"]["endpoint_changed"] == ["config.base_url"]


@pytest.mark.parametrize("change", [{"host": "127.0.0.2"}, {"port": 2526}, {"username": "other"},
                                    {"security": "tls"}], ids=["host", "port", "username", "security"])
def test_a_new_smtp_endpoint_without_the_password_is_422(client, tenant_a, change):
    configure(client, tenant_a, "email", smtp_body(2525))
    before = get_integration(client, tenant_a, "email")
    response = put_integration(client, tenant_a, "email", _smtp(None, **change), 1)
    assert response.status_code == 422, response.body
    assert body_of(response)["code"] == "secrets_required"
    assert get_integration(client, tenant_a, "email") == before
    configure(client, tenant_a, "email", _smtp(**change), 1)
    assert _integration_events(tenant_a)[-1]["details"]["endpoint_changed"] == [f"config.{next(iter(change))}"]


def test_other_changes_keep_the_stored_secret(client, tenant_a):
    # Given an SMTP integration; when only the sender name changes, the password may stay unsent
    configure(client, tenant_a, "email", smtp_body(2525))
    configure(client, tenant_a, "email", smtp_body(2525, password=None, from_name="Acme Service"), 1)
    view = get_integration(client, tenant_a, "email")
    assert view["tenant"]["secrets"] == {"password": "****" + SMTP_PASSWORD[-4:]}
    assert _integration_events(tenant_a)[-1]["details"]["endpoint_changed"] == []
