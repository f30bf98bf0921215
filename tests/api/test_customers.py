"""Customers through HTTP: CRUD, the login link, read-own, preconditions, pagination,
isolation, bad input, permissions, and what the stored items hold."""
from __future__ import annotations

import json
import uuid

import pytest

from chalicelib.crypto import pii
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from tests.api.network_support import as_tenant, before_first_transaction, raw_items, set_refs, transaction_conflict
from tests.conftest import body_of

PATH = "/api/customers"
VIN = "1HGCM82633A004352"
CAR = {"vin": VIN, "make": "Honda", "model": "Accord", "year": 2003}


def bump_version(tenant, customer_id: str) -> None:
    """Stand in for an edit that lands between a read and a write."""
    with as_tenant(tenant):
        item = data.get(data.partition(keys.CUSTOMER), customer_id)
        assert item is not None
        item.update(actions=[DataItem.version.add(1)], condition=DataItem.pk.exists())


def body(n: int = 0, **fields) -> dict:
    return {"name": f"Customer {n}", **fields}


def create(client, tenant, n: int = 0, **fields):
    return client.request("POST", PATH, tenant=tenant, body=body(n, **fields))


def created(client, tenant, n: int = 0, **fields) -> dict:
    response = create(client, tenant, n, **fields)
    assert response.status_code == 201, body_of(response)
    return body_of(response)


def ids(client, tenant, query: str = "", **kwargs) -> list[str]:
    response = client.get(PATH + query, tenant=tenant, **kwargs)
    assert response.status_code == 200
    return [c["id"] for c in body_of(response)["items"]]


def patch(client, tenant, cid: str, changes: dict, **kwargs):
    return client.request("PATCH", f"{PATH}/{cid}", tenant=tenant, body=changes, **kwargs)


def as_customer(tokens, tenant, sub: str) -> dict:
    return {"tenant": tenant, "token": tokens.token(role="customer", tenant=tenant, sub=sub)}


def test_create_get_and_etag(client, tenant_a):
    response = create(client, tenant_a, email="c@mail.example", phone="+44 20 7946 0000",
                      vehicles=[{**CAR, "vin": VIN.lower()}], notes="Prefers mornings", user_sub="login-c1")
    assert response.status_code == 201 and response.headers["ETag"] == '"1"'
    made = body_of(response)
    assert made["vehicles"] == [CAR] and made["user_sub"] == "login-c1" and made["version"] == 1
    got = client.get(f"{PATH}/{made['id']}", tenant=tenant_a)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"' and body_of(got) == made


def test_pagination_visits_every_item_once(client, tenant_a):
    expected = {created(client, tenant_a, n)["id"] for n in range(7)}
    seen, cursor = [], None
    while True:
        page = body_of(client.get(f"{PATH}?limit=3" + (f"&cursor={cursor}" if cursor else ""), tenant=tenant_a))
        assert len(page["items"]) <= 3
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_a_login_links_one_customer(client, tenant_a, tenant_b):
    created(client, tenant_a, 1, user_sub="login-c1")
    taken = create(client, tenant_a, 2, user_sub="login-c1")
    assert taken.status_code == 409 and body_of(taken)["conflict"] == "user_taken"
    assert len(ids(client, tenant_a)) == 1 and len(raw_items(tenant_a, keys.CUSTOMER_USER)) == 1
    assert create(client, tenant_b, 3, user_sub="login-c1").status_code == 201


def test_update_needs_a_current_version(client, tenant_a):
    cid = created(client, tenant_a)["id"]
    missing = patch(client, tenant_a, cid, {"notes": "lost"})
    assert missing.status_code == 428 and body_of(missing)["code"] == "precondition_required"
    by_header = patch(client, tenant_a, cid, {"vehicles": [CAR]}, headers={"If-Match": '"1"'})
    assert by_header.status_code == 200 and by_header.headers["ETag"] == '"2"'
    by_body = patch(client, tenant_a, cid, {"notes": "VIP", "email": None, "version": 2})
    assert by_body.status_code == 200 and body_of(by_body)["version"] == 3
    stale = patch(client, tenant_a, cid, {"notes": "lost", "version": 2})
    assert stale.status_code == 412 and body_of(stale)["code"] == "precondition_failed"
    now = body_of(client.get(f"{PATH}/{cid}", tenant=tenant_a))
    assert (now["notes"], now["vehicles"], now["version"]) == ("VIP", [CAR], 3)


