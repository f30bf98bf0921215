"""Email templates render by plain substitution: nothing in a template or a value runs."""
from __future__ import annotations

from string import Template

from chalicelib.notifications.templates import DEFAULT_TEMPLATES

NAMES = {"welcome", "member_invitation", "export_ready", "referral_received", "referral_accepted",
         "referral_declined", "referral_completed", "referral_expired"}


def test_the_defaults_cover_every_platform_mail():
    assert {t.name for t in DEFAULT_TEMPLATES} == NAMES


def test_substitution_is_literal_and_tolerates_unknown_names():
    template = Template("Hi $name, ${__class__} {0.__globals__} $missing")
    rendered = template.safe_substitute({"name": "{0.__class__} $other"})
    assert rendered == "Hi {0.__class__} $other, ${__class__} {0.__globals__} $missing"


def test_every_default_renders_with_its_values():
    values = {"network_name": "Acme", "invitation_url": "https://acme.example/i", "role": "manager",
              "expires_at": "tomorrow", "download_url": "https://x.example/d", "from_business": "A",
              "to_business": "B", "service": "brakes", "referral_url": "https://x.example/r"}
    for template in DEFAULT_TEMPLATES:
        body = Template(template.body).safe_substitute(values)
        subject = Template(template.subject).safe_substitute(values)
        assert "$" not in body + subject, template.name
