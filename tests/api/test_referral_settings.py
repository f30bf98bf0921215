"""Stored referral settings take effect (issue 19, finding 7).

* ``referrals.allowed_categories``: a referral in another category is 422, nothing stored;
* ``referrals.acceptance_required`` false: a referral is created ``accepted``;
* ``notifications.referral_completed``: the named parties are mailed on completion;
* ``features.referrals`` off: every referral route is 403 ``feature_disabled``.
"""
from __future__ import annotations

from typing import Any

from tests.api.config_helpers import put_config
from tests.api.test_referral_notifications import REFERRALS, acme, mails_to, refer  # noqa: F401
from tests.conftest import body_of


def _referrals(client: Any, tenant: Any) -> list[dict[str, Any]]:
    return body_of(client.get(REFERRALS, tenant=tenant))["items"]


def test_a_category_outside_allowed_categories_is_422_and_stores_nothing(client, acme):  # noqa: F811
    client.request("POST", "/api/service-categories", tenant=acme.tenant, body={"slug": "paint", "name": "Paint"})
    put_config(client, acme.tenant, {"referrals": {"allowed_categories": ["paint"]}}, 1)
    response = client.request("POST", REFERRALS, tenant=acme.tenant, body=acme.body())
    assert response.status_code == 422, response.body
    problem = body_of(response)
    assert problem["code"] == "category_not_allowed"
    assert [e["loc"] for e in problem["errors"]] == [["body", "service_category"]]
    assert _referrals(client, acme.tenant) == []
    allowed = client.request("POST", REFERRALS, tenant=acme.tenant, body={**acme.body(), "service_category": "paint"})
    assert allowed.status_code == 201, allowed.body


def test_without_acceptance_required_a_referral_is_created_accepted(client, acme):  # noqa: F811
    put_config(client, acme.tenant, {"referrals": {"acceptance_required": False}}, 1)
    created = refer(client, acme)
    assert created["status"] == "accepted"
    assert [r["status"] for r in _referrals(client, acme.tenant)] == ["accepted"]
    listed = body_of(client.get(f"{REFERRALS}?status=accepted", tenant=acme.tenant))["items"]
    assert [r["id"] for r in listed] == [created["id"]]


def test_completion_mails_the_configured_parties(client, acme):  # noqa: F811
    created = refer(client, acme)
    for status, version in (("accepted", 1), ("completed", 2)):
        response = client.request("PATCH", f"{REFERRALS}/{created['id']}", tenant=acme.tenant,
                                  headers={"If-Match": f'"{version}"'}, body={"status": status})
        assert response.status_code == 200, response.body
    # Default: referral_completed mails the sender and the customer
    completed = [m for m in mails_to(acme.sender["email"]) if "completed" in m.subject]
    assert len(completed) == 1
    assert [m for m in mails_to(acme.customer["email"]) if "completed" in m.subject]


def test_with_referrals_off_every_referral_route_is_403_feature_disabled(client, acme):  # noqa: F811
    created = refer(client, acme)
    put_config(client, acme.tenant, {"features": {"referrals": False}}, 1)
    path = f"{REFERRALS}/{created['id']}"
    answers = [client.get(REFERRALS, tenant=acme.tenant), client.get(path, tenant=acme.tenant),
               client.request("POST", REFERRALS, tenant=acme.tenant, body=acme.body()),
               client.request("PATCH", path, tenant=acme.tenant, headers={"If-Match": '"1"'},
                              body={"status": "accepted"}),
               client.request("DELETE", path, tenant=acme.tenant)]
    assert [(a.status_code, body_of(a)["code"]) for a in answers] == [(403, "feature_disabled")] * 5
    put_config(client, acme.tenant, {"features": {"referrals": True}}, 2)
    assert [r["status"] for r in _referrals(client, acme.tenant)] == ["pending"]


def _backdate(tenant: Any, referral_id: str, days: int) -> None:
    """Make a stored referral (and its status index entry) ``days`` older."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.store import data, keys
    from chalicelib.store.data import DataItem
    from tests.audit_helpers import bound

    then = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with bound(tenant):
        data.bind()
        DataItem(pk=data.partition(keys.REFERRAL), sk=referral_id).update(
            actions=[DataItem.created_at.set(then), DataItem.gsi1sk.set(keys.time_ordered(then, referral_id))],
            condition=DataItem.pk.exists())


def test_pending_referrals_expire_after_auto_expiry_days_with_notices(client, acme, tenant_b):  # noqa: F811
    from tests.api.test_notification_delivery import fire

    put_config(client, acme.tenant, {"referrals": {"auto_expiry_days": 7}}, 1)
    old, fresh, answered = refer(client, acme), refer(client, acme), refer(client, acme)
    _backdate(acme.tenant, old["id"], 8)
    _backdate(acme.tenant, answered["id"], 8)
    response = client.request("PATCH", f"{REFERRALS}/{answered['id']}", tenant=acme.tenant,
                              headers={"If-Match": '"1"'}, body={"status": "accepted"})
    assert response.status_code == 200
    # When the daily schedule runs (once per active tenant)
    result = fire("referrals_expiry")
    assert result["tenants_failed"] == [] and result["tenants_processed"] >= 2
    # Then only the old pending referral expired, its counters were released, and the
    # configured parties (default: sender and tenant admins) were told
    statuses = {r["id"]: r["status"] for r in _referrals(client, acme.tenant)}
    assert statuses == {old["id"]: "expired", fresh["id"]: "pending", answered["id"]: "accepted"}
    expired_mail = [m for m in mails_to(acme.sender["email"]) if "expired" in m.subject]
    assert len(expired_mail) == 1
    # And a second run changes nothing
    fire("referrals_expiry")
    assert len([m for m in mails_to(acme.sender["email"]) if "expired" in m.subject]) == 1
    deleted = client.request("DELETE", f"/api/customers/{acme.customer['id']}", tenant=acme.tenant)
    assert deleted.status_code == 409  # the fresh and accepted referrals still hold it


# ---- the other settings the schema walk found unread -----------------------------------------

def test_an_export_without_a_format_takes_the_configured_default(client, tenant_a):
    put_config(client, tenant_a, {"exports": {"default_format": "csv"}}, 1)
    response = client.request("POST", "/api/tenant/exports", tenant=tenant_a,
                              body={"notify_email": "o@acme.example", "include": ["customers"]})
    assert response.status_code == 202, response.body
    assert body_of(response)["format"] == "csv"


def test_a_member_outside_the_allowed_email_domains_is_422_and_not_stored(client, tenant_a):
    put_config(client, tenant_a, {"security": {"allowed_member_email_domains": ["acme-motors.example"]}}, 1)
    before = body_of(client.get("/api/tenant/members", tenant=tenant_a))["items"]
    refused = client.request("POST", "/api/tenant/members", tenant=tenant_a,
                             body={"email": "someone@elsewhere.example", "role": "manager"})
    assert refused.status_code == 422, refused.body
    assert body_of(refused)["code"] == "email_domain_not_allowed"
    assert body_of(client.get("/api/tenant/members", tenant=tenant_a))["items"] == before
    allowed = client.request("POST", "/api/tenant/members", tenant=tenant_a,
                             body={"email": "new@sales.acme-motors.example", "role": "manager"})
    assert allowed.status_code == 201, allowed.body
