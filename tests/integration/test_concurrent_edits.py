"""Concurrent edits of one thing, under threads, against moto's server over HTTP.

Each thread is one request: its own tenant context and its own pynamodb/botocore clients,
released together by a barrier. The conditional writes and If-Match preconditions must let
exactly one of N edits from the same version win; the losers get the documented 412
(stale) or 409 (``concurrent_write``, retryable), and nothing of theirs is stored: no
version, no audit event, no counter.

Slug and domain reservation races: tests/integration/test_concurrent_tenants.py and
test_local_runner.py. Quota exactness and concurrent export requests come with the limits
(issue 8) and exports (issue 9) features: ``race`` below is the harness to reuse.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib.auth.permissions import DEFAULT_ROLES, Permission, Role
from chalicelib.auth.principal import Principal
from chalicelib.errors import AppError
from chalicelib.local.bootstrap import bootstrap
from chalicelib.settings import get_settings
from chalicelib.tenancy import context
from chalicelib.tenancy.context import TenantContext
from tests.audit_helpers import stored_events
from tests.conftest import create_tenant
from tests.integration.racing import run_together

THREADS = 12
JOIN_TIMEOUT = 90
STAFF = Permission.REFERRALS_WRITE  # the referral service's staff permission


@pytest.fixture
def tenant(moto_env: str) -> Iterator[Any]:
    bootstrap(get_settings())
    yield create_tenant("racers")


@contextmanager
def as_admin(tenant: Any) -> Iterator[None]:
    principal = Principal(sub=f"admin-{uuid.uuid4().hex[:6]}", roles=frozenset({"tenant_admin"}), tenant_id=tenant.id)
    ctx = TenantContext(tenant=tenant, request_id=str(uuid.uuid4()), principal=principal,
                        permissions=DEFAULT_ROLES[Role.TENANT_ADMIN])
    with context.bound(ctx):
        yield


def race(tenant: Any, attempts: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run every attempt in its own thread, as its own request, all released at once."""
    def as_request(attempt: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with as_admin(tenant):
                return attempt()
        return run

    return run_together([as_request(a) for a in attempts], timeout=JOIN_TIMEOUT, name="edit")


def assert_lost_cleanly(lost: list[BaseException], expected: int) -> None:
    unexpected = [e for e in lost if not isinstance(e, AppError) or e.status not in (409, 412)]
    assert unexpected == [], f"losers failed otherwise than 412/409: {unexpected!r}"
    assert len(lost) == expected
    assert all(e.code in ("precondition_failed", "concurrent_write") for e in lost if isinstance(e, AppError))


def test_concurrent_config_edits_from_one_version_let_exactly_one_win(tenant):
    from chalicelib.config import service

    attempts = [lambda i=i: service.put_config(
        service.ConfigUpdate(overrides={"general": {"date_format": ["DD/MM/YYYY", "DD.MM.YYYY", "MM/DD/YYYY"][i % 3]}},
                             comment=f"edit {i}"), 1)
        for i in range(THREADS)]
    won, lost = race(tenant, attempts)
    assert len(won) == 1, lost
    assert_lost_cleanly(lost, THREADS - 1)
    with as_admin(tenant):
        current = service.get_config()
        versions, _ = service.list_versions(100, None)
    # The stored configuration is the winner's, whole, as version 2; no loser left a version
    assert current.version == 2 and current.overrides == won[0].overrides
    assert sorted(v.version for v in versions) == [1, 2]
    assert len([v for v in versions if (v.comment or "").startswith("edit ")]) == 1
    assert len([e for e in stored_events(tenant) if e["action"] == "config.updated"]) == 1, [e["action"] for e in stored_events(tenant)]


def test_concurrent_branding_edits_from_one_version_let_exactly_one_win(tenant):
    from chalicelib.config import branding

    attempts = [lambda i=i: branding.put_branding(branding.BrandingUpdate(display_name=f"Racer {i}"), 1)
                for i in range(THREADS)]
    won, lost = race(tenant, attempts)
    assert len(won) == 1, lost
    assert_lost_cleanly(lost, THREADS - 1)
    with as_admin(tenant):
        assert branding.get_branding().display_name == won[0].display_name


def _referral(tenant: Any) -> Any:
    from chalicelib.network.categories import service as categories
    from chalicelib.network.categories.models import CategoryCreate
    from chalicelib.network.customers import service as customers
    from chalicelib.network.customers.models import CustomerCreate
    from chalicelib.network.professionals import service as professionals
    from chalicelib.network.professionals.models import ProfessionalCreate
    from chalicelib.network.referrals import service as referrals
    from chalicelib.network.referrals.models import ReferralCreate

    with as_admin(tenant):
        categories.create_category(CategoryCreate(slug="race-brakes", name="Brakes"))
        pros = [professionals.create_professional(ProfessionalCreate(
            business_name=f"Shop {n}", contact_name="C", email=f"shop{n}@racers.example",
            service_categories=["race-brakes"])) for n in range(2)]
        customer = customers.create_customer(CustomerCreate(name="Driver", email="driver@racers.example"))
        return referrals.create_referral(referrals.caller(STAFF), ReferralCreate(
            from_professional_id=pros[0].id, to_professional_id=pros[1].id, customer_id=customer.id,
            service_category="race-brakes"))


def test_concurrent_accept_and_decline_of_one_referral_let_exactly_one_win(tenant):
    from chalicelib.network.referrals import service as referrals
    from chalicelib.network.referrals.models import ReferralStatus, ReferralUpdate

    made = _referral(tenant)
    targets = [ReferralStatus.ACCEPTED if i % 2 else ReferralStatus.DECLINED for i in range(THREADS)]
    attempts = [lambda t=t: referrals.update_referral(referrals.caller(STAFF), made.id, ReferralUpdate(status=t),
                                                      made.version) for t in targets]
    won, lost = race(tenant, attempts)
    assert len(won) == 1, lost
    assert_lost_cleanly(lost, THREADS - 1)
    with as_admin(tenant):
        stored = referrals.get_referral(referrals.caller(STAFF), made.id)
    assert stored.status == won[0].status and stored.version == made.version + 1
    transitions = [e for e in stored_events(tenant) if e["action"].startswith("referral.")
                   and e["action"] != "referral.created"]
    assert len(transitions) == 1


def test_concurrent_deletes_of_one_referral_delete_it_once(tenant):
    from chalicelib.errors import NotFoundError
    from chalicelib.network.referrals import service as referrals

    made = _referral(tenant)
    won, lost = race(tenant, [lambda: referrals.delete_referral(made.id) for _ in range(THREADS)])
    assert len(won) == 1
    assert all(isinstance(e, (NotFoundError,)) or getattr(e, "status", None) == 409 for e in lost), lost
    assert len([e for e in stored_events(tenant) if e["action"] == "referral.deleted"]) == 1


def test_concurrent_resumes_of_a_crashed_provisioning_finish_it_once(moto_env, monkeypatch):
    # Given a tenant whose provisioning crashed after its first steps (its request stored)
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from chalicelib.store import registry
    from chalicelib.tenants import provisioning
    from chalicelib.tenants.admin_models import TenantAdminCreate

    bootstrap(get_settings())
    real_steps = provisioning.STEPS

    def crash(*_: Any) -> None:
        raise RuntimeError("the container died")

    monkeypatch.setattr(provisioning, "STEPS", tuple((n, crash if n == "demo_data" else f) for n, f in real_steps))
    with pytest.raises(RuntimeError):
        provisioning.provision(TenantAdminCreate(slug="pitlane", name="Pit Lane", display_name="Pit Lane",
                                                 admin_email="owner@pitlane.example", seed_demo_data=True))
    monkeypatch.setattr(provisioning, "STEPS", real_steps)
    stuck = registry.get_tenant(registry.tenant_id_for_slug("pitlane"))
    assert stuck is not None and stuck.status.value == "provisioning"

    # When the schedule and several admins resume it at the same moment
    won, lost = race(stuck, [lambda: provisioning.resume(stuck) for _ in range(6)])

    # Then it is active once, with each provisioned thing once (the mail at least once)
    assert won and all(t.status.value == "active" for t in won)
    assert all(getattr(e, "status", None) == 409 for e in lost), lost
    active = registry.get_tenant(stuck.id)
    assert active.status.value == "active" and active.provisioning_steps == provisioning.STEP_NAMES
    with as_admin(active):
        from chalicelib.http import ListQuery
        from chalicelib.members import roles, service
        from chalicelib.network.categories import service as categories
        from chalicelib.network.customers import service as customers
        from chalicelib.network.professionals import service as professionals
        from chalicelib.network.professionals.service import ProfessionalQuery
        from chalicelib.network.referrals import service as referrals
        from chalicelib.network.referrals.service import ReferralQuery

        counts = {"categories": len(categories.list_categories(100, None)[0]),
                  "professionals": len(professionals.list_professionals(ProfessionalQuery(limit=100))[0]),
                  "customers": len(customers.list_customers(customers.reader(), ListQuery(limit=100))[0]),
                  "referrals": len(referrals.list_referrals(referrals.caller(STAFF), ReferralQuery(limit=100))[0]),
                  "members": len(service.list_members()[0]), "roles": len(roles.list_roles())}
    assert counts == {"categories": 11, "professionals": 4, "customers": 2, "referrals": 2, "members": 1, "roles": 4}
    mail = [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
            if "owner@pitlane.example" in m.destinations["ToAddresses"]]
    assert 1 <= len(mail) <= len(won)
    assert len([e for e in stored_events(active) if e["action"] == "tenant.provisioned"]) <= 1
