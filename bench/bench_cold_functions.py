"""Each function's cold path: ``import app`` plus the handler's first call, in a new process.

Every Lambda function of the app (the API, the usage-key authorizer, each schedule and
each queue consumer) starts by importing ``app``; then its handler runs once with the
deferred imports of its own path. Each sample here is one fresh interpreter that does
exactly that, with moto's server (started once, in this process) as AWS, so the child
imports nothing moto needs: what it loads is what the function loads in Lambda.

Per function the table shows the median of the samples: ``import app``, the first call,
their sum (the cold path), the same sum over the bare libraries' import (the baseline of
bench_cold_import: chalice, boto3, pynamodb.models, jwt, pydantic with BaseModel loaded,
timed here too, alternating with the functions), and the warm calls that follow in the
same process (the median of five). The queue consumers get a message naming the tenant and a record that
does not exist: the handler binds the tenant, imports and runs its service up to the
lookup, as a real message would, without the work itself (an export's pages, a rotation).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.harness import (
    PROJECT_DIR,
    Row,
    SigningKey,
    bench_environment,
    create_tenant,
    median,
    quiet_request_logs,
    ratio,
)

NAME = "cold_functions"
BASELINE_IMPORT = "import chalice, boto3, pynamodb.models, jwt, pydantic; from pydantic import BaseModel"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/api/tenant"

# The child: time `import app`, the handler's first call, then five warm calls. The Lambda
# context carries only what handlers read (deadline, names).
_CHILD = """
import json, sys, time
spec = json.loads(sys.argv[1])
class Context:
    function_name = spec["handler"]
    aws_request_id = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self):
        return 300000
started = time.perf_counter()
import app
imported = time.perf_counter()
if "module" in spec:
    import importlib
    handler = getattr(importlib.import_module(spec["module"]), spec["attribute"])
else:
    handler = app.app.handler_map[spec["handler"]] if spec["handler"] != "app" else app.app
answer = handler(spec["event"], Context())
first = time.perf_counter()
warm = []
for _ in range(5):
    started_call = time.perf_counter()
    handler(spec["event"], Context())
    warm.append(time.perf_counter() - started_call)
warm.sort()
answer = answer if isinstance(answer, dict) else {}
if "statusCode" in answer:
    outcome = str(answer["statusCode"])
elif "batchItemFailures" in answer:
    outcome = f"{len(answer['batchItemFailures'])} failed"
elif "policyDocument" in answer:
    outcome = answer["policyDocument"]["Statement"][0]["Effect"]
elif "tenants_failed" in answer:
    outcome = f"{answer.get('tenants_processed')} tenants, {len(answer['tenants_failed'])} failed"
else:
    outcome = "-"
print(json.dumps({"import": imported - started, "first": first - imported, "warm": warm[2],
                  "outcome": outcome}))
"""
_BASELINE_CHILD = ("import time; t=time.perf_counter(); " + BASELINE_IMPORT
                   + "; print(time.perf_counter()-t)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _local_aws() -> Iterator[dict[str, str]]:
    """moto's server on a free port, bootstrapped; yields the environment pointing at it."""
    from chalicelib.local.environment import local_aws_environment
    from chalicelib.local.motoserver import IsolatingMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log, one line per call
    port = _free_port()
    server = IsolatingMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield local_aws_environment(port)
    finally:
        server.stop()


def _api_event(method: str, path: str, token: str, tenant_id: str, body: dict[str, Any] | None = None) -> dict[
        str, Any]:
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-ID": tenant_id, "Host": "api.localhost",
               "Content-Type": "application/json"}
    return {
        "resource": path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": method, "stage": "api", "requestId": "bench",
                           "path": f"/api{path}", "identity": {"sourceIp": "127.0.0.1"}},
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


def _sqs_event(queue: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "bench", "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {"tenant_id": {"stringValue": body["tenant_id"], "dataType": "String"}},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
        "awsRegion": "us-east-1"}]}


def _authorizer_handler(app: Any) -> str:
    """The authorizer as Lambda loads it: the module and name chalice writes as its handler."""
    from chalicelib.ratelimit.authorizer import AUTHORIZER_NAME

    [auth] = [a for a in app.builtin_auth_handlers if a.name == AUTHORIZER_NAME]
    return str(auth.handler_string)


