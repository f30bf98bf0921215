"""The OpenAPI document passes Spectral's OpenAPI ruleset (``spectral:oas``) with nothing to report.

Spectral is a maintained linter (Stoplight); it is installed from package.json by
``make install``/``make test`` into node_modules/. Our own rules, which Spectral's do not
cover (operationIds and tags beside each route, per-status problem codes, the tenant and
If-Match parameters), are in test_openapi_document.py.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import ROOT

SPECTRAL = ROOT / "node_modules" / ".bin" / "spectral"
LINT_TIMEOUT = 180


def test_spectral_oas_ruleset_reports_nothing(tmp_path: Path):
    from app import app
    from chalicelib.meta.openapi import build_openapi

    assert SPECTRAL.exists(), "Spectral is not installed: run `make install` (npm ci)"
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(build_openapi(app, "tenant-platform API", [{"url": "http://127.0.0.1:8000"}])))
    result = subprocess.run(
        [str(SPECTRAL), "lint", str(document), "--ruleset", str(ROOT / ".spectral.yaml"), "--format", "json",
         "--fail-severity", "hint", "--quiet"],
        capture_output=True, text=True, timeout=LINT_TIMEOUT, cwd=ROOT,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], [(f["code"], f["message"], ".".join(map(str, f["path"]))) for f in findings[:20]]
    assert result.returncode == 0, result.stderr
