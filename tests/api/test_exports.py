"""Data exports: request, worker, round trips, download, isolation, idempotency, failures."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.conftest import body_of
from tests.exports_support import (
    EXPORTS,
    download,
    export_of,
    listing,
    parse_csv_export,
    parse_json_export,
    request,
    run_queue,
)
from tests.security.encryption_support import populate


def sent_mail() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends["123456789012"]["us-east-1"].sent_messages)


def api_view(client: Any, tenant: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        "professionals": listing(client, tenant, "/api/professionals"),
        "customers": listing(client, tenant, "/api/customers"),
        "referrals": listing(client, tenant, "/api/referrals"),
        "service_categories": listing(client, tenant, "/api/service-categories"),
    }


def by_id(rows: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def completed_export(client: Any, tenant: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = request(client, tenant, body)
    assert response.status_code == 202, response.body
    export_id = body_of(response)["id"]
    assert response.headers["Location"] == f"{EXPORTS}/{export_id}"
    assert body_of(response)["status"] == "queued"
    run_queue()
    found = export_of(client, tenant, export_id)
    assert found["status"] == "completed", found
    return found


# ---- round trips ------------------------------------------------------------------------

def test_a_json_export_round_trips_every_entity_with_pii_in_clear(client, tenant_a):
    populate(client, tenant_a, professionals=3, customers=4)
    expected = api_view(client, tenant_a)
    mails_before = len(sent_mail())

    found = completed_export(client, tenant_a, {"format": "json", "notify_email": "owner@acme.example"})
    blob, key, query = download(client, tenant_a, found["id"])

    exported = parse_json_export(blob)
    assert set(exported) == set(expected)
    for entity, rows in expected.items():
        key_field = "slug" if entity == "service_categories" else "id"
        assert by_id(exported[entity], key_field) == by_id(rows, key_field), entity
    assert found["counts"] == {entity: len(rows) for entity, rows in expected.items()}
    assert any(c["name"] == "Vision 0" and c["notes"] == "Door code 1200" for c in exported["customers"])
    assert found["size_bytes"] == len(blob)
    assert found["sha256"] == hashlib.sha256(blob).hexdigest()
    assert query["X-Amz-Expires"] == ["300"]
    assert key.endswith(".ndjson.gz")

    mail = sent_mail()[mails_before:]
    assert len(mail) == 1 and mail[0].destinations["ToAddresses"] == ["owner@acme.example"]
    assert f"/api/tenant/exports/{found['id']}/download" in mail[0].body
    assert "X-Amz" not in mail[0].body  # never a presigned URL in a mail


def test_a_csv_export_is_a_zip_of_one_csv_per_entity_with_headers(client, tenant_a):
    populate(client, tenant_a, professionals=2, customers=3)
    expected = api_view(client, tenant_a)

    found = completed_export(client, tenant_a, {"format": "csv", "notify_email": "owner@acme.example",
                                                "include": ["customers", "professionals", "audit"]})
    blob, key, _ = download(client, tenant_a, found["id"])

    exported = parse_csv_export(blob)
    assert key.endswith(".zip") and set(exported) == {"customers", "professionals", "audit"}
    customers = by_id(exported["customers"])
    assert set(customers) == {c["id"] for c in expected["customers"]}
    for original in expected["customers"]:
        row = customers[original["id"]]
        assert row["name"] == original["name"] and row["email"] == original["email"]
        assert row["notes"] == original["notes"] and json.loads(row["vehicles"]) == original["vehicles"]
    professionals = by_id(exported["professionals"])
    for original in expected["professionals"]:
        row = professionals[original["id"]]
        assert row["contact_name"] == original["contact_name"] and row["license_number"] == original["license_number"]
        assert json.loads(row["address"]) == original["address"]
        assert json.loads(row["service_categories"]) == original["service_categories"]
    assert len(exported["audit"]) == found["counts"]["audit"] > 0
    assert {"professional.created", "export.requested"} <= {row["action"] for row in exported["audit"]}
    assert found["sha256"] == hashlib.sha256(blob).hexdigest()
