"""The errors of referrals (here, not in ``service``, so routes declare them without
importing the service: docs/cold-start.md)."""
from __future__ import annotations

from chalicelib.errors import AppError, ConflictError, ForbiddenError, RequestValidationError


class InvalidReferenceError(AppError):
    status, code, title = 422, "invalid_reference", "A referenced item does not exist or is not active"

    def __init__(self, fields: list[str]) -> None:
        errors = [{"loc": ["body", f], "type": "invalid_reference", "msg": "no such active item in this tenant"}
                  for f in fields]
        super().__init__(f"invalid reference(s): {', '.join(fields)}", extra={"errors": errors})


class FeatureDisabledError(ForbiddenError):
    code, title = "feature_disabled", "This feature is turned off for this network"


class CategoryNotAllowedError(RequestValidationError):
    code, title = "category_not_allowed", "This service category may not be referred"


class InvalidTransitionError(ConflictError):
    code, title = "invalid_transition", "This status change is not allowed"
