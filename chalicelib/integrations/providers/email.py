"""Email out through SES (the platform's AWS account) or a tenant's SMTP server.

SMTP connects only with TLS: implicit (``tls``, usually port 465) or upgraded with
STARTTLS before the login (a server that does not offer it is refused, never spoken to
in the clear). The host is resolved and checked when we connect and the socket goes to
that checked address, while TLS still verifies the certificate against the host name.
Every socket operation has the settings' timeout.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, make_msgid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.integrations.errors import ProviderError
from chalicelib.integrations.providers.base import EmailMessage, EmailProvider
from chalicelib.safe_urls import resolve_public_address

_tls_context: ssl.SSLContext | None = None


def use_tls_context(context: ssl.SSLContext | None) -> ssl.SSLContext | None:
    """Swap the TLS context SMTP verifies servers with (tests trust their own CA); the previous."""
    global _tls_context
    previous, _tls_context = _tls_context, context
    return previous


def tls_context() -> ssl.SSLContext:
    return _tls_context or ssl.create_default_context()


class SesEmail(EmailProvider):
    name = "ses"

    def __init__(self, from_address: str, from_name: str | None = None, configuration_set: str | None = None,
                 region: str | None = None) -> None:
        self.from_address, self.from_name = from_address, from_name
        self.configuration_set, self.region = configuration_set, region

    def send(self, message: EmailMessage) -> str:
        request: dict[str, Any] = {
            "Source": formataddr((self.from_name or message.from_name or "", self.from_address)),
            "Destination": {"ToAddresses": [message.to]},
            "Message": {"Subject": {"Data": message.subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": message.body, "Charset": "UTF-8"}}},
        }
        if message.reply_to:
            request["ReplyToAddresses"] = [message.reply_to]
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = aws.client("ses", self.region).send_email(**request)
        except ClientError as exc:
            raise ProviderError(self.name, f"SES refused the message ({exc.response['Error'].get('Code')})") from None
        except BotoCoreError:
            raise ProviderError(self.name, "SES could not be reached") from None
        return str(response["MessageId"])


class _PinnedSMTP(smtplib.SMTP):
    """SMTP to a checked address; ``self._host`` stays the name, for STARTTLS's certificate check."""

    def __init__(self, host: str, address: str, timeout: float, helo: str) -> None:
        self._address = address
        # The EHLO name is given: the default asks DNS for this machine's name (slow, and
        # meaningless in Lambda).
        super().__init__(timeout=timeout, local_hostname=helo)
        self._host = host

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._address, port), timeout, self.source_address)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, host: str, address: str, timeout: float, helo: str, context: ssl.SSLContext) -> None:
        self._address = address
        super().__init__(timeout=timeout, context=context, local_hostname=helo)
        self._host = host

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((self._address, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._host)


class SmtpEmail(EmailProvider):
    name = "smtp"

    def __init__(self, *, host: str, port: int, security: str, from_address: str, from_name: str | None = None,
                 username: str | None = None, password: str | None = None, timeout: float,
                 allow_private: bool) -> None:
        self.host, self.port, self.security = host, port, security
        self.from_address, self.from_name = from_address, from_name
        self.username, self._password = username, password
        self.timeout, self.allow_private = timeout, allow_private

    def __repr__(self) -> str:  # never the password, whatever prints this object
        return f"SmtpEmail(host={self.host!r}, port={self.port}, security={self.security!r})"

    def _mime(self, message: EmailMessage) -> MimeMessage:
        mime = MimeMessage()
        mime["From"] = formataddr((self.from_name or message.from_name or "", self.from_address))
        mime["To"] = message.to
        mime["Subject"] = message.subject
        if message.reply_to:
            mime["Reply-To"] = message.reply_to
        mime["Message-ID"] = make_msgid(domain=self.from_address.rsplit("@", 1)[1])
        mime.set_content(message.body)
        return mime

    def _connect(self, address: str) -> smtplib.SMTP:
        context, helo = tls_context(), self.from_address.rsplit("@", 1)[1]
        if self.security == "tls":
            server: smtplib.SMTP = _PinnedSMTPSSL(self.host, address, self.timeout, helo, context)
            server.connect(self.host, self.port)
            return server
        server = _PinnedSMTP(self.host, address, self.timeout, helo)
        server.connect(self.host, self.port)
        server.ehlo()
        if not server.has_extn("starttls"):
            server.close()
            raise ProviderError(self.name, "the server does not offer STARTTLS")
        server.starttls(context=context)
        server.ehlo()
        return server

    def send(self, message: EmailMessage) -> str:
        try:
            mime = self._mime(message)
        except (ValueError, TypeError):
            raise ProviderError(self.name, "the message has an invalid header") from None
        try:
            address = resolve_public_address(self.host, self.port, allow_private=self.allow_private)
        except ValueError as exc:
            raise ProviderError(self.name, str(exc)) from None
        try:
            server = self._connect(address)
            try:
                if self.username:
                    server.login(self.username, self._password or "")
                server.send_message(mime)
            finally:
                try:
                    server.quit()
                except (smtplib.SMTPException, OSError):
                    server.close()
        except ProviderError:
            raise
        except smtplib.SMTPAuthenticationError:
            raise ProviderError(self.name, "the server refused the login") from None
        except smtplib.SMTPRecipientsRefused:
            raise ProviderError(self.name, "the server refused the recipient") from None
        except smtplib.SMTPSenderRefused:
            raise ProviderError(self.name, "the server refused the sender address") from None
        except smtplib.SMTPNotSupportedError:
            raise ProviderError(self.name, "the server does not support what was asked (login)") from None
        except smtplib.SMTPException:
            raise ProviderError(self.name, "the server refused the message") from None
        except (ssl.SSLError, ssl.CertificateError):
            raise ProviderError(self.name, "the TLS handshake failed (certificate not valid for the host?)") from None
        except TimeoutError:
            raise ProviderError(self.name, "the server did not answer in time") from None
        except OSError:
            raise ProviderError(self.name, "could not connect to the server") from None
        return str(mime["Message-ID"])
