"""The error hierarchy and the one place that maps errors to problem+json.

Each class carries ``status``, ``code`` and ``title`` (RFC 9457 problem details).
``detail`` is written for the client and must never hold stored values, tracebacks,
ARNs or other internals; ``extra`` adds documented machine-readable members.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequestError(AppError):
    status, code, title = 400, "bad_request", "Bad request"


class InvalidJsonError(BadRequestError):
    code, title = "invalid_json", "Request body is not valid JSON"


class UnauthorizedError(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class ForbiddenError(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class TenantMismatchError(ForbiddenError):
    code, title = "tenant_mismatch", "Tenant sources disagree"


class TenantSuspendedError(ForbiddenError):
    code, title = "tenant_suspended", "Tenant is suspended"


class NotFoundError(AppError):
    status, code, title = 404, "not_found", "Not found"


class TenantNotFoundError(NotFoundError):
    code, title = "tenant_not_found", "Tenant not found"


class ConflictError(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailedError(AppError):
    status, code, title = 412, "precondition_failed", "The resource was changed by someone else"


class PreconditionRequiredError(AppError):
    status, code, title = 428, "precondition_required", "If-Match or version is required"


class PayloadTooLargeError(AppError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class RateLimitedError(AppError):
    """The tenant's rate limit or daily quota is used up; ``headers`` say when to retry."""

    status, code, title = 429, "rate_limited", "Too many requests"


class RequestValidationError(AppError):
    status, code, title = 422, "validation_error", "Request validation failed"


class InternalError(AppError):
    """Anything unexpected: the client learns nothing but the request id."""


class ServiceUnavailableError(AppError):
    status, code, title = 503, "service_unavailable", "Service temporarily unavailable"


def problem_body(error: AppError, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://errors.platform.example/{error.code}",
        "title": error.title,
        "status": error.status,
        "code": error.code,
        "detail": error.detail,
        "request_id": request_id,
    }
    for key, value in error.extra.items():
        body.setdefault(key, value)
    return body


def validation_error_from_pydantic(exc: Any, *, location: str = "body") -> RequestValidationError:
    """422 listing field paths and error codes, never the offending values."""
    errors = [
        {
            "loc": [location, *[str(part) for part in err.get("loc", ())]],
            "type": err.get("type", "value_error"),
            "msg": _safe_message(err),
        }
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return RequestValidationError(
        f"{len(errors)} invalid field(s) in the {location}", extra={"errors": errors}
    )


def _safe_message(err: dict[str, Any]) -> str:
    # Pydantic messages for custom validators may quote input; ours never do, and the
    # built-in messages describe constraints ("String should have at most 63 characters").
    return str(err.get("msg", "invalid value"))[:200]


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or during, outermost first, once each.

    Libraries wrap the error that matters: pynamodb keeps botocore's as ``cause``, the
    Encryption SDK raises its own ``from`` a ``ClientError``; our errors chain with ``from``.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else (current.__cause__ or current.__context__)
