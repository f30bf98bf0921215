"""The current-version pointer of a versioned document (configuration, branding).

One item per document, ``T#<tenant>#<KIND>`` / ``CURRENT``: the version number, the
stored document (for configuration: the overrides only), when and by whom. Written
only by ``versions.write`` in the same transaction as the version and its audit event.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.store import data, keys
from chalicelib.store.data import DataItem


@dataclass(frozen=True)
class Stored:
    version: int
    document: dict[str, Any]
    updated_at: str | None
    item: DataItem


def pointer_key(kind: str) -> tuple[str, str]:
    return data.partition(kind), keys.CURRENT_SK


def read(kind: str) -> Stored | None:
    """The bound tenant's current document of ``kind``, or None before its first write."""
    item = data.get(*pointer_key(kind))
    if item is None:
        return None
    return Stored(int(item.version or 1), data.loads(item.data), item.updated_at, item)
