"""Integration kinds and providers: for each provider, its public fields and its secrets.

Public fields are stored as plain data and shown to the tenant's admins; secrets are
sealed under the tenant's key, never shown (only masked to their last four characters)
and never written to a log or an audit event. Host and URL fields are checked against
``safe_urls`` with the stage passed in the validation context (``allow_private``).
"""
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from chalicelib.fields import Model
from chalicelib.safe_urls import check_provider_base_url, check_public_host

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


class Kind(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PAYMENT = "payment"
    ANALYTICS = "analytics"


def _allow_private(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get("allow_private"))


class _Fields(Model):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _NoSecrets(_Fields):
    pass


# ---- email -----------------------------------------------------------------------------


class SesPublic(_Fields):
    from_address: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    from_name: str | None = Field(default=None, max_length=100, pattern=r"^[^\r\n<>\"]*$")
    configuration_set: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


class SmtpPublic(_Fields):
    host: str = Field(max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = Field(default=None, max_length=256)
    security: Literal["starttls", "tls"] = "starttls"
    from_address: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    from_name: str | None = Field(default=None, max_length=100, pattern=r"^[^\r\n<>\"]*$")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str, info: ValidationInfo) -> str:
        return check_public_host(value, allow_private=_allow_private(info))


class SmtpSecrets(_Fields):
    password: str | None = Field(default=None, min_length=1, max_length=512)


# ---- sms -------------------------------------------------------------------------------


class SnsPublic(_Fields):
    sender_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,11}$")
    origination_number: str | None = Field(default=None, pattern=E164_PATTERN)


TWILIO_API = "https://api.twilio.com"


class TwilioPublic(_Fields):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    from_number: str = Field(pattern=E164_PATTERN)
    base_url: str = Field(default=TWILIO_API, max_length=2048)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str, info: ValidationInfo) -> str:
        return check_provider_base_url(value, allow_private=_allow_private(info))


class TwilioSecrets(_Fields):
    auth_token: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9]+$")


# ---- payment ---------------------------------------------------------------------------


class StripePublic(_Fields):
    publishable_key: str = Field(max_length=255, pattern=r"^pk_(test|live)_[A-Za-z0-9]{10,247}$")


class StripeSecrets(_Fields):
    secret_key: str = Field(max_length=255, pattern=r"^(sk|rk)_(test|live)_[A-Za-z0-9]{10,247}$")
    webhook_signing_secret: str | None = Field(default=None, max_length=255, pattern=r"^whsec_[A-Za-z0-9]{10,249}$")


def stripe_mode(key: str) -> str:
    return key.split("_", 2)[1]


# ---- analytics -------------------------------------------------------------------------


class GoogleAnalyticsPublic(_Fields):
    measurement_id: str = Field(pattern=r"^G-[A-Z0-9]{4,20}$")


class SegmentSecrets(_Fields):
    write_key: str = Field(pattern=r"^[A-Za-z0-9]{16,64}$")


class PlausiblePublic(_Fields):
    domain: str = Field(max_length=253)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.lower().rstrip(".")
        if not _DOMAIN.fullmatch(value):
            raise ValueError("domain must be a DNS name")
        return value


@dataclass(frozen=True)
class ProviderSpec:
    kind: Kind
    name: str
    public: type[_Fields]
    secrets: type[_Fields]

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(self.secrets.model_fields)


PROVIDERS: dict[Kind, dict[str, ProviderSpec]] = {
    Kind.EMAIL: {"ses": ProviderSpec(Kind.EMAIL, "ses", SesPublic, _NoSecrets),
                 "smtp": ProviderSpec(Kind.EMAIL, "smtp", SmtpPublic, SmtpSecrets)},
    Kind.SMS: {"sns": ProviderSpec(Kind.SMS, "sns", SnsPublic, _NoSecrets),
               "twilio": ProviderSpec(Kind.SMS, "twilio", TwilioPublic, TwilioSecrets)},
    Kind.PAYMENT: {"stripe": ProviderSpec(Kind.PAYMENT, "stripe", StripePublic, StripeSecrets)},
    Kind.ANALYTICS: {"google_analytics": ProviderSpec(Kind.ANALYTICS, "google_analytics", GoogleAnalyticsPublic,
                                                     _NoSecrets),
                     "segment": ProviderSpec(Kind.ANALYTICS, "segment", _NoSecrets, SegmentSecrets),
                     "plausible": ProviderSpec(Kind.ANALYTICS, "plausible", PlausiblePublic, _NoSecrets)},
}
# Every secret field name of every provider: audit events redact them whatever they are called.
SECRET_FIELDS = frozenset(name for specs in PROVIDERS.values() for spec in specs.values()
                          for name in spec.secret_names)


def spec_for(kind: Kind, provider: str) -> ProviderSpec | None:
    return PROVIDERS[kind].get(provider)


# ---- request and response bodies -------------------------------------------------------


# Per provider, the public fields that say where its secrets are sent. Changing any of
# them requires every stored secret again (422 ``secrets_required``): otherwise an admin
# session could point a stored password or token at a server it controls.
ENDPOINT_FIELDS: dict[str, tuple[str, ...]] = {
    "smtp": ("host", "port", "username", "security"),
    "twilio": ("base_url", "account_sid"),
    "ses": ("region", "configuration_set"),
}


class IntegrationPut(Model):
    """PUT body. ``secrets`` left out (or a field of it) keeps what is stored for the same
    provider and endpoint: an admin changing a sender name does not send the password
    again, but one changing the host, port, username or base URL must
    (``ENDPOINT_FIELDS``)."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bounded(self) -> "IntegrationPut":
        if len(self.config) > 20 or len(self.secrets) > 10:
            raise ValueError("too many fields")
        return self


class TenantIntegration(Model):
    """What the tenant stored, enabled or not; secrets masked to their last four characters."""

    provider: str
    enabled: bool
    config: dict[str, Any]
    secrets: dict[str, str]
    version: int
    updated_at: str | None


class IntegrationView(Model):
    """The effective integration (``source`` says whose) and the tenant's own, if any."""

    kind: Kind
    source: Literal["tenant", "platform"]
    provider: str | None
    config: dict[str, Any]
    secrets: dict[str, str]
    configured: bool
    tenant: TenantIntegration | None
    version: int


class IntegrationList(Model):
    items: list[IntegrationView]


class TestRequest(Model):
    """Where the test goes: email defaults to the caller's member address; a text needs ``to``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    to: str | None = Field(default=None, max_length=254)


class TestResult(Model):
    kind: Kind
    provider: str
    sent: bool
    detail: str
    message_id: str | None = None