def test_delete_removes_the_customer_and_its_login_link(client, tenant_a):
    cid = created(client, tenant_a, user_sub="login-c1")["id"]
    assert client.request("DELETE", f"{PATH}/{cid}", tenant=tenant_a).status_code == 204
    assert client.get(f"{PATH}/{cid}", tenant=tenant_a).status_code == 404
    assert client.request("DELETE", f"{PATH}/{cid}", tenant=tenant_a).status_code == 404
    assert ids(client, tenant_a) == [] and raw_items(tenant_a, keys.CUSTOMER_USER) == []
    assert create(client, tenant_a, user_sub="login-c1").status_code == 201


def test_delete_with_open_referrals_is_409(client, tenant_a):
    cid = created(client, tenant_a, user_sub="login-c1")["id"]
    set_refs(tenant_a, keys.CUSTOMER, cid, 1)
    response = client.request("DELETE", f"{PATH}/{cid}", tenant=tenant_a)
    assert response.status_code == 409 and body_of(response)["conflict"] == "has_open_referrals"
    assert client.get(f"{PATH}/{cid}", tenant=tenant_a).status_code == 200
    assert len(raw_items(tenant_a, keys.CUSTOMER_USER)) == 1
    assert patch(client, tenant_a, cid, {"notes": "kept", "version": 1}).status_code == 200
    assert raw_items(tenant_a, keys.CUSTOMER)[0]["refs"] == {"N": "1"}


def test_an_edit_during_a_delete_is_read_again_and_the_delete_completes(client, tenant_a):
    cid = created(client, tenant_a, user_sub="login-c1")["id"]
    with before_first_transaction(lambda: bump_version(tenant_a, cid)):
        response = client.request("DELETE", f"{PATH}/{cid}", tenant=tenant_a)
    assert response.status_code == 204
    assert ids(client, tenant_a) == [] and raw_items(tenant_a, keys.CUSTOMER_USER) == []


def test_a_transaction_conflict_is_a_409_and_changes_nothing(client, tenant_a):
    before = created(client, tenant_a)
    with before_first_transaction(transaction_conflict):
        response = patch(client, tenant_a, before["id"], {"notes": "lost", "version": 1})
    assert (response.status_code, body_of(response)["code"]) == (409, "concurrent_write")
    assert response.headers["Retry-After"] == "1"
    assert body_of(client.get(f"{PATH}/{before['id']}", tenant=tenant_a)) == before


def test_a_customer_login_reads_only_its_own_record(client, tokens, tenant_a):
    mine = created(client, tenant_a, 1, user_sub="login-c1")
    other = created(client, tenant_a, 2, user_sub="login-c2")["id"]
    me = as_customer(tokens, tenant_a, "login-c1")
    listed = client.get(PATH, **me)
    assert listed.status_code == 200 and body_of(listed) == {"items": [mine], "next_cursor": None}
    assert client.get(f"{PATH}/{mine['id']}", **me).status_code == 200
    for cid in (other, str(uuid.uuid4()), "not-a-uuid"):  # others look exactly like nothing
        hidden = client.get(f"{PATH}/{cid}", **me)
        assert (hidden.status_code, body_of(hidden)["code"]) == (404, "not_found"), cid
    unlinked = as_customer(tokens, tenant_a, "login-nobody")
    assert body_of(client.get(PATH, **unlinked))["items"] == []
    assert client.get(f"{PATH}/{mine['id']}", **unlinked).status_code == 404
    assert client.get(f"{PATH}?cursor=forged", **me).status_code == 400


