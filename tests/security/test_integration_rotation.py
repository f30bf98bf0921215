"""A key rotation re-seals integration secrets and outbox messages like every other sealed
document (they are in ``crypto.inventory``), and they still open afterwards."""
from __future__ import annotations

import pytest

from chalicelib.key_rotation import service as rotation
from chalicelib.local.bootstrap import create_queue_with_dlq
from chalicelib.notifications import send_email
from chalicelib.settings import reset_settings
from chalicelib.store import registry
from tests.api.integration_support import INTEGRATIONS, STRIPE_BODY, configure, free_port, smtp_body
from tests.audit_helpers import bound
from tests.conftest import body_of
from tests.security.encryption_support import keys_of_sealed, run_jobs, sealed_items


@pytest.fixture
def rotatable(aws_mock, monkeypatch):
    monkeypatch.setenv("TENANT_CACHE_TTL_SECONDS", "0")
    monkeypatch.setenv("KEY_ROTATION_GRACE_SECONDS", "0")
    reset_settings()
    create_queue_with_dlq(rotation.QUEUE)


def test_rotation_reseals_integrations_and_the_outbox(client, tenant_a, rotatable):
    configure(client, tenant_a, "payment", STRIPE_BODY)
    configure(client, tenant_a, "email", smtp_body(free_port()))
    with bound(tenant_a):
        assert send_email("owner@acme-motors.example", "Hello", "Body").startswith("queued:")
    kinds = {kind for kind, _ in sealed_items(tenant_a)}
    assert {"INTEG", "OUTBOX"} <= kinds
    before = body_of(client.get(INTEGRATIONS, tenant=tenant_a))
    old = tenant_a.kms_key_arn

    started = client.request("POST", f"/api/admin/tenants/{tenant_a.id}/keys/rotate", role="platform_admin")
    assert started.status_code == 202, started.body
    run_jobs()

    rotated = registry.get_tenant(tenant_a.id)
    assert rotated.kms_key_arn != old and keys_of_sealed(rotated) == {frozenset({rotated.kms_key_arn})}
    assert body_of(client.get(INTEGRATIONS, tenant=tenant_a)) == before
