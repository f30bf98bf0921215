"""Client-given URLs (logos now, integration endpoints later): public https only."""
from __future__ import annotations

import pytest

from chalicelib.safe_urls import MAX_URL_LENGTH, check_public_https_url


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/logo.png",
        "https://CDN.Example.com/logo.png?v=2#top",
        "https://cdn.example.com:8443/logo.png",
        "https://8.8.8.8/logo.png",
        "https://[2606:4700:4700::1111]/logo.png",
        "https://xn--bcher-kva.example/logo.png",
        "https://static.example.com./logo.png",
    ],
)
def test_a_public_https_url_is_kept_as_given(url):
    assert check_public_https_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        # not https
        "http://cdn.example.com/logo.png",
        "ftp://cdn.example.com/logo.png",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//cdn.example.com/logo.png",
        "cdn.example.com/logo.png",
        # credentials, including the ones that hide the real host
        "https://user:pass@cdn.example.com/logo.png",
        "https://user@cdn.example.com/logo.png",
        "https://cdn.example.com@127.0.0.1/logo.png",
        "https://cdn.example.com\\@127.0.0.1/logo.png",
        # loopback, private, link-local (cloud metadata), unspecified
        "https://127.0.0.1/logo.png",
        "https://127.0.0.1:8443/logo.png",
        "https://10.0.0.5/logo.png",
        "https://10.255.255.255/logo.png",
        "https://172.16.0.1/logo.png",
        "https://192.168.1.1/logo.png",
        "https://100.64.0.1/logo.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254./latest/meta-data/",
        "https://0.0.0.0/logo.png",
        "https://[::1]/logo.png",
        "https://[::]/logo.png",
        "https://[fd00::1]/logo.png",
        "https://[fe80::1]/logo.png",
        "https://[::ffff:127.0.0.1]/logo.png",
        "https://[::ffff:a9fe:a9fe]/logo.png",
        "https://224.0.0.1/logo.png",
        # IPv6 forms that carry an IPv4 address (compatible, SIIT, NAT64, 6to4)
        "https://[::127.0.0.1]/logo.png",
        "https://[::ffff:0:127.0.0.1]/logo.png",
        "https://[64:ff9b::7f00:1]/logo.png",
        "https://[64:ff9b::a9fe:a9fe]/logo.png",
        "https://[64:ff9b:1::a00:1]/logo.png",
        "https://[2002:7f00:1::]/logo.png",
        "https://[2002:a9fe:a9fe::1]/logo.png",
        "https://[0:0:0:0:0:ffff:127.0.0.1]/logo.png",
        "https://[fe80::1%25eth0]/logo.png",
        # loopback in the forms browsers also read as IPv4
        "https://127.1/logo.png",
        "https://10.1/logo.png",
        "https://0x7f.0.0.1/logo.png",
        "https://0177.0.0.1/logo.png",
        "https://2130706433/logo.png",
        "https://2852039166/latest/meta-data/",
        "https://0xa9fea9fe/latest/meta-data/",
        "https://0251.0376.0251.0376/latest/meta-data/",
        "https://017700000001/logo.png",
        "https://127.000.000.001/logo.png",
        "https://127\u30020\u30020\u30021/logo.png",
        "https://%31%32%37.0.0.1/logo.png",
        "https://\uff11\uff12\uff17.0.0.1/logo.png",
        # local names
        "https://localhost/logo.png",
        "https://LOCALHOST/logo.png",
        "https://localhost./logo.png",
        "https://app.localhost/logo.png",
        "https://printer.local/logo.png",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://intranet/logo.png",
        # malformed
        "https:///logo.png",
        "https://cdn.example.com:99999/logo.png",
        "https://cdn.example.com:0/logo.png",
        "https://127.0.0.1%2f@cdn.example.com/logo.png",
        "https://cdn..example.com/logo.png",
        "https://cdn.example.com/lo go.png",
        "https://cdn.example.com/logo.png\n",
        "https://" + "a" * MAX_URL_LENGTH + ".example.com/",
    ],
)
def test_an_unsafe_url_is_refused(url):
    with pytest.raises(ValueError):
        check_public_https_url(url)
