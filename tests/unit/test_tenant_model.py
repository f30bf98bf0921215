"""What a new tenant may be (REQ-MT-B001): slug, colour, logo and domains are checked here."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.tenancy.tenant import RESERVED_SLUGS
from chalicelib.tenants.models import TenantCreate


def new(**fields: Any) -> TenantCreate:
    return TenantCreate(**{"slug": "acme", "name": "Acme", "display_name": "Acme Motors", **fields})


def refused_fields(**fields: Any) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        new(**fields)
    return [e["loc"] for e in caught.value.errors()]


# ---- slug ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["abc", "acme", "acme-motors", "a1b", "123", "a" * 63, "x-y-z", "ab-cd"])
def test_a_lowercase_dns_label_of_3_to_63_is_a_slug(slug):
    assert new(slug=slug).slug == slug


@pytest.mark.parametrize(
    "slug",
    [
        "ab", "a", "", "a" * 64,  # length
        "Acme", "ACME", "acMe",  # upper case
        "-acme", "acme-", "ac_me", "ac.me", "ac me", "acmé", "ac/me", "ac%2e",  # not a DNS label
        "xn--80ak6aa92e", "xn--acme", "ab--cd",  # IDNA look-alikes (hyphens in positions 3-4)
        # UUID-shaped: X-Tenant-ID would read these as a tenant id, never as this slug
        "123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000",
    ],
)
def test_anything_else_is_refused(slug):
    assert refused_fields(slug=slug) == [("slug",)]


@pytest.mark.parametrize("slug", sorted(RESERVED_SLUGS))
def test_reserved_names_are_refused(slug):
    assert refused_fields(slug=slug) == [("slug",)]


@pytest.mark.parametrize("slug", ["api", "www", "admin", "localhost"])
def test_the_platform_hosts_are_reserved(slug):
    assert slug in RESERVED_SLUGS


def test_surrounding_whitespace_is_stripped_but_case_is_not_folded():
    assert new(slug="  acme ").slug == "acme"
    assert refused_fields(slug=" Acme ") == [("slug",)]


# ---- colour --------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "stored"), [("#1a2b3c", "#1A2B3C"), ("#FFFFFF", "#FFFFFF"), (None, None)])
def test_a_colour_is_hash_rrggbb_stored_upper_case(given, stored):
    assert new(primary_color=given).primary_color == stored


@pytest.mark.parametrize("colour", ["1a2b3c", "#abc", "#1a2b3c4d", "#GGGGGG", "red", "rgb(0,0,0)", "#1a2b3c;x", ""])
def test_any_other_colour_is_refused(colour):
    assert refused_fields(primary_color=colour) == [("primary_color",)]


# ---- logo ----------------------------------------------------------------------------------


def test_a_public_https_logo_is_kept():
    assert new(logo_url="https://cdn.example.com/acme.png").logo_url == "https://cdn.example.com/acme.png"


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/acme.png",
        "https://127.0.0.1/acme.png",
        "https://10.1.2.3/acme.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/acme.png",
        "https://localhost/acme.png",
        "https://user:pass@cdn.example.com/acme.png",
        "https://127.1/acme.png",
        "javascript:alert(1)",
    ],
)
def test_a_logo_that_is_not_public_https_is_refused(url):
    assert refused_fields(logo_url=url) == [("logo_url",)]


# ---- domains -------------------------------------------------------------------------------


def test_domains_are_normalised():
    tenant = new(domains=["Portal.Acme-Motors.Example.", "  www.acme.example  "])
    assert tenant.domains == ["portal.acme-motors.example", "www.acme.example"]


@pytest.mark.parametrize(
    "domain",
    [
        "localhost", "acme", "", ".", "10.0.0.1", "127.0.0.1", "acme..example", "-acme.example", "acme-.example",
        "ac_me.example", "acme.example:443", "https://acme.example", "acme.example/path", "*.acme.example",
        "user@acme.example", "a" * 64 + ".example", ".".join(["a" * 60] * 5),
    ],
)
def test_a_domain_that_is_not_a_host_name_is_refused(domain):
    assert refused_fields(domains=[domain])[0][0] == "domains"


def test_domains_equal_after_normalisation_are_refused():
    assert refused_fields(domains=["portal.acme.example", "PORTAL.acme.example."]) == [("domains",)]


def test_unknown_and_server_owned_fields_are_refused():
    locations = refused_fields(id="00000000-0000-0000-0000-000000000000", status="active", tenant_id="x")
    assert sorted(locations) == [("id",), ("status",), ("tenant_id",)]
