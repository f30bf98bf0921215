"""``make sdk``: a Python client generated from the OpenAPI document, ready to ``pip install``.

The generator is openapi-python-client (pinned in requirements-dev.txt): it names each
function after its route's ``operationId`` and puts it in the module of its tag
(``tenant_platform_client.api.network.create_professional``). Generation fails on any
generator warning (``--fail-on-warning``): a warning means part of the API was skipped.

    python -m chalicelib.local.sdk [--url http://127.0.0.1:8000/api/openapi.json] [--out build/sdk]

Without ``--url`` the document is built in-process from the route table (no server needed).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from app import app
from chalicelib.meta.openapi import build_openapi

PACKAGE = "tenant_platform_client"
PROJECT = "tenant-platform-client"
DEFAULT_OUT = Path("build") / "sdk"
GENERATOR_TIMEOUT = 300
CONFIG = f"project_name_override: {PROJECT}\npackage_name_override: {PACKAGE}\n"


class SdkGenerationError(RuntimeError):
    pass


def local_document() -> dict[str, Any]:
    """The document as ``make run`` serves it, built from the route table without a server."""
    return build_openapi(app, "tenant-platform API", [{"url": "http://127.0.0.1:8000", "description": "make run"}])


def generate(out: Path, *, url: str | None = None, document: dict[str, Any] | None = None) -> str:
    """Write the client project to ``out`` (replaced); the generator's output. Raises on warnings."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    # The generator formats its output with ruff (its post hooks): the venv's.
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.yaml"
        config.write_text(CONFIG)
        source = ["--url", url] if url else ["--path", str(Path(scratch) / "openapi.json")]
        if url is None:
            (Path(scratch) / "openapi.json").write_text(json.dumps(document or local_document()))
        result = subprocess.run(  # noqa: S603 (the venv's generator, arguments built here)
            [str(bin_dir / "openapi-python-client"), "generate", *source, "--config", str(config),
             "--meta", "setup", "--output-path", str(out), "--overwrite", "--fail-on-warning"],
            capture_output=True, text=True, env=env, timeout=GENERATOR_TIMEOUT,
        )
    output = result.stdout + result.stderr
    if result.returncode != 0 or "warning" in output.lower():
        raise SdkGenerationError(f"openapi-python-client failed or warned:\n{output}")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make sdk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="read the document from a running API instead of building it")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        generate(args.out, url=args.url)
    except SdkGenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}/ (package {PACKAGE}): pip install {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
