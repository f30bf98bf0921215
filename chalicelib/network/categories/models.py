"""Service categories: the body that creates one, the one that edits it, and the view."""
from pydantic import Field, field_validator

from chalicelib.fields import Body, Name, Output, not_null
from chalicelib.network.models import Slug


class CategoryCreate(Body):
    slug: Slug
    name: Name
    description: str | None = Field(default=None, max_length=1000)
    active: bool = True


class CategoryUpdate(Body):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=1000)
    active: bool | None = None
    version: int | None = Field(default=None, ge=1)

    _check_required = field_validator("name", "active")(not_null)


class Category(Output):
    slug: str
    name: str
    description: str | None
    active: bool
