"""One rate limiter for the app's public endpoints (restore links, prompt events and captures).

Fixed windows in Django's cache: cheap, and good enough to stop guessing at tokens or
flooding an endpoint. A cache that fails lets the request through: the limit protects the
shop, it must not take the shop's own links and prompts down with it.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta

from django.core.cache import cache

from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

_KEY = "oscar_recovery:rate:{scope}:{address}:{window}"


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
