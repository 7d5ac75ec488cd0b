"""One rate limiter for the app's public endpoints (restore links, prompt events and captures).

Fixed windows in Django's cache: cheap, and good enough to stop guessing at tokens or
flooding an endpoint. A cache that fails lets the request through: the limit protects the
shop, it must not take the shop's own links and prompts down with it.

Clients are counted by :meth:`RecoveryAdapter.client_address` (which honours
``OSCAR_RECOVERY_TRUSTED_PROXIES``), an IPv6 client by its /64 network: one subscriber
usually holds a whole /64 and could otherwise take a fresh budget per address.

The worst sender, and what stops it (each tested in ``tests/test_ratelimit.py``):

- writes ``X-Forwarded-For: <random>`` for a fresh budget per request, or a victim's
  address to spend the victim's: the header is read only from a trusted proxy, from the
  right, so only the hop the shop's proxy appended counts;
- picks a fresh IPv6 address per request: its whole /64 shares one budget;
- sits behind a proxy that writes ``ip:port``: the port is dropped, so new connections
  share the client's budget and other clients keep theirs (a port kept would also make a
  trusted proxy's own hop unrecognised, and every client one bucket);
- a cache that fails lets requests through rather than taking the shop's links down.
"""

from __future__ import annotations

import ipaddress
import math
import time
from datetime import timedelta

from django.core.cache import cache
from django.http import HttpRequest

from oscar_recovery.adapter import get_adapter
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

_KEY = "oscar_recovery:rate:{scope}:{address}:{window}"


#: Prefix length an IPv6 client is grouped by.
IPV6_PREFIX = 64


def client_key(address: str) -> str:
    """The rate-limit key of a client address: an IPv4 address as it is, an IPv6 address as
    its /64 network (an IPv4-mapped IPv6 address as the IPv4 address), anything that is no
    address as "unknown"."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def hit_client(
    scope: str, request: HttpRequest, limit: tuple[int, timedelta], now: float | None = None
) -> int | None:
    """:func:`hit` for the client of ``request`` (see :func:`client_key`)."""
    address = client_key(get_adapter().client_address(request))
    return hit(scope, address, limit, now)


def hit(
    scope: str, address: str, limit: tuple[int, timedelta], now: float | None = None
) -> int | None:
    """Count one request from ``address`` in ``scope`` against ``limit`` (count, window).
    Returns the seconds to wait when it is over the limit, else None."""
    count_limit, window = limit
    seconds = max(window.total_seconds(), 1)
    now = time.time() if now is None else now
    window_index = int(now // seconds)
    key = _KEY.format(scope=scope, address=address or "unknown", window=window_index)
    try:
        count = 1 if cache.add(key, 1, timeout=math.ceil(seconds)) else cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        count = 1
    except Exception:
        logger.exception("oscar_recovery: %s rate limit unavailable", scope)
        return None
    if count <= count_limit:
        return None
    return max(1, math.ceil((window_index + 1) * seconds - now))
