"""Professionals: create and update bodies, the view, and their address."""
from enum import StrEnum
from uuid import UUID

from pydantic import Field, field_validator

from chalicelib.fields import PII, Body, EmailStr, Name, Output, check_phone, not_null
from chalicelib.http import ListQuery
from chalicelib.network.models import Slug


def _unique(value: list[str] | None) -> list[str] | None:
    # One transaction cannot touch a category item twice, and a duplicate means nothing.
    if value is not None and len(set(value)) != len(value):
        raise ValueError("service categories must be unique")
    return value


class Address(Body):
    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")


class ProfessionalStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class ProfessionalCreate(Body):
    business_name: Name
    contact_name: Name = Field(json_schema_extra=PII)
    email: EmailStr = Field(max_length=254, json_schema_extra=PII)
    phone: str | None = Field(default=None, json_schema_extra=PII)
    license_number: str | None = Field(default=None, max_length=64, json_schema_extra=PII)
    address: Address | None = Field(default=None, json_schema_extra=PII)
    service_categories: list[Slug] = Field(default_factory=list, max_length=10)
    status: ProfessionalStatus = ProfessionalStatus.ACTIVE
    user_sub: str | None = Field(default=None, min_length=1, max_length=256)

    _check_phone = field_validator("phone")(check_phone)

    _check_unique = field_validator("service_categories")(_unique)


class ProfessionalUpdate(Body):
    business_name: Name | None = None
    contact_name: Name | None = Field(default=None, json_schema_extra=PII)
    email: EmailStr | None = Field(default=None, max_length=254, json_schema_extra=PII)
    phone: str | None = Field(default=None, json_schema_extra=PII)
    license_number: str | None = Field(default=None, max_length=64, json_schema_extra=PII)
    address: Address | None = Field(default=None, json_schema_extra=PII)
    service_categories: list[Slug] | None = Field(default=None, max_length=10)
    status: ProfessionalStatus | None = None
    version: int | None = Field(default=None, ge=1)

    _check_phone = field_validator("phone")(check_phone)
    _check_required = field_validator(
        "business_name", "contact_name", "email", "service_categories", "status")(not_null)
    _check_unique = field_validator("service_categories")(_unique)


class Professional(Output):
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


class ProfessionalQuery(ListQuery):
    """GET /api/professionals: a page, optionally of one service category's members."""

    category: Slug | None = None
