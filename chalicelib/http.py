"""HTTP plumbing shared by every route: the current request, request ids, bodies, replies,
path ids, ETags and preconditions, list queries and pages."""
import functools
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from chalice import Chalice, Response
from chalice.app import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from chalicelib.errors import (
    PROBLEM_CONTENT_TYPE,
    AppError,
    InvalidJsonError,
    NotFoundError,
    PayloadTooLargeError,
    PreconditionFailedError,
    PreconditionRequiredError,
    problem_body,
    validation_error_from_pydantic,
)
from chalicelib.fields import Model

MAX_BODY_BYTES = 256 * 1024
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
JSON = "application/json"

_app: Chalice | None = None


def bind_app(app: Chalice) -> None:
    """Called once by app.py so decorators can reach ``current_request``."""
    global _app
    _app = app


def current_app() -> Chalice:
    if _app is None:
        raise RuntimeError("http.bind_app(app) was not called")
    return _app


def current_request() -> Request:
    request = current_app().current_request
    if request is None:
        raise RuntimeError("no current request")
    return request


def request_id_for(request: Request) -> str:
    """The caller's ``X-Request-ID`` when well-formed, else API Gateway's id, else a new one."""
    headers: Any = request.headers or {}
    given = headers.get(REQUEST_ID_HEADER.lower())
    if given and _REQUEST_ID.fullmatch(given):
        return given
    context_id = (request.context or {}).get("requestId")
    if isinstance(context_id, str) and _REQUEST_ID.fullmatch(context_id):
        return context_id
    return str(uuid.uuid4())


def parse_body(request: Request, model: type[BaseModel]) -> BaseModel:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"request bodies are limited to {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise InvalidJsonError("the body must be a JSON document") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc) from None


@functools.cache
def page_of(item: type[BaseModel]) -> type[BaseModel]:
    """The model of a list answer, ``{"items": [item, ...], "next_cursor": str | null}``: the
    OpenAPI document declares it, so clients and the fuzzing suite can check list responses."""
    return create_model(f"{item.__name__}Page", __base__=Model,
                        items=(list[item], ...),  # type: ignore[valid-type]
                        next_cursor=(str | None, ...))


@dataclass
class Reply:
    """A view's answer when it needs a status or headers other than the route's default."""

    body: BaseModel | dict[str, Any] | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _dump(body: BaseModel | dict[str, Any] | None) -> str:
    if body is None:
        return ""
    if isinstance(body, BaseModel):
        return body.model_dump_json()
    return json.dumps(body, default=str)


def render(result: Any, default_status: int, request_id: str) -> Response:
    reply = result if isinstance(result, Reply) else Reply(result, default_status)
    if reply.body is None and reply.status == 200:
        reply.status = 204
    headers: dict[str, str | list[str]] = {REQUEST_ID_HEADER: request_id, **reply.headers}
    if reply.body is not None:
        headers.setdefault("Content-Type", JSON)
    return Response(body=_dump(reply.body), status_code=reply.status, headers=headers)


def problem(error: AppError, request_id: str) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": PROBLEM_CONTENT_TYPE, REQUEST_ID_HEADER: request_id,
                                           **error.headers}
    return Response(body=json.dumps(problem_body(error, request_id)), status_code=error.status, headers=headers)


# ---- ids, ETags and preconditions, lists ----------------------------------------------

# A version, optionally with a suffix for parts of a response that are not versioned
# with it (the public branding's analytics ids); the version alone is what If-Match checks.
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,12})(?:-[0-9a-f]{8})?"?$')


def parse_id(value: str) -> UUID:
    """A path id; anything that is not a UUID names nothing (404, not 400 or 500)."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFoundError() from None


def etag(version: int, extra: Any = None) -> str:
    if extra is None:
        return f'"{version}"'
    digest = hashlib.sha256(json.dumps(extra, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f'"{version}-{digest}"'


def expected_version(if_match: str | None, body_version: int | None) -> int:
    """The version the client edits from: ``If-Match`` or the body's ``version``."""
    if if_match:
        match = _ETAG.match(if_match.strip())
        if not match:
            raise PreconditionFailedError("If-Match must be an ETag this API returned")
        version = int(match.group(1))
        if body_version is not None and body_version != version:
            raise PreconditionFailedError("If-Match and version disagree")
        return version
    if body_version is not None:
        return body_version
    raise PreconditionRequiredError("send If-Match (the ETag you read) or version")


class ListQuery(Model):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=25, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=4096)


def page_body(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": [i.model_dump(mode="json") for i in items], "next_cursor": next_cursor}
