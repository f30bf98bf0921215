"""What an audit event holds, how changes are redacted, and its canonical (hashed) form.

An event is a plain JSON document::

    {"id", "at", "tenant_id", "action", "actor": {"sub", "roles", "platform_admin", "type"},
     "target": {"kind", "id"}, "changes": {field: {"before", "after"}}, "details",
     "request_id", "source_ip", "user_agent"}

``changes`` lists every field whose value changed. PII fields (the caller names them,
from ``fields.pii_fields``) and fields whose name says secret (password, token,
api key...) are listed with ``"[redacted]"`` in place of any non-null value, at any
depth, so the trail shows *that* a contact's email changed but never the address.
The stored document is its canonical JSON (sorted keys, no spaces, ASCII); the digests
hash exactly that text.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from chalicelib import clock
from chalicelib.audit import ids
from chalicelib.audit.actions import Action
from chalicelib.tenancy.context import RequestOrigin, TenantContext

REDACTED = "[redacted]"
# Field names that hold secrets in configuration and integration documents.
_SECRET_NAME = re.compile(
    r"secret|passw(or)?d|token|api[_-]?key|private[_-]?key|credential|signing[_-]?key|authorization", re.I)


@dataclass(frozen=True)
class Target:
    kind: str
    id: str

    @property
    def ref(self) -> str:
        """``<kind>:<id>``: how the event's target is stored for filtering."""
        return f"{self.kind}:{self.id}"


def is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _json(value: Any) -> Any:
    """``value`` as JSON would give it back (UUIDs, datetimes and enums as strings)."""
    return json.loads(json.dumps(value, default=str))


def _scrub(value: Any) -> Any:
    """Secrets nested in a document (a configuration's ``api_key``) become ``[redacted]``."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret(str(k)) and v is not None else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _shown(name: str, value: Any, pii: frozenset[str]) -> Any:
    if value is None:
        return None
    if name in pii or is_secret(name):
        return REDACTED
    return _scrub(value)


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *,
            pii: frozenset[str]) -> dict[str, dict[str, Any]]:
    """Field-level ``{"before", "after"}`` of every field that differs; a create has no
    ``before`` and a delete no ``after`` (pass None). Values are compared in full, then
    PII and secrets are redacted, so a changed PII field is listed without its values."""
    old, new = _json(dict(before or {})), _json(dict(after or {}))
    return {
        name: {"before": _shown(name, old.get(name), pii), "after": _shown(name, new.get(name), pii)}
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }


def actor(source: TenantContext | RequestOrigin | None) -> dict[str, Any]:
    """Who acted: a verified principal, or the system (a scheduled job, a queue worker)."""
    principal = source.principal if source is not None else None
    if principal is None:
        return {"sub": None, "roles": [], "platform_admin": False, "type": "system"}
    return {"sub": principal.sub, "roles": sorted(principal.roles), "platform_admin": principal.is_platform_admin,
            "type": "user"}


def new_event(action: Action, target: Target, *, tenant_id: UUID | None, source: TenantContext | RequestOrigin | None,
              at: datetime, changes: dict[str, dict[str, Any]] | None = None,
              details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": ids.new_id(at),
        "at": clock.iso(at),
        "tenant_id": str(tenant_id) if tenant_id else None,
        "action": action.value,
        "actor": actor(source),
        "target": {"kind": target.kind, "id": target.id},
        "changes": changes or {},
        "details": _scrub(_json(details or {})),
        "request_id": source.request_id if source is not None else None,
        "source_ip": source.source_ip if source is not None else None,
        "user_agent": source.user_agent if source is not None else None,
    }


def canonical(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def event_hash(document: Mapping[str, Any]) -> str:
    return sha256(canonical(document))


def actor_ref(event: Mapping[str, Any]) -> str:
    """What the ``actor`` filter matches: the principal's ``sub``, or ``system``."""
    return event["actor"]["sub"] or "system"
