"""Sending mail through SES from the platform's verified sender.

On the local stage every message sent is also logged (recipient count, subject, SES
message id), so a developer sees the mail the system sends without an inbox.
"""
from __future__ import annotations

import logging

from chalicelib import aws
from chalicelib.settings import get_settings

log = logging.getLogger("notifications")


def send_email(to: str, subject: str, body: str) -> str:
    """Send a plain-text message; the SES message id."""
    settings = get_settings()
    response = aws.client("ses").send_email(
        Source=settings.platform_sender_email,
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": subject, "Charset": "UTF-8"},
                 "Body": {"Text": {"Data": body, "Charset": "UTF-8"}}},
    )
    message_id = str(response["MessageId"])
    if settings.stage == "local":
        log.info("email sent", extra={"fields": {"message_id": message_id, "subject": subject, "body": body}})
    return message_id
