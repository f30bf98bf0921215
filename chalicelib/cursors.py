"""The one pagination cursor codec: opaque, signed, bound to what it lists, one error.

A cursor is DynamoDB's ``LastEvaluatedKey`` with the *scope* it was made for (the bound
tenant's data, the tenant registry listing, the platform trail), base64url-encoded, then
``.`` and an HMAC-SHA256 of that text under ``CURSOR_SIGNING_KEY`` (settings). A cursor
is accepted only with a valid signature (so a client cannot rewrite the key to resume
anywhere it can name), only for the same scope (a cursor from tenant A is refused in
tenant B), and only when its key has the exact shape that listing makes (``accept``).
The guard still refuses any key outside the bound tenant, so these checks are the
friendly 400, not the only wall. Every refusal is :class:`InvalidCursorError`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from chalicelib.errors import BadRequestError
from chalicelib.settings import get_settings

Key = dict[str, Any]


class InvalidCursorError(BadRequestError):
    code, title = "invalid_cursor", "Invalid pagination cursor"


def encode(scope: str, last_key: Key | None) -> str | None:
    """The cursor that resumes after ``last_key`` in ``scope``; None at the end of a listing."""
    if not last_key:
        return None
    text = json.dumps({"s": scope, "k": last_key}, separators=(",", ":"), sort_keys=True)
    payload = _b64encode(text.encode())
    return f"{payload}.{_signature(payload)}"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signature(payload: str) -> str:
    key = get_settings().cursor_signing_key.encode()
    return _b64encode(hmac.new(key, b"cursor:" + payload.encode(), hashlib.sha256).digest())


def _string_key(key: Any) -> dict[str, str]:
    """``{"pk": {"S": "..."}, ...}`` as ``{"pk": "..."}``; anything else is malformed."""
    if not isinstance(key, dict) or not key:
        raise ValueError("not a key")
    values = {}
    for name, value in key.items():
        if not isinstance(value, dict) or set(value) != {"S"} or not isinstance(value["S"], str):
            raise ValueError("not a string attribute")
        values[name] = value["S"]
    return values


def decode(scope: str, cursor: str | None, accept: Callable[[dict[str, str]], bool]) -> Key | None:
    """The key to resume from, if ``cursor`` was made for ``scope`` and ``accept`` takes its
    attributes (names to string values); otherwise :class:`InvalidCursorError`."""
    if not cursor:
        return None
    payload, _, signature = cursor.partition(".")
    if not hmac.compare_digest(signature.encode(), _signature(payload).encode()):
        raise InvalidCursorError("the cursor was not issued by this service")
    try:
        document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        made_for, values = document["s"], _string_key(document["k"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidCursorError("the cursor is malformed") from None
    if made_for != scope:
        raise InvalidCursorError("the cursor does not belong to this listing")
    if not accept(values):
        raise InvalidCursorError("the cursor is malformed")
    return {name: {"S": value} for name, value in values.items()}
