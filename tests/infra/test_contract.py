"""The deployment contract: every AWS call the functions make is allowed by the role the
template gives that function, and a tenant's call aimed at another tenant's data is denied.

The calls are the ones recorded (tests/infra/aws_calls.py) while the api, integration and
reliability suites ran: in this session, when it ran them in one process before these
tests; or in an earlier one that wrote them with CONTRACT_CALLS_OUT, read here through
CONTRACT_CALLS_IN (what `make test` does: the suite on xdist workers records, then these
tests run on every worker's recording). Run alone, they first run CONTRACT_SUBSET (one
file per function's code path) in a subprocess that records its calls. Policies are read from the synthesized templates and evaluated by
tests/infra/iam_eval.py: no policy text is restated here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, local_stage_env
from tests.infra.aws_calls import RECORDED_SUITES, RECORDER
from tests.infra.conftest import STAGES
from tests.infra.deployment import Deployment
from tests.infra.function_access import grants, manifest
from tests.infra.iam_eval import ALLOW, Request, allowed_with_resource_policy, evaluate
from tests.infra.iam_requests import Authorization, CallMapper

pytestmark = pytest.mark.contract

# Run when no recorded suite ran in this session: together they reach every function.
CONTRACT_SUBSET = (
    "tests/api/test_professionals.py", "tests/api/test_exports.py", "tests/api/test_key_rotation.py",
    "tests/api/test_audit_retention.py", "tests/api/test_audit_integrity.py", "tests/api/test_usage_plans.py",
    "tests/api/test_storage_limits.py", "tests/api/test_provisioning.py", "tests/api/test_notification_delivery.py",
    "tests/api/test_member_invitations.py", "tests/api/test_branding.py", "tests/api/test_referral_notifications.py",
    "tests/api/test_integrations.py", "tests/reliability/test_message_faults.py", "tests/integration/test_event_pump.py",
    "tests/api/test_schedules_run.py", "tests/api/test_authorizer_entry.py",
    "tests/api/test_notifications_off_request_path.py", "tests/api/test_referral_settings.py",
    "tests/api/test_api_key_lifecycle.py", "tests/api/test_tenant_key_replicas.py", "tests/api/test_custom_domains.py",
)
# Role chaining (a Lambda role's session assuming another role) caps a session at 1 hour.
ROLE_CHAINING_MAX_SECONDS = 3600


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if os.environ.get("CONTRACT_CALLS_IN"):
        # A recording written by CONTRACT_CALLS_OUT (tests/infra/aws_calls.py), reused: `make
        # test` records the whole suite on its xdist workers, then runs these tests on it.
        return read_recording(Path(os.environ["CONTRACT_CALLS_IN"]))
    # Under pytest-xdist a worker has recorded only the modules it ran: use the subset instead.
    if RECORDER.suites and not os.environ.get("PYTEST_XDIST_WORKER"):
        return {"suites": sorted(RECORDER.suites), "calls": RECORDER.calls, "errors": RECORDER.errors}
    out = tmp_path_factory.mktemp("contract") / "calls.json"
    # The subprocess is one plain pytest session: it must not take this xdist worker's name
    # (tests/infra/aws_calls.py would then suffix the recording with it).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["CONTRACT_CALLS_OUT"] = str(out)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *CONTRACT_SUBSET],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    return json.loads(out.read_text())


def read_recording(path: Path) -> dict[str, Any]:
    """The recording CONTRACT_CALLS_OUT=<path> wrote: <path> itself (one session) and/or
    <path>.gw0, <path>.gw1, ... (one per xdist worker), merged: the suites any of them
    collected, every call, every recording error."""
    parts = sorted(path.parent.glob(path.name + ".gw*"))
    if path.exists():
        parts.insert(0, path)
    assert parts, f"CONTRACT_CALLS_IN={path}: no recording there (nor {path.name}.gw*)"
    merged: dict[str, Any] = {"suites": set(), "calls": [], "errors": []}
    for part in parts:
        recorded = json.loads(part.read_text())
        merged["suites"] |= set(recorded["suites"])
        merged["calls"] += recorded["calls"]
        merged["errors"] += recorded["errors"]
    return {**merged, "suites": sorted(merged["suites"])}


@pytest.fixture(scope="module")
def calls(recording: dict[str, Any]) -> list[dict[str, Any]]:
    assert recording["errors"] == []
    assert recording["calls"], "no AWS call was recorded in any function's code path"
    return recording["calls"]


@pytest.fixture(scope="module", params=STAGES)
def deployment(request: pytest.FixtureRequest, templates: dict[str, dict[str, Any]]) -> Deployment:
    return Deployment(templates[request.param], local_stage_env())


@pytest.fixture(scope="module")
def mapper(deployment: Deployment) -> CallMapper:
    return CallMapper(deployment, deployment.role_for_arn(local_stage_env()["TENANT_DATA_ROLE_ARN"]))


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def of_stage(calls: Iterable[dict[str, Any]], deployment: Deployment) -> list[dict[str, Any]]:
    """The calls a stage makes: a call of a test that gave the app a DR region (replicas,
    their aliases) is one only a stage with that DR region makes."""
    return [c for c in calls if c.get("dr_region") in (None, deployment.dr_region())]


@pytest.fixture(scope="module")
def needed(mapper: CallMapper, calls: list[dict[str, Any]]) -> dict[Any, tuple[Authorization, dict[str, Any]]]:
    return unique(mapper, of_stage(calls, mapper.deployment))


def unique(mapper: CallMapper, calls: Iterable[dict[str, Any]]) -> dict[Any, tuple[Authorization, dict[str, Any]]]:
    """Each distinct authorization once, with one call that needed it."""
    found: dict[Any, tuple[Authorization, dict[str, Any]]] = {}
    for call in calls:
        for authorization in mapper.authorizations(call):
            r = authorization.request
            found.setdefault((authorization.role, r.action, r.resource, _frozen(dict(r.context))),
                             (authorization, call))
    return found


def decide(deployment: Deployment, authorization: Authorization) -> bool:
    identity = deployment.role_policies(authorization.role)
    if authorization.resource_policy is None:
        return evaluate(identity, authorization.request) == ALLOW
    return allowed_with_resource_policy(identity, authorization.resource_policy, authorization.request,
                                        identity_required=authorization.identity_required)


def describe(authorization: Authorization, call: dict[str, Any]) -> str:
    r = authorization.request
    facts = {k: v for k, v in r.context.items() if k not in ("aws:PrincipalArn", "aws:SecureTransport",
                                                              "kms:CallerAccount")}
    return f"{call['function']} [{authorization.role}] {call['service']}.{call['operation']}: {r.action} on {r.resource} {facts}"


def test_calls_were_recorded_in_the_functions_the_template_deploys(calls, deployment):
    functions = {c["function"] for c in calls}
    assert functions
    assert functions <= set(deployment.function_logical_ids())


def test_calls_of_a_stage_with_a_dr_region_are_evaluated_against_that_stage_only(calls, deployment):
    replicated = [c for c in calls if c["operation"] == "ReplicateKey"]
    assert replicated, "no test drove a tenant key's replication (CONTRACT_SUBSET: test_tenant_key_replicas)"
    assert bool(of_stage(replicated, deployment)) == (deployment.dr_region() is not None)


def test_every_recorded_call_is_allowed_for_the_role_of_the_function_that_made_it(needed, deployment):
    denied = sorted({describe(a, call) for a, call in needed.values() if not decide(deployment, a)})

    assert denied == []


def test_a_tenant_call_naming_another_tenants_items_objects_or_keys_is_denied(needed, deployment):
    other = str(uuid.uuid4())
    checked, allowed = 0, []
    for authorization, call in needed.values():
        if call["signer"][0] != "tenant":
            continue
        tenant = call["signer"][1]
        r = authorization.request
        if tenant not in r.resource and not any(tenant in str(r.context.get(k)) for k in authorization.tenant_fields):
            continue  # nothing of the tenant's named (e.g. the platform key through DynamoDB)
        checked += 1
        if decide(deployment, authorization.with_tenant(tenant, other)):
            allowed.append(describe(authorization, call))

    assert checked > 0
    assert sorted(set(allowed)) == []


def test_tenant_sessions_last_no_longer_than_role_chaining_and_the_role_allow(calls, deployment, mapper):
    durations = {int(c["params"].get("DurationSeconds", 3600)) for c in calls if c["operation"] == "AssumeRole"}
    assert durations
    assert max(durations) <= min(ROLE_CHAINING_MAX_SECONDS, deployment.max_session_seconds(mapper.tenant_role))


def test_the_tenant_role_admits_only_a_session_of_a_function_role_tagged_with_one_tenant(deployment, mapper):
    trust = deployment.trust_policy(mapper.tenant_role)
    outsider = "arn:aws:iam::123456789012:role/SomeOtherRole"
    tagged = {"aws:RequestTag/tenant_id": str(uuid.uuid4()), "aws:TagKeys": ["tenant_id"]}
    role_arn = deployment.arn(mapper.tenant_role)
    assert evaluate([trust], Request("sts:AssumeRole", role_arn, outsider,
                                     {**tagged, "aws:PrincipalArn": outsider}), resource_policy=True) != ALLOW
    callers = {deployment.arn(deployment.role_of_function(f)) for f in deployment.function_logical_ids()}
    admitted = {c for c in callers if evaluate([trust], Request("sts:AssumeRole", role_arn, c,
                                                                {**tagged, "aws:PrincipalArn": c}),
                                               resource_policy=True) == ALLOW}
    assert admitted
    for caller in admitted:
        untagged = Request("sts:AssumeRole", role_arn, caller, {"aws:PrincipalArn": caller})
        assert evaluate([trust], untagged, resource_policy=True) != ALLOW



def test_each_function_is_granted_what_its_calls_need_and_after_every_suite_nothing_more(recording, calls, mapper):
    """function_access.json, from which infra builds each function's role, follows the code
    (regenerate it with ``python -m tests.infra.function_access``: see its docstring)."""
    needed = grants(mapper, calls)
    declared = {name: set(given) for name, given in manifest().items()}

    assert {f: sorted(g - declared.get(f, set())) for f, g in needed.items() if g - declared.get(f, set())} == {}
    if set(recording["suites"]) == set(RECORDED_SUITES):
        assert {f: sorted(g - needed.get(f, set())) for f, g in declared.items() if g - needed.get(f, set())} == {}


def test_the_authorizer_reads_api_keys_and_nothing_else():
    # Key values from their registry records, and from API Gateway for a key not recorded yet.
    assert set(manifest()["tenant_usage_key"]) <= {"read-api-keys", "registry-read"}


def test_a_recording_written_by_xdist_workers_is_read_as_one(tmp_path):
    target = tmp_path / "calls.json"
    call = {"function": "api_handler", "operation": "GetItem"}
    (tmp_path / "calls.json.gw0").write_text(json.dumps({"suites": ["api"], "calls": [call], "errors": []}))
    (tmp_path / "calls.json.gw1").write_text(json.dumps(
        {"suites": ["api", "reliability"], "calls": [call, {**call, "operation": "PutItem"}], "errors": ["boom"]}))
    (tmp_path / "other.json.gw0").write_text(json.dumps({"suites": ["integration"], "calls": [call], "errors": []}))

    recording = read_recording(target)

    assert recording["suites"] == ["api", "reliability"]
    assert [c["operation"] for c in recording["calls"]] == ["GetItem", "GetItem", "PutItem"]
    assert recording["errors"] == ["boom"]
    with pytest.raises(AssertionError, match="no recording"):
        read_recording(tmp_path / "missing.json")
