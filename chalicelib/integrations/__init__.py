"""Tenant integrations: per-tenant email, sms, payment and analytics providers.

What others use: :func:`resolve` (the effective provider of a kind, the tenant's or the
platform's), :func:`email_provider` / :func:`sms_provider` (ready to send),
:func:`public_analytics` (ids for the public branding), :class:`Kind`,
:class:`EmailMessage` and :class:`ProviderError`.

Modules: ``schemas`` (kinds, providers, public fields vs secrets, bodies), ``service``
(storage, secrets sealed, audited versioned writes), ``resolution`` (fallback to the
platform), ``providers`` (SES, SMTP, SNS, Twilio), ``checks`` (the test route), ``routes``.
"""
from typing import TYPE_CHECKING

from chalicelib import lazy

if TYPE_CHECKING:
    from chalicelib.integrations.errors import ProviderError
    from chalicelib.integrations.models import Kind
    from chalicelib.integrations.providers.base import EmailMessage
    from chalicelib.integrations.resolution import Resolved, email_provider, public_analytics, resolve, sms_provider
else:
    # Re-exported on first use (cold start: importing one of this package's modules
    # must not import them all; docs/cold-start.md).
    __getattr__ = lazy.exports(__name__, {
        "chalicelib.integrations.errors": ("ProviderError",),
        "chalicelib.integrations.models": ("Kind",),
        "chalicelib.integrations.providers.base": ("EmailMessage",),
        "chalicelib.integrations.resolution": ("Resolved", "email_provider", "public_analytics", "resolve",
                                               "sms_provider"),
    })

__all__ = ["EmailMessage", "Kind", "ProviderError", "Resolved", "email_provider", "public_analytics", "resolve",
           "sms_provider"]
