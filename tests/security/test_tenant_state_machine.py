"""A hypothesis state machine over three tenants: random sequences of creates, edits,
deletes and referral transitions, with cross-tenant attempts mixed in; after every step
each tenant's listings, read through the API, hold exactly its own records.

A model of what each tenant should hold is kept beside the app; it persists across
examples, as the app's moto world does, so no example pays for a fresh world. Expected
outcomes follow the documented rules (409 for a delete that open referrals block, 404 for
another tenant's id, the referral lifecycle); everything runs through chalice.test.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.conftest import TenantClient, body_of, create_tenant, module_world

TENANTS = ("acme", "globex", "initech")
COLLECTIONS = {"categories": "/api/service-categories", "professionals": "/api/professionals",
               "customers": "/api/customers", "referrals": "/api/referrals"}
OPEN = ("pending", "accepted")
NEXT = {"pending": ("accepted", "declined", "cancelled"), "accepted": ("completed", "cancelled")}
FIGURES = {"steps": 0, "checks": 0, "cross_tenant_attempts": 0}


@dataclass
class Model:
    """What one tenant holds: record key -> version (categories by slug), and referral state."""
    tag: str
    categories: dict[str, int] = field(default_factory=dict)
    professionals: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    referrals: dict[str, int] = field(default_factory=dict)
    referral_state: dict[str, dict[str, str]] = field(default_factory=dict)
    offers: dict[str, list[str]] = field(default_factory=dict)  # professional -> categories

    def open_refs(self, record: str) -> bool:
        return any(r["status"] in OPEN and record in (r["from"], r["to"], r["customer"], r["category"])
                   for r in self.referral_state.values())


def _all(client: TenantClient, tenant: Any, path: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        url = f"{path}?limit=100" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, tenant=tenant)
        assert response.status_code == 200, (path, response.body)
        page = body_of(response)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _key(kind: str, item: dict[str, Any]) -> str:
    return item["slug"] if kind == "categories" else item["id"]


@pytest.fixture(scope="module")
def world(signing_keys, tmp_path_factory) -> Iterator[dict[str, Any]]:
    with module_world(signing_keys, tmp_path_factory.mktemp("chalice")) as built:
        built["initech"] = create_tenant("initech")
        client = built["client"]
        models = {}
        for name in TENANTS:
            model = Model(tag=name)
            for kind, path in COLLECTIONS.items():
                getattr(model, kind).update({_key(kind, i): i.get("version", 1) for i in _all(client, built[name], path)})
            models[name] = model
        built["models"] = models
        yield built


names = st.sampled_from(TENANTS)

counter = itertools.count()


def make_machine(world: dict[str, Any]) -> type[RuleBasedStateMachine]:
    client: TenantClient = world["client"]
    models: dict[str, Model] = world["models"]

    def call(name: str, method: str, path: str, body: Any = None, version: int | None = None) -> Any:
        headers = {"If-Match": f'"{version}"'} if version is not None else None
        return client.request(method, path, tenant=world[name], body=body, headers=headers)

    def intruder_is_refused(owner: str, kind: str, key: str, method: str, body: Any = None) -> None:
        """Before the owner acts on a record, the next tenant tries the same: 404, nothing changes."""
        if kind == "categories":
            return  # slugs are per tenant: the default categories share their slugs
        intruder = TENANTS[(TENANTS.index(owner) + 1) % len(TENANTS)]
        response = call(intruder, method, f"{COLLECTIONS[kind]}/{key}", body, getattr(models[owner], kind)[key])
        assert response.status_code == 404, (intruder, owner, method, kind, response.body)
        FIGURES["cross_tenant_attempts"] += 1

    class TenantMachine(RuleBasedStateMachine):
        @initialize()
        def every_tenant_has_something_to_refer(self) -> None:
            # So that every rule has material in every tenant from the first step
            for name in TENANTS:
                model = models[name]
                if not model.categories:
                    self.create_category(name)
                while len(model.professionals) < 2:
                    self.add_professional(name, sorted(model.categories)[:1])
                if not model.customers:
                    self.create_customer(name)

        @rule(name=names)
        def create_category(self, name: str) -> None:
            slug = f"{name}-cat-{next(counter)}"
            response = call(name, "POST", "/api/service-categories", {"slug": slug, "name": f"{name} category"})
            assert response.status_code == 201, response.body
            models[name].categories[slug] = body_of(response)["version"]

        @rule(name=names, data=st.data())
        def create_professional(self, name: str, data: st.DataObject) -> None:
            categories = sorted(models[name].categories)
            self.add_professional(name, data.draw(st.lists(st.sampled_from(categories), min_size=1, max_size=2,
                                                           unique=True)))

        def add_professional(self, name: str, offered: list[str]) -> None:
            model = models[name]
            n = next(counter)
            response = call(name, "POST", "/api/professionals", {
                "business_name": f"{name} shop {n}", "contact_name": f"{name} contact",
                "email": f"pro{n}@{name}.example", "service_categories": offered})
            assert response.status_code == 201, response.body
            created = body_of(response)
            model.professionals[created["id"]] = created["version"]
            model.offers[created["id"]] = offered

        @rule(name=names)
        def create_customer(self, name: str) -> None:
            n = next(counter)
            response = call(name, "POST", "/api/customers", {"name": f"{name} customer {n}",
                                                              "email": f"c{n}@{name}.example"})
            assert response.status_code == 201, response.body
            created = body_of(response)
            models[name].customers[created["id"]] = created["version"]

        @rule(name=names, data=st.data())
        def create_referral(self, name: str, data: st.DataObject) -> None:
            model = models[name]
            pros = sorted(model.professionals)
            if len(pros) < 2 or not model.customers:
                return
            sender, receiver = data.draw(st.permutations(pros))[:2]
            customer = data.draw(st.sampled_from(sorted(model.customers)))
            category = data.draw(st.sampled_from(model.offers.get(receiver) or sorted(model.categories)))
            response = call(name, "POST", "/api/referrals", {
                "from_professional_id": sender, "to_professional_id": receiver, "customer_id": customer,
                "service_category": category, "notes": f"{name} referral"})
            assert response.status_code == 201, response.body
            created = body_of(response)
            model.referrals[created["id"]] = created["version"]
            model.referral_state[created["id"]] = {"status": "pending", "from": sender, "to": receiver,
                                                   "customer": customer, "category": category}

        @rule(name=names, data=st.data())
        def edit_something(self, name: str, data: st.DataObject) -> None:
            model = models[name]
            choices = [(k, key) for k in ("professionals", "customers", "categories") for key in getattr(model, k)]
            if not choices:
                return
            kind, key = data.draw(st.sampled_from(sorted(choices)))
            body = {"professionals": {"business_name": f"{name} shop renamed"},
                    "customers": {"name": f"{name} customer renamed"},
                    "categories": {"name": f"{name} category renamed"}}[kind]
            versions = getattr(model, kind)
            intruder_is_refused(name, kind, key, "PATCH", body)
            response = call(name, "PATCH", f"{COLLECTIONS[kind]}/{key}", body, versions[key])
            assert response.status_code == 200, response.body
            versions[key] = body_of(response)["version"]

        @rule(name=names, data=st.data())
        def move_a_referral(self, name: str, data: st.DataObject) -> None:
            model = models[name]
            movable = sorted(r for r, s in model.referral_state.items() if s["status"] in NEXT)
            if not movable:
                return
            referral = data.draw(st.sampled_from(movable))
            target = data.draw(st.sampled_from(NEXT[model.referral_state[referral]["status"]]))
            intruder_is_refused(name, "referrals", referral, "PATCH", {"status": target})
            response = call(name, "PATCH", f"/api/referrals/{referral}", {"status": target}, model.referrals[referral])
            assert response.status_code == 200, response.body
            model.referrals[referral] = body_of(response)["version"]
            model.referral_state[referral]["status"] = target

        @rule(name=names, data=st.data())
        def delete_something(self, name: str, data: st.DataObject) -> None:
            model = models[name]
            choices = [(k, key) for k in ("professionals", "customers", "referrals", "categories")
                       for key in getattr(model, k)]
            if not choices:
                return
            kind, key = data.draw(st.sampled_from(sorted(choices)))
            blocked = {
                "professionals": model.open_refs(key),
                "customers": model.open_refs(key),
                "referrals": False,
                "categories": model.open_refs(key) or any(key in c for c in model.offers.values()),
            }[kind]
            intruder_is_refused(name, kind, key, "DELETE")
            response = call(name, "DELETE", f"{COLLECTIONS[kind]}/{key}")
            assert response.status_code == (409 if blocked else 204), (kind, blocked, response.body)
            if not blocked:
                del getattr(model, kind)[key]
                model.referral_state.pop(key, None)
                model.offers.pop(key, None)

        @rule(pair=st.permutations(TENANTS), data=st.data(), method=st.sampled_from(["GET", "PATCH", "DELETE"]))
        def reach_into_another_tenant(self, pair: list[str], data: st.DataObject, method: str) -> None:
            actor, owner = pair[0], pair[1]
            choices = [(k, key) for k in ("professionals", "customers", "referrals")
                       for key in getattr(models[owner], k)]
            if not choices:
                return
            kind, key = data.draw(st.sampled_from(sorted(choices)))
            body = {"referrals": {"notes": "hijack"}, "customers": {"name": "hijack"},
                    "professionals": {"business_name": "hijack"}}[kind]
            response = call(actor, method, f"{COLLECTIONS[kind]}/{key}", body if method == "PATCH" else None, 1)
            assert response.status_code == 404, (actor, owner, method, kind, response.body)
            FIGURES["cross_tenant_attempts"] += 1

        @invariant()
        def each_tenant_sees_exactly_its_own(self) -> None:
            FIGURES["steps"] += 1
            for name in TENANTS:
                model = models[name]
                for kind, path in COLLECTIONS.items():
                    items = _all(client, world[name], path)
                    assert {_key(kind, i) for i in items} == set(getattr(model, kind)), (name, kind)
                    foreign = [i for i in items if any(f"{other} " in str(i) or f"@{other}." in str(i)
                                                       for other in TENANTS if other != name)]
                    assert foreign == [], (name, kind, foreign[:2])
                    FIGURES["checks"] += 1

    return TenantMachine


def test_random_operations_across_three_tenants_keep_each_tenant_to_its_own(world, capsys):
    machine = make_machine(world)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=8, stateful_step_count=10, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck)))
    assert FIGURES["steps"] > 50 and FIGURES["cross_tenant_attempts"] > 0
    assert any(m.referral_state for m in world["models"].values()), "no referral was ever created"
    with capsys.disabled():
        print(f"\nstate machine: {FIGURES}, records per tenant: "
              f"{ {n: sum(len(getattr(m, k)) for k in COLLECTIONS) for n, m in world['models'].items()} }")