def _functions(admin_token: str, tenant_token: str, tenant_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, handler, event) for every function of the app, the API with three routes."""
    from chalice.app import ScheduledEventConfig, SQSEventConfig

    from app import app
    from chalicelib.local.pump import scheduled_event

    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("authorizer (platform token)", _authorizer_handler(app),
         {"type": "TOKEN", "authorizationToken": f"Bearer {admin_token}", "methodArn": METHOD_ARN}),
        ("api GET /api/health", "app", _api_event("GET", "/api/health", tenant_token, tenant_id)),
        ("api GET /api/tenant", "app", _api_event("GET", "/api/tenant", tenant_token, tenant_id)),
        ("api GET /api/professionals", "app", _api_event("GET", "/api/professionals", tenant_token, tenant_id)),
        ("api POST /api/customers (seals PII)", "app", _api_event(
            "POST", "/api/customers", tenant_token, tenant_id,
            {"name": "Ana Ruiz", "email": "ana@bench.example"})),
    ]
    for source in sorted(app.event_sources, key=lambda s: s.name):
        if isinstance(source, ScheduledEventConfig):
            rows.append((f"schedule {source.name}", source.name, scheduled_event(source.name, "us-east-1")))
        elif isinstance(source, SQSEventConfig):
            body = {"tenant_id": tenant_id, "export_id": str(uuid.uuid4()), "step": 1,
                    "rotation_id": str(uuid.uuid4()), "notification_id": str(uuid.uuid4()), "Records": []}
            rows.append((f"queue {source.name} (missing record)", source.name, _sqs_event(source.queue, body)))
    return rows


def _run_child(env: dict[str, str], handler: str, event: dict[str, Any]) -> dict[str, Any]:
    """``handler``: "app" (the API), a handler_map name, or "module.attribute"."""
    spec: dict[str, Any] = {"handler": handler, "event": event}
    if "." in handler:
        spec["module"], _, spec["attribute"] = handler.rpartition(".")
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec)],
                          cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{handler} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _baseline(env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", _BASELINE_CHILD], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, check=True, timeout=60)
    return float(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Row]:
    from chalicelib.entry.process import reset

    runs = 1 if quick else 3
    saved = dict(os.environ)
    key = SigningKey.generate()
    try:
        with _local_aws() as aws_env:
            for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
                del os.environ[name]
            env = {**bench_environment(key), **aws_env}
            os.environ.update(env)
            reset()
            from chalicelib.local.bootstrap import bootstrap
            from chalicelib.settings import get_settings

            with quiet_request_logs():
                bootstrap(get_settings())
                tenant = create_tenant("bench-cold")
                admin_token, tenant_token = key.token(role="platform_admin"), key.token(tenant_id=tenant.id)
            functions = _functions(admin_token, tenant_token, str(tenant.id))
            # Bytecode written by the first run, as for bench_cold_import (PYTHONDONTWRITEBYTECODE dropped).
            child_env = {k: v for k, v in os.environ.items()
                         if not k.startswith("AWS_ENDPOINT_URL_") and k != "PYTHONDONTWRITEBYTECODE"}
            # Logs of the children go to their stderr, which is not shown.
            base: list[float] = []
            samples: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in functions}
            _baseline(child_env)
            _run_child(child_env, "app", functions[1][2])  # bytecode written, files in the page cache
            for _ in range(runs):
                base.append(_baseline(child_env))
                for label, handler, event in functions:
                    samples[label].append(_run_child(child_env, handler, event))
    finally:
        reset()
        os.environ.clear()
        os.environ.update(saved)
    base_ms = median(base) * 1000
    rows = [Row(NAME, f"libraries + BaseModel import, median of {runs}", base_ms, "ms")]
    for label, _, _ in functions:
        got = samples[label]
        imp, first, warm = (median([s[k] for s in got]) * 1000 for k in ("import", "first", "warm"))
        outcome = got[-1]["outcome"]
        rows += [
            Row(NAME, f"{label}: import app", imp, "ms"),
            Row(NAME, f"{label}: first call ({outcome})", first, "ms"),
            Row(NAME, f"{label}: cold path (import + first call)", imp + first, "ms"),
            Row(NAME, f"{label}: cold path / libraries import", ratio(imp + first, base_ms), "x"),
            Row(NAME, f"{label}: warm call (median of the next 5)", warm, "ms"),
        ]
    return rows
