"""Professionals through HTTP: CRUD, categories, email uniqueness, preconditions,
pagination, isolation, bad input, permissions, and what the stored items hold."""
from __future__ import annotations

import json
import uuid

import pytest

from chalicelib.crypto import pii
from chalicelib.store import keys
from tests.api.network_support import as_tenant, before_first_transaction, raw_items, set_refs, transaction_conflict
from tests.conftest import body_of

PATH = "/api/professionals"
CATEGORIES = "/api/service-categories"


def category(client, tenant, slug: str) -> None:
    response = client.request("POST", CATEGORIES, tenant=tenant, body={"slug": slug, "name": slug.title()})
    assert response.status_code == 201


def body(n: int = 0, **fields) -> dict:
    return {"business_name": f"Garage {n}", "contact_name": f"Contact {n}", "email": f"owner{n}@garage.example",
            **fields}


def create(client, tenant, n: int = 0, **fields):
    return client.request("POST", PATH, tenant=tenant, body=body(n, **fields))


def created(client, tenant, n: int = 0, **fields) -> dict:
    response = create(client, tenant, n, **fields)
    assert response.status_code == 201, body_of(response)
    return body_of(response)


def ids(client, tenant, query: str = "", **kwargs) -> list[str]:
    response = client.get(PATH + query, tenant=tenant, **kwargs)
    assert response.status_code == 200
    return [p["id"] for p in body_of(response)["items"]]


def patch(client, tenant, pid: str, changes: dict, **kwargs):
    return client.request("PATCH", f"{PATH}/{pid}", tenant=tenant, body=changes, **kwargs)


