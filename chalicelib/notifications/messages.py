"""Mail and texts sent because a change was stored: a member invited, a referral made or answered.

Such a message is stored in the tenant's outbox *after* its change has committed and
queued (``post_email``/``post_sms``, see ``dispatch``): the request returns without
waiting for the provider, and a provider that fails can neither undo nor half-write the
change nor slow the request; the notifications queue's handler sends it, the
``notifications_retry`` schedule retries what a provider refused. Anything else that goes wrong while preparing or
sending (a template or recipient that cannot be read, KMS throttled while the outbox
seals the message) is logged by :func:`after_commit` and never turns the stored change
into an error response: a client retrying a 500 would invite or refer twice.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.notifications.sender import post_email
from chalicelib.notifications.templates import render
from chalicelib.settings import get_settings
from chalicelib.tenancy.context import current_context

log = logging.getLogger("notifications")


def app_url(path: str) -> str:
    """A link into the bound tenant's app: ``https://<slug>.<platform domain><path>``."""
    return f"https://{current_context().tenant.slug}.{get_settings().platform_domain}{path}"


def email_template(to: str, template: str, values: dict[str, str]) -> str:
    """The bound tenant's ``template`` rendered with its branding and ``values``, queued for ``to``."""
    subject, body = render(template, values)
    return post_email(to, subject, body)


def after_commit(notification: str, send: Callable[[], object]) -> bool:
    """Run ``send`` for a change already stored; False (logged, never raised) if it failed.

    Broad on purpose: the change it announces is committed, so no failure here may
    reach the caller as an error (see the module docstring)."""
    try:
        send()
    except Exception:
        log.exception("notification not sent", extra={"fields": {"notification": notification}})
        return False
    return True
