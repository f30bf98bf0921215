"""Where a server may connect for a tenant: hosts and base URLs checked when saved, every
resolved address checked again when connecting (DNS rebinding)."""
from __future__ import annotations

import socket

import pytest

from chalicelib.safe_urls import check_provider_base_url, check_public_host, resolve_public_address

PRIVATE_HOSTS = ["127.0.0.1", "localhost", "mail.localhost", "10.0.0.5", "192.168.1.1", "172.16.0.1",
                 "169.254.169.254", "[::1]", "::ffff:127.0.0.1", "fd00::1", "0.0.0.0", "metadata.google.internal",
                 "smtp.internal", "printer.local", "intranet", "0x7f.0.0.1", "2130706433"]


@pytest.mark.parametrize("host", PRIVATE_HOSTS)
def test_private_and_local_hosts_are_refused_outside_the_local_stage(host):
    with pytest.raises(ValueError):
        check_public_host(host)


@pytest.mark.parametrize("host", ["smtp.example.com", "email-smtp.eu-west-1.amazonaws.com", "8.8.8.8"])
def test_public_hosts_are_accepted(host):
    assert check_public_host(host) == host


def test_the_local_stage_allows_local_test_servers():
    assert check_public_host("127.0.0.1", allow_private=True) == "127.0.0.1"
    assert check_public_host("localhost", allow_private=True) == "localhost"
    with pytest.raises(ValueError):
        check_public_host("bad host", allow_private=True)


@pytest.mark.parametrize("url", ["http://api.twilio.example", "https://127.0.0.1", "https://10.1.2.3/x",
                                 "https://user:pw@api.twilio.com", "https://api.twilio.com/?a=b",
                                 "https://169.254.169.254", "ftp://api.twilio.com", "https://localhost:8443"])
def test_unsafe_base_urls_are_refused(url):
    with pytest.raises(ValueError):
        check_provider_base_url(url)


def test_base_urls():
    assert check_provider_base_url("https://api.twilio.com/") == "https://api.twilio.com"
    assert check_provider_base_url("http://127.0.0.1:8080", allow_private=True) == "http://127.0.0.1:8080"


def _answers(*addresses):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    return getaddrinfo


def test_a_name_that_resolves_to_a_private_address_is_refused_when_connecting(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _answers("127.0.0.1"))
    with pytest.raises(ValueError, match="not public"):
        resolve_public_address("mail.rebound.example", 25)
    monkeypatch.setattr(socket, "getaddrinfo", _answers("93.184.216.34", "10.0.0.1"))
    with pytest.raises(ValueError, match="not public"):
        resolve_public_address("mail.rebound.example", 25)
    monkeypatch.setattr(socket, "getaddrinfo", _answers("93.184.216.34"))
    assert resolve_public_address("mail.example.com", 25) == "93.184.216.34"
    monkeypatch.setattr(socket, "getaddrinfo", _answers("127.0.0.1"))
    assert resolve_public_address("localhost", 25, allow_private=True) == "127.0.0.1"


def test_a_name_that_does_not_resolve_is_refused(monkeypatch):
    def fail(*_args, **_kwargs):
        raise socket.gaierror("no such name")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(ValueError, match="does not resolve"):
        resolve_public_address("nowhere.example", 25)
