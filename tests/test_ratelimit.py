"""Who a rate limit counts: the client address the adapter reports, IPv6 by /64."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings

from oscar_recovery import ratelimit
from oscar_recovery.adapter import get_adapter

LIMIT = (2, timedelta(minutes=1))


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_a_forwarded_header_is_never_believed():
    """Worst sender: a client writes ``X-Forwarded-For: <random>`` on every request to get
    a fresh budget each time. Without a trusted proxy configured the header is ignored."""
    request = request_from("203.0.113.9", "198.51.100.1")
    assert get_adapter().client_address(request) == "203.0.113.9"


@override_settings(OSCAR_RECOVERY_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_client_is_the_address_it_forwards():
    assert get_adapter().client_address(request_from("10.1.2.3", "198.51.100.1")) == (
        "198.51.100.1"
    )
    # Two proxies of the shop: the first untrusted hop from the right is the client.
    request = request_from("10.1.2.3", "198.51.100.1, 10.9.9.9")
    assert get_adapter().client_address(request) == "198.51.100.1"


@override_settings(OSCAR_RECOVERY_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_client_cannot_name_itself_someone_else_through_the_proxy():
    """Worst sender: prepends a victim's address to ``X-Forwarded-For`` to spend the
    victim's budget (or escape its own). Only the hop the shop's proxy appended counts."""
    request = request_from("10.1.2.3", "192.0.2.50, 198.51.100.1")
    assert get_adapter().client_address(request) == "198.51.100.1"


def test_a_request_not_from_a_trusted_proxy_keeps_its_own_address():
    with override_settings(OSCAR_RECOVERY_TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert get_adapter().client_address(request_from("203.0.113.9", "10.0.0.1")) == (
            "203.0.113.9"
        )


def test_ipv6_clients_are_counted_by_their_64():
    """Worst sender: an IPv6 subscriber holds a whole /64 and picks a fresh address per
    request. Every address in it shares one budget; the next /64 has its own."""
    for host in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"):
        ratelimit.hit_client("t", request_from(host), LIMIT, now=0)
    assert ratelimit.hit_client("t", request_from("2001:db8:1:2::abcd"), LIMIT, now=0)
    assert ratelimit.hit_client("t", request_from("2001:db8:1:3::1"), LIMIT, now=0) is None


def test_client_keys():
    assert ratelimit.client_key("192.0.2.1") == "192.0.2.1"
    assert ratelimit.client_key("2001:db8::1") == "2001:db8::/64"
    assert ratelimit.client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert ratelimit.client_key("not an address") == "unknown"


@override_settings(OSCAR_RECOVERY_TRUSTED_PROXIES=["10.0.0.0/8", "2001:db8:ffff::/48"])
@pytest.mark.parametrize(
    "forwarded, client",
    [
        ("198.51.100.1:54321", "198.51.100.1"),
        ("[2001:db8:1:2::1]:443", "2001:db8:1:2::1"),
        ("[2001:db8:1:2::1]", "2001:db8:1:2::1"),
        ("2001:db8:1:2::1", "2001:db8:1:2::1"),  # a bare IPv6 address has no port
        # The shop's own proxies write ports too, and are still skipped.
        ("192.0.2.50:1, 198.51.100.1:54321, 10.9.9.9:80", "198.51.100.1"),
        ("198.51.100.1, [2001:db8:ffff::7]:8080", "198.51.100.1"),
    ],
)
def test_a_port_the_proxy_writes_is_not_part_of_the_client(forwarded, client):
    assert get_adapter().client_address(request_from("10.1.2.3", forwarded)) == client


@override_settings(OSCAR_RECOVERY_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_proxy_that_writes_ports_one_client_never_locks_out_another():
    """Worst sender: one client hammers an endpoint through a proxy that writes
    ``ip:port``. Its own budget runs out, each new connection (a new port) included; the
    next client keeps its own."""
    for port in (1000, 1001):
        ratelimit.hit_client("t", request_from("10.0.0.1", f"198.51.100.1:{port}"), LIMIT, now=0)
    noisy = request_from("10.0.0.1", "198.51.100.1:1002")
    assert ratelimit.hit_client("t", noisy, LIMIT, now=0)
    other = request_from("10.0.0.1", "203.0.113.7:1000")
    assert ratelimit.hit_client("t", other, LIMIT, now=0) is None
