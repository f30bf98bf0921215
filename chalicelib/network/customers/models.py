"""Customers and their vehicles: create and update bodies, and the view."""
import re
from uuid import UUID

from pydantic import Field, field_validator

from chalicelib.fields import PII, Body, EmailStr, Name, Output, check_phone, not_null

_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # ISO 3779: 17 characters, no I, O or Q


class Vehicle(Body):
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


class CustomerCreate(Body):
    name: Name = Field(json_schema_extra=PII)
    email: EmailStr | None = Field(default=None, max_length=254, json_schema_extra=PII)
    phone: str | None = Field(default=None, json_schema_extra=PII)
    vehicles: list[Vehicle] = Field(default_factory=list, max_length=20)
    notes: str | None = Field(default=None, max_length=2000, json_schema_extra=PII)
    user_sub: str | None = Field(default=None, min_length=1, max_length=256)

    _check_phone = field_validator("phone")(check_phone)


class CustomerUpdate(Body):
    name: Name | None = Field(default=None, json_schema_extra=PII)
    email: EmailStr | None = Field(default=None, max_length=254, json_schema_extra=PII)
    phone: str | None = Field(default=None, json_schema_extra=PII)
    vehicles: list[Vehicle] | None = Field(default=None, max_length=20)
    notes: str | None = Field(default=None, max_length=2000, json_schema_extra=PII)
    version: int | None = Field(default=None, ge=1)

    _check_phone = field_validator("phone")(check_phone)
    _check_required = field_validator("name", "vehicles")(not_null)


class Customer(Output):
    id: UUID
    name: str = Field(json_schema_extra=PII)
    email: str | None = Field(json_schema_extra=PII)
    phone: str | None = Field(json_schema_extra=PII)
    vehicles: list[Vehicle]
    notes: str | None = Field(json_schema_extra=PII)
    user_sub: str | None
