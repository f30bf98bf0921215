"""The limits' errors: a refused create or upload names the limit and the usage."""
from __future__ import annotations

from chalicelib.errors import ForbiddenError


class LimitExceededError(ForbiddenError):
    """403 ``limit_exceeded``: the body says which limit, its value and the current usage."""

    code, title = "limit_exceeded", "A limit of the tenant's plan is reached"

    def __init__(self, resource: str, *, limit: int, usage: int) -> None:
        super().__init__(f"the {resource} limit of this tenant is reached ({usage} of {limit})",
                         extra={"resource": resource, "limit": limit, "usage": usage})
