"""Local servers for the integration tests: an SMTP server (aiosmtpd, STARTTLS or implicit
TLS, with a certificate made for the test and trusted through ``use_tls_context``) and an
HTTP server that answers like Twilio's Messages API. Plus bodies and raw-data scanners."""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import body_of

INTEGRATIONS = "/api/tenant/integrations"
SMTP_PASSWORD = "smtp-pass-Secret-9f3kq2"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilioTokenSecret7x9q4w2e"
STRIPE_SECRET = "sk_test_StripeSecretValue12345"
STRIPE_WEBHOOK = "whsec_WebhookSigningSecret9876"
SEGMENT_KEY = "SegmentWriteKeySecret4242"
ALL_SECRETS = (SMTP_PASSWORD, TWILIO_TOKEN, STRIPE_SECRET, STRIPE_WEBHOOK, SEGMENT_KEY)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Certificate:
    server: ssl.SSLContext
    client: ssl.SSLContext


def make_certificate() -> Certificate:
    """A self-signed certificate for localhost and 127.0.0.1, and a client context that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    directory = Path(tempfile.mkdtemp())
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(key_pem)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return Certificate(server, client)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: str


@dataclass
class Stall:
    """A server that, given a message, says nothing until released (or ``seconds`` pass)."""
    seconds: float = 10.0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class SmtpServer:
    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    stall: Stall | None = None


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        stall = self.server.stall
        if stall is not None:
            stall.reached.set()
            await asyncio.get_running_loop().run_in_executor(None, stall.release.wait, stall.seconds)
        content = envelope.content.decode("utf-8", "replace") if isinstance(envelope.content, bytes) else \
            str(envelope.content)
        self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), content))
        return "250 OK"


@contextmanager
def smtp_server(certificate: Certificate, *, mode: str = "starttls", username: str = "mailer",
                password: str = SMTP_PASSWORD, stall: Stall | None = None) -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 that wants TLS (STARTTLS or implicit) and a login."""
    server = SmtpServer(free_port(), stall=stall)

    def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == username \
            and auth_data.password.decode() == password
        if ok:
            server.logins.append((username, "ok"))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    common: dict[str, Any] = {"hostname": "127.0.0.1", "port": server.port, "authenticator": authenticate,
                              "auth_required": True}
    if mode == "tls":
        # aiosmtpd does not see that an implicit-TLS session is encrypted: let it offer AUTH.
        controller = Controller(_Handler(server), ssl_context=certificate.server, auth_require_tls=False, **common)
    else:
        controller = Controller(_Handler(server), tls_context=certificate.server, require_starttls=True, **common)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class TwilioServer:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None


@contextmanager
def twilio_server(sid: str = TWILIO_SID, token: str = TWILIO_TOKEN) -> Iterator[TwilioServer]:
    """An HTTP server answering POST /2010-04-01/Accounts/<sid>/Messages.json like Twilio."""
    expected = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            state.requests.append({"path": self.path, "form": form,
                                   "authorized": self.headers.get("Authorization") == expected})
            if state.fail_with:
                status, answer = state.fail_with, {"code": 21211, "message": "invalid"}
            elif self.headers.get("Authorization") != expected:
                status, answer = 401, {"code": 20003, "message": "Authenticate"}
            elif self.path != f"/2010-04-01/Accounts/{sid}/Messages.json":
                status, answer = 404, {"code": 20404}
            else:
                status, answer = 201, {"sid": f"SM{len(state.requests):032d}", "status": "queued"}
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = TwilioServer(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def trusting(certificate: Certificate) -> Iterator[None]:
    from chalicelib.integrations.providers import email

    previous = email.use_tls_context(certificate.client)
    try:
        yield
    finally:
        email.use_tls_context(previous)


def smtp_body(port: int, *, security: str = "starttls", enabled: bool = True, password: str | None = SMTP_PASSWORD,
              **config: Any) -> dict[str, Any]:
    return {"provider": "smtp", "enabled": enabled,
            "config": {"host": "localhost", "port": port, "username": "mailer", "security": security,
                       "from_address": "mail@acme-motors.example", "from_name": "Acme Mail", **config},
            "secrets": {} if password is None else {"password": password}}


def twilio_body(base_url: str, token: str = TWILIO_TOKEN) -> dict[str, Any]:
    return {"provider": "twilio", "config": {"account_sid": TWILIO_SID, "from_number": "+15550001111",
                                             "base_url": base_url},
            "secrets": {"auth_token": token}}


STRIPE_BODY = {"provider": "stripe", "config": {"publishable_key": "pk_test_PublishableKey12345"},
               "secrets": {"secret_key": STRIPE_SECRET, "webhook_signing_secret": STRIPE_WEBHOOK}}
SEGMENT_BODY = {"provider": "segment", "secrets": {"write_key": SEGMENT_KEY}}
GA_BODY = {"provider": "google_analytics", "config": {"measurement_id": "G-ABC123XYZ"}}


def put_integration(client: Any, tenant: Any, kind: str, body: dict[str, Any], version: int | None = None,
                    role: str = "tenant_admin") -> Any:
    headers = {"If-Match": f'"{version}"'} if version is not None else {}
    return client.request("PUT", f"{INTEGRATIONS}/{kind}", tenant=tenant, role=role, body=body, headers=headers)


def configure(client: Any, tenant: Any, kind: str, body: dict[str, Any], version: int | None = None) -> dict[str, Any]:
    response = put_integration(client, tenant, kind, body, version)
    assert response.status_code in (200, 201), response.body
    return body_of(response)


def get_integration(client: Any, tenant: Any, kind: str) -> dict[str, Any]:
    response = client.get(f"{INTEGRATIONS}/{kind}", tenant=tenant)
    assert response.status_code == 200, response.body
    return body_of(response)


def deliver_notifications() -> int:
    """Run the notifications queue's handler over every waiting message, as Lambda would
    (requests only queue their mail: ``notifications.dispatch``); how many were handled."""
    from app import app
    from chalicelib.local.pump import EventPump
    from chalicelib.notifications import NOTIFICATIONS_QUEUE
    from chalicelib.settings import get_settings

    pump = EventPump(app, get_settings().region)
    source = next(q for q in pump.queues if q.queue == NOTIFICATIONS_QUEUE)
    handled = 0
    while (batch := pump.pump_queue(source)) > 0:
        handled += batch
    return handled


def ses_sent() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def sns_sent() -> list[tuple[str, str]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return [(phone, text) for phone, text, *_ in sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()]


def log_text(records: list[logging.LogRecord]) -> str:
    """Everything a log handler could write from ``records``: message, fields, args, exceptions."""
    return "\n".join(json.dumps({k: v for k, v in record.__dict__.items() if k != "exc_info"}, default=str)
                     + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
                     for record in records)
