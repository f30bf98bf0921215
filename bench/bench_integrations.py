"""Tenant integrations (issue 10): what resolving the provider adds to every notification.

Every mail or text sent on a tenant's behalf first resolves the tenant's integration
(one GetItem; when the tenant has one with secrets, one unseal of its sealed document,
whose data key the Encryption SDK caches). Timed in-process against moto with the
tenant bound, as a route or a worker binds it: :func:`resolve` for a tenant with no
integration (the platform default) and for one with an SMTP integration (secrets
sealed); and ``send_email`` through SES for a tenant on the platform default and for a
tenant with its own SES identity, with the KMS and DynamoDB calls each send makes.
"""
from __future__ import annotations

import threading
from typing import Any

from bench.harness import Row, create_tenant, median, percentile, quiet_request_logs, time_calls, world

NAME = "integrations"


class _Calls:
    def __init__(self) -> None:
        self.names: list[str] = []
        self._lock = threading.Lock()

    def hook(self, model: Any = None, **_: Any) -> None:
        with self._lock:
            self.names.append(model.name)


def _bound(tenant: Any) -> Any:
    from chalicelib.tenancy.context import TenantContext, bound

    return bound(TenantContext(tenant=tenant, request_id="bench"))


def _configure(kind: str, body: dict[str, Any]) -> None:
    from chalicelib.integrations import service
    from chalicelib.integrations.models import IntegrationPut, Kind

    service.put(Kind(kind), IntegrationPut.model_validate(body), None)


def _micro(samples: list[float]) -> tuple[float, float]:
    return round(median(samples) * 1e6, 1), round(percentile(samples, 95) * 1e6, 1)


def run(quick: bool = False) -> list[Row]:
    from chalicelib import aws
    from chalicelib.integrations import Kind, resolve
    from chalicelib.notifications import send_email

    iterations = 30 if quick else 300
    rows: list[Row] = []
    calls = _Calls()
    with world() as _w, quiet_request_logs():
        platform, smtp = create_tenant("bench-int-platform"), create_tenant("bench-int-smtp")
        own_ses = create_tenant("bench-int-ses", domains=["bench-int-ses.example"])
        aws.client("ses").verify_email_identity(EmailAddress="mail@bench-int-ses.example")
        with _bound(smtp):
            _configure("email", {"provider": "smtp", "config": {"host": "smtp.bench.example", "port": 587,
                                                                 "username": "u", "from_address": "m@bench.example"},
                                 "secrets": {"password": "bench-password-123456"}})
        with _bound(own_ses):
            _configure("email", {"provider": "ses", "config": {"from_address": "mail@bench-int-ses.example"}})
        for label, tenant in (("platform default", platform), ("tenant smtp (sealed secrets)", smtp)):
            with _bound(tenant):
                p50, p95 = _micro(time_calls(lambda: resolve(Kind.EMAIL), iterations, warmup=5))
            rows += [Row(NAME, f"resolve email, {label}: p50", p50, "us"),
                     Row(NAME, f"resolve email, {label}: p95", p95, "us")]
        aws.install_session_hook("before-call.kms", calls.hook)
        aws.install_session_hook("before-call.dynamodb", calls.hook)
        try:
            for label, tenant in (("platform SES", platform), ("tenant SES", own_ses)):
                with _bound(tenant):
                    samples = time_calls(lambda: send_email("to@bench.example", "Subject", "Body"), iterations,
                                         warmup=5)
                    calls.names.clear()
                    send_email("to@bench.example", "Subject", "Body")
                p50, p95 = _micro(samples)
                rows += [Row(NAME, f"send_email via {label}: p50", p50, "us"),
                         Row(NAME, f"send_email via {label}: p95", p95, "us"),
                         Row(NAME, f"send_email via {label}: DynamoDB calls", calls.names.count("GetItem")
                             + calls.names.count("Query"), "calls"),
                         Row(NAME, f"send_email via {label}: KMS calls (warm)", sum(
                             1 for n in calls.names if n in ("Decrypt", "GenerateDataKey", "Encrypt")), "calls")]
        finally:
            aws.remove_session_hook("before-call.kms", calls.hook)
            aws.remove_session_hook("before-call.dynamodb", calls.hook)
        with _bound(smtp):
            calls.names.clear()
            aws.install_session_hook("before-call.kms", calls.hook)
            try:
                for _ in range(100):
                    resolve(Kind.EMAIL)
            finally:
                aws.remove_session_hook("before-call.kms", calls.hook)
            rows.append(Row(NAME, "KMS calls per 100 resolutions with sealed secrets (warm)", len(calls.names),
                            "calls"))
    return rows
