"""Function-level imports of our own modules are cold-start deferrals, each with its reason.

Issue 16 moved every import to module level (cycles gone, layering enforced by
import-linter), except where importing later is measured to matter: a Lambda's cold start
(chalicelib/lazy.py, docs/cold-start.md) or a local command that must set its environment
first. Such an import stands in a block of imports headed by a comment that says why.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT


def _block_start(lines: list[str], index: int) -> int:
    """The first line of the import block that holds line ``index`` (0-based)."""
    while index > 0:
        above = lines[index - 1].strip()
        if above.startswith(("from ", "import ")) or above in ("", ")") or above.endswith((",", "(")):
            index -= 1
            continue
        return index
    return index


def deferred_imports_without_a_reason() -> list[str]:
    found = []
    for path in sorted([*(ROOT / "chalicelib").rglob("*.py"), ROOT / "app.py"]):
        text = path.read_text()
        lines = text.splitlines()
        for function in ast.walk(ast.parse(text)):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                if not any(n == "app" or n.split(".")[0] == "chalicelib" for n in names):
                    continue
                start = _block_start(lines, node.lineno - 1)
                heading = lines[start - 1].strip() if start > 0 else ""
                if "#" not in lines[node.lineno - 1] and not heading.startswith("#"):
                    found.append(f"{Path(path).relative_to(ROOT)}:{node.lineno} in {function.name}")
    return found


def test_every_function_level_import_of_our_modules_says_why_it_is_deferred():
    assert deferred_imports_without_a_reason() == []


def test_the_check_sees_an_import_without_a_reason(tmp_path, monkeypatch):
    from tests.unit import test_deferred_imports as module

    (tmp_path / "chalicelib").mkdir()
    (tmp_path / "chalicelib" / "x.py").write_text(
        "def f():\n    x = 1\n    from chalicelib import settings\n    return settings\n\n\n"
        "def g():\n    # Deferred: measured.\n    import boto3\n\n    from chalicelib import (\n        clock,\n    )\n"
        "    return clock\n")
    (tmp_path / "app.py").write_text("")
    monkeypatch.setattr(module, "ROOT", tmp_path)

    assert module.deferred_imports_without_a_reason() == ["chalicelib/x.py:3 in f"]
