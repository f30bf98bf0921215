"""A tenant's email templates: stored per tenant, rendered by plain ``$name`` substitution.

Rendering is ``string.Template.safe_substitute``: no expressions, attribute access or
code run from a template a tenant may one day edit, and an unknown ``$name`` stays as
it is rather than failing the send.
"""
from __future__ import annotations

from dataclasses import dataclass
from string import Template

from pynamodb.transactions import TransactWrite

from chalicelib.clock import now_iso
from chalicelib.config.branding import get_branding
from chalicelib.errors import NotFoundError
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem, TransactionCancelledError


@dataclass(frozen=True)
class EmailTemplate:
    name: str
    subject: str
    body: str


DEFAULT_TEMPLATES: tuple[EmailTemplate, ...] = (
    EmailTemplate("welcome", "Welcome to $network_name",
                  "Hello,\n\n$network_name is ready. Sign in as its administrator to invite your team:\n"
                  "$invitation_url\n\nThe $network_name team"),
    EmailTemplate("member_invitation", "You are invited to join $network_name",
                  "Hello,\n\nYou have been invited to $network_name as $role. Accept the invitation here:\n"
                  "$invitation_url\n"),
    EmailTemplate("export_ready", "Your $network_name export is ready",
                  "Hello,\n\nThe data export you requested is ready to download until $expires_at:\n$download_url\n"),
    EmailTemplate("referral_received", "New referral from $from_business",
                  "Hello $to_business,\n\n$from_business has referred a customer to you for $service.\n"
                  "Open the referral: $referral_url\n"),
    EmailTemplate("referral_accepted", "$to_business accepted your referral",
                  "Hello $from_business,\n\n$to_business accepted your referral for $service.\n"),
    EmailTemplate("referral_declined", "$to_business declined your referral",
                  "Hello $from_business,\n\n$to_business declined your referral for $service.\n"),
)


def _pk() -> str:
    return data.partition(keys.EMAIL_TEMPLATE)


def install_default_templates() -> int:
    """Write the defaults the bound tenant lacks (idempotent); how many were written."""
    written = 0
    now = now_iso()
    for template in DEFAULT_TEMPLATES:
        item = data.new_item(pk=_pk(), sk=template.name, kind=keys.EMAIL_TEMPLATE, entity_id=template.name,
                             version=1, created_at=now, updated_at=now,
                             data=data.dumps({"subject": template.subject, "body": template.body}))

        def build(tx: TransactWrite, item: DataItem = item) -> None:
            tx.save(item, condition=DataItem.pk.does_not_exist())

        try:
            data.transact(build)
            written += 1
        except TransactionCancelledError as exc:
            if not exc.failed(0):
                raise
    return written


def get_template(name: str) -> EmailTemplate:
    """The bound tenant's template ``name``; the platform default of that name when the
    tenant has none stored (a tenant created before that template existed)."""
    item = data.get(_pk(), name)
    if item is None:
        default = next((t for t in DEFAULT_TEMPLATES if t.name == name), None)
        if default is None:
            raise NotFoundError("no such email template")
        return default
    fields = data.loads(item.data)
    return EmailTemplate(name, fields["subject"], fields["body"])


def branding_values() -> dict[str, str]:
    """What every template may use from the tenant's branding: ``$network_name``,
    ``$support_email``, ``$support_phone`` (empty when the branding has none)."""
    branding = get_branding()
    return {"network_name": branding.display_name, "support_email": branding.support_email or "",
            "support_phone": branding.support_phone or ""}


def render(name: str, values: dict[str, str]) -> tuple[str, str]:
    """The bound tenant's template ``name`` with its branding and ``values`` (which win) substituted."""
    template = get_template(name)
    merged = {**branding_values(), **values}
    return Template(template.subject).safe_substitute(merged), Template(template.body).safe_substitute(merged)
