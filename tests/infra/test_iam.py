"""Structural facts of the stages' IAM that no recorded call can show.

What each role may do is proven by evaluating the calls the code makes against the
synthesized policies (tests/infra/test_contract.py), not by restating the policies here.
"""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.store.keys import tenant_object_key, tenant_prefix
from tests.infra.conftest import STAGES, resources

TENANT = "${aws:PrincipalTag/tenant_id}"


@pytest.fixture(scope="module", params=STAGES)
def template(request: pytest.FixtureRequest, templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates[request.param]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def test_the_conditions_are_the_keys_modules_prefixes_with_the_session_tenant():
    from platform_infra.access import LEADING_KEYS_PATTERN, TENANT_OBJECT_PREFIX

    # keys.py formats the tenant id into its prefixes; the policy puts the session tag there.
    assert LEADING_KEYS_PATTERN == tenant_prefix(TENANT) + "*"  # type: ignore[arg-type]
    assert TENANT_OBJECT_PREFIX + "x" == tenant_object_key(TENANT, "x")  # type: ignore[arg-type]


def test_no_policy_of_the_platform_has_a_wildcard_action_or_a_scan(template):
    documents = [p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::Policy").values()]
    documents += [p["PolicyDocument"] for r in resources(template, "AWS::IAM::Role").values()
                  for p in r["Properties"].get("Policies", [])]
    actions = [a for d in documents for s in d["Statement"] if s["Effect"] == "Allow" for a in _actions(s)]
    assert actions
    assert not [a for a in actions if "*" in a]
    assert not [a for a in actions if a.lower() in ("dynamodb:scan", "dynamodb:partiqlselect")]
