"""Provider implementations: how a message leaves through SES, SMTP, SNS or Twilio, and
the format checks of providers nothing can be sent through (payment, analytics)."""
from chalicelib.integrations.providers.base import EmailMessage, EmailProvider, SmsProvider

__all__ = ["EmailMessage", "EmailProvider", "SmsProvider"]
