"""Schemathesis against /api/openapi.json on the real local runner, as two tenants and anonymous.

For every operation in the document (so a new route is fuzzed as soon as it is routed),
hypothesis generates requests from the document's own schemas and sends them over HTTP
to ``python -m chalicelib.local`` (moto's server behind it). Every response must:
- not be a 500 (or any 5xx);
- have a status and a content type the document declares, and a body that matches the
  declared schema (problem documents included);
- contain nothing that identifies the other tenant (its id, slug, record ids, emails).

The budget is small and fixed (``derandomize``: the same examples every run), so the
module stays well under two minutes on two cores. Figures are printed at the end.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.local_runner import Runner, running_runner

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = {"a": 8, "b": 8, "anonymous": 3}
TIMEOUT = 30
FIGURES: Counter[str] = Counter()
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _operations() -> list[tuple[str, str]]:
    from app import app

    return sorted((m, p) for p, methods in app.routes.items() for m in methods)


def _get(api: str, path: str, token: str) -> Any:
    response = requests.get(f"{api}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def _identifiers(api: str, token: str) -> set[str]:
    """What names this tenant's data to anyone else: its id and slug, record ids, emails."""
    profile = _get(api, "/api/tenant", token)
    found = {profile["id"], f'"{profile["slug"]}"'}
    for path in ("/api/professionals?limit=100", "/api/customers?limit=100", "/api/referrals?limit=100",
                 "/api/tenant/members"):
        text = json.dumps(_get(api, path, token))
        found |= set(UUID.findall(text)) | set(EMAIL.findall(text))
    return found


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    with running_runner(tmp_path_factory.mktemp("fuzz-runner")) as handle:
        yield handle


@pytest.fixture(scope="module")
def world(runner: Runner) -> Iterator[dict[str, Any]]:
    admin = runner.token("--role", "platform_admin")
    created = requests.post(f"{runner.api}/api/admin/tenants", timeout=120,
                            headers={"Authorization": f"Bearer {admin}"},
                            json={"slug": "fuzz-rival", "name": "Fuzz Rival", "display_name": "Fuzz Rival",
                                  "admin_email": "owner@fuzz-rival.example", "seed_demo_data": True})
    assert created.status_code == 201, created.text
    tokens = {"a": runner.token("--tenant", "demo", "--role", "tenant_admin", "--ttl", "3600"),
              "b": runner.token("--tenant", "fuzz-rival", "--role", "tenant_admin", "--ttl", "3600")}
    # Give each tenant a customer and a referral of its own (demo data has professionals only)
    for name, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        pros = _get(runner.api, "/api/professionals?limit=2", token)["items"]
        customer = requests.post(f"{runner.api}/api/customers", headers=headers, timeout=TIMEOUT,
                                 json={"name": f"Fuzz customer {name}", "email": f"fuzz-{name}@customers.example"})
        assert customer.status_code == 201, customer.text
        referral = requests.post(f"{runner.api}/api/referrals", headers=headers, timeout=TIMEOUT, json={
            "from_professional_id": pros[0]["id"], "to_professional_id": pros[1]["id"],
            "customer_id": customer.json()["id"], "service_category": pros[0]["service_categories"][0]})
        assert referral.status_code == 201, referral.text
    ids = {name: _identifiers(runner.api, token) for name, token in tokens.items()}
    shared = ids["a"] & ids["b"]  # e.g. identical demo-data emails: they identify neither tenant
    assert all(len(found - shared) >= 8 for found in ids.values()), ids  # tenant, records, emails
    document = requests.get(f"{runner.api}/api/openapi.json", timeout=TIMEOUT).json()
    schema = schemathesis.openapi.from_dict(document)
    yield {"api": runner.api, "tokens": tokens, "schema": schema, "document": document,
           "foreign": {"a": ids["b"] - shared, "b": ids["a"] - shared, "anonymous": set()},
           "own": ids}


def _assert_no_foreign_data(text: str, foreign: set[str], label: str) -> None:
    leaked = sorted(value for value in foreign if value in text)
    assert not leaked, f"{label}: the response names the other tenant's {leaked[:5]}"


@pytest.mark.parametrize("identity", list(EXAMPLES))
@pytest.mark.parametrize("method,path", _operations())
def test_fuzz_operation(world, identity, method, path):
    operation = world["schema"][path][method]
    token = world["tokens"].get(identity)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    foreign = world["foreign"][identity]
    label = f"{identity} {method} {path}"

    @settings(max_examples=EXAMPLES[identity], derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(base_url=world["api"], headers=headers, timeout=TIMEOUT)
        FIGURES["requests"] += 1
        FIGURES[f"status {response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=CHECKS)
        if (method, path) == ("GET", "/api/openapi.json"):
            # Its examples quote the demo data written in chalicelib/meta/examples.py, which
            # the demo tenant also holds: what proves it carries no tenant's stored data is
            # that every caller gets the very document an anonymous one does.
            assert response.json() == world["document"], label
        else:
            _assert_no_foreign_data(response.text, foreign, label)
        if identity == "anonymous" and (method, path) != ("GET", "/api/openapi.json"):
            _assert_no_foreign_data(response.text, world["own"]["a"] | world["own"]["b"], label)
        FIGURES["responses checked"] += 1

    run()


def test_zz_the_fuzzing_ran_and_its_figures(world, capsys):
    # Runs last in the module (pytest keeps file order): every operation was fuzzed
    assert FIGURES["responses checked"] == FIGURES["requests"] > 0
    assert FIGURES["status 5xx"] == 0
    with capsys.disabled():
        print(f"\nschemathesis: {len(_operations())} operations x {sorted(EXAMPLES.items())} examples; "
              f"{dict(sorted(FIGURES.items()))}")
