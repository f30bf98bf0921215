"""Sending what the platform sends on a tenant's behalf: mail and texts.

With a tenant bound, every message goes through the tenant's effective provider
(``integrations.resolution``: its own SES identity, SMTP server, SNS sender or Twilio
account when configured and enabled, else the platform's SES sender and SNS), with the
tenant's display name as the sender's name and its support email as Reply-To. A
provider that does not take the message does not lose it: the failure is logged and
the message kept in the tenant's outbox for the ``notifications_retry`` schedule, and
the caller gets ``queued:<outbox id>`` instead of a provider message id. With no tenant
bound the platform's SES sends it and a failure raises.

On the local stage every message sent is also logged (subject, body, message id), so a
developer sees the mail the system sends without an inbox.
"""
from __future__ import annotations

import logging
from typing import Any

from chalicelib.config.branding import sender_identity
from chalicelib.integrations import EmailMessage, ProviderError, email_provider, sms_provider
from chalicelib.integrations.providers.email import SesEmail
from chalicelib.notifications import outbox
from chalicelib.settings import get_settings
from chalicelib.tenancy.context import current_or_none

log = logging.getLogger("notifications")

EMAIL, SMS = "email", "sms"


def _deliver(channel: str, message: dict[str, Any]) -> str:
    """Send through the bound tenant's provider as resolved now; ``ProviderError`` if refused."""
    if channel == SMS:
        resolved, texter = sms_provider()
        message_id = texter.send(message["to"], message["body"])
    else:
        resolved, mailer = email_provider()
        message_id = mailer.send(EmailMessage(**message))
    if get_settings().stage == "local":
        log.info(f"{channel} sent", extra={"fields": {"message_id": message_id, "provider": resolved.provider,
                                                      "source": resolved.source, "subject": message.get("subject"),
                                                      "body": message["body"]}})
    return message_id


def _send(channel: str, message: dict[str, Any]) -> str:
    try:
        return _deliver(channel, message)
    except ProviderError as exc:
        return outbox.enqueue(channel, message, exc)


def send_email(to: str, subject: str, body: str) -> str:
    """Send a plain-text message: the provider's message id, or ``queued:<id>`` if it will be retried."""
    if current_or_none() is None:
        settings = get_settings()
        message_id = SesEmail(settings.platform_sender_email).send(EmailMessage(to=to, subject=subject, body=body))
        if settings.stage == "local":
            log.info("email sent", extra={"fields": {"message_id": message_id, "subject": subject, "body": body}})
        return message_id
    from_name, reply_to = sender_identity()
    return _send(EMAIL, {"to": to, "subject": subject, "body": body, "from_name": from_name, "reply_to": reply_to})


def send_sms(to: str, body: str) -> str:
    """Send a text to ``to`` (E.164) through the bound tenant's provider; as :func:`send_email`."""
    return _send(SMS, {"to": to, "body": body})


def retry_outbox() -> dict[str, int]:
    """Send again the bound tenant's notifications whose retry is due."""
    return outbox.retry_due(_deliver)
