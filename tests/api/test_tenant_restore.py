"""Backups and DR: one tenant's data restored from a backup of the data table (AWS Backup's
copy restored to a new table, as the runbook says), on local AWS, without reading or
changing any other tenant's items; its sealed PII opens again. And tenant keys are
multi-Region keys with a replica in the DR region when the stage has one."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib import aws
from chalicelib.settings import get_settings, reset_settings
from tests.conftest import body_of

PROS = "/api/professionals"


def _pro(client, tenant, name: str) -> dict[str, Any]:
    client.request("POST", "/api/service-categories", tenant=tenant, body={"slug": "brakes", "name": "Brakes"})
    response = client.request("POST", PROS, tenant=tenant, body={
        "business_name": name, "contact_name": "Pat", "email": f"{name.lower().replace(' ', '.')}@shop.example",
        "service_categories": ["brakes"]})
    assert response.status_code == 201, response.body
    return body_of(response)


def _names(client, tenant) -> set[str]:
    return {p["business_name"] for p in body_of(client.get(PROS, tenant=tenant))["items"]}


def _raw(tenant) -> list[dict[str, Any]]:
    from tests.security.encryption_support import table_items

    prefix = f"T#{tenant.id}#"
    return sorted((i for i in table_items() if i["pk"]["S"].startswith(prefix)),
                  key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_one_tenant_is_restored_from_a_backup_and_the_other_is_untouched(client, tenant_a, tenant_b):
    from chalicelib.operations.restore import restore_tenant
    from chalicelib.store import registry

    # Given both tenants have data when the daily backup is taken
    _pro(client, tenant_a, "Kept")
    doomed = _pro(client, tenant_a, "Deleted")
    _pro(client, tenant_b, "Theirs")
    dynamodb = aws.client("dynamodb")
    table = get_settings().data_table
    backup = dynamodb.create_backup(TableName=table, BackupName="daily")["BackupDetails"]["BackupArn"]
    # And after it, tenant A loses a professional and gains one; tenant B changes too
    assert client.request("DELETE", f"{PROS}/{doomed['id']}", tenant=tenant_a).status_code == 204
    _pro(client, tenant_a, "Later")
    _pro(client, tenant_b, "Also theirs")
    b_before = _raw(tenant_b)
    # When the backup is restored to a new table and tenant A is restored from it
    dynamodb.restore_table_from_backup(TargetTableName=f"{table}-restored", BackupArn=backup)
    report = restore_tenant(registry.get_tenant(tenant_a.id), f"{table}-restored")
    # Then A's data is the backup's: the deleted professional is back (its PII opens), the later one gone
    assert _names(client, tenant_a) == {"Kept", "Deleted"}
    restored = body_of(client.get(f"{PROS}/{doomed['id']}", tenant=tenant_a))
    assert restored["email"] == "deleted@shop.example"
    assert report.restored > 0 and report.removed > 0
    # And B's items are byte for byte what they were: nothing of B was written
    assert _raw(tenant_b) == b_before
    assert _names(client, tenant_b) == {"Theirs", "Also theirs"}


def test_a_restore_never_reads_from_the_live_table(tenant_a):
    from chalicelib.operations.restore import restore_tenant

    with pytest.raises(ValueError):
        restore_tenant(tenant_a, get_settings().data_table)


def test_tenant_keys_are_multi_region_with_a_replica_in_the_dr_region(aws_mock, monkeypatch):
    from chalicelib.crypto import keys
    from tests.conftest import create_tenant

    monkeypatch.setenv("DR_REGION", "us-west-2")
    reset_settings()
    tenant = create_tenant("replicated")
    primary = aws.client("kms").describe_key(KeyId=tenant.kms_key_arn)["KeyMetadata"]
    assert primary["MultiRegion"] is True and primary["KeyId"].startswith("mrk-")
    replica = aws.client("kms", "us-west-2").describe_key(KeyId=keys.replica_arn(tenant.kms_key_arn, "us-west-2"))
    assert replica["KeyMetadata"]["KeyId"] == primary["KeyId"]
    aliases = aws.client("kms", "us-west-2").list_aliases()["Aliases"]
    assert keys.tenant_key_alias(tenant.id) in {a["AliasName"] for a in aliases}
