"""The client's address: X-Forwarded-For believed only from trusted proxies, walked from the right."""

import ipaddress
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from uploads.client_ip import client_ip, parse_ip


def request(peer, forwarded=None):
    headers = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


@pytest.fixture
def proxies(settings):
    def trust(*entries):
        settings.IMGBED_TRUSTED_PROXIES = list(entries)

    return trust


def test_without_trusted_proxies_the_peer_is_the_client(proxies):
    proxies()
    assert client_ip(request("203.0.113.7")) == "203.0.113.7"
    # Anyone may send the header: it is ignored.
    assert client_ip(request("203.0.113.7", forwarded="198.51.100.1")) == "203.0.113.7"


def test_a_forged_header_from_an_untrusted_peer_is_ignored(proxies):
    proxies("10.0.0.0/8")
    assert client_ip(request("203.0.113.7", forwarded="10.0.0.5, 198.51.100.1")) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(proxies):
    proxies("10.0.0.1")
    assert client_ip(request("10.0.0.1", forwarded="203.0.113.7")) == "203.0.113.7"


def test_the_chain_is_walked_from_the_right_skipping_trusted_proxies(proxies):
    proxies("10.0.0.0/8", "192.0.2.10")
    # The client claimed 1.1.1.1 itself; the first proxy (192.0.2.10) saw 203.0.113.7.
    forwarded = "1.1.1.1, 203.0.113.7, 192.0.2.10, 10.0.0.3"
    assert client_ip(request("10.0.0.2", forwarded=forwarded)) == "203.0.113.7"


def test_a_chain_of_trusted_proxies_only_gives_the_leftmost(proxies):
    proxies("10.0.0.0/8")
    assert client_ip(request("10.0.0.2", forwarded="10.0.0.9, 10.0.0.3")) == "10.0.0.9"


def test_a_trusted_proxy_without_the_header_is_the_client(proxies):
    proxies("10.0.0.0/8")
    assert client_ip(request("10.0.0.2")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", forwarded="")) == "10.0.0.2"


def test_garbage_in_the_chain_stops_the_walk_at_the_last_readable_hop(proxies):
    proxies("10.0.0.0/8")
    assert client_ip(request("10.0.0.2", forwarded="203.0.113.7, unknown, 10.0.0.3")) == "10.0.0.3"
    assert client_ip(request("10.0.0.2", forwarded="<script>")) == "10.0.0.2"


def test_ports_brackets_and_ipv6(proxies):
    proxies("10.0.0.0/8", "2001:db8::/32")
    assert client_ip(request("10.0.0.2", forwarded="203.0.113.7:51234")) == "203.0.113.7"
    assert client_ip(request("10.0.0.2", forwarded="[2001:db9::1]:443")) == "2001:db9::1"
    assert client_ip(request("2001:db8::5", forwarded="2001:db9::2")) == "2001:db9::2"
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    assert client_ip(request("::ffff:10.0.0.2", forwarded="203.0.113.7")) == "203.0.113.7"
    assert client_ip(request("::ffff:203.0.113.9")) == "203.0.113.9"


def test_several_header_lines_are_one_chain(proxies):
    # Servers join repeated headers with commas; the rightmost is still the nearest hop.
    proxies("10.0.0.0/8")
    assert client_ip(request("10.0.0.2", forwarded="1.1.1.1,203.0.113.7 ,  10.0.0.4")) == "203.0.113.7"


def test_a_unix_socket_peer(proxies):
    proxies()
    assert client_ip(request("")) is None
    assert client_ip(request("", forwarded="203.0.113.7")) is None
    proxies("unix")
    assert client_ip(request("", forwarded="203.0.113.7")) == "203.0.113.7"
    assert client_ip(request("")) is None


def test_parse_ip():
    assert parse_ip("203.0.113.7") == ipaddress.ip_address("203.0.113.7")
    assert parse_ip(" 203.0.113.7:80 ") == ipaddress.ip_address("203.0.113.7")
    assert parse_ip('"[2001:db8::1]"') == ipaddress.ip_address("2001:db8::1")
    assert parse_ip("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert parse_ip("unknown") is None
    assert parse_ip("") is None
    assert parse_ip(None) is None


def test_a_bad_trusted_proxies_setting_stops_start_up(tmp_path):
    import subprocess
    import sys

    from tests.processes import clean_env

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parent.parent,
        env=clean_env(IMGBED_DATA_DIR=tmp_path, IMGBED_TRUSTED_PROXIES="10.0.0.0/8,nginx"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert ImproperlyConfigured.__name__ in result.stderr
    assert "IMGBED_TRUSTED_PROXIES: 'nginx' is not an IP address" in result.stderr
