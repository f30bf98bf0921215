"""Which provider the platform uses for a kind, for the bound tenant: the one place that decides.

:func:`resolve` gives the tenant's integration when it is configured and enabled, else
the platform default from settings (email: SES from ``PLATFORM_SENDER_EMAIL``; texts:
SNS with ``PLATFORM_SMS_SENDER_ID``; payment and analytics: none). Everything the
platform sends on a tenant's behalf gets its provider from :func:`email_provider` and
:func:`sms_provider`, so a tenant that configures SMTP sees its welcome, invitation,
export and referral mail leave through its own server, and removing or disabling the
integration sends them through the platform again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib.integrations.errors import NotConfiguredError
from chalicelib.integrations.models import TWILIO_API, IntegrationView, Kind, TenantIntegration
from chalicelib.integrations.providers.base import EmailProvider, SmsProvider
from chalicelib.integrations.providers.email import SesEmail, SmtpEmail
from chalicelib.integrations.providers.sms import SnsSms, TwilioSms
from chalicelib.integrations.service import StoredIntegration, allow_private, get_stored
from chalicelib.settings import get_settings

MASK = "****"


@dataclass(frozen=True)
class Resolved:
    kind: Kind
    source: Literal["tenant", "platform"]
    provider: str | None
    config: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)


def platform_default(kind: Kind) -> Resolved:
    settings = get_settings()
    if kind is Kind.EMAIL:
        return Resolved(kind, "platform", "ses", {"from_address": settings.platform_sender_email}, {})
    if kind is Kind.SMS:
        config = {"sender_id": settings.platform_sms_sender_id} if settings.platform_sms_sender_id else {}
        return Resolved(kind, "platform", "sns", config, {})
    return Resolved(kind, "platform", None, {}, {})


def _from_stored(stored: StoredIntegration) -> Resolved:
    return Resolved(stored.kind, "tenant", stored.provider, stored.config, stored.secrets)


def resolve(kind: Kind) -> Resolved:
    """The effective integration of ``kind`` for the bound tenant."""
    stored = get_stored(kind)
    if stored is not None and stored.enabled:
        return _from_stored(stored)
    return platform_default(kind)


def stored_as_resolved(kind: Kind) -> Resolved:
    """The tenant's own integration, enabled or not (what ``test`` checks); 409 if none."""
    stored = get_stored(kind)
    if stored is None:
        raise NotConfiguredError(f"configure the {kind.value} integration before testing it")
    return _from_stored(stored)


def build_email(resolved: Resolved) -> EmailProvider:
    config, timeout = resolved.config, get_settings().integration_timeout_seconds
    if resolved.provider == "smtp":
        return SmtpEmail(host=config["host"], port=int(config.get("port", 587)),
                         security=config.get("security", "starttls"), from_address=config["from_address"],
                         from_name=config.get("from_name"), username=config.get("username"),
                         password=resolved.secrets.get("password"), timeout=timeout, allow_private=allow_private())
    return SesEmail(config["from_address"], config.get("from_name"), config.get("configuration_set"),
                    config.get("region"))


def build_sms(resolved: Resolved) -> SmsProvider:
    config = resolved.config
    if resolved.provider == "twilio":
        return TwilioSms(account_sid=config["account_sid"], auth_token=resolved.secrets["auth_token"],
                         from_number=config["from_number"], base_url=config.get("base_url", TWILIO_API),
                         timeout=get_settings().integration_timeout_seconds, allow_private=allow_private())
    return SnsSms(config.get("sender_id"), config.get("origination_number"))


def email_provider() -> tuple[Resolved, EmailProvider]:
    resolved = resolve(Kind.EMAIL)
    return resolved, build_email(resolved)


def sms_provider() -> tuple[Resolved, SmsProvider]:
    resolved = resolve(Kind.SMS)
    return resolved, build_sms(resolved)


def public_analytics() -> dict[str, str] | None:
    """The analytics ids a browser needs (public branding): Google Analytics' measurement
    id or Plausible's domain. Segment's write key is a secret here, so it is never shown."""
    resolved = resolve(Kind.ANALYTICS)
    if resolved.provider == "google_analytics":
        return {"provider": "google_analytics", "measurement_id": resolved.config["measurement_id"]}
    if resolved.provider == "plausible":
        return {"provider": "plausible", "domain": resolved.config["domain"]}
    return None


def mask(value: str) -> str:
    """The last four characters, and only when they are at most a third of the secret."""
    return MASK + value[-4:] if len(value) >= 12 else MASK


def view(kind: Kind) -> IntegrationView:
    stored = get_stored(kind)
    effective = _from_stored(stored) if stored is not None and stored.enabled else platform_default(kind)
    own = None if stored is None else TenantIntegration(
        provider=stored.provider, enabled=stored.enabled, config=stored.config,
        secrets={k: mask(v) for k, v in stored.secrets.items()}, version=stored.version, updated_at=stored.updated_at)
    return IntegrationView(kind=kind, source=effective.source, provider=effective.provider, config=effective.config,
                           secrets={k: mask(v) for k, v in effective.secrets.items()}, configured=stored is not None,
                           tenant=own, version=stored.version if stored else 0)


def views() -> list[IntegrationView]:
    return [view(kind) for kind in Kind]
