"""PII encryption: keys per tenant, ciphertext at rest, and every way a ciphertext must fail."""
from __future__ import annotations

import base64
import json
import logging
import uuid

import pytest

from chalicelib import aws
from chalicelib.crypto import envelope, pii
from chalicelib.crypto.codec import TenantKeys
from chalicelib.crypto.errors import DataIntegrityError, UnreadableCiphertextError
from chalicelib.errors import ConflictError
from chalicelib.store import data, registry
from chalicelib.store import keys as store_keys
from tests.conftest import body_of
from tests.security.encryption_support import (
    POPULATED_PII,
    as_tenant,
    customer_body,
    populate,
    raw_partition,
    sealed_items,
    table_items,
)
from tests.support.principals import is_test_principal


def _customer(client, tenant, n: int = 0):
    response = client.request("POST", "/api/customers", tenant=tenant, body=customer_body(n))
    assert response.status_code == 201, response.body
    return body_of(response)


def _security_events(caplog, event: str) -> list[dict]:
    return [r.fields for r in caplog.records
            if r.name == "security" and getattr(r, "fields", {}).get("security_event") == event]


# ---- keys ------------------------------------------------------------------------------

def test_each_tenant_gets_its_own_tagged_rotating_aliased_key(tenant_a, tenant_b):
    kms = aws.client("kms")
    assert tenant_a.kms_key_arn != tenant_b.kms_key_arn
    for tenant in (tenant_a, tenant_b):
        metadata = kms.describe_key(KeyId=tenant.kms_key_arn)["KeyMetadata"]
        assert metadata["KeyState"] == "Enabled" and metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=tenant.kms_key_arn)["Tags"]}
        assert tags["tenant_id"] == str(tenant.id)
        assert kms.get_key_rotation_status(KeyId=tenant.kms_key_arn)["KeyRotationEnabled"] is True
        alias = f"alias/tenant-platform/local/tenant/{tenant.id}"
        assert kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"] == tenant.kms_key_arn
        assert registry.get_tenant(tenant.id).kms_key_arn == tenant.kms_key_arn


def test_a_failed_tenant_insert_leaves_no_enabled_key(tenant_a):
    kms = aws.client("kms")
    attempted = uuid.uuid4()
    with pytest.raises(ConflictError):
        _create_with_id("acme", attempted)
    tagged = [k["KeyArn"] for k in kms.list_keys()["Keys"]
              if {"TagKey": "tenant_id", "TagValue": str(attempted)} in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]]
    assert len(tagged) == 1
    assert kms.describe_key(KeyId=tagged[0])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert f"alias/tenant-platform/local/tenant/{attempted}" not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert registry.get_tenant(attempted) is None


def _create_with_id(slug: str, tenant_id: uuid.UUID):
    from chalicelib.tenants.models import TenantCreate
    from chalicelib.tenants.service import create_tenant as create

    return create(TenantCreate(slug=slug, name="Dup", display_name="Dup"), tenant_id=tenant_id)


# ---- at rest ---------------------------------------------------------------------------

def test_no_plaintext_pii_anywhere_in_the_table(client, tenant_a):
    made = populate(client, tenant_a)
    assert made["customers"][0]["notes"] == "Door code 1200"  # the API returns the plaintext

    everything = table_items()
    dumped = json.dumps(everything).lower()
    assert everything and not [v for v in POPULATED_PII if v.lower() in dumped]
    # The same through boto3 in the tenant's own index partitions.
    prefix = store_keys.tenant_prefix(tenant_a.id)
    for index in ("gsi1", "gsi2", "gsi3"):
        partitions = {i[f"{index}pk"]["S"] for i in everything if f"{index}pk" in i}
        assert partitions and all(pk.startswith(prefix) for pk in partitions)
        for pk in partitions:
            found = json.dumps(raw_partition(tenant_a, pk, index)).lower()
            assert not [v for v in POPULATED_PII if v.lower() in found]
    # Every `pii` is one Encryption SDK message (format version 2: with key commitment).
    with_pii = [i for i in everything if "pii" in i and not is_test_principal(i)]
    # pros, their category copies, customers, referral, secret, the referral's notice queued in the outbox
    assert len(with_pii) == 2 + 3 + 2 + 1 + 1 + 1
    assert all(base64.b64decode(i["pii"]["S"])[0] == 2 for i in with_pii)
    secret = [i for i in everything if i["pk"]["S"] == prefix + store_keys.TENANT_SECRET]
    assert len(secret) == 1 and "data" not in secret[0] and "pii" in secret[0]


def test_the_inventory_lists_every_partition_with_sealed_documents(client, tenant_a):
    populate(client, tenant_a)
    listed = {item["pk"]["S"] + "|" + item["sk"]["S"] for _, item in sealed_items(tenant_a)
              if not is_test_principal(item)}
    stored = {i["pk"]["S"] + "|" + i["sk"]["S"] for i in table_items() if "pii" in i and not is_test_principal(i)}
    assert len(stored) == 10 and stored == listed


# ---- what must not open ----------------------------------------------------------------

