"""Tenant B can neither read, change, remove, test nor send through tenant A's integrations.

Kinds are the same names in every tenant, so the isolation matrix's "B gets 404 on A's
id" does not apply; instead B acting on every route of every kind must leave A's
integrations as they were and must see only its own (platform defaults).
"""
from __future__ import annotations

import pytest

from chalicelib.notifications import send_email
from tests.api.integration_support import (
    INTEGRATIONS,
    STRIPE_BODY,
    configure,
    free_port,
    ses_sent,
    smtp_body,
)
from tests.audit_helpers import bound, raw_items
from tests.conftest import body_of

KINDS = ("email", "sms", "payment", "analytics")


@pytest.fixture
def a_configured(client, tenant_a, tenant_b):
    configure(client, tenant_a, "email", smtp_body(free_port()))
    configure(client, tenant_a, "payment", STRIPE_BODY)
    return {kind: body_of(client.get(f"{INTEGRATIONS}/{kind}", tenant=tenant_a)) for kind in KINDS}


def test_b_sees_only_platform_defaults(client, tenant_b, a_configured):
    listed = body_of(client.get(INTEGRATIONS, tenant=tenant_b))["items"]
    assert all(i["source"] == "platform" and i["tenant"] is None for i in listed)
    for kind in KINDS:
        view = body_of(client.get(f"{INTEGRATIONS}/{kind}", tenant=tenant_b))
        assert view["source"] == "platform" and not view["configured"]
    assert "pk_test_PublishableKey12345" not in client.get(INTEGRATIONS, tenant=tenant_b).body.decode()


def test_b_cannot_change_remove_or_test_a_s_integrations(client, tenant_a, tenant_b, a_configured):
    for kind in KINDS:
        assert client.request("DELETE", f"{INTEGRATIONS}/{kind}", tenant=tenant_b).status_code == 404
        tested = client.request("POST", f"{INTEGRATIONS}/{kind}/test", tenant=tenant_b, body={"to": "+15550100200"})
        assert tested.status_code == 409 and body_of(tested)["code"] == "integration_not_configured"
    # A PUT by B with A's ETag configures B's own integration, not A's
    created = client.request("PUT", f"{INTEGRATIONS}/payment", tenant=tenant_b, headers={"If-Match": '"1"'},
                             body={**STRIPE_BODY, "enabled": False})
    assert created.status_code == 201
    assert {kind: body_of(client.get(f"{INTEGRATIONS}/{kind}", tenant=tenant_a)) for kind in KINDS} == a_configured
    assert [i.sk for i in raw_items(tenant_b, "INTEG")] == ["payment"]
    # A token of A's tenant naming B is refused
    mismatch = client.request("GET", INTEGRATIONS, tenant=tenant_a, headers={"X-Tenant-ID": str(tenant_b.id)})
    assert mismatch.status_code == 403


def test_b_s_notifications_do_not_use_a_s_provider(tenant_a, tenant_b, a_configured):
    before = len(ses_sent())
    with bound(tenant_b):
        message_id = send_email("someone@globex.example", "Hello", "Body")
    assert not message_id.startswith("queued:") and len(ses_sent()) == before + 1  # B: platform SES
    assert raw_items(tenant_b, "OUTBOX") == [] and raw_items(tenant_a, "OUTBOX") == []


def test_a_s_sealed_secrets_copied_into_b_s_partition_do_not_open(client, tenant_a, tenant_b, a_configured):
    from chalicelib.store import data

    [stolen] = [i for i in raw_items(tenant_a, "INTEG") if i.sk == "payment"]
    with bound(tenant_b):
        copy = data.new_item(pk=data.partition("INTEG"), sk="payment", kind="INTEG", entity_id="payment", version=1,
                             data=stolen.data, pii=stolen.pii)
        copy.save()
    response = client.get(f"{INTEGRATIONS}/payment", tenant=tenant_b)
    assert response.status_code == 500 and "sk_test" not in response.body.decode()
