"""Who hears about a referral: the tenant's ``notifications`` configuration, sent after commit.

Events and templates: a referral created is ``referral_created`` (template
``referral_received``), accepted ``referral_accepted``, declined ``referral_declined``.
The effective configuration names, per event, the parties mailed and texted:
``sender`` and ``receiver`` (the professionals: their email and phone are sealed PII,
read with ``professionals.get_professional``), ``customer`` (the referral's customer,
when it has an email or phone), ``tenant_admin`` and ``manager`` (the tenant's active
members of that role; members have no phone, so they are mailed only). Every party gets
the event's template, rendered once with the tenant's branding. Texts go only when
``features.sms_notifications`` is on, to numbers in E.164 form (``+`` and 8 to 15
digits once spaces and punctuation are removed); nothing at all is sent while
``features.referrals`` is off.

Cost of a notice, on top of the referral's own write (``python -m bench network``,
"notices:" rows): one GetItem (the configuration pointer) when the event notifies
nobody; with the default (one party mailed) 8 GetItems (configuration, both
professionals, the category's name, the template, the branding twice: rendering and
sender name, the email integration) and one SES send per address; KMS only on a cold
data-key cache (``crypto``), 0 calls warm. A staff party adds a Query per page of
members, a customer party a GetItem.
"""
from __future__ import annotations

import functools
import logging
import re
from string import Template
from uuid import UUID

from chalicelib import members
from chalicelib.config import effective
from chalicelib.errors import NotFoundError
from chalicelib.members.models import Member
from chalicelib.network.categories import service as categories
from chalicelib.network.customers import service as customers
from chalicelib.network.professionals import service as professionals
from chalicelib.network.referrals.models import Referral, ReferralStatus
from chalicelib.notifications import after_commit, app_url, render, send_email, send_sms
from chalicelib.notifications.templates import branding_values
from chalicelib.tenancy.context import current_context

log = logging.getLogger("notifications")

S = ReferralStatus
# Referral status reached -> (configuration event, template).
EVENTS: dict[ReferralStatus, tuple[str, str]] = {
    S.PENDING: ("referral_created", "referral_received"),
    S.ACCEPTED: ("referral_accepted", "referral_accepted"),
    S.DECLINED: ("referral_declined", "referral_declined"),
}
STAFF_ROLES = ("tenant_admin", "manager")
_PHONE_PUNCTUATION = re.compile(r"[ ()./-]")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_MEMBER_PAGE = 100


def e164(phone: str | None) -> str | None:
    """``phone`` as E.164 (what SNS and Twilio take), or None when it is not one."""
    if not phone:
        return None
    number = _PHONE_PUNCTUATION.sub("", phone)
    return number if _E164.fullmatch(number) else None


def notify(referral: Referral) -> None:
    """Send what the configuration says about ``referral`` reaching its status (stored already)."""
    if referral.status in EVENTS:
        after_commit(EVENTS[referral.status][0], lambda: _send(referral))


class _Parties:
    """Each named party's email and phone, read once whatever the order of the names."""

    def __init__(self, referral: Referral) -> None:
        self.referral = referral
        self.sender = professionals.get_professional(referral.from_professional_id)
        self.receiver = professionals.get_professional(referral.to_professional_id)
        self._staff: list[Member] | None = None

    def _staff_members(self) -> list[Member]:
        if self._staff is None:
            found, cursor = members.list_members(_MEMBER_PAGE)
            while cursor is not None:
                more, cursor = members.list_members(_MEMBER_PAGE, cursor)
                found += more
            self._staff = [m for m in found if m.status == "active"]
        return self._staff

    def contacts(self, party: str) -> list[tuple[str | None, str | None]]:
        """(email, phone) of everyone ``party`` names."""
        if party == "sender":
            return [(self.sender.email, self.sender.phone)]
        if party == "receiver":
            return [(self.receiver.email, self.receiver.phone)]
        if party == "customer":
            customer = customers.get_customer(customers.Reader(None), UUID(str(self.referral.customer_id)))
            return [(customer.email, customer.phone)]
        return [(m.email, None) for m in self._staff_members() if m.role == party]


def _category_name(slug: str) -> str:
    try:
        return categories.get_category(slug).name
    except NotFoundError:
        return slug


def _send(referral: Referral) -> None:
    event, template = EVENTS[referral.status]
    configuration = effective.configuration(current_context().tenant)
    features, channels = configuration["features"], configuration["notifications"][event]
    texted = channels["sms"] if features["sms_notifications"] else []
    if not features["referrals"] or not (channels["email"] or texted):
        return
    parties = _Parties(referral)
    values = {"from_business": parties.sender.business_name, "to_business": parties.receiver.business_name,
              "service": _category_name(referral.service_category),
              "referral_url": app_url(f"/referrals/{referral.id}")}
    subject, body = render(template, values)
    addresses = dict.fromkeys(email for party in channels["email"] for email, _ in parties.contacts(party) if email)
    for address in addresses:
        after_commit(event, functools.partial(send_email, address, subject, body))
    phones = dict.fromkeys(number for party in texted for _, phone in parties.contacts(party)
                           if (number := e164(phone)))
    if phones:
        text = Template("$network_name: ").safe_substitute(branding_values()) + subject
        if referral.status is S.PENDING:
            text += " " + values["referral_url"]
        for phone in phones:
            after_commit(event, functools.partial(send_sms, phone, text))
