"""Texts out through SNS (the platform's AWS account) or a tenant's Twilio account.

Twilio is called over HTTPS with the standard library (``http.client``: no redirects
followed, so a base URL cannot bounce the request elsewhere). The host is resolved and
checked when we connect and the socket goes to that checked address; TLS still
verifies the certificate against the host name.
"""
from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.integrations.errors import ProviderError
from chalicelib.integrations.providers.base import SmsProvider
from chalicelib.safe_urls import resolve_public_address

MAX_RESPONSE_BYTES = 64 * 1024


class SnsSms(SmsProvider):
    name = "sns"

    def __init__(self, sender_id: str | None = None, origination_number: str | None = None) -> None:
        self.sender_id, self.origination_number = sender_id, origination_number

    def send(self, to: str, body: str) -> str:
        attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        if self.origination_number:
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String",
                                                          "StringValue": self.origination_number}
        try:
            response = aws.client("sns").publish(PhoneNumber=to, Message=body, MessageAttributes=attributes)
        except ClientError as exc:
            raise ProviderError(self.name, f"SNS refused the text ({exc.response['Error'].get('Code')})") from None
        except BotoCoreError:
            raise ProviderError(self.name, "SNS could not be reached") from None
        return str(response["MessageId"])


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout,
                                        self.source_address)  # type: ignore[attr-defined]
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP: only for the local stage's test servers (the schema refuses http elsewhere)."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout,
                                             self.source_address)  # type: ignore[attr-defined]


class TwilioSms(SmsProvider):
    name = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str, base_url: str, timeout: float,
                 allow_private: bool) -> None:
        self.account_sid, self._auth_token, self.from_number = account_sid, auth_token, from_number
        self.base_url, self.timeout, self.allow_private = base_url, timeout, allow_private

    def __repr__(self) -> str:
        return f"TwilioSms(account_sid={self.account_sid!r}, base_url={self.base_url!r})"

    def _connection(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = resolve_public_address(host, port, allow_private=self.allow_private)
        except ValueError as exc:
            raise ProviderError(self.name, str(exc)) from None
        if parts.scheme == "https":
            return _PinnedHTTPS(host, port, address, self.timeout, ssl.create_default_context())
        return _PinnedHTTP(host, port, address, self.timeout)

    def send(self, to: str, body: str) -> str:
        path = urlsplit(self.base_url).path.rstrip("/") + \
            f"/2010-04-01/Accounts/{quote(self.account_sid, safe='')}/Messages.json"
        credentials = base64.b64encode(f"{self.account_sid}:{self._auth_token}".encode()).decode("ascii")
        headers = {"Authorization": f"Basic {credentials}", "Accept": "application/json",
                   "Content-Type": "application/x-www-form-urlencoded"}
        form = urlencode({"To": to, "From": self.from_number, "Body": body})
        connection = self._connection()
        try:
            connection.request("POST", path, body=form, headers=headers)
            response = connection.getresponse()
            status, raw = response.status, response.read(MAX_RESPONSE_BYTES)
        except (ssl.SSLError, ssl.CertificateError):
            raise ProviderError(self.name, "the TLS handshake failed") from None
        except TimeoutError:
            raise ProviderError(self.name, "the API did not answer in time") from None
        except (OSError, http.client.HTTPException):
            raise ProviderError(self.name, "could not reach the API") from None
        finally:
            connection.close()
        return self._message_id(status, raw)

    def _message_id(self, status: int, raw: bytes) -> str:
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status in (401, 403):
            raise ProviderError(self.name, "the API refused the account SID or auth token")
        if status >= 400:
            code = answer.get("code")
            suffix = f", error {code}" if isinstance(code, int) else ""
            raise ProviderError(self.name, f"the API refused the text (HTTP {status}{suffix})")
        sid = answer.get("sid")
        if not isinstance(sid, str) or not sid:
            raise ProviderError(self.name, "the API answered without a message id")
        return sid
