"""Every stored configuration setting is read by some code (issue 19, finding 7).

Walks the configuration schema (``config/models.py::Configuration``) and, for each leaf
setting, looks for its name as a string literal (docstrings excluded) in the
application's modules other than the schema itself: ``setting(tenant, "referrals",
"auto_expiry_days")``, ``configuration["features"]["referrals"]`` or an event name in a
table of events. A setting no code names is stored, versioned and audited for nothing:
the test fails for it, so a new setting cannot be added and ignored. There are no
exceptions: the last unread settings were made to take effect (``general.timezone``,
``general.date_format``) or removed with a migration (``config/models.py::REMOVED_SETTINGS``).
"""
from __future__ import annotations

import ast
from pathlib import Path

from pydantic import BaseModel

from chalicelib.config.models import Configuration, Notifications

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "chalicelib" / "config" / "models.py"
# The OpenAPI examples name settings as sample data; naming one there is not reading it.
EXAMPLES = ROOT / "chalicelib" / "meta" / "examples.py"


def settings() -> dict[str, str]:
    """``section.name`` -> the name code would use to read it (notification events are leaves)."""
    leaves: dict[str, str] = {}
    for section, field in Configuration.model_fields.items():
        model = field.default_factory
        assert isinstance(model, type) and issubclass(model, BaseModel), section
        for name in model.model_fields:
            leaves[f"{section}.{name}"] = name
    return leaves


def _literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


def named_in_code() -> set[str]:
    found: set[str] = set()
    for path in [*(ROOT / "chalicelib").rglob("*.py"), ROOT / "app.py"]:
        if path not in (SCHEMA, EXAMPLES):
            found |= _literals(path)
    return found


def test_the_walk_sees_every_section_and_event():
    leaves = settings()
    assert {k.split(".")[0] for k in leaves} == set(Configuration.model_fields)
    assert {f"notifications.{e}" for e in Notifications.model_fields} <= set(leaves)


def test_every_setting_is_read_by_some_code():
    named = named_in_code()
    unread = sorted(path for path, name in settings().items() if name not in named)
    assert unread == [], "stored settings that no code reads"
