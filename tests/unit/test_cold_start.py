"""Cold start (issue 22): what a function imports before it does anything, and the helper
that defers the rest (chalicelib/lazy.py).

The failure these prevent: a module-level import of the Encryption SDK, S3 transfer
(boto3 pulls it in) or a provider's SDK creeping back into ``import app``. Every
function (the authorizer in front of every tenant request included) would pay for it at
each cold start again, and nothing else would notice. The import path is checked in a
fresh interpreter, as Lambda starts one, since this test process has loaded everything.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from chalicelib import lazy

ROOT = Path(__file__).resolve().parents[2]
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/api/tenant"
# Loaded on first use only: sealing PII, S3 transfers, sending through a provider.
NOT_ON_THE_AUTHORIZER_PATH = (
    "aws_encryption_sdk", "chalicelib.crypto.envelope",
    "boto3", "s3transfer",
    "smtplib", "chalicelib.integrations.providers.email", "chalicelib.integrations.providers.sms",
)

# The authorizer as Lambda runs it: ``import app``, its handler's module (chalice's
# handler string), then one token through the verifier. The token is expired, so the
# answer is Unauthorized before any AWS call (this runs without moto).
_AUTHORIZER_CHILD = """
import importlib, json, sys
import app
[auth] = [a for a in app.app.builtin_auth_handlers if a.name == "tenant_usage_key"]
module, _, name = auth.handler_string.rpartition(".")
handler = getattr(importlib.import_module(module), name)
try:
    handler({"type": "TOKEN", "authorizationToken": sys.argv[1], "methodArn": sys.argv[2]}, None)
    outcome = "answered"
except Exception as exc:
    outcome = str(exc)
print(json.dumps({"outcome": outcome, "modules": sorted(sys.modules)}))
"""


def _run_child(code: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_authorizers_cold_path_loads_no_encryption_sdk_s3_transfer_or_provider_sdk(app_env, tokens):
    expired = tokens.token(role="platform_admin", member=False, ttl=-60)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}

    child = _run_child(_AUTHORIZER_CHILD, env, f"Bearer {expired}", METHOD_ARN)

    assert child["outcome"] == "Unauthorized"  # the verifier ran: JWKS, signature, claims
    assert "chalicelib.auth.tokens" in child["modules"]
    loaded = set(child["modules"])
    assert [m for m in NOT_ON_THE_AUTHORIZER_PATH if m in loaded] == []
    assert not any(m.startswith(("aws_encryption_sdk.", "s3transfer.")) for m in loaded)


def test_import_app_declares_every_route_without_importing_their_services(app_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    code = ("import json, sys, app; print(json.dumps({'routes': sum(len(m) for m in app.app.routes.values()), "
            "'modules': sorted(sys.modules)}))")

    child = _run_child(code, env)

    from app import app

    assert child["routes"] == sum(len(methods) for methods in app.routes.values())
    services = [m for m in child["modules"] if m.startswith("chalicelib.") and m.endswith(".service")]
    assert [m for m in services if m != "chalicelib.config.service"] == []  # config's holds its view models
    assert "chalicelib.store.data" not in child["modules"]


class TestDeferredModule:
    def test_imports_the_module_on_first_attribute_read_only(self, tmp_path, monkeypatch):
        name = "cold_start_probe_module"
        (tmp_path / f"{name}.py").write_text("x = 1\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, name, raising=False)

        deferred = lazy.module(name)
        assert name not in sys.modules
        assert deferred.x == 1
        assert sys.modules[name].x == 1
        monkeypatch.delitem(sys.modules, name)

    def test_writes_reach_the_module_so_monkeypatching_it_works(self):
        target = _module("chalicelib_test_write_target", value="old")
        sys.modules[target.__name__] = target
        try:
            deferred = lazy.module(target.__name__)
            deferred.value = "new"
            assert target.value == "new"
            del deferred.value
            assert not hasattr(target, "value")
        finally:
            del sys.modules[target.__name__]

    def test_an_unknown_attribute_is_an_attribute_error(self):
        deferred = lazy.module("chalicelib.clock")
        with pytest.raises(AttributeError):
            _ = deferred.no_such_name


class TestExports:
    def test_a_package_re_export_imports_its_module_when_first_read(self):
        import chalicelib.limits as limits

        answer = limits.__getattr__("LimitExceededError")

        from chalicelib.limits.errors import LimitExceededError

        assert answer is LimitExceededError
        assert vars(limits)["LimitExceededError"] is LimitExceededError  # cached on the package

    def test_a_name_the_package_does_not_export_is_an_attribute_error(self):
        import chalicelib.limits as limits

        with pytest.raises(AttributeError, match="no_such_export"):
            limits.__getattr__("no_such_export")


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module
