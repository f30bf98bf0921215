"""Referrals through HTTP: lifecycle, counters, references and bad input."""
from __future__ import annotations

import uuid

import pytest

from chalicelib.crypto import pii
from tests.api.referral_network import PATH, Network, _bound, build_network, create, created, patch
from tests.conftest import body_of


@pytest.fixture
def net(tenant_a) -> Network:
    return build_network(tenant_a)


# ---- create, read, counters -------------------------------------------------------------

def test_create_holds_a_reference_on_each_party(client, net):
    response = create(client, net, notes="Grinding noise, front left")
    assert response.status_code == 201 and response.headers["ETag"] == '"1"'
    ref = body_of(response)
    assert ref["status"] == "pending" and ref["version"] == 1 and ref["notes"] == "Grinding noise, front left"
    assert net.refs() == {net.pros[0]: 1, net.pros[1]: 1, net.pros[2]: 0, net.customers[0]: 1}
    assert int(net.raw("CATEGORY", "brakes").refs) == 0  # a condition check, not a counter
    got = client.get(f"{PATH}/{ref['id']}", tenant=net.tenant)
    assert got.status_code == 200 and body_of(got) == ref and got.headers["ETag"] == '"1"'


def test_stored_layout(client, net):
    ref = created(client, net, notes="secret")
    item = net.raw("REFERRAL", ref["id"])
    prefix = f"T#{net.tenant.id}#"
    assert item.kind == "REF" and item.status == "pending" and item.tenant_id == str(net.tenant.id)
    assert item.gsi1pk == prefix + "REFSTATUS#pending"
    assert item.gsi2pk == prefix + f"REFFROM#{net.pros[0]}" and item.gsi3pk == prefix + f"REFTO#{net.pros[1]}"
    assert item.gsi1sk == item.gsi2sk == item.gsi3sk == f"{item.created_at}#{ref['id']}"
    assert "secret" not in item.data and "secret" not in item.pii  # notes are sealed in `pii`
    with _bound(net.tenant):
        assert pii.unseal("REF", ref["id"], item.pii) == {"notes": "secret"}


def test_lifecycle_accept_then_complete_releases_references(client, net):
    ref = created(client, net)
    accepted = patch(client, net, ref, status="accepted")
    assert accepted.status_code == 200 and accepted.headers["ETag"] == '"2"'
    assert body_of(accepted)["status"] == "accepted" and net.refs()[net.pros[0]] == 1
    completed = patch(client, net, body_of(accepted), status="completed")
    assert completed.status_code == 200 and body_of(completed)["version"] == 3
    assert set(net.refs().values()) == {0}
    assert net.raw("REFERRAL", ref["id"]).gsi1pk.endswith("#REFSTATUS#completed")


@pytest.mark.parametrize("path", [("declined",), ("accepted", "cancelled"), ("cancelled",)])
def test_closing_paths_release_references(client, net, path):
    ref = created(client, net)
    for status in path:
        response = patch(client, net, ref, status=status)
        assert response.status_code == 200 and body_of(response)["status"] == status
        ref = body_of(response)
    assert set(net.refs().values()) == {0}


@pytest.mark.parametrize("target", ["pending", "accepted", "declined", "cancelled", "completed"])
def test_a_completed_referral_is_final(client, net, target):
    ref = created(client, net)
    ref = body_of(patch(client, net, ref, status="accepted"))
    ref = body_of(patch(client, net, ref, status="completed"))
    response = patch(client, net, ref, status=target)
    assert response.status_code == 409 and body_of(response)["code"] == "invalid_transition"
    assert net.raw("REFERRAL", ref["id"]).version == 3 and set(net.refs().values()) == {0}


def test_pending_cannot_jump_to_completed(client, net):
    ref = created(client, net)
    response = patch(client, net, ref, status="completed")
    assert response.status_code == 409 and body_of(response)["code"] == "invalid_transition"
    assert net.raw("REFERRAL", ref["id"]).status == "pending" and net.refs()[net.pros[1]] == 1


def test_notes_are_editable_and_versioned(client, net):
    ref = created(client, net, notes="first")
    edited = client.request("PATCH", f"{PATH}/{ref['id']}", tenant=net.tenant, body={"notes": "second", "version": 1})
    assert edited.status_code == 200 and body_of(edited)["notes"] == "second" and body_of(edited)["status"] == "pending"
    cleared = patch(client, net, body_of(edited), notes=None)
    assert body_of(cleared)["notes"] is None and body_of(cleared)["version"] == 3
    assert net.refs()[net.customers[0]] == 1


def test_update_needs_a_current_version(client, net):
    ref = created(client, net)
    missing = client.request("PATCH", f"{PATH}/{ref['id']}", tenant=net.tenant, body={"status": "accepted"})
    assert missing.status_code == 428 and body_of(missing)["code"] == "precondition_required"
    patch(client, net, ref, notes="moved on")
    stale = patch(client, net, ref, version=1, status="declined")
    assert stale.status_code == 412 and body_of(stale)["code"] == "precondition_failed"
    item = net.raw("REFERRAL", ref["id"])
    assert item.status == "pending" and item.version == 2 and net.refs()[net.pros[0]] == 1


