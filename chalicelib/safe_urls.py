"""Validation of URLs that clients give us (logos, favicons, later integration endpoints).

The server never fetches these, but browsers of other users will, and later features
may: only ``https`` to a public DNS name or public IP is accepted. Loopback, private,
link-local, multicast and reserved addresses, ``localhost`` names, credentials in the
URL and non-default schemes are refused (SSRF and mixed-content hygiene).
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_BLOCKED_NAMES = ("localhost", "localhost.localdomain", "metadata.google.internal")
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
# IPv6 ranges that carry an IPv4 address inside (IPv4-compatible, IPv4-mapped, SIIT, NAT64,
# 6to4): stacks and gateways translate them, so [64:ff9b::7f00:1] or [2002:7f00:1::] can
# reach 127.0.0.1, while ``ipaddress`` calls them global. No logo host needs one.
_IPV4_CARRYING = tuple(ipaddress.ip_network(n) for n in (
    "::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16"))


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
    if parts.port == 0:  # ``.port`` itself raises ValueError for one that is not a number in range
        raise ValueError("URL port must be between 1 and 65535")
    host = _ascii_host(parts.hostname or "")
    if not host:
        raise ValueError("URL must have a host")
    if host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES):
        raise ValueError("URL host is not public")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        if len(labels) < 2:
            raise ValueError("URL host must be a fully qualified name") from None
        if not all(_LABEL.fullmatch(label) for label in labels):
            raise ValueError("URL host is not a valid name") from None
        if _NUMERIC_LABEL.fullmatch(labels[-1]):
            # Browsers (WHATWG URL) read a host ending in a number as an IPv4 address in
            # any form: 127.1, 0x7f.0.0.1 and 0177.0.0.1 all mean 127.0.0.1.
            raise ValueError("URL host is an address in a non-standard form") from None
        return value
    if not address.is_global or address.is_multicast:
        raise ValueError("URL host is not a public address")
    if address.version == 6 and any(address in network for network in _IPV4_CARRYING):
        raise ValueError("URL host is an IPv6 address that carries an IPv4 address")
    return value


def _ascii_host(hostname: str) -> str:
    """The host as browsers will look it up: IDNA-mapped (full-width digits become ASCII)."""
    host = hostname.rstrip(".")
    if host.isascii():
        return host.lower()
    try:
        return host.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        raise ValueError("URL host is not a valid name") from None
