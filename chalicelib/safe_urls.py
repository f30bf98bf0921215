"""Validation of URLs that clients give us (logos, favicons, later integration endpoints).

The server never fetches these, but browsers of other users will, and later features
may: only ``https`` to a public DNS name or public IP is accepted. Loopback, private,
link-local, multicast and reserved addresses, ``localhost`` names, credentials in the
URL and non-default schemes are refused (SSRF and mixed-content hygiene).
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_BLOCKED_NAMES = ("localhost", "localhost.localdomain", "metadata.google.internal")
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def check_public_https_url(value: str) -> str:
    """Return ``value`` if it is a public https URL, else raise ``ValueError``."""
    if len(value) > MAX_URL_LENGTH:
        raise ValueError("URL is too long")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in value):
        raise ValueError("URL contains whitespace or control characters")
    parts = urlsplit(value)
    if parts.scheme != "https":
        raise ValueError("URL must use https")
    if parts.username is not None or parts.password is not None:
        raise ValueError("URL must not contain credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("URL must have a host")
    if host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES):
        raise ValueError("URL host is not public")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if "." not in host:
            raise ValueError("URL host must be a fully qualified name") from None
        return value
    if not address.is_global or address.is_multicast:
        raise ValueError("URL host is not a public address")
    return value