def test_another_tenant_cannot_see_or_touch_them(client, tokens, tenant_a, tenant_b):
    cid = created(client, tenant_a, user_sub="login-c1")["id"]
    assert client.get(f"{PATH}/{cid}", tenant=tenant_b).status_code == 404
    assert patch(client, tenant_b, cid, {"notes": "hijacked", "version": 1}).status_code == 404
    assert client.request("DELETE", f"{PATH}/{cid}", tenant=tenant_b).status_code == 404
    assert ids(client, tenant_b) == []
    # the same login sub in tenant B is another person: it sees nothing of A's
    assert body_of(client.get(PATH, **as_customer(tokens, tenant_b, "login-c1")))["items"] == []
    assert body_of(client.get(f"{PATH}/{cid}", tenant=tenant_a))["notes"] is None


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
                                      body={"notes": "x", "version": 1} if method == "PATCH" else None)
            assert (response.status_code, body_of(response)["code"]) == (404, "not_found"), (method, path)


# One test per table (each case in its message): a fresh moto and tenant per case would
# multiply the suite's time for no extra isolation, since a failing case stores nothing.
BAD_CREATES = [
    ({"id": str(uuid.uuid4())}, ["body", "id"]),
    ({"tenant_id": str(uuid.uuid4())}, ["body", "tenant_id"]),
    ({"created_at": "2020-01-01T00:00:00Z"}, ["body", "created_at"]),
    ({"updated_at": "2020-01-01T00:00:00Z"}, ["body", "updated_at"]),
    ({"version": 2}, ["body", "version"]),
    ({"pk": "T#x#CUS"}, ["body", "pk"]),
    ({"sk": "x"}, ["body", "sk"]),
    ({"refs": 0}, ["body", "refs"]),
    ({"colour": "red"}, ["body", "colour"]),
    ({"name": ["x"]}, ["body", "name"]),
    ({"name": "x" * 201}, ["body", "name"]),
    ({"email": "c@"}, ["body", "email"]),
    ({"phone": "12"}, ["body", "phone"]),
    ({"notes": "n" * 2001}, ["body", "notes"]),
    ({"vehicles": [{**CAR, "vin": "1HGCM82633A00435"}]}, ["body", "vehicles", "0", "vin"]),
    ({"vehicles": [{**CAR, "vin": "1HGCM82633A00435O"}]}, ["body", "vehicles", "0", "vin"]),
    ({"vehicles": [{**CAR, "year": 1700}]}, ["body", "vehicles", "0", "year"]),
    ({"vehicles": [{**CAR, "owner": "x"}]}, ["body", "vehicles", "0", "owner"]),
    ({"vehicles": [CAR] * 21}, ["body", "vehicles"]),
    ({"user_sub": "u" * 257}, ["body", "user_sub"]),
]


def test_bad_bodies_are_422_and_store_nothing(client, tenant_a):
    for changes, loc in BAD_CREATES:
        response = client.request("POST", PATH, tenant=tenant_a, body=body(**changes))
        assert (response.status_code, body_of(response)["code"]) == (422, "validation_error"), changes
        assert loc in [e["loc"] for e in body_of(response)["errors"]], changes
        assert all("input" not in e for e in body_of(response)["errors"])
    assert ids(client, tenant_a) == [] and raw_items(tenant_a, keys.CUSTOMER_USER) == []


BAD_PATCHES = [
    ({"name": None}, ["body", "name"]),
    ({"vehicles": None}, ["body", "vehicles"]),
    ({"vehicles": [{**CAR, "vin": "short"}]}, ["body", "vehicles", "0", "vin"]),
    ({"user_sub": "someone-else"}, ["body", "user_sub"]),
    ({"id": str(uuid.uuid4())}, ["body", "id"]),
    ({"sk": "x"}, ["body", "sk"]),
    ({"created_at": "2020-01-01T00:00:00Z"}, ["body", "created_at"]),
]


