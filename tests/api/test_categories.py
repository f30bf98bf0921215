"""Service categories through HTTP: CRUD, preconditions, pagination, bad input, permissions."""
from __future__ import annotations

import pytest

from tests.conftest import body_of

PATH = "/api/service-categories"


def create(client, tenant, slug: str = "brakes", **fields):
    return client.request("POST", PATH, tenant=tenant, body={"slug": slug, "name": slug.title(), **fields})


def slugs(client, tenant, **kwargs) -> list[str]:
    return [c["slug"] for c in body_of(client.get(PATH, tenant=tenant, **kwargs))["items"]]


def test_create_get_and_etag(client, tenant_a):
    created = create(client, tenant_a, description="Pads, discs, callipers")
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    got = client.get(f"{PATH}/brakes", tenant=tenant_a)
    assert body_of(got)["description"] == "Pads, discs, callipers" and body_of(got)["active"] is True


def test_duplicate_slug_is_409(client, tenant_a, tenant_b):
    create(client, tenant_a)
    again = create(client, tenant_a)
    assert again.status_code == 409 and body_of(again)["conflict"] == "category_exists"
    assert create(client, tenant_b).status_code == 201  # the same slug in another tenant is fine


def test_update_needs_a_current_version(client, tenant_a):
    create(client, tenant_a)
    missing = client.request("PATCH", f"{PATH}/brakes", tenant=tenant_a, body={"name": "Brake work"})
    assert missing.status_code == 428 and body_of(missing)["code"] == "precondition_required"
    ok = client.request("PATCH", f"{PATH}/brakes", tenant=tenant_a, body={"name": "Brake work"},
                        headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"' and body_of(ok)["name"] == "Brake work"
    stale = client.request("PATCH", f"{PATH}/brakes", tenant=tenant_a, body={"name": "Lost", "version": 1})
    assert stale.status_code == 412 and body_of(stale)["code"] == "precondition_failed"
    assert body_of(client.get(f"{PATH}/brakes", tenant=tenant_a))["name"] == "Brake work"


def test_delete(client, tenant_a):
    create(client, tenant_a)
    assert client.request("DELETE", f"{PATH}/brakes", tenant=tenant_a).status_code == 204
    assert client.get(f"{PATH}/brakes", tenant=tenant_a).status_code == 404
    assert client.request("DELETE", f"{PATH}/brakes", tenant=tenant_a).status_code == 404


def test_pagination_visits_every_item_once(client, tenant_a):
    expected = sorted(f"cat-{i:02d}" for i in range(7))
    for slug in expected:
        create(client, tenant_a, slug)
    seen, cursor = [], None
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        page = body_of(client.get(PATH + query, tenant=tenant_a))
        assert len(page["items"]) <= 3
        seen += [c["slug"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == expected


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=x", "?colour=red"])
def test_bad_list_queries_are_422(client, tenant_a, query):
    response = client.get(PATH + query, tenant=tenant_a)
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"


def test_a_cursor_from_another_tenant_is_refused(client, tenant_a, tenant_b):
    for slug in ("a1", "a2", "a3"):
        create(client, tenant_a, slug)
    cursor = body_of(client.get(PATH + "?limit=1", tenant=tenant_a))["next_cursor"]
    assert cursor
    refused = client.get(f"{PATH}?cursor={cursor}", tenant=tenant_b)
    assert refused.status_code == 400 and body_of(refused)["code"] == "invalid_cursor"
    garbage = client.get(f"{PATH}?cursor=not-a-cursor", tenant=tenant_a)
    assert garbage.status_code == 400 and body_of(garbage)["code"] == "invalid_cursor"


@pytest.mark.parametrize("body", [
    {"slug": "ok", "name": "Ok", "id": "x"},
    {"slug": "ok", "name": "Ok", "tenant_id": "x"},
    {"slug": "ok", "name": "Ok", "created_at": "2020-01-01T00:00:00Z"},
    {"slug": "ok", "name": "Ok", "version": 3},
    {"slug": "ok", "name": "Ok", "pk": "T#x#CAT"},
    {"slug": "Not A Slug", "name": "Ok"},
    {"slug": "ok", "name": "x" * 201},
    {"slug": "ok", "name": 5},
    {"slug": "ok"},
    [],
    '"text"',
    "null",
])
def test_bad_bodies_are_422_and_store_nothing(client, tenant_a, body):
    response = client.request("POST", PATH, tenant=tenant_a, body=body)
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"
    assert all("input" not in e for e in body_of(response)["errors"])
    assert slugs(client, tenant_a) == []


def test_invalid_json_is_400(client, tenant_a):
    response = client.request("POST", PATH, tenant=tenant_a, body="{not json")
    assert response.status_code == 400 and body_of(response)["code"] == "invalid_json"


def test_oversized_body_is_413(client, tenant_a):
    response = client.request("POST", PATH, tenant=tenant_a, body={"slug": "ok", "name": "x" * 300_000})
    assert response.status_code == 413 and slugs(client, tenant_a) == []


@pytest.mark.parametrize("role,read,write", [
    ("tenant_admin", 200, 201), ("manager", 200, 201), ("professional", 200, 403), ("customer", 200, 403),
])
def test_permissions(client, tenant_a, role, read, write):
    assert client.get(PATH, tenant=tenant_a, role=role).status_code == read
    response = client.request("POST", PATH, tenant=tenant_a, role=role, body={"slug": "tyres", "name": "Tyres"})
    assert response.status_code == write
    if write == 403:
        assert body_of(response)["code"] == "forbidden" and slugs(client, tenant_a) == []


@pytest.mark.parametrize("body", [{"name": None}, {"active": None}, {"slug": "renamed"}, {"name": 3}])
def test_bad_updates_are_422_and_change_nothing(client, tenant_a, body):
    create(client, tenant_a)
    response = client.request("PATCH", f"{PATH}/brakes", tenant=tenant_a, body=body, headers={"If-Match": '"1"'})
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"
    stored = body_of(client.get(f"{PATH}/brakes", tenant=tenant_a))
    assert stored["name"] == "Brakes" and stored["active"] is True and stored["version"] == 1
