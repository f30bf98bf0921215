"""Pagination cursors are signed, bound to their listing's tenant, and refused when altered.

The cursor carries DynamoDB's last evaluated key. Unsigned, a client could rewrite that
key to start a listing anywhere it can name inside its own tenant (an item it cannot
see by id, the middle of another customer's referrals), and only the shape check stood
between a forged key and the query. Signed, the only cursors that resume are the ones
this deployment issued, for this listing, in this tenant (issue 16).
"""
from __future__ import annotations

import base64
import json
from typing import Any

from tests.conftest import body_of

PROFESSIONALS = "/api/professionals"
TENANTS = "/api/admin/tenants"
ADMIN = "platform_admin"


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def retargeted(cursor: str, sk: str) -> str:
    """``cursor`` with the sort key it resumes from replaced, its signature (if any) kept."""
    payload, dot, signature = cursor.partition(".")
    document = json.loads(_b64decode(payload))
    document["k"]["sk"] = {"S": sk}
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=") + dot + signature


def professional(client: Any, tenant: Any, n: int) -> None:
    body = {"business_name": f"Garage {n}", "contact_name": f"Contact {n}", "email": f"owner{n}@garage.example"}
    assert client.request("POST", PROFESSIONALS, tenant=tenant, body=body).status_code == 201


def first_cursor(client: Any, tenant: Any) -> str:
    for n in range(3):
        professional(client, tenant, n)
    cursor = body_of(client.get(f"{PROFESSIONALS}?limit=1", tenant=tenant))["next_cursor"]
    assert cursor
    return str(cursor)


def test_a_cursor_resumes_its_own_listing(client, tenant_a):
    # Given the first page of three professionals
    cursor = first_cursor(client, tenant_a)
    # When the next pages are read with the cursors the API gave
    seen = []
    while cursor:
        page = body_of(client.get(f"{PROFESSIONALS}?limit=1&cursor={cursor}", tenant=tenant_a))
        seen += [p["business_name"] for p in page["items"]]
        cursor = page["next_cursor"]
    # Then every professional after the first is listed once
    assert len(seen) == 2 and len(set(seen)) == 2


def test_a_cursor_whose_key_was_altered_is_refused(client, tenant_a):
    # Given a valid cursor, rewritten to resume from another key of the same tenant
    cursor = first_cursor(client, tenant_a)
    forged = retargeted(cursor, "00000000-0000-0000-0000-000000000000")
    # When it is used
    refused = client.get(f"{PROFESSIONALS}?cursor={forged}", tenant=tenant_a)
    # Then the listing refuses it with the one cursor error
    assert refused.status_code == 400 and body_of(refused)["code"] == "invalid_cursor"


def test_a_cursor_with_a_flipped_signature_is_refused(client, tenant_a):
    cursor = first_cursor(client, tenant_a)
    payload, _, signature = cursor.partition(".")
    flipped = payload + "." + ("A" if signature[:1] != "A" else "B") + signature[1:]
    refused = client.get(f"{PROFESSIONALS}?cursor={flipped}", tenant=tenant_a)
    assert refused.status_code == 400 and body_of(refused)["code"] == "invalid_cursor"


def test_another_tenants_cursor_is_refused(client, tenant_a, tenant_b):
    cursor = first_cursor(client, tenant_a)
    refused = client.get(f"{PROFESSIONALS}?cursor={cursor}", tenant=tenant_b)
    assert refused.status_code == 400 and body_of(refused)["code"] == "invalid_cursor"


def test_the_platform_tenant_listing_refuses_an_altered_cursor(client, tenant_a, tenant_b):
    # Given the super-admin's tenant listing, one tenant a page
    first = body_of(client.get(f"{TENANTS}?limit=1", role=ADMIN))
    assert first["next_cursor"]
    # When its cursor is rewritten (the shape check alone accepts any tenant item's key)
    payload, dot, signature = first["next_cursor"].partition(".")
    document = json.loads(_b64decode(payload))
    document["k"]["gsi1sk"] = {"S": "0000#" + document["k"]["gsi1sk"]["S"].rpartition("#")[2]}
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    forged = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=") + dot + signature
    refused = client.get(f"{TENANTS}?cursor={forged}", role=ADMIN)
    # Then it is the one cursor error
    assert refused.status_code == 400 and body_of(refused)["code"] == "invalid_cursor"