def test_bad_patches_are_422_and_change_nothing(client, tenant_a):
    before = created(client, tenant_a, vehicles=[CAR])
    for changes, loc in BAD_PATCHES:
        response = patch(client, tenant_a, before["id"], {**changes, "version": 1})
        assert response.status_code == 422 and loc in [e["loc"] for e in body_of(response)["errors"]], changes
    assert body_of(client.get(f"{PATH}/{before['id']}", tenant=tenant_a)) == before


def test_bad_list_queries_are_422(client, tenant_a):
    for query in ("?limit=0", "?limit=101", "?category=brakes", "?colour=red"):
        response = client.get(PATH + query, tenant=tenant_a)
        assert (response.status_code, body_of(response)["code"]) == (422, "validation_error"), query


@pytest.mark.parametrize("role,read,write", [
    ("tenant_admin", 200, 201), ("manager", 200, 201), ("professional", 403, 403),
])
def test_staff_permissions(client, tenant_a, role, read, write):
    cid = created(client, tenant_a)["id"]
    assert client.get(PATH, tenant=tenant_a, role=role).status_code == read
    assert client.get(f"{PATH}/{cid}", tenant=tenant_a, role=role).status_code == read
    made = client.request("POST", PATH, tenant=tenant_a, role=role, body=body(1))
    assert made.status_code == write
    edited = patch(client, tenant_a, cid, {"notes": "edited", "version": 1}, role=role)
    assert edited.status_code == (200 if write == 201 else 403)
    if write == 403:
        assert body_of(made)["code"] == body_of(edited)["code"] == "forbidden"
        assert client.request("DELETE", f"{PATH}/{cid}", tenant=tenant_a, role=role).status_code == 403
        assert ids(client, tenant_a) == [cid] and body_of(client.get(f"{PATH}/{cid}", tenant=tenant_a))["version"] == 1
    else:
        assert len(ids(client, tenant_a, role=role)) == 2
        assert client.request("DELETE", f"{PATH}/{cid}", tenant=tenant_a, role=role).status_code == 204


def test_a_customer_login_cannot_write(client, tokens, tenant_a):
    mine = created(client, tenant_a, user_sub="login-c1")
    me = as_customer(tokens, tenant_a, "login-c1")
    attempts = [("POST", PATH, body(1)), ("PATCH", f"{PATH}/{mine['id']}", {"notes": "mine", "version": 1}),
                ("DELETE", f"{PATH}/{mine['id']}", None)]
    for method, path, payload in attempts:
        response = client.request(method, path, body=payload, **me)
        assert (response.status_code, body_of(response)["code"]) == (403, "forbidden"), method
    assert ids(client, tenant_a) == [mine["id"]]
    assert body_of(client.get(f"{PATH}/{mine['id']}", tenant=tenant_a)) == mine


def test_no_pii_in_keys_indexes_or_data(client, tenant_a):
    made = created(client, tenant_a, 9, email="nine@mail.example", phone="+1 555 010 9999",
                   vehicles=[CAR], notes="Allergic to dogs", user_sub="login-c9")
    secrets = ["Customer 9", "nine@mail.example", "+1 555 010 9999", VIN, "Allergic to dogs"]
    items = [*raw_items(tenant_a, keys.CUSTOMER), *raw_items(tenant_a, keys.CUSTOMER_USER)]
    assert len(items) == 2 and all(i["entity_id"]["S"] == made["id"] for i in items)
    for item in items:
        exposed = " ".join(item[a]["S"] for a in item if a.endswith(("pk", "sk")) or a == "data").lower()
        assert not [s for s in secrets if s.lower() in exposed]
    stored = items[0]
    assert not [s for s in secrets if s in stored["pii"]["S"]]  # sealed: PII only in `pii`, encrypted
    with as_tenant(tenant_a):
        opened = json.dumps(pii.unseal(keys.CUSTOMER, made["id"], stored["pii"]["S"]))
    assert all(s in opened for s in secrets) and "login-c9" in stored["data"]["S"]
    assert "Honda" not in stored["data"]["S"]  # the whole vehicle list is PII, as it holds the VIN
