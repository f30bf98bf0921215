"""A Python client generated from the running API's own document drives the whole product.

The local runner (`make run`) is started once for the module; openapi-python-client
generates a client from its live ``/api/openapi.json`` once per session, and must not warn
(a warning means part of the API was skipped). The scenario then uses only the generated
functions and models, as a client developer would: a super-admin creates a tenant, its
admin invites a member who accepts, fills the network, moves a referral through its
states, reads the audit trail, and requests and downloads an export.

The HTTP collection the runner wrote is checked the same way: its requests are sent.
"""
from __future__ import annotations

import hashlib
import importlib
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest

from chalicelib.local.sdk import PACKAGE, generate
from tests.integration.local_runner import Runner, running_runner

EXPORT_TIMEOUT = 120
MAIL_TIMEOUT = 30


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    with running_runner(tmp_path_factory.mktemp("sdk-runner")) as handle:
        yield handle


@pytest.fixture(scope="module")
def sdk(runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out: Path = tmp_path_factory.mktemp("sdk") / "client"
    output = generate(out, url=f"{runner.api}/api/openapi.json")  # raises on any warning
    assert "warning" not in output.lower()
    assert (out / "setup.py").exists() and (out / PACKAGE / "api" / "network").is_dir()
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _api(tag: str, operation: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")


def _model(name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


def _ok(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.parsed


def _invitation_token(runner: Runner, member_id: str) -> str:
    pattern = re.compile(rf"/invitations/{re.escape(member_id)}\?token=([0-9a-f]{{64}})")
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        found = pattern.search(runner.stdout() + runner.stderr())
        if found:
            return found.group(1)
        time.sleep(0.2)
    pytest.fail("the invitation mail was not logged")


def test_the_generated_sdk_drives_the_whole_scenario(runner: Runner, sdk: ModuleType) -> None:
    slug = f"sdk-{uuid.uuid4().hex[:8]}"
    admin = sdk.AuthenticatedClient(base_url=runner.api, token=runner.token("--role", "platform_admin"))

    # A super-admin creates and provisions a tenant.
    created = _api("tenants", "create_tenant").sync_detailed(client=admin, body=_model("TenantAdminCreate").from_dict({
        "slug": slug, "name": "SDK Garage Network", "display_name": "SDK Garages", "plan": "standard", "admin_email": f"owner@{slug}.example"}))
    tenant = _ok(created, 201)
    assert tenant.slug == slug and tenant.status == "active"
    assert created.headers["location"] == f"/api/admin/tenants/{tenant.id}"

    owner = sdk.AuthenticatedClient(base_url=runner.api, token=runner.token(
        "--tenant", slug, "--role", "tenant_admin"))

    # The tenant admin invites a manager, who accepts with the mailed token.
    member = _ok(_api("members", "invite_member").sync_detailed(client=owner, body=_model("MemberInvite").from_dict(
        {"email": f"manager@{slug}.example", "role": "manager"})), 201)
    assert member.status == "invited"
    # (only the invitee accepts: a user of the local Cognito pool with the invited email)
    manager_token = runner.cognito_tokens(f"manager@{slug}.example", str(tenant.id), ("manager",))["id"]
    manager = sdk.AuthenticatedClient(base_url=runner.api, token=manager_token)
    joined = _ok(_api("members", "accept_invitation").sync_detailed(
        member.id, client=manager,
        body=_model("InvitationAccept").from_dict({"token": _invitation_token(runner, member.id)})), 200)
    assert joined.status == "active"
    assert joined.subject == jwt.decode(manager_token, options={"verify_signature": False})["sub"]

    # The manager fills the network: a category, two professionals, a customer.
    category = _ok(_api("network", "create_service_category").sync_detailed(
        client=manager, body=_model("CategoryCreate").from_dict({"slug": "sdk-tuning", "name": "Tuning"})), 201)
    pros = [_ok(_api("network", "create_professional").sync_detailed(
        client=manager, body=_model("ProfessionalCreate").from_dict({
            "business_name": name, "contact_name": "Alex Doe", "email": f"{i}@{slug}.example",
            "service_categories": [category.slug]})), 201) for i, name in enumerate(("Tune Up Co", "Dyno Works"))]
    customer = _ok(_api("network", "create_customer").sync_detailed(
        client=manager, body=_model("CustomerCreate").from_dict({"name": "Jordan Miles"})), 201)
    listed = _ok(_api("network", "list_professionals").sync_detailed(client=manager, category=category.slug), 200)
    assert {p.id for p in listed.items} == {p.id for p in pros}

    # A referral goes pending -> accepted -> completed, each step with If-Match from the ETag.
    referral = _api("network", "create_referral").sync_detailed(client=manager, body=_model("ReferralCreate").from_dict({
        "from_professional_id": str(pros[0].id), "to_professional_id": str(pros[1].id),
        "customer_id": str(customer.id), "service_category": category.slug}))
    etag, state = referral.headers["etag"], _ok(referral, 201)
    assert state.status == "pending"
    for status in ("accepted", "completed"):
        moved = _api("network", "update_referral").sync_detailed(
            str(state.id), client=manager, if_match=etag, body=_model("ReferralUpdate").from_dict({"status": status}))
        etag, state = moved.headers["etag"], _ok(moved, 200)
        assert state.status == status
    stale = _api("network", "update_referral").sync_detailed(
        str(state.id), client=manager, if_match='"1"', body=_model("ReferralUpdate").from_dict({"notes": "late"}))
    assert stale.status_code == 412 and stale.parsed.code == "precondition_failed"

    # The audit trail has it all, newest first.
    trail = _ok(_api("audit", "list_audit_events").sync_detailed(client=owner, limit=100), 200)
    actions = [event.action for event in trail.items]
    for action in ("member.added", "member.joined", "professional.created", "referral.created",
                   "referral.status_changed"):
        assert action in actions, actions
    assert actions.count("referral.status_changed") == 2

    # An export is requested, completes in the background, and downloads.
    requested = _api("exports", "request_export").sync_detailed(client=owner, body=_model("ExportCreate").from_dict(
        {"format": "json", "notify_email": f"owner@{slug}.example"}))
    export = _ok(requested, 202)
    assert requested.headers["location"] == f"/api/tenant/exports/{export.id}"
    deadline = time.monotonic() + EXPORT_TIMEOUT
    while export.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        export = _ok(_api("exports", "get_export").sync_detailed(str(export.id), client=owner), 200)
    assert export.status == "completed", export
    redirect = _api("exports", "download_export").sync_detailed(str(export.id), client=owner)
    assert redirect.status_code == 302
    content = httpx.get(redirect.headers["location"], timeout=30).content
    assert hashlib.sha256(content).hexdigest() == export.sha256

    # Errors arrive as the documented problem model.
    missing = _api("network", "get_customer").sync_detailed(str(uuid.uuid4()), client=manager)
    assert missing.status_code == 404 and missing.parsed.code == "not_found"


def _resolve(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"{{(\w+)}}", lambda m: variables[m.group(1)], value)


_REQUEST_LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (\S+)$", re.MULTILINE)


def test_the_http_collection_make_run_wrote_answers_with_its_tokens(runner: Runner) -> None:
    """Every GET of the collection that needs no id is sent as written: none is refused."""
    files = sorted(runner.http_dir.glob("*.http"))
    assert {f.name for f in files} >= {"network.http", "tenants.http", "exports.http", "meta.http"}
    sent = 0
    for file in files:
        text = file.read_text()
        variables = dict(re.findall(r"^@(\w+) = (.*)$", text, re.MULTILINE))
        assert variables["baseUrl"] == runner.api and variables["demoToken"] and variables["adminToken"]
        for block in text.split("###")[1:]:
            method, target = _REQUEST_LINE.search(block).groups()
            if method != "GET" or "_id}}" in target or "{{n}}" in target or "assets_name" in target:
                continue
            headers = dict(re.findall(r"^([A-Za-z-]+): (.+)$", block, re.MULTILINE))
            response = httpx.get(_resolve(target, variables), timeout=30,
                                 headers={k: _resolve(v, variables) for k, v in headers.items()})
            assert response.status_code == 200, (file.name, target, response.text[:300])
            sent += 1
    assert sent >= 20
