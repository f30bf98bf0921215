"""Route helpers shared by the network's entities: ids, ETags, preconditions, lists."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.errors import AppError, NotFoundError

# A version, optionally with a suffix for parts of a response that are not versioned
# with it (the public branding's analytics ids); the version alone is what If-Match checks.
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,12})(?:-[0-9a-f]{8})?"?$')


class PreconditionFailedError(AppError):
    status, code, title = 412, "precondition_failed", "The resource was changed by someone else"


class PreconditionRequiredError(AppError):
    status, code, title = 428, "precondition_required", "If-Match or version is required"


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


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=25, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=4096)


def page_body(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": [i.model_dump(mode="json") for i in items], "next_cursor": next_cursor}