def test_another_tenants_key_cannot_open_a_ciphertext(tenant_a, tenant_b):
    with as_tenant(tenant_a):
        text = pii.seal("CUS", "c-1", {"name": "Wanda"})
    with as_tenant(tenant_b), pytest.raises(UnreadableCiphertextError):
        envelope.codec().open(TenantKeys(tenant_b.kms_key_arn), base64.b64decode(text))
    with as_tenant(tenant_a):
        assert json.loads(envelope.codec().open(TenantKeys(tenant_a.kms_key_arn), base64.b64decode(text)).plaintext)


def test_a_changed_encryption_context_is_refused(tenant_a, caplog):
    keyring = TenantKeys(tenant_a.kms_key_arn)
    body = json.dumps({"e": "c-1", "d": {"name": "Wanda"}}).encode()
    with as_tenant(tenant_a):
        as_other_kind = pii.seal("PRO", "c-1", {"name": "Wanda"})
        other_tenant = base64.b64encode(envelope.codec().seal(
            keyring, {"tenant_id": str(uuid.uuid4()), "kind": "CUS"}, body)).decode()
        extra_member = base64.b64encode(envelope.codec().seal(
            keyring, {**pii.encryption_context(tenant_a.id, "CUS"), "purpose": "other"}, body)).decode()
        for text in (as_other_kind, other_tenant, extra_member):
            with pytest.raises(DataIntegrityError):
                pii.unseal("CUS", "c-1", text)
        assert pii.unseal("CUS", "c-1", pii.seal("CUS", "c-1", {"name": "Wanda"})) == {"name": "Wanda"}
    reasons = {e["reason"] for e in _security_events(caplog, "sealed_document_rejected")}
    assert reasons == {"encryption context differs"}


def test_tampered_bytes_and_another_entitys_document_are_refused(tenant_a):
    with as_tenant(tenant_a):
        text = pii.seal("CUS", "c-1", {"name": "Wanda"})
        blob = bytearray(base64.b64decode(text))
        blob[-40] ^= 0x01
        for bad, entity in ((base64.b64encode(bytes(blob)).decode(), "c-1"), (text, "c-2"), ("not base64!", "c-1"),
                            (None, "c-1")):
            with pytest.raises(DataIntegrityError):
                pii.unseal("CUS", entity, bad)


def test_a_ciphertext_moved_between_tenants_is_a_500_and_a_security_event(client, tenant_a, tenant_b, caplog):
    from_a = _customer(client, tenant_a)
    in_b = _customer(client, tenant_b, 1)
    with as_tenant(tenant_a):
        stolen = data.get(data.partition(store_keys.CUSTOMER), from_a["id"]).pii
    with as_tenant(tenant_b):
        item = data.get(data.partition(store_keys.CUSTOMER), in_b["id"])
        item.update(actions=[data.DataItem.pii.set(stolen)], condition=data.DataItem.pk.exists())

    caplog.set_level(logging.WARNING, logger="security")
    got = client.get(f"/api/customers/{in_b['id']}", tenant=tenant_b)
    listed = client.get("/api/customers", tenant=tenant_b)
    for response in (got, listed):
        assert response.status_code == 500
        body = body_of(response)
        assert body["code"] == "internal_error" and body["detail"] == "Internal server error"
        assert not [v for v in POPULATED_PII + ["arn:aws:kms", "tenant"] if v.lower() in response.body.decode().lower()]
    events = _security_events(caplog, "sealed_document_rejected")
    assert len(events) == 2 and all(e["tenant_id"] == str(tenant_b.id) and e["kind"] == "CUS" for e in events)
    # Tenant A's own record is untouched and still reads.
    assert body_of(client.get(f"/api/customers/{from_a['id']}", tenant=tenant_a))["name"] == "Vision 0"


def test_a_document_moved_between_records_of_one_tenant_is_refused(client, tenant_a):
    first = _customer(client, tenant_a)
    second = _customer(client, tenant_a, 1)
    with as_tenant(tenant_a):
        pk = data.partition(store_keys.CUSTOMER)
        data.get(pk, second["id"]).update(actions=[data.DataItem.pii.set(data.get(pk, first["id"]).pii)],
            condition=data.DataItem.pk.exists())
    response = client.get(f"/api/customers/{second['id']}", tenant=tenant_a)
    assert response.status_code == 500 and "Vision" not in response.body.decode()


# ---- the admin routes ------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("GET", "/keys"), ("POST", "/keys/rotate")])
def test_key_admin_routes_are_for_super_admins_only(client, tenant_a, method, path):
    url = f"/api/admin/tenants/{tenant_a.id}{path}"
    for role in ("tenant_admin", "manager", "professional", "customer"):
        response = client.request(method, url, tenant=tenant_a, role=role)
        assert response.status_code == 403 and body_of(response)["code"] == "forbidden"
    assert client.request(method, url, role=None).status_code == 401
    assert registry.get_tenant(tenant_a.id).kms_key_arn == tenant_a.kms_key_arn
    with as_tenant(tenant_a):
        assert data.get(data.partition(store_keys.KEY_ROTATION), "ROTATION") is None
