"""Modules imported on first use, so each function's cold start pays only for its own path.

Every Lambda function of the app (the API, the authorizer, each schedule and queue
consumer) starts with ``import app``, which must declare every route and handler
(Chalice reads the route table at import). What a route or handler *runs* (its service,
the Encryption SDK, a provider's client) is needed only when it runs: a module bound
with :func:`module` is imported on its first attribute access, by whichever call gets
there first (Python's import lock makes that safe across threads).

The import-linter contract still sees the dependency: the binding module also names it
under ``TYPE_CHECKING``, which gives mypy the real module's types::

    if TYPE_CHECKING:
        from chalicelib.exports import service
    else:
        service = lazy.module("chalicelib.exports.service")

docs/cold-start.md has the figures.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


class DeferredModule:
    """Stands for the module ``name`` and imports it when an attribute is first read.

    Writes and deletes go to the module too (``monkeypatch.setattr(service, ...)`` in
    tests patches the real module, where its own functions look names up).
    """

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_module", None)

    def _load(self) -> ModuleType:
        module: ModuleType | None = object.__getattribute__(self, "_module")
        if module is None:
            module = importlib.import_module(object.__getattribute__(self, "_name"))
            object.__setattr__(self, "_module", module)
        return module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._load(), attribute)

    def __setattr__(self, attribute: str, value: Any) -> None:
        setattr(self._load(), attribute, value)

    def __delattr__(self, attribute: str) -> None:
        delattr(self._load(), attribute)

    def __repr__(self) -> str:
        name = object.__getattribute__(self, "_name")
        loaded = object.__getattribute__(self, "_module") is not None
        return f"<deferred module {name!r} ({'imported' if loaded else 'not imported yet'})>"


def module(name: str) -> Any:
    """A stand-in for the module ``name``, imported on first use (see the module docstring)."""
    return DeferredModule(name)


def exports(package: str, sources: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A package's module ``__getattr__`` (PEP 562): ``sources`` maps each module to the
    names the package re-exports from it; a module is imported when one of its names is
    first read.

    A package's ``__init__`` that imports its public face eagerly makes every import of
    any of its modules (``chalicelib.audit.models`` for a route's declaration) pay for all
    of them. The ``__init__`` keeps the same names under ``TYPE_CHECKING`` for mypy and the
    import-linter contract, and binds ``__getattr__`` to this outside it.
    """

    names = {name: source for source, exported in sources.items() for name in exported}

    def __getattr__(name: str) -> Any:
        try:
            source = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[package], name, value)  # later reads are plain attribute reads
        return value

    return __getattr__
