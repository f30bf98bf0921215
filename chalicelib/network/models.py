"""Request and response schemas of the network. PII fields are marked ``x-pii``.

Bodies reject unknown fields, and no create or update schema has a server-owned field
(``id``, ``tenant_id``, timestamps, ``version`` as data, key attributes), so a body that
sends one is a 422 and nothing is stored. ``version`` in an update body is the
precondition only, never written.
"""
from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, get_args
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

PII: dict[str, Any] = {"x-pii": True}
CATEGORY_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,24}$")
_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # ISO 3779: 17 characters, no I, O or Q

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
Slug = Annotated[str, Field(min_length=1, max_length=63, pattern=CATEGORY_SLUG)]


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


def _phone(value: str | None) -> str | None:
    if value is not None and not _PHONE.fullmatch(value):
        raise ValueError("phone must be 6 to 24 digits, spaces or +()./-")
    return value


def _unique(value: list[str] | None) -> list[str] | None:
    # One transaction cannot touch a category item twice, and a duplicate means nothing.
    if value is not None and len(set(value)) != len(value):
        raise ValueError("service categories must be unique")
    return value


def _not_null(value: Any) -> Any:
    # PATCH semantics: an omitted field is kept, but a required one cannot be cleared.
    if value is None:
        raise ValueError("cannot be null; omit the field to keep its value")
    return value


# defer_build: validators are built on first use, not at import (cold start).
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class _Out(BaseModel):
    model_config = ConfigDict(defer_build=True)

    version: int
    created_at: datetime
    updated_at: datetime


# ---- service categories ----------------------------------------------------------------

class CategoryCreate(_Body):
    slug: Slug
    name: Name
    description: str | None = Field(default=None, max_length=1000)
    active: bool = True


class CategoryUpdate(_Body):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=1000)
    active: bool | None = None
    version: int | None = Field(default=None, ge=1)

    _check_required = field_validator("name", "active")(_not_null)


class Category(_Out):
    slug: str
    name: str
    description: str | None
    active: bool


# ---- professionals ---------------------------------------------------------------------

class Address(_Body):
    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")


class ProfessionalStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class ProfessionalCreate(_Body):
    business_name: Name
    contact_name: Name = Field(json_schema_extra=PII)
    email: EmailStr = Field(max_length=254, json_schema_extra=PII)
    phone: str | None = Field(default=None, json_schema_extra=PII)
    license_number: str | None = Field(default=None, max_length=64, json_schema_extra=PII)
    address: Address | None = Field(default=None, json_schema_extra=PII)
    service_categories: list[Slug] = Field(default_factory=list, max_length=10)
    status: ProfessionalStatus = ProfessionalStatus.ACTIVE
    user_sub: str | None = Field(default=None, min_length=1, max_length=256)

    _check_phone = field_validator("phone")(_phone)

    _check_unique = field_validator("service_categories")(_unique)


class ProfessionalUpdate(_Body):
    business_name: Name | None = None
    contact_name: Name | None = Field(default=None, json_schema_extra=PII)
    email: EmailStr | None = Field(default=None, max_length=254, json_schema_extra=PII)
    phone: str | None = Field(default=None, json_schema_extra=PII)
    license_number: str | None = Field(default=None, max_length=64, json_schema_extra=PII)
    address: Address | None = Field(default=None, json_schema_extra=PII)
    service_categories: list[Slug] | None = Field(default=None, max_length=10)
    status: ProfessionalStatus | None = None
    version: int | None = Field(default=None, ge=1)

    _check_phone = field_validator("phone")(_phone)
    _check_required = field_validator(
        "business_name", "contact_name", "email", "service_categories", "status")(_not_null)
    _check_unique = field_validator("service_categories")(_unique)


class Professional(_Out):
    id: UUID
    business_name: str
    contact_name: str = Field(json_schema_extra=PII)
    email: str = Field(json_schema_extra=PII)
    phone: str | None = Field(json_schema_extra=PII)
    license_number: str | None = Field(json_schema_extra=PII)
    address: Address | None = Field(json_schema_extra=PII)
    service_categories: list[str]
    status: ProfessionalStatus
    user_sub: str | None


# ---- customers -------------------------------------------------------------------------

class Vehicle(_Body):
    vin: str = Field(json_schema_extra=PII)
    make: str = Field(min_length=1, max_length=60)
    model: str = Field(min_length=1, max_length=60)
    year: int = Field(ge=1886, le=2100)

    @field_validator("vin")
    @classmethod
    def _vin(cls, value: str) -> str:
        value = value.upper()
        if not _VIN.fullmatch(value):
            raise ValueError("VIN must be 17 characters (letters other than I, O, Q, and digits)")
        return value


class CustomerCreate(_Body):
    name: Name = Field(json_schema_extra=PII)
    email: EmailStr | None = Field(default=None, max_length=254, json_schema_extra=PII)
    phone: str | None = Field(default=None, json_schema_extra=PII)
    vehicles: list[Vehicle] = Field(default_factory=list, max_length=20)
    notes: str | None = Field(default=None, max_length=2000, json_schema_extra=PII)
    user_sub: str | None = Field(default=None, min_length=1, max_length=256)

    _check_phone = field_validator("phone")(_phone)


class CustomerUpdate(_Body):
    name: Name | None = Field(default=None, json_schema_extra=PII)
    email: EmailStr | None = Field(default=None, max_length=254, json_schema_extra=PII)
    phone: str | None = Field(default=None, json_schema_extra=PII)
    vehicles: list[Vehicle] | None = Field(default=None, max_length=20)
    notes: str | None = Field(default=None, max_length=2000, json_schema_extra=PII)
    version: int | None = Field(default=None, ge=1)

    _check_phone = field_validator("phone")(_phone)
    _check_required = field_validator("name", "vehicles")(_not_null)


class Customer(_Out):
    id: UUID
    name: str = Field(json_schema_extra=PII)
    email: str | None = Field(json_schema_extra=PII)
    phone: str | None = Field(json_schema_extra=PII)
    vehicles: list[Vehicle]
    notes: str | None = Field(json_schema_extra=PII)
    user_sub: str | None


# ---- referrals -------------------------------------------------------------------------

class ReferralStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    EXPIRED = "expired"  # pending for longer than referrals.auto_expiry_days


OPEN_REFERRAL_STATUSES = frozenset({ReferralStatus.PENDING, ReferralStatus.ACCEPTED})
REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.PENDING: frozenset({ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.CANCELLED}),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.COMPLETED, ReferralStatus.CANCELLED}),
    ReferralStatus.DECLINED: frozenset(),
    ReferralStatus.CANCELLED: frozenset(),
    ReferralStatus.COMPLETED: frozenset(),
    ReferralStatus.EXPIRED: frozenset(),
}


class ReferralCreate(_Body):
    from_professional_id: UUID
    to_professional_id: UUID
    customer_id: UUID
    service_category: Slug
    notes: str | None = Field(default=None, max_length=2000, json_schema_extra=PII)


class ReferralUpdate(_Body):
    status: ReferralStatus | None = None
    notes: str | None = Field(default=None, max_length=2000, json_schema_extra=PII)
    version: int | None = Field(default=None, ge=1)


class Referral(_Out):
    id: UUID
    from_professional_id: UUID
    to_professional_id: UUID
    customer_id: UUID
    service_category: str
    notes: str | None = Field(json_schema_extra=PII)
    status: ReferralStatus
