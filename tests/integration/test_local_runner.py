"""The real local runner (`make run`) over real HTTP, and the developer CLI against it.

One runner is started for the whole module on two free ports; the last test stops it
with SIGTERM. Every wait is bounded; nothing asserts on wall-clock durations.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator

import boto3
import pytest
import requests

from tests.integration.local_runner import (
    CLI_TIMEOUT,
    LOCAL,
    PYTHON,
    ROOT,
    STOP_TIMEOUT,
    Runner,
    child_env,
    cli_env,
    free_port,
    run_cli,
    running_runner,
)


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    with running_runner(tmp_path_factory.mktemp("runner")) as handle:
        yield handle


@pytest.fixture(scope="module")
def demo_token(runner: Runner) -> str:
    return runner.token("--tenant", "demo", "--role", "tenant_admin")


@pytest.fixture(scope="module")
def admin_token(runner: Runner) -> str:
    return runner.token("--role", "platform_admin")


def test_health(runner: Runner) -> None:
    response = requests.get(f"{runner.api}/api/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "stage": "local"}
    assert response.headers["X-Request-ID"]


def test_tenant_profile_with_a_cli_token(runner: Runner, demo_token: str) -> None:
    response = requests.get(f"{runner.api}/api/tenant", headers={"Authorization": f"Bearer {demo_token}"}, timeout=5)
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["slug"] == "demo"
    assert profile["display_name"] == "Demo Auto Network"
    assert profile["status"] == "active"
    assert f"id={profile['id']}" in runner.stdout()  # the seeded tenant the banner announced


def test_the_demo_tenant_was_provisioned_and_its_welcome_mail_logged(runner: Runner, demo_token: str) -> None:
    headers = {"Authorization": f"Bearer {demo_token}"}
    categories = requests.get(f"{runner.api}/api/service-categories?limit=100", headers=headers, timeout=5).json()
    assert len(categories["items"]) == 11
    professionals = requests.get(f"{runner.api}/api/professionals?limit=100", headers=headers, timeout=5).json()
    assert len(professionals["items"]) == 4
    members = requests.get(f"{runner.api}/api/tenant/members", headers=headers, timeout=5).json()
    # The provisioned admin (invited), and the CLI's signed-in tenant admin (a member once enrolled)
    assert {m["email"] for m in members["items"]} == {"admin@demo-network.example", "tenant-admin@demo.localhost"}
    logged = runner.stdout() + runner.stderr()
    assert "email sent" in logged and "Welcome to Demo Auto Network" in logged


EXPORT_TIMEOUT = 120


def test_an_export_completes_end_to_end_and_its_mailed_link_downloads(runner: Runner, demo_token: str) -> None:
    """POST -> the pump delivers the queue -> worker -> mail logged -> link -> 302 -> local S3 over HTTP."""
    headers = {"Authorization": f"Bearer {demo_token}"}
    created = requests.post(f"{runner.api}/api/tenant/exports", headers=headers, timeout=10,
                            json={"format": "csv", "notify_email": "owner@demo-network.example"})
    assert created.status_code == 202, created.text
    location = created.headers["Location"]
    deadline = time.monotonic() + EXPORT_TIMEOUT
    export = created.json()
    while export["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        export = requests.get(f"{runner.api}{location}", headers=headers, timeout=10).json()
    assert export["status"] == "completed", export

    link = f"{runner.api}/api/tenant/exports/{export['id']}/download"
    # The mail goes out just after the record says completed.
    while link not in runner.stdout() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert link in runner.stdout()  # the logged mail names the API route
    redirect = requests.get(link, headers=headers, allow_redirects=False, timeout=10)
    assert redirect.status_code == 302, redirect.text
    assert redirect.headers["Location"].startswith(runner.aws_endpoint)
    blob = requests.get(redirect.headers["Location"], timeout=30)  # no token: the URL is the grant
    assert blob.status_code == 200 and hashlib.sha256(blob.content).hexdigest() == export["sha256"]
    archive = zipfile.ZipFile(io.BytesIO(blob.content))
    rows = list(csv.DictReader(io.TextIOWrapper(archive.open("professionals.csv"), encoding="utf-8")))
    listed = requests.get(f"{runner.api}/api/professionals?limit=100", headers=headers, timeout=5).json()["items"]
    assert sorted(r["email"] for r in rows) == sorted(p["email"] for p in listed)
    assert export["counts"]["professionals"] == len(listed) and export["counts"]["service_categories"] == 11



def test_concurrent_admin_creates_of_one_slug_make_one_tenant(runner: Runner, admin_token: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def create(index: int) -> int:
        body = {"slug": "race-motors", "name": f"Racer {index}", "display_name": f"R{index}",
                "admin_email": f"owner{index}@race.example"}
        return requests.post(f"{runner.api}/api/admin/tenants", json=body, timeout=60,
                             headers={"Authorization": f"Bearer {admin_token}"}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(create, range(6)))
    assert statuses == [201] + [409] * 5
    listed = requests.get(f"{runner.api}/api/admin/tenants?q=race-motors", timeout=5,
                          headers={"Authorization": f"Bearer {admin_token}"}).json()["items"]
    assert [t["status"] for t in listed] == ["active"]


def test_subdomain_resolution_through_the_host_header(runner: Runner, admin_token: str) -> None:
    response = requests.get(
        f"{runner.api}/api/tenant",
        headers={"Authorization": f"Bearer {admin_token}", "Host": f"demo.localhost:{runner.port}"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.json()["slug"] == "demo"


def test_unknown_subdomain_is_404_problem(runner: Runner, admin_token: str) -> None:
    response = requests.get(
        f"{runner.api}/api/tenant",
        headers={"Authorization": f"Bearer {admin_token}", "Host": f"no-such-tenant.localhost:{runner.port}"},
        timeout=5,
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "tenant_not_found"
    assert problem["status"] == 404
    assert problem["request_id"] == response.headers["X-Request-ID"]


def test_banner_has_curl_examples_and_working_tokens(runner: Runner) -> None:
    banner = runner.stdout()
    assert f"curl -s {runner.api}/api/health" in banner
    assert f"Host: demo.localhost:{runner.port}" in banner
    assert f"http://127.0.0.1:{runner.aws_port}" in banner
    tokens = {}
    for line in banner.splitlines():
        line = line.strip()
        if line.startswith("export ") and "_TOKEN=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            tokens[name] = value
    assert set(tokens) == {"ADMIN_TOKEN", "DEMO_TOKEN"}
    # The printed tokens are real: the demo one reads the demo tenant, the admin one via X-Tenant-ID.
    demo = requests.get(f"{runner.api}/api/tenant", headers={"Authorization": f"Bearer {tokens['DEMO_TOKEN']}"},
                        timeout=5)
    assert demo.status_code == 200 and demo.json()["slug"] == "demo"
    admin = requests.get(
        f"{runner.api}/api/tenant",
        headers={"Authorization": f"Bearer {tokens['ADMIN_TOKEN']}", "X-Tenant-ID": "demo"},
        timeout=5,
    )
    assert admin.status_code == 200 and admin.json()["slug"] == "demo"


def test_the_local_run_answers_429s_per_tenant_with_headers(runner: Runner, admin_token: str,
                                                            demo_token: str) -> None:
    # Given a new tenant whose overrides allow 3 requests and no refill
    admin = {"Authorization": f"Bearer {admin_token}"}
    body = {"slug": "throttled-motors", "name": "Throttled", "display_name": "Throttled",
            "admin_email": "owner@throttled.example"}
    created = requests.post(f"{runner.api}/api/admin/tenants", json=body, headers=admin, timeout=60)
    assert created.status_code == 201, created.text
    tenant_id = created.json()["id"]
    limited = requests.put(f"{runner.api}/api/admin/tenants/{tenant_id}/limits", headers=admin, timeout=30,
                           json={"rate_per_second": 0, "burst": 3})
    assert limited.status_code == 200, limited.text
    token = runner.token("--tenant", "throttled-motors", "--role", "tenant_admin")
    # When it sends five requests
    answers = [requests.get(f"{runner.api}/api/tenant", headers={"Authorization": f"Bearer {token}"}, timeout=5)
               for _ in range(5)]
    # Then the fourth and fifth are 429 problems with Retry-After and RateLimit-* headers
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0", "0"]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited" and int(refused.headers["Retry-After"]) > 0
    assert refused.headers["RateLimit-Limit"] == "3" and int(refused.headers["RateLimit-Reset"]) > 0
    # And the demo tenant is not affected
    demo = requests.get(f"{runner.api}/api/tenant", headers={"Authorization": f"Bearer {demo_token}"}, timeout=5)
    assert demo.status_code == 200
    # And the tenant's API key sits in its plan's usage plan in local AWS (overrides below the
    # plan's ceiling are the limiter's to enforce; no usage plan of its own is made)
    options = {"endpoint_url": runner.aws_endpoint, "region_name": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    apigw = boto3.client("apigateway", **options)
    plans = {p["name"]: p["id"] for p in apigw.get_usage_plans()["items"]}
    assert f"tenant-platform-local-plan-tenant-{tenant_id}" not in plans
    free = plans["tenant-platform-local-plan-free"]
    assert f"tenant-platform-local-tenant-{tenant_id}" in [
        k["name"] for k in apigw.get_usage_plan_keys(usagePlanId=free)["items"]]


def test_local_aws_is_inspectable_with_boto3(runner: Runner) -> None:
    options = {
        "endpoint_url": runner.aws_endpoint, "region_name": "us-east-1",
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
    }
    tables = boto3.client("dynamodb", **options).list_tables()["TableNames"]
    assert LOCAL["REGISTRY_TABLE"] in tables
    assert LOCAL["DATA_TABLE"] in tables
    sqs = boto3.client("sqs", **options)
    names = {url.rsplit("/", 1)[1]: url for url in sqs.list_queues().get("QueueUrls", [])}
    queue = LOCAL["EXPORTS_QUEUE"]
    assert queue in names and queue + "-dlq" in names
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=names[queue], AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    assert redrive["deadLetterTargetArn"].endswith(":" + queue + "-dlq")
    assert int(redrive["maxReceiveCount"]) == 3


def test_a_second_runner_on_the_same_ports_refuses_clearly(runner: Runner) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "chalicelib.local", "--port", str(runner.port), "--aws-port", str(runner.aws_port)],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )
    assert result.returncode != 0
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    runner.assert_alive()


def test_a_second_runner_refuses_when_only_the_api_port_is_taken(runner: Runner) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "chalicelib.local", "--port", str(runner.port), "--aws-port", str(free_port())],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )
    assert result.returncode != 0
    assert "already in use" in result.stderr and str(runner.port) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    runner.assert_alive()


# -- the CLI ------------------------------------------------------------------------------

def test_cli_token_is_refused_outside_the_local_stage() -> None:
    result = run_cli("token", "--role", "platform_admin", env=cli_env(STAGE="prod"))
    assert result.returncode != 0
    assert "refused" in result.stderr
    assert result.stdout == ""  # no token printed
    assert "Traceback" not in result.stderr


def test_cli_tenant_role_needs_a_tenant() -> None:
    result = run_cli("token", "--role", "tenant_admin", env=cli_env())
    assert result.returncode != 0
    assert "--tenant is required" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_cli_platform_admin_token_carries_no_tenant(runner: Runner) -> None:
    result = runner.cli("token", "--role", "platform_admin", "--tenant", "demo")
    assert result.returncode != 0
    assert "carries no tenant" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_cli_token_for_an_unknown_slug_fails_clearly(runner: Runner) -> None:
    result = runner.cli("token", "--role", "tenant_admin", "--tenant", "no-such-tenant")
    assert result.returncode != 0
    assert "no tenant with slug 'no-such-tenant'" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_cli_token_ignores_service_endpoint_overrides(runner: Runner) -> None:
    # A developer's AWS_ENDPOINT_URL_DYNAMODB (for another tool) outranks AWS_ENDPOINT_URL in
    # botocore; the CLI must still talk to the local runner's moto.
    dead_port = free_port()
    result = runner.cli(
        "token", "--role", "tenant_admin", "--tenant", "demo",
        AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{dead_port}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(".") == 2  # a JWT


def test_cli_schedule_list(runner: Runner) -> None:
    from chalice.app import ScheduledEventConfig

    from app import app

    expected = sorted(s.name for s in app.event_sources if isinstance(s, ScheduledEventConfig))
    result = runner.cli("schedule", "list")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    listed = sorted(line.split("\t")[0] for line in result.stdout.splitlines() if line.strip())
    assert listed == expected


def test_cli_schedule_run_of_an_unknown_name_fails_clearly(runner: Runner) -> None:
    result = runner.cli("schedule", "run", "no_such_schedule")
    assert result.returncode != 0
    assert "no_such_schedule" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_schedule_run_needs_a_name(runner: Runner) -> None:
    result = runner.cli("schedule", "run")
    assert result.returncode != 0
    assert "needs the name" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_without_a_running_runner_says_so() -> None:
    env = cli_env(LOCAL_AWS_PORT=str(free_port()))  # nothing listens there
    result = run_cli("token", "--role", "tenant_admin", "--tenant", "demo", env=env)
    assert result.returncode != 0
    assert "not running" in result.stderr and "make run" in result.stderr
    assert "Traceback" not in result.stderr


# -- stopping (keep last: it stops the module's runner) ------------------------------------

MEMBERSHIP_WINDOW = 5 + 10  # MEMBERSHIP_CACHE_TTL_SECONDS (README) and a margin for a slow machine


def test_a_cognito_user_invited_as_manager_lists_professionals_until_disabled(runner: Runner,
                                                                               demo_token: str) -> None:
    """The issue's "done when": the local Cognito pool, an invitation, and membership as the authority."""
    admin = {"Authorization": f"Bearer {demo_token}"}
    email = "ana.manager@shop.example"
    invited = requests.post(f"{runner.api}/api/tenant/members", headers=admin, timeout=10,
                            json={"email": email, "role": "manager"})
    assert invited.status_code == 201, invited.text
    member = invited.json()
    # The invitation mail (logged locally) carries the link's token
    pattern = re.compile(rf"/invitations/{member['id']}\?token=([0-9a-f]{{64}})")
    deadline = time.monotonic() + 30
    while pattern.search(runner.stdout()) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    found = pattern.search(runner.stdout())
    assert found is not None
    # A user created in the local Cognito pool signs in and accepts
    tokens = runner.cognito_tokens(email)
    in_demo = {"X-Tenant-ID": "demo"}
    accepted = requests.post(f"{runner.api}/api/tenant/invitations/{member['id']}/accept", timeout=10,
                             headers={"Authorization": f"Bearer {tokens['id']}", **in_demo},
                             json={"token": found.group(1)})
    assert accepted.status_code == 200, accepted.text
    # Its Cognito access token lists professionals
    as_manager = {"Authorization": f"Bearer {tokens['access']}", **in_demo}
    listed = requests.get(f"{runner.api}/api/professionals", headers=as_manager, timeout=10)
    assert listed.status_code == 200 and listed.json()["items"], listed.text
    # The tenant admin disables the member: the same token is refused within the window
    disabled = requests.patch(f"{runner.api}/api/tenant/members/{member['id']}", timeout=10, json={"status": "disabled"},
                              headers={**admin, "If-Match": accepted.headers["ETag"]})
    assert disabled.status_code == 200, disabled.text
    deadline = time.monotonic() + MEMBERSHIP_WINDOW
    refused = requests.get(f"{runner.api}/api/professionals", headers=as_manager, timeout=10)
    while refused.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        refused = requests.get(f"{runner.api}/api/professionals", headers=as_manager, timeout=10)
    assert refused.status_code == 403 and refused.json()["code"] == "member_disabled"


def test_sigterm_stops_the_runner_and_frees_both_ports(runner: Runner) -> None:
    from chalicelib.local.runner import check_port_free

    runner.assert_alive()
    # Leave a kept-alive connection open on each port, as a browser or boto3 would.
    with requests.Session() as session:
        assert session.get(f"{runner.api}/api/health", timeout=5).status_code == 200
        runner.process.send_signal(signal.SIGTERM)
        try:
            code = runner.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the runner did not stop within {STOP_TIMEOUT} s of SIGTERM")
    assert code == 0, runner.stderr()[-3000:]
    assert "Traceback" not in runner.stderr()
    # What the next `make run` checks before starting: both ports are free again.
    check_port_free(runner.port, "the API", "PORT")
    check_port_free(runner.aws_port, "local AWS", "LOCAL_AWS_PORT")