FULL = {
    "phone": "+1 (555) 010-2000", "license_number": "LIC-42",
    "address": {"street": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
    "user_sub": "login-pro-1",
}


def test_create_get_and_etag(client, tenant_a):
    category(client, tenant_a, "brakes")
    response = create(client, tenant_a, service_categories=["brakes"], **FULL)
    assert response.status_code == 201 and response.headers["ETag"] == '"1"'
    made = body_of(response)
    assert made["status"] == "active" and made["version"] == 1 and made["address"]["city"] == "Springfield"
    got = client.get(f"{PATH}/{made['id']}", tenant=tenant_a)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"' and body_of(got) == made


def test_pagination_visits_every_item_once(client, tenant_a):
    expected = {created(client, tenant_a, n)["id"] for n in range(7)}
    seen, cursor = [], None
    while True:
        page = body_of(client.get(f"{PATH}?limit=3" + (f"&cursor={cursor}" if cursor else ""), tenant=tenant_a))
        assert len(page["items"]) <= 3
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_filter_by_category(client, tenant_a):
    for slug in ("brakes", "tyres"):
        category(client, tenant_a, slug)
    brakes = created(client, tenant_a, 1, service_categories=["brakes"])["id"]
    both = created(client, tenant_a, 2, service_categories=["brakes", "tyres"])["id"]
    created(client, tenant_a, 3)
    assert set(ids(client, tenant_a, "?category=brakes")) == {brakes, both}
    assert ids(client, tenant_a, "?category=tyres") == [both]
    assert ids(client, tenant_a, "?category=paint") == []
    first = body_of(client.get(f"{PATH}?category=brakes&limit=1", tenant=tenant_a))
    rest = ids(client, tenant_a, f"?category=brakes&cursor={first['next_cursor']}")
    assert {first["items"][0]["id"], *rest} == {brakes, both}


def test_an_unknown_category_is_422_and_stores_nothing(client, tenant_a):
    category(client, tenant_a, "brakes")
    response = create(client, tenant_a, service_categories=["brakes", "paint"], user_sub="login-1")
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"
    assert [e["loc"] for e in body_of(response)["errors"]] == [["body", "service_categories", "1"]]
    assert ids(client, tenant_a) == [] and ids(client, tenant_a, "?category=brakes") == []
    assert raw_items(tenant_a, keys.PROFESSIONAL_EMAIL) == [] and raw_items(tenant_a, keys.PROFESSIONAL_USER) == []
    # nothing counted on the known category either: it can still be deleted
    assert client.request("DELETE", f"{CATEGORIES}/brakes", tenant=tenant_a).status_code == 204


def test_email_is_unique_per_tenant(client, tenant_a, tenant_b):
    created(client, tenant_a, 1, email="Shop@Example.com")
    again = create(client, tenant_a, 2, email="  shop@example.COM ")
    assert again.status_code == 409 and body_of(again)["conflict"] == "email_taken"
    assert len(ids(client, tenant_a)) == 1
    assert create(client, tenant_b, 3, email="shop@example.com").status_code == 201


def test_a_login_links_one_professional(client, tenant_a):
    created(client, tenant_a, 1, user_sub="login-1")
    taken = create(client, tenant_a, 2, user_sub="login-1")
    assert taken.status_code == 409 and body_of(taken)["conflict"] == "user_taken"
    assert len(ids(client, tenant_a)) == 1 and len(raw_items(tenant_a, keys.PROFESSIONAL_EMAIL)) == 1


def test_update_needs_a_current_version(client, tenant_a):
    pid = created(client, tenant_a)["id"]
    missing = patch(client, tenant_a, pid, {"business_name": "Lost"})
    assert missing.status_code == 428 and body_of(missing)["code"] == "precondition_required"
    by_header = patch(client, tenant_a, pid, {"business_name": "Renamed"}, headers={"If-Match": '"1"'})
    assert by_header.status_code == 200 and by_header.headers["ETag"] == '"2"'
    by_body = patch(client, tenant_a, pid, {"status": "inactive", "version": 2})
    assert by_body.status_code == 200 and body_of(by_body)["version"] == 3
    stale = patch(client, tenant_a, pid, {"business_name": "Lost", "version": 1})
    assert stale.status_code == 412 and body_of(stale)["code"] == "precondition_failed"
    disagree = patch(client, tenant_a, pid, {"business_name": "Lost", "version": 3}, headers={"If-Match": '"2"'})
    assert disagree.status_code == 412
    now = body_of(client.get(f"{PATH}/{pid}", tenant=tenant_a))
    assert (now["business_name"], now["status"], now["version"]) == ("Renamed", "inactive", 3)
    # top-level too: a referral's transaction conditions on an active professional
    assert raw_items(tenant_a, keys.PROFESSIONAL)[0]["status"] == {"S": "inactive"}


def test_changing_the_email_moves_its_uniqueness(client, tenant_a):
    pid = created(client, tenant_a, 1, email="old@garage.example")["id"]
    created(client, tenant_a, 2, email="other@garage.example")
    taken = patch(client, tenant_a, pid, {"email": "OTHER@garage.example", "version": 1})
    assert taken.status_code == 409 and body_of(taken)["conflict"] == "email_taken"
    assert patch(client, tenant_a, pid, {"email": "new@garage.example", "version": 1}).status_code == 200
    assert create(client, tenant_a, 3, email="old@garage.example").status_code == 201
    assert create(client, tenant_a, 4, email="new@garage.example").status_code == 409
    assert len(raw_items(tenant_a, keys.PROFESSIONAL_EMAIL)) == 3


def test_a_category_change_moves_the_professional_between_lists(client, tenant_a):
    for slug in ("brakes", "tyres", "paint"):
        category(client, tenant_a, slug)
    pid = created(client, tenant_a, service_categories=["brakes", "paint"])["id"]
    moved = patch(client, tenant_a, pid, {"service_categories": ["tyres", "paint"], "business_name": "New Name",
                                          "version": 1})
    assert moved.status_code == 200 and body_of(moved)["service_categories"] == ["tyres", "paint"]
    assert ids(client, tenant_a, "?category=brakes") == []
    for slug in ("tyres", "paint"):  # every copy carries the new fields
        listed = body_of(client.get(f"{PATH}?category={slug}", tenant=tenant_a))["items"]
        assert [(p["id"], p["business_name"], p["version"]) for p in listed] == [(pid, "New Name", 2)]
    assert client.request("DELETE", f"{CATEGORIES}/brakes", tenant=tenant_a).status_code == 204
    in_use = client.request("DELETE", f"{CATEGORIES}/tyres", tenant=tenant_a)
    assert in_use.status_code == 409 and body_of(in_use)["conflict"] == "category_in_use"
    unknown = patch(client, tenant_a, pid, {"service_categories": ["tyres", "brakes"], "version": 2})
    assert unknown.status_code == 422 and unknown.headers.get("ETag") is None
    assert body_of(client.get(f"{PATH}/{pid}", tenant=tenant_a))["service_categories"] == ["tyres", "paint"]


def test_delete_removes_the_professional_and_its_index_items(client, tenant_a):
    category(client, tenant_a, "brakes")
    pid = created(client, tenant_a, service_categories=["brakes"], user_sub="login-1")["id"]
    assert client.request("DELETE", f"{PATH}/{pid}", tenant=tenant_a).status_code == 204
    assert client.get(f"{PATH}/{pid}", tenant=tenant_a).status_code == 404
    assert client.request("DELETE", f"{PATH}/{pid}", tenant=tenant_a).status_code == 404
    assert ids(client, tenant_a) == [] and ids(client, tenant_a, "?category=brakes") == []
    for kind in (keys.PROFESSIONAL_EMAIL, keys.PROFESSIONAL_USER):
        assert raw_items(tenant_a, kind) == []
    assert client.request("DELETE", f"{CATEGORIES}/brakes", tenant=tenant_a).status_code == 204
    assert create(client, tenant_a, user_sub="login-1").status_code == 201  # email and login are free


def test_delete_with_open_referrals_is_409(client, tenant_a):
    pid = created(client, tenant_a)["id"]
    set_refs(tenant_a, keys.PROFESSIONAL, pid, 2)
    response = client.request("DELETE", f"{PATH}/{pid}", tenant=tenant_a)
    assert response.status_code == 409 and body_of(response)["conflict"] == "has_open_referrals"
    assert client.get(f"{PATH}/{pid}", tenant=tenant_a).status_code == 200
    assert len(raw_items(tenant_a, keys.PROFESSIONAL_EMAIL)) == 1
    # an edit keeps the referrals' count
    assert patch(client, tenant_a, pid, {"business_name": "Still here", "version": 1}).status_code == 200
    assert raw_items(tenant_a, keys.PROFESSIONAL)[0]["refs"] == {"N": "2"}
    set_refs(tenant_a, keys.PROFESSIONAL, pid, 0)
    assert client.request("DELETE", f"{PATH}/{pid}", tenant=tenant_a).status_code == 204


def test_a_referral_arriving_during_a_delete_keeps_the_professional(client, tenant_a):
    pid = created(client, tenant_a)["id"]
    # Given a referral is opened between the delete's read and its transaction
    with before_first_transaction(lambda: set_refs(tenant_a, keys.PROFESSIONAL, pid, 1)):
        response = client.request("DELETE", f"{PATH}/{pid}", tenant=tenant_a)
    # Then the delete's condition holds the line, and the re-read explains why
    assert response.status_code == 409 and body_of(response)["conflict"] == "has_open_referrals"
    assert client.get(f"{PATH}/{pid}", tenant=tenant_a).status_code == 200
    assert len(raw_items(tenant_a, keys.PROFESSIONAL_EMAIL)) == 1


def test_a_transaction_conflict_is_a_409_and_stores_nothing(client, tenant_a):
    with before_first_transaction(transaction_conflict):
        response = create(client, tenant_a, user_sub="login-1")
    assert (response.status_code, body_of(response)["code"]) == (409, "concurrent_write")
    assert response.headers["Retry-After"] == "1"
    assert ids(client, tenant_a) == [] and raw_items(tenant_a, keys.PROFESSIONAL_EMAIL) == []
    assert create(client, tenant_a, user_sub="login-1").status_code == 201  # a retry succeeds


def test_another_tenant_cannot_see_or_touch_them(client, tenant_a, tenant_b):
    category(client, tenant_a, "brakes")
    category(client, tenant_b, "brakes")
    pid = created(client, tenant_a, service_categories=["brakes"])["id"]
    assert client.get(f"{PATH}/{pid}", tenant=tenant_b).status_code == 404
    assert patch(client, tenant_b, pid, {"business_name": "Hijacked", "version": 1}).status_code == 404
    assert client.request("DELETE", f"{PATH}/{pid}", tenant=tenant_b).status_code == 404
    assert ids(client, tenant_b) == [] and ids(client, tenant_b, "?category=brakes") == []
    assert body_of(client.get(f"{PATH}/{pid}", tenant=tenant_a))["business_name"] == "Garage 0"


def test_a_cursor_from_another_tenant_is_refused(client, tenant_a, tenant_b):
    for n in range(3):
        created(client, tenant_a, n)
    cursor = body_of(client.get(f"{PATH}?limit=1", tenant=tenant_a))["next_cursor"]
    assert cursor
    refused = client.get(f"{PATH}?cursor={cursor}", tenant=tenant_b)
    assert refused.status_code == 400 and body_of(refused)["code"] == "invalid_cursor"


def test_unknown_or_malformed_ids_are_404(client, tenant_a):
    for method in ("GET", "PATCH", "DELETE"):
        for path in ("not-a-uuid", "123", str(uuid.uuid4())):
            response = client.request(method, f"{PATH}/{path}", tenant=tenant_a,
                                      body={"business_name": "x", "version": 1} if method == "PATCH" else None)
            assert (response.status_code, body_of(response)["code"]) == (404, "not_found"), (method, path)


# One test per table (each case in its message): a fresh moto and tenant per case would
# multiply the suite's time for no extra isolation, since a failing case stores nothing.
BAD_CREATES = [
    ({"id": str(uuid.uuid4())}, ["body", "id"]),
    ({"tenant_id": str(uuid.uuid4())}, ["body", "tenant_id"]),
    ({"created_at": "2020-01-01T00:00:00Z"}, ["body", "created_at"]),
    ({"updated_at": "2020-01-01T00:00:00Z"}, ["body", "updated_at"]),
    ({"version": 3}, ["body", "version"]),
    ({"pk": "T#x#PRO"}, ["body", "pk"]),
    ({"sk": "x"}, ["body", "sk"]),
    ({"refs": 0}, ["body", "refs"]),
    ({"colour": "red"}, ["body", "colour"]),
    ({"business_name": 5}, ["body", "business_name"]),
    ({"business_name": "x" * 201}, ["body", "business_name"]),
    ({"email": "not-an-email"}, ["body", "email"]),
    ({"email": "a@b"}, ["body", "email"]),
    ({"phone": "call me"}, ["body", "phone"]),
    ({"license_number": "L" * 65}, ["body", "license_number"]),
    ({"address": {"street": "1 Main", "city": "X", "postal_code": "1", "country": "usa"}},
     ["body", "address", "country"]),
    ({"service_categories": ["Not A Slug"]}, ["body", "service_categories", "0"]),
    ({"service_categories": ["a", "a"]}, ["body", "service_categories"]),
    ({"status": "deleted"}, ["body", "status"]),
    ({"user_sub": ""}, ["body", "user_sub"]),
]


def test_bad_bodies_are_422_and_store_nothing(client, tenant_a):
    for changes, loc in BAD_CREATES:
        response = client.request("POST", PATH, tenant=tenant_a, body=body(**changes))
        assert (response.status_code, body_of(response)["code"]) == (422, "validation_error"), changes
        assert loc in [e["loc"] for e in body_of(response)["errors"]], changes
        assert all("input" not in e for e in body_of(response)["errors"])
    assert ids(client, tenant_a) == [] and raw_items(tenant_a, keys.PROFESSIONAL_EMAIL) == []


BAD_PATCHES = [
    ({"business_name": None}, ["body", "business_name"]),
    ({"email": None}, ["body", "email"]),
    ({"service_categories": None}, ["body", "service_categories"]),
    ({"email": "nope"}, ["body", "email"]),
    ({"user_sub": "someone-else"}, ["body", "user_sub"]),
    ({"id": str(uuid.uuid4())}, ["body", "id"]),
    ({"pk": "T#x#PRO"}, ["body", "pk"]),
    ({"updated_at": "2020-01-01T00:00:00Z"}, ["body", "updated_at"]),
]


def test_bad_patches_are_422_and_change_nothing(client, tenant_a):
    before = created(client, tenant_a)
    for changes, loc in BAD_PATCHES:
        response = patch(client, tenant_a, before["id"], {**changes, "version": 1})
        assert response.status_code == 422 and loc in [e["loc"] for e in body_of(response)["errors"]], changes
    assert body_of(client.get(f"{PATH}/{before['id']}", tenant=tenant_a)) == before


def test_bad_list_queries_are_422(client, tenant_a):
    for query in ("?limit=0", "?limit=101", "?limit=x", "?category=Not%20A%20Slug", "?colour=red"):
        response = client.get(PATH + query, tenant=tenant_a)
        assert (response.status_code, body_of(response)["code"]) == (422, "validation_error"), query


@pytest.mark.parametrize("role,read,write", [
    ("tenant_admin", 200, 201), ("manager", 200, 201), ("professional", 200, 403), ("customer", 403, 403),
])
def test_permissions(client, tenant_a, role, read, write):
    pid = created(client, tenant_a)["id"]
    assert client.get(PATH, tenant=tenant_a, role=role).status_code == read
    assert client.get(f"{PATH}/{pid}", tenant=tenant_a, role=role).status_code == read
    made = client.request("POST", PATH, tenant=tenant_a, role=role, body=body(1))
    assert made.status_code == write
    edited = patch(client, tenant_a, pid, {"business_name": "Edited", "version": 1}, role=role)
    assert edited.status_code == (200 if write == 201 else 403)
    if write == 403:
        assert body_of(made)["code"] == body_of(edited)["code"] == "forbidden"
        assert client.request("DELETE", f"{PATH}/{pid}", tenant=tenant_a, role=role).status_code == 403
        assert ids(client, tenant_a) == [pid]
        assert body_of(client.get(f"{PATH}/{pid}", tenant=tenant_a))["version"] == 1
    else:
        assert client.request("DELETE", f"{PATH}/{pid}", tenant=tenant_a, role=role).status_code == 204


def test_no_pii_in_keys_indexes_or_data(client, tenant_a):
    category(client, tenant_a, "brakes")
    made = created(client, tenant_a, 7, service_categories=["brakes"], **FULL)
    secrets = ["owner7@garage.example", "Contact 7", "+1 (555) 010-2000", "LIC-42", "1 Main St", "Springfield"]
    items = [*raw_items(tenant_a, keys.PROFESSIONAL), *raw_items(tenant_a, keys.PROFESSIONAL_CATEGORY, "brakes"),
             *raw_items(tenant_a, keys.PROFESSIONAL_EMAIL), *raw_items(tenant_a, keys.PROFESSIONAL_USER)]
    assert len(items) == 4 and all(i["entity_id"]["S"] == made["id"] for i in items)
    for item in items:
        exposed = " ".join(item[a]["S"] for a in item if a.endswith(("pk", "sk")) or a == "data").lower()
        assert not [s for s in secrets if s.lower() in exposed]
    for item in items[:2]:  # the professional and its category copy keep PII only in `pii`, sealed
        assert not [s for s in secrets if s in item["pii"]["S"]]
        with as_tenant(tenant_a):
            opened = json.dumps(pii.unseal(keys.PROFESSIONAL, made["id"], item["pii"]["S"]))
        assert all(s in opened for s in secrets)
        assert "Garage 7" in item["data"]["S"] and item["status"]["S"] == "active"
