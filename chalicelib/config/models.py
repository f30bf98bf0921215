"""The tenant configuration schema, the platform defaults, merging, diffs and sanitising.

Only a tenant's *overrides* are stored; the effective configuration is always the
platform defaults (this module's model defaults) deep-merged with them, so a default
changed here reaches every tenant that did not override it. Objects merge key by key;
any other value (lists included) replaces the default whole. Validation is strict: a
string is not a number, a number is not a boolean.
"""
import functools
import re
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from annotated_types import Ge, Le
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from chalicelib.fields import Model

_STRICT = ConfigDict(extra="forbid", strict=True)
_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    if value not in _timezones():
        raise ValueError("timezone must be an IANA name such as Europe/Paris")
    return value


def _domain(value: str) -> str:
    if not _DOMAIN.fullmatch(value):
        raise ValueError("must be a lower-case domain name such as example.com")
    return value


Recipient = Literal["tenant_admin", "manager", "sender", "receiver", "customer"]
Recipients = Annotated[list[Recipient], Field(max_length=5)]


DateFormat = Literal["YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY", "DD.MM.YYYY"]


class General(Model):
    """How dates are shown to people (``config/dates.py``): mail, export archives."""

    model_config = _STRICT
    timezone: Annotated[str, Field(max_length=64), AfterValidator(_timezone)] = "UTC"
    date_format: DateFormat = "YYYY-MM-DD"


class Features(Model):
    model_config = _STRICT
    referrals: bool = True
    sms_notifications: bool = False


# Settings removed from the schema (issue 19): each was stored, versioned and served but
# read by no code. ``locale``: no text is translated and dates follow ``date_format``;
# ``currency``: no amount of money is stored or shown; ``customer_portal`` and
# ``reviews``: switches for features that do not exist. Stored overrides and versions
# written before may hold them: :func:`drop_removed_settings` migrates every read.
REMOVED_SETTINGS: tuple[tuple[str, str], ...] = (
    ("general", "locale"), ("general", "currency"), ("features", "customer_portal"), ("features", "reviews"),
)


def drop_removed_settings(overrides: dict[str, Any]) -> dict[str, Any]:
    """Stored overrides as today's schema reads them: removed settings dropped, and a
    section they leave empty dropped too (an empty section overrides nothing)."""
    migrated: dict[str, Any] = {}
    for section, fields in overrides.items():
        if isinstance(fields, dict):
            fields = {name: value for name, value in fields.items() if (section, name) not in REMOVED_SETTINGS}
            if not fields and overrides[section]:
                continue
        migrated[section] = fields
    return migrated


class Referrals(Model):
    model_config = _STRICT
    auto_expiry_days: Annotated[int, Ge(1), Le(365)] = 30
    acceptance_required: bool = True
    # None: every active category may be referred.
    allowed_categories: Annotated[list[Annotated[str, Field(pattern=_SLUG)]], Field(max_length=200)] | None = None


class Channels(Model):
    """Who is emailed and who is texted when an event happens (roles, never addresses)."""

    model_config = _STRICT
    email: Recipients = Field(default_factory=list)
    sms: Recipients = Field(default_factory=list)


def _channels(email: list[str], sms: list[str] | None = None) -> Any:
    return Field(default_factory=lambda: Channels.model_validate({"email": email, "sms": sms or []}))


class Notifications(Model):
    model_config = _STRICT
    referral_created: Channels = _channels(["receiver"])
    referral_accepted: Channels = _channels(["sender"])
    referral_declined: Channels = _channels(["sender"])
    referral_completed: Channels = _channels(["sender", "customer"])
    referral_expired: Channels = _channels(["sender", "tenant_admin"])


class Security(Model):
    model_config = _STRICT
    session_lifetime_minutes: Annotated[int, Ge(5), Le(1440)] = 480
    # Empty: members may have any email domain.
    allowed_member_email_domains: Annotated[
        list[Annotated[str, Field(max_length=253), AfterValidator(_domain)]], Field(max_length=50)
    ] = Field(default_factory=list)


class Audit(Model):
    model_config = _STRICT
    # Bounds shared with chalicelib.audit.policy (which clamps to the same range).
    retention_days: Annotated[int, Ge(30), Le(3650)] = 365


class Exports(Model):
    model_config = _STRICT
    default_format: Literal["json", "csv"] = "json"


class Configuration(Model):
    """The effective configuration of a tenant: every section, every field."""

    model_config = _STRICT
    general: General = Field(default_factory=General)
    features: Features = Field(default_factory=Features)
    referrals: Referrals = Field(default_factory=Referrals)
    notifications: Notifications = Field(default_factory=Notifications)
    security: Security = Field(default_factory=Security)
    audit: Audit = Field(default_factory=Audit)
    exports: Exports = Field(default_factory=Exports)


def platform_defaults() -> dict[str, Any]:
    return Configuration().model_dump(mode="json")


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate_overrides(overrides: dict[str, Any]) -> None:
    """Raise pydantic's ValidationError (paths from the document's root) if the overrides,
    merged over the defaults, are not a valid configuration."""
    Configuration.model_validate(deep_merge(platform_defaults(), overrides))


def effective(overrides: dict[str, Any]) -> dict[str, Any]:
    return Configuration.model_validate(deep_merge(platform_defaults(), sanitize(overrides))).model_dump(mode="json")


def _field_value(model: type[BaseModel], name: str, value: Any) -> tuple[bool, Any]:
    try:
        model.model_validate({name: value})
        return True, value
    except ValidationError:
        pass
    bounds = model.model_fields[name].metadata
    if isinstance(value, int) and not isinstance(value, bool):
        low: Any = next((m.ge for m in bounds if isinstance(m, Ge)), value)
        high: Any = next((m.le for m in bounds if isinstance(m, Le)), value)
        clamped = min(max(value, low), high)
        if clamped != value:
            return _field_value(model, name, clamped)
    return False, None


def sanitize(overrides: Any) -> dict[str, Any]:
    """The valid part of overrides written before this schema checked them (a tenant's
    creation-time ``configuration``): unknown keys and ill-typed values are dropped (the
    default applies); an integer out of range is held at the nearest bound, as the audit
    retention always was. Overrides stored through the API pass through unchanged."""
    if not isinstance(overrides, dict):
        return {}
    kept: dict[str, Any] = {}
    for section, model_field in Configuration.model_fields.items():
        given = overrides.get(section)
        model = model_field.default_factory
        if not isinstance(given, dict) or not isinstance(model, type) or not issubclass(model, BaseModel):
            continue
        fields = {}
        for name in model.model_fields:
            if name in given:
                ok, value = _field_value(model, name, given[name])
                if ok:
                    fields[name] = value
        if fields:
            kept[section] = fields
    return kept


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"general": {"timezone": x}}`` -> ``{"general.timezone": x}`` (lists stay values)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-level ``{"path": {"before", "after"}}`` of every leaf that differs."""
    old, new = flatten(before), flatten(after)
    return {path: {"before": old.get(path), "after": new.get(path)}
            for path in sorted(set(old) | set(new)) if old.get(path) != new.get(path)}
