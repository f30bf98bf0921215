"""Validation of URLs and hosts that clients give us (logos, favicons, integration endpoints).

The server never fetches images, but browsers of other users will: only ``https`` to a
public DNS name or public IP is accepted. Loopback, private, link-local, multicast and
reserved addresses, ``localhost`` names, credentials in the URL and non-default schemes
are refused (SSRF and mixed-content hygiene).

Integration endpoints (a tenant's SMTP host, a provider's base URL) are connected to by
the server, so they get two checks: the name when it is saved (:func:`check_public_host`,
literal addresses and local names refused without a DNS lookup, which could differ
later anyway), and every address the name resolves to when we connect
(:func:`resolve_public_address`); the connection then goes to that checked address, so
a DNS answer changed between check and connect (rebinding) cannot redirect it. On the
local stage (``allow_private``) both allow loopback and private hosts, for local test
servers.
"""
from __future__ import annotations

import ipaddress
import re
import socket
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


def _public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Public, and (for IPv6) none of the forms that carry an IPv4 address: NAT64 or 6to4
    gateways and dual stacks translate them to the IPv4 address inside, so
    ``64:ff9b::7f00:1`` reaches 127.0.0.1 while ``ipaddress`` calls it global."""
    if isinstance(address, ipaddress.IPv6Address) and any(address in network for network in _IPV4_CARRYING):
        return False
    return address.is_global and not address.is_multicast


def check_public_host(value: str, *, allow_private: bool = False) -> str:
    """Return the host (lower-case, IDNA) if a server may connect to it, else ``ValueError``."""
    if not value or len(value) > 253 or any(ch.isspace() or ord(ch) < 0x20 for ch in value):
        raise ValueError("host is not a valid name")
    host = _ascii_host(value.strip("[]"))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        if not all(_LABEL.fullmatch(label) for label in labels):
            raise ValueError("host is not a valid name") from None
        if allow_private:
            return host
        if host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES):
            raise ValueError("host is not public") from None
        if len(labels) < 2:
            raise ValueError("host must be a fully qualified name") from None
        if _NUMERIC_LABEL.fullmatch(labels[-1]):
            raise ValueError("host is an address in a non-standard form") from None
        return host
    if not allow_private and not _public_address(address):
        raise ValueError("host is not a public address")
    return str(address)


def check_provider_base_url(value: str, *, allow_private: bool = False) -> str:
    """A provider API base URL: https to a public host; on the local stage also http to any host."""
    if len(value) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 0x20 for ch in value):
        raise ValueError("URL is not valid")
    parts = urlsplit(value)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise ValueError("URL must use https")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError("URL must not contain credentials, a query or a fragment")
    _ = parts.port
    check_public_host(parts.hostname or "", allow_private=allow_private)
    return value.rstrip("/")


def resolve_public_address(host: str, port: int, *, allow_private: bool = False) -> str:
    """The address to connect to for ``host``: every address DNS gives must be public
    (one private answer among public ones is refused too); ``ValueError`` otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValueError("host does not resolve") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise ValueError("host does not resolve")
    if not allow_private and not all(_public_address(a) for a in addresses):
        raise ValueError("host resolves to an address that is not public")
    return str(addresses[0])
