"""POST /api/tenant/integrations/{kind}/test: try the tenant's own integration, enabled or not.

Email goes to the caller: the member whose id is the token's ``sub``, or an address
given in the body that belongs to a member of the tenant (so a test cannot mail
strangers). Tokens and members carry no phone number, so a text goes to the number in
the body. Payment and analytics have nothing we can send without calling the provider's
network, so their test re-validates the stored configuration and says so.
A provider that refuses gives 502 ``integration_test_failed`` with our own description
of what failed (never the server's reply, which may echo what we sent).
"""
from __future__ import annotations

import logging
import re
from uuid import UUID

from pydantic import ValidationError

from chalicelib.config.branding import sender_identity
from chalicelib.errors import NotFoundError, RequestValidationError
from chalicelib.integrations import resolution
from chalicelib.integrations.errors import IntegrationTestFailedError, ProviderError
from chalicelib.integrations.models import E164_PATTERN, Kind, TestRequest, TestResult, spec_for, stripe_mode
from chalicelib.integrations.providers.base import EmailMessage
from chalicelib.integrations.service import allow_private
from chalicelib.members import service as members
from chalicelib.tenancy.context import current_context

log = logging.getLogger("integrations")


def _invalid(kind: str, msg: str) -> RequestValidationError:
    return RequestValidationError(msg, extra={"errors": [{"loc": ["body", "to"], "type": kind, "msg": msg}]})


def _caller_email(to: str | None) -> str:
    if to is not None:
        member = members.member_by_email(to) if "@" in to else None
        if member is None:
            raise _invalid("recipient_not_member", "a test email goes only to a member of this tenant")
        return member.email
    principal = current_context().principal
    try:
        UUID(principal.sub if principal else "")
        return members.get_member(principal.sub if principal else "").email
    except (ValueError, NotFoundError):
        raise _invalid("recipient_required", "you are not a member with an email: name a member's email in 'to'") \
            from None


def _failed(kind: Kind, error: ProviderError) -> IntegrationTestFailedError:
    log.warning("integration test failed", extra={"fields": {"kind": kind.value, "provider": error.provider,
                                                            "reason": error.reason}})
    return IntegrationTestFailedError(f"{error.provider}: {error.reason}",
                                      extra={"kind": kind.value, "provider": error.provider})


def _test_email(body: TestRequest) -> TestResult:
    resolved = resolution.stored_as_resolved(Kind.EMAIL)
    to = _caller_email(body.to)
    name, support = sender_identity()
    message = EmailMessage(to=to, subject=f"Test message from {name}", from_name=name, reply_to=support,
                           body=f"Hello,\n\nThis is a test of {name}'s {resolved.provider} email integration. "
                                "If you can read it, mail from the network will reach its members.\n")
    try:
        message_id = resolution.build_email(resolved).send(message)
    except ProviderError as exc:
        raise _failed(Kind.EMAIL, exc) from None
    return TestResult(kind=Kind.EMAIL, provider=str(resolved.provider), sent=True, message_id=message_id,
                      detail="a test email was sent to the caller")


def _test_sms(body: TestRequest) -> TestResult:
    resolved = resolution.stored_as_resolved(Kind.SMS)
    if body.to is None or not re.fullmatch(E164_PATTERN, body.to):
        raise _invalid("phone_required", "give the number to text in 'to', in E.164 form (+15550100)")
    name, _ = sender_identity()
    try:
        message_id = resolution.build_sms(resolved).send(body.to, f"Test message from {name}.")
    except ProviderError as exc:
        raise _failed(Kind.SMS, exc) from None
    return TestResult(kind=Kind.SMS, provider=str(resolved.provider), sent=True, message_id=message_id,
                      detail="a test text was sent")


def _test_validate_only(kind: Kind) -> TestResult:
    resolved = resolution.stored_as_resolved(kind)
    spec = spec_for(kind, str(resolved.provider))
    if spec is None:
        raise IntegrationTestFailedError("the stored provider is no longer supported")
    context = {"allow_private": allow_private()}
    try:
        spec.public.model_validate(resolved.config, context=context)
        spec.secrets.model_validate(resolved.secrets, context=context)
    except ValidationError:
        raise IntegrationTestFailedError("the stored configuration is no longer valid: save it again") from None
    detail = "the configuration is well-formed; nothing was sent (no call is made to the provider)"
    if spec.name == "stripe":
        detail = f"the {stripe_mode(resolved.config['publishable_key'])}-mode keys are well-formed and agree; " \
                 "nothing was sent (no call is made to Stripe)"
    return TestResult(kind=kind, provider=spec.name, sent=False, detail=detail)


def run_test(kind: Kind, body: TestRequest) -> TestResult:
    if kind is Kind.EMAIL:
        return _test_email(body)
    if kind is Kind.SMS:
        return _test_sms(body)
    return _test_validate_only(kind)
