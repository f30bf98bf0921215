"""Run by the ``synthesis`` fixture in a subprocess: synthesize every stage offline, then a control.

``python synthesize.py OUTDIR``: the stages go to OUTDIR (templates, metadata, validation
report), and ``dev`` with a platform domain to OUTDIR/domain; then a throwaway app with one queue that allows plain HTTP is checked by the
same cdk-nag configuration, and what it reported is written to OUTDIR/control.json, so
the suite proves the checks would fail an unacknowledged finding (a passing report alone
cannot tell "no finding" from "no check").
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs

INFRA = Path(__file__).resolve().parents[2] / "infra"
sys.path.insert(0, str(INFRA))

from main import add_checks, build, synth  # noqa: E402

# A stage given its platform domain (and a hosted zone): synthesized into OUTDIR/domain.
DOMAIN_CONTEXT = {"stages": "dev", "domain": "dev.platform.example", "hosted_zone_id": "Z0123456789EXAMPLE"}


def stages(outdir: Path, extra: dict[str, str] | None = None) -> int:
    context = {"stages": "dev,prod", "vendor_dependencies": "false", **(extra or {})}
    app = cdk.App(outdir=str(outdir), context=context)
    build(app)
    try:
        synth(app)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def control(outdir: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        app = cdk.App(outdir=scratch)
        stack = cdk.Stack(app, "control")
        sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.SQS_MANAGED)
        add_checks(app)
        try:
            app.synth()
            failed = False
        except RuntimeError:
            failed = True
        report = json.loads((Path(scratch) / "validation-report.json").read_text())
    rules = sorted({v["ruleName"] for p in report["pluginReports"] for v in p["violations"]})
    (outdir / "control.json").write_text(json.dumps({"failed": failed, "rules": rules}))


if __name__ == "__main__":
    target = Path(sys.argv[1])
    code = stages(target)
    code = code or stages(target / "domain", DOMAIN_CONTEXT)
    control(target)
    sys.exit(code)
