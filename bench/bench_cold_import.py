"""Cold import of ``app`` in a fresh interpreter, against its main libraries alone.

A Lambda cold start pays for ``import app`` once per container. The baseline imports
only what the app cannot do without (chalice, boto3, pynamodb.models, jwt, pydantic),
so the ratio is what our own modules and their extra dependencies add. Each sample is
a new subprocess with the repository root as working directory; app and baseline runs
alternate, after one discarded run of each (bytecode written, files in the page cache).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench.harness import PROJECT_DIR, Row, median, ratio

NAME = "cold_import"
APP_IMPORT = "import app"
BASELINE_IMPORT = "import chalice, boto3, pynamodb.models, jwt, pydantic"
# ``import pydantic`` is lazy in pydantic 2: BaseModel (pydantic.main, pydantic-core's
# schema machinery) loads on first use. Any app with a model pays for it, so this second
# baseline shows how much of the gap is pydantic itself rather than our modules.
BASELINE_MODELS_IMPORT = BASELINE_IMPORT + "; from pydantic import BaseModel"
# app.py pauses the cyclic garbage collector while it loads (docs/cold-start.md), which
# speeds up the libraries it imports too: this baseline shows the ratio without that share.
BASELINE_MODELS_NO_GC_IMPORT = "import gc; gc.disable(); " + BASELINE_MODELS_IMPORT
GOAL_RATIO = 1.3
_TIMER = "import time; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t)"


def _env() -> dict[str, str]:
    # Importing must not depend on (or be slowed by) the caller's AWS endpoint or stage.
    # PYTHONDONTWRITEBYTECODE (set in some shells) would make every run compile our
    # sources while the libraries load their installed bytecode: the discarded first run
    # writes ours, as a packaged function would ship it (docs/cold-start.md).
    return {k: v for k, v in os.environ.items()
            if not k.startswith("AWS_ENDPOINT_URL") and k != "PYTHONDONTWRITEBYTECODE"}


def _python(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=PROJECT_DIR, env=_env(), capture_output=True, text=True, check=True, timeout=60,
    )


def import_seconds(stmt: str) -> float:
    return float(_python(_TIMER.format(stmt=stmt)).stdout.strip().splitlines()[-1])


def import_without_bytecode_seconds(runs: int) -> float:
    """``import app`` with our sources compiled at every start (the libraries keep their
    installed bytecode): what a deployment package without ``__pycache__`` costs, since
    Lambda cannot write bytecode next to the code."""
    with tempfile.TemporaryDirectory(prefix="cold-import-") as copy:
        shutil.copy(PROJECT_DIR / "app.py", copy)
        shutil.copytree(PROJECT_DIR / "chalicelib", Path(copy) / "chalicelib",
                        ignore=shutil.ignore_patterns("__pycache__"))
        env = {**_env(), "PYTHONDONTWRITEBYTECODE": "1"}
        samples = [float(subprocess.run([sys.executable, "-c", _TIMER.format(stmt=APP_IMPORT)], cwd=copy, env=env,
                                        capture_output=True, text=True, check=True, timeout=60).stdout.split()[-1])
                   for _ in range(runs)]
    return median(samples)


def _imported_modules(stmt: str, runs: int = 1) -> dict[str, int]:
    """Module -> self import time in microseconds, from ``python -X importtime``.

    The minimum over ``runs``: one slow sample (another process on the CPU) is noise.
    """
    modules: dict[str, int] = {}
    for _ in range(runs):
        for line in _python(stmt, "-X", "importtime").stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _cumulative, name = line.removeprefix("import time:").split("|", 2)
            name = name.strip()
            modules[name] = min(int(self_us), modules.get(name, int(self_us)))
    return modules


def _group(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "chalicelib" else parts[0]


def extra_import_by_package(runs: int, top: int = 6) -> tuple[list[tuple[str, float]], set[str]]:
    """What ``import app`` loads beyond the baseline, by self time in ms: third-party
    packages by top-level name, our own modules one by one."""
    app_modules = _imported_modules(APP_IMPORT, runs)
    baseline = set(_imported_modules(BASELINE_IMPORT))
    by_package: dict[str, int] = defaultdict(int)
    for name, self_us in app_modules.items():
        if name not in baseline:
            by_package[_group(name)] += self_us
    ranked = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [(pkg, us / 1000) for pkg, us in ranked], set(app_modules)


def run(quick: bool = False) -> list[Row]:
    runs = 3 if quick else 7
    import_seconds(APP_IMPORT)
    import_seconds(BASELINE_IMPORT)
    app_s: list[float] = []
    base_s: list[float] = []
    models_s: list[float] = []
    no_gc_s: list[float] = []
    for _ in range(runs):
        app_s.append(import_seconds(APP_IMPORT))
        base_s.append(import_seconds(BASELINE_IMPORT))
        models_s.append(import_seconds(BASELINE_MODELS_IMPORT))
        no_gc_s.append(import_seconds(BASELINE_MODELS_NO_GC_IMPORT))
    app_ms, base_ms, models_ms, no_gc_ms = (median(s) * 1000 for s in (app_s, base_s, models_s, no_gc_s))
    uncompiled_ms = import_without_bytecode_seconds(runs) * 1000
    profile_runs = 1 if quick else 3
    extra, app_modules = extra_import_by_package(profile_runs)
    mpl = importlib.util.find_spec("aws_cryptographic_material_providers") is not None
    encryption_sdk = any(m == "aws_encryption_sdk" for m in app_modules)

    rows = [
        Row(NAME, f"import app, median of {runs}", app_ms, "ms"),
        Row(NAME, f"import chalice+boto3+pynamodb+jwt+pydantic, median of {runs}", base_ms, "ms"),
        Row(NAME, "ratio app / libraries", ratio(app_ms, base_ms), "x", f"<= {GOAL_RATIO}"),
        Row(NAME, "app minus libraries", app_ms - base_ms, "ms"),
        Row(NAME, "libraries + from pydantic import BaseModel, median", models_ms, "ms"),
        Row(NAME, "ratio app / libraries with BaseModel loaded", ratio(app_ms, models_ms), "x", f"<= {GOAL_RATIO}"),
        Row(NAME, "libraries + BaseModel, collector paused as app.py does, median", no_gc_ms, "ms"),
        Row(NAME, "ratio app / libraries with BaseModel, collector paused in both", ratio(app_ms, no_gc_ms), "x"),
        Row(NAME, f"import app, our sources without bytecode (compiled), median of {runs}", uncompiled_ms, "ms",
            "package __pycache__ with the code"),
    ]
    rows += [Row(NAME, f"beyond libraries: {pkg} (self, min of {profile_runs})", ms, "ms") for pkg, ms in extra]
    rows += [
        Row(NAME, "import app loads aws_encryption_sdk", "yes" if encryption_sdk else "no", ""),
        Row(NAME, "aws-encryption-sdk[mpl] installed", "YES" if mpl else "no", "",
            "no (adds ~0.5 s per cold start)"),
    ]
    return rows
