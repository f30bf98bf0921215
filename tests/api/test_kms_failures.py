"""KMS throttled or unreachable: 503 with Retry-After, and nothing half-written.

Faults are injected with a botocore ``before-call`` hook on every client of the process
(the Encryption SDK's KMS client included), not by patching our code.
"""
from __future__ import annotations

import pytest

from chalicelib import aws
from chalicelib.crypto import pii
from chalicelib.crypto.errors import KeyServiceUnavailableError
from chalicelib.store import keys as store_keys
from chalicelib.store import registry
from tests.conftest import body_of, create_tenant
from tests.security.encryption_support import (
    customer_body,
    kms_error,
    kms_fault,
    professional_body,
    raw_partition,
    unreachable,
)

FAULTS = {"throttled": lambda: kms_error("ThrottlingException"), "unreachable": unreachable,
          "internal": lambda: kms_error("KMSInternalException")}


def _is_503(response) -> None:
    assert response.status_code == 503, response.body
    assert response.headers["Retry-After"] == "2"
    body = body_of(response)
    assert body["code"] == "key_service_unavailable" and "arn:" not in response.body.decode()


def _partition(tenant, kind: str) -> list:
    return raw_partition(tenant, store_keys.data_partition(tenant.id, kind))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_writes_during_a_kms_outage_are_503_and_store_nothing(client, tenant_a, fault):
    kinds = (store_keys.CUSTOMER, store_keys.CUSTOMER_USER, store_keys.PROFESSIONAL,
             store_keys.PROFESSIONAL_EMAIL, store_keys.TENANT_SECRET)
    # (the tenant's admin principal is a member already, so its email's blind-index key may exist)
    before = {kind: _partition(tenant_a, kind) for kind in kinds}
    assert all(before[kind] == [] for kind in kinds if kind != store_keys.TENANT_SECRET)
    with kms_fault(FAULTS[fault]) as refused:
        customer = client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(1))
        professional = client.request("POST", "/api/professionals", tenant=tenant_a, body=professional_body(1, []))
    _is_503(customer)
    _is_503(professional)
    assert "GenerateDataKey" in refused
    for kind in kinds:
        assert _partition(tenant_a, kind) == before[kind]
    # Once KMS answers again, the same requests succeed.
    assert client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(1)).status_code == 201


def test_reads_and_edits_during_a_kms_outage_are_503_and_change_nothing(client, tenant_a):
    made = body_of(client.request("POST", "/api/customers", tenant=tenant_a, body=customer_body(2)))
    stored = _partition(tenant_a, store_keys.CUSTOMER)
    pii.reset_state()  # a fresh container: no data key cached
    with kms_fault(FAULTS["throttled"], ("Decrypt",)) as refused:
        got = client.get(f"/api/customers/{made['id']}", tenant=tenant_a)
        edited = client.request("PATCH", f"/api/customers/{made['id']}", tenant=tenant_a,
                                body={"notes": "changed"}, headers={"If-Match": '"1"'})
    _is_503(got)
    _is_503(edited)
    assert refused == ["Decrypt", "Decrypt"]
    assert _partition(tenant_a, store_keys.CUSTOMER) == stored
    assert body_of(client.get(f"/api/customers/{made['id']}", tenant=tenant_a))["notes"] == "Door code 1202"


@pytest.mark.parametrize("operation", ["CreateKey", "EnableKeyRotation", "CreateAlias"])
def test_tenant_creation_during_a_kms_outage_creates_nothing(aws_mock, operation):
    kms = aws.client("kms")
    keys_before = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    with kms_fault(FAULTS["throttled"], (operation,)), pytest.raises(KeyServiceUnavailableError):
        create_tenant("initech")
    assert registry.tenant_id_for_slug("initech") is None
    new_keys = {k["KeyId"] for k in kms.list_keys()["Keys"]} - keys_before
    assert all(kms.describe_key(KeyId=k)["KeyMetadata"]["KeyState"] == "PendingDeletion" for k in new_keys)
    assert len(new_keys) == (0 if operation == "CreateKey" else 1)
    assert create_tenant("initech").kms_key_arn  # and it works once KMS does


@pytest.mark.parametrize("operation", ["CreateKey", "EnableKeyRotation"])
def test_a_rotation_during_a_kms_outage_is_503_and_changes_nothing(client, tenant_a, operation):
    with kms_fault(FAULTS["throttled"], (operation,)):
        response = client.request("POST", f"/api/admin/tenants/{tenant_a.id}/keys/rotate", role="platform_admin")
    _is_503(response)
    assert registry.get_tenant(tenant_a.id).kms_key_arn == tenant_a.kms_key_arn
    assert _partition(tenant_a, store_keys.KEY_ROTATION) == []
    with kms_fault(FAULTS["unreachable"], ("DescribeKey",)):
        _is_503(client.request("GET", f"/api/admin/tenants/{tenant_a.id}/keys", role="platform_admin"))
