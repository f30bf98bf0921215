"""Synthesize the CDK app once per session, in a subprocess (synthesize.py), offline.

A subprocess because ``chalice package`` imports ``app.py`` with a stage's environment
and keeps it in ``sys.modules``: synthesizing in the test process would hand every
later test an ``app`` imported with the dev stage's settings. The functions' code is
packaged without its dependencies (``vendor_dependencies=false``), which needs no
network; the templates are those of a real deploy.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
STAGES = ("dev", "prod")

if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))


@dataclass(frozen=True)
class Synthesis:
    returncode: int
    output: str
    outdir: Path
    templates: dict[str, dict[str, Any]]
    report: dict[str, Any] | None
    control: dict[str, Any] | None
    # dev synthesized with a platform domain (synthesize.py DOMAIN_CONTEXT), and its report
    domain_template: dict[str, Any] | None = None
    domain_report: dict[str, Any] | None = None

    def template_path(self, stage: str) -> Path:
        return self.outdir / f"{stage}.template.json"


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    outdir = tmp_path_factory.mktemp("cdk.out")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("synthesize.py")), str(outdir)],
                          cwd=outdir, env=env, capture_output=True, text=True, timeout=600, check=False)
    # The stages, and any stack beside them (prod's DR-region stack, ``prod-dr``).
    templates = {path.name.removesuffix(".template.json"): json.loads(path.read_text())
                 for path in sorted(outdir.glob("*.template.json"))}
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    control_path = outdir / "control.json"
    control = json.loads(control_path.read_text()) if control_path.exists() else None
    domain_dir = outdir / "domain"
    domain_template = (json.loads((domain_dir / "dev.template.json").read_text())
                       if (domain_dir / "dev.template.json").exists() else None)
    domain_report = (json.loads((domain_dir / "validation-report.json").read_text())
                     if (domain_dir / "validation-report.json").exists() else None)
    return Synthesis(done.returncode, done.stdout + done.stderr, outdir, templates, report, control,
                     domain_template, domain_report)


@pytest.fixture(scope="session")
def templates(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    assert synthesis.returncode == 0, synthesis.output[-4000:]
    return synthesis.templates


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def one(template: dict[str, Any], kind: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    """The single resource of ``kind`` whose properties include ``properties``."""
    found = [(name, r) for name, r in resources(template, kind).items()
             if all(r["Properties"].get(k) == v for k, v in properties.items())]
    assert len(found) == 1, f"{len(found)} {kind} with {properties}"
    return found[0]
