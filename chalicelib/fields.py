"""Field types and base models shared by the API's request and response bodies.

Bodies (:class:`Body`) reject unknown fields, so a body that sends a server-owned field
(``id``, ``tenant_id``, timestamps, ``version`` as data, key attributes) is a 422 and
nothing is stored; ``version`` in an update body is the precondition only, never written.
PII fields are marked ``x-pii`` (:data:`PII`): encryption, redaction in audit events and
the export inventory all follow :func:`pii_fields`.
"""
import re
from datetime import datetime
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

PII: dict[str, Any] = {"x-pii": True}
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,24}$")

# A pragmatic address check (RFC 5321 lengths, dot-atom local part, DNS-label domain).
# pydantic's EmailStr would import email-validator, ~20 ms on every cold start, and
# nothing here needs its internationalised or deliverability checks.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def _email(value: str) -> str:
    value = value.strip()
    local, _, _domain = value.partition("@")
    if len(value) > 254 or len(local) > 64 or not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address")
    return value


EmailStr = Annotated[str, AfterValidator(_email)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def pii_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of the model's PII fields: marked ``x-pii``, or holding a model that has one
    (a customer's ``vehicles`` list is PII because each vehicle's VIN is)."""
    return frozenset(name for name, field in model.model_fields.items() if _is_pii(field))


def _is_pii(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and extra.get("x-pii"):
        return True
    return any(pii_fields(inner) for inner in _models_in(field.annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def check_phone(value: str | None) -> str | None:
    if value is not None and not _PHONE.fullmatch(value):
        raise ValueError("phone must be 6 to 24 digits, spaces or +()./-")
    return value


def not_null(value: Any) -> Any:
    # PATCH semantics: an omitted field is kept, but a required one cannot be cleared.
    if value is None:
        raise ValueError("cannot be null; omit the field to keep its value")
    return value


class Model(BaseModel):
    """The base of every pydantic model of the app: its validator and serializer are built
    on first use, not when the class is declared. Building them for every model at import
    cost ~100 ms of each function's cold start (docs/cold-start.md); a subclass's own
    ``model_config`` is merged with this one, so it stays deferred."""

    model_config = ConfigDict(defer_build=True)


class Body(Model):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(Model):

    version: int
    created_at: datetime
    updated_at: datetime