def test_delete_releases_references_once(client, net):
    open_ref, closed_ref = created(client, net), created(client, net, src=1, dst=2)
    patch(client, net, closed_ref, status="declined")
    assert net.refs() == {net.pros[0]: 1, net.pros[1]: 1, net.pros[2]: 0, net.customers[0]: 1}
    assert client.request("DELETE", f"{PATH}/{closed_ref['id']}", tenant=net.tenant).status_code == 204
    assert net.refs() == {net.pros[0]: 1, net.pros[1]: 1, net.pros[2]: 0, net.customers[0]: 1}
    assert client.request("DELETE", f"{PATH}/{open_ref['id']}", tenant=net.tenant).status_code == 204
    assert set(net.refs().values()) == {0} and net.referral_count() == 0
    again = client.request("DELETE", f"{PATH}/{open_ref['id']}", tenant=net.tenant)
    assert again.status_code == 404 and set(net.refs().values()) == {0}
    assert client.get(f"{PATH}/{open_ref['id']}", tenant=net.tenant).status_code == 404


# ---- references -------------------------------------------------------------------------

def _assert_nothing_stored(net: Network) -> None:
    assert net.referral_count() == 0 and set(net.refs().values()) == {0}


@pytest.mark.parametrize("change,field_name", [
    ({"from_professional_id": str(uuid.uuid4())}, "from_professional_id"),
    ({"to_professional_id": str(uuid.uuid4())}, "to_professional_id"),
    ({"customer_id": str(uuid.uuid4())}, "customer_id"),
    ({"service_category": "no-such-category"}, "service_category"),
    ({"service_category": "inactive"}, "service_category"),
    ({"to_professional_id": "inactive"}, "to_professional_id"),
    ({"from_professional_id": "inactive"}, "from_professional_id"),
])
def test_invalid_references_are_422_and_store_nothing(client, net, change, field_name):
    net.add_category("inactive", status="inactive")
    inactive_pro = net.professional(status="inactive")
    body = net.body(**{k: inactive_pro if v == "inactive" and k.endswith("_id") else v for k, v in change.items()})
    response = client.request("POST", PATH, tenant=net.tenant, body=body)
    problem = body_of(response)
    assert response.status_code == 422 and problem["code"] == "invalid_reference"
    assert [e["loc"] for e in problem["errors"]] == [["body", field_name]]
    _assert_nothing_stored(net)


def test_every_invalid_reference_is_named(client, net):
    body = net.body(customer_id=str(uuid.uuid4()), service_category="nope", to_professional_id=str(uuid.uuid4()))
    problem = body_of(client.request("POST", PATH, tenant=net.tenant, body=body))
    assert {e["loc"][1] for e in problem["errors"]} == {"to_professional_id", "customer_id", "service_category"}
    _assert_nothing_stored(net)


def test_another_tenants_items_cannot_be_referenced(client, net, tenant_b):
    other = build_network(tenant_b)
    body = {"from_professional_id": net.pros[0], "to_professional_id": other.pros[1],
            "customer_id": other.customers[0], "service_category": "brakes"}
    response = client.request("POST", PATH, tenant=net.tenant, body=body)
    assert response.status_code == 422 and body_of(response)["code"] == "invalid_reference"
    assert {e["loc"][1] for e in body_of(response)["errors"]} == {"to_professional_id", "customer_id"}
    all_foreign = client.request("POST", PATH, tenant=net.tenant, body=other.body())
    assert {e["loc"][1] for e in body_of(all_foreign)["errors"]} == {
        "from_professional_id", "to_professional_id", "customer_id"}  # "brakes" exists in both tenants
    _assert_nothing_stored(net)
    _assert_nothing_stored(other)


def test_self_referral_is_422(client, net):
    response = create(client, net, dst=0)
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"
    assert body_of(response)["errors"][0]["loc"] == ["body", "to_professional_id"]
    _assert_nothing_stored(net)


@pytest.mark.parametrize("extra", [
    {"id": str(uuid.uuid4())}, {"tenant_id": str(uuid.uuid4())}, {"status": "accepted"},
    {"created_at": "2020-01-01T00:00:00Z"}, {"updated_at": "2020-01-01T00:00:00Z"}, {"version": 1},
    {"refs": 0}, {"pk": "T#x#REF"}, {"colour": "red"},
])
def test_server_owned_and_unknown_fields_are_422(client, net, extra):
    response = create(client, net, **extra)
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"
    _assert_nothing_stored(net)


@pytest.mark.parametrize("body", [
    {"from_professional_id": "not-a-uuid"}, {"service_category": "Not A Slug"}, {"notes": "x" * 2001},
])
def test_malformed_fields_are_422(client, net, body):
    response = client.request("POST", PATH, tenant=net.tenant, body={**net.body(), **body})
    assert response.status_code == 422 and body_of(response)["code"] == "validation_error"
    _assert_nothing_stored(net)


def test_update_rejects_unknown_fields(client, net):
    ref = created(client, net)
    for body in ({"customer_id": net.customers[0]}, {"status": "lost"}, {"created_at": "2020-01-01T00:00:00Z"}):
        response = patch(client, net, ref, **body)
        assert response.status_code == 422 and body_of(response)["code"] == "validation_error"
    assert net.raw("REFERRAL", ref["id"]).version == 1


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_non_uuid_ids_are_404(client, net, method):
    response = client.request(method, f"{PATH}/not-a-uuid", tenant=net.tenant, body={"notes": "x", "version": 1})
    assert response.status_code == 404 and body_of(response)["code"] == "not_found"
