"""Tenant configuration: read the effective configuration, replace the overrides, versions.

Choice recorded (issue 7): the tenant's creation-time ``configuration`` is version 1
until the first write, which stores it as the version 1 item beside version 2; only
overrides are stored, so platform defaults keep flowing to fields a tenant never set.
An override equal to today's default still pins the value: the tenant chose it.
"""
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field, ValidationError

from chalicelib import audit, lazy
from chalicelib.config import models as schema
from chalicelib.config import versions
from chalicelib.errors import validation_error_from_pydantic
from chalicelib.fields import Model
from chalicelib.store import keys
from chalicelib.tenancy.context import current_context

if TYPE_CHECKING:
    from chalicelib.config import effective
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    effective = lazy.module("chalicelib.config.effective")

DOCUMENT = versions.Document(
    kind=keys.CONFIG, versions_kind=keys.CONFIG_VERSION, target_kind="configuration",
    action=audit.Action.CONFIG_UPDATED, initial=lambda tenant: schema.sanitize(tenant.configuration),
    snapshot=schema.effective, migrate=schema.drop_removed_settings,
)


class ConfigView(Model):
    version: int
    configuration: schema.Configuration
    overrides: dict[str, Any]
    updated_at: str | None


class ConfigUpdate(Model):
    """PUT replaces the overrides whole; a field left out takes the platform default."""

    model_config = ConfigDict(extra="forbid")

    overrides: dict[str, Any]
    comment: str | None = Field(default=None, max_length=versions.MAX_COMMENT)


def _view(version: int, overrides: dict[str, Any], updated_at: str | None) -> ConfigView:
    return ConfigView(version=version, configuration=schema.Configuration.model_validate(schema.effective(overrides)),
                      overrides=overrides, updated_at=updated_at)


def get_config() -> ConfigView:
    version, overrides, stored = effective.stored_overrides(current_context().tenant)
    return _view(version, overrides, stored.updated_at if stored else None)


def put_config(body: ConfigUpdate, expected: int) -> ConfigView:
    try:
        schema.validate_overrides(body.overrides)
    except ValidationError as exc:
        error = validation_error_from_pydantic(exc)
        for entry in error.extra["errors"]:
            entry["loc"].insert(1, "overrides")
        raise error from None
    written = versions.write(DOCUMENT, body.overrides, expected, comment=body.comment)
    return _view(written.version, written.document, written.at)


def list_versions(limit: int, cursor: str | None) -> tuple[list[versions.Version], str | None]:
    return versions.list_versions(DOCUMENT, limit, cursor)


def get_version(number: int) -> versions.Version:
    return versions.get_version(DOCUMENT, number)


def restore_version(number: int, expected: int) -> ConfigView:
    written = versions.restore(DOCUMENT, number, expected)
    return _view(written.version, written.document, written.at)
