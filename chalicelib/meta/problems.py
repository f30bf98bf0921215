"""Which problem+json errors an operation may answer, by status, with their ``code`` values.

Most follow from how the route is declared (its access, body, query, path parameters and
If-Match rule: the pipeline in entry/routes.py raises them); the rest are the errors
the route itself declares with ``errors=(...)`` beside its decorator.
"""
from __future__ import annotations

import re
from typing import Any

from chalicelib.crypto.errors import KeyServiceUnavailableError
from chalicelib.cursors import InvalidCursorError
from chalicelib.errors import (
    AppError,
    ForbiddenError,
    InternalError,
    InvalidJsonError,
    NotFoundError,
    PayloadTooLargeError,
    PreconditionFailedError,
    PreconditionRequiredError,
    RateLimitedError,
    RequestValidationError,
    TenantMismatchError,
    TenantNotFoundError,
    TenantSuspendedError,
    UnauthorizedError,
)
from chalicelib.store.data import ConcurrentWriteError
from chalicelib.store.faults import StoreUnavailableError

PATH_PARAMETER = re.compile(r"{([^}]+)}")


def errors_of(spec: Any, method: str, path: str) -> list[type[AppError]]:
    """Every error class ``spec``'s route may answer with, in status order, no repeats."""
    found: list[type[AppError]] = []
    if method != "get" and spec.access in ("tenant", "platform"):
        # Every write is a transaction; one that loses a race with another is refused whole.
        found.append(ConcurrentWriteError)
    if spec.access in ("tenant", "platform"):
        found += [UnauthorizedError, ForbiddenError, StoreUnavailableError, KeyServiceUnavailableError]
    if spec.access in ("tenant", "public_tenant"):
        found += [TenantMismatchError, TenantSuspendedError, TenantNotFoundError, RateLimitedError,
                  StoreUnavailableError]
    if PATH_PARAMETER.search(path):
        found.append(NotFoundError)
    if spec.body is not None:
        found += [InvalidJsonError, PayloadTooLargeError, RequestValidationError]
    if spec.query is not None:
        found.append(RequestValidationError)
        if "cursor" in spec.query.model_fields:
            found.append(InvalidCursorError)
    if spec.if_match is not None:
        found.append(PreconditionFailedError)
    if spec.if_match == "required":
        found.append(PreconditionRequiredError)
    found += list(spec.errors)
    found.append(InternalError)
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda error: error.status)


def by_status(errors: list[type[AppError]]) -> dict[int, list[type[AppError]]]:
    grouped: dict[int, list[type[AppError]]] = {}
    for error in errors:
        codes = grouped.setdefault(error.status, [])
        if error.code not in {e.code for e in codes}:
            codes.append(error)
    return grouped


def example(error: type[AppError]) -> dict[str, Any]:
    """The problem document a client receives for ``error`` (what errors.problem_body writes)."""
    return {
        "summary": error.title,
        "value": {
            "type": f"https://errors.platform.example/{error.code}",
            "title": error.title,
            "status": error.status,
            "code": error.code,
            "detail": error.title,
            "request_id": "3f2b9c1e-0d4a-4f6b-8e2c-7a1d5b9c0e3f",
        },
    }
