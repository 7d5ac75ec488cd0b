"""The shared send rate (``OSCAR_RECOVERY_SEND_RATE``): one token bucket for every worker.

ESPs cap sends per second across an account, so the limit must hold for the whole cluster,
not per worker as Celery's own ``rate_limit`` does. The bucket is a database row
(:class:`~oscar_recovery.models.SendRateBucket`) taken from by one conditional ``UPDATE``::

    UPDATE bucket SET tokens = least(capacity, tokens + elapsed * rate) - 1, refilled_at = now
    WHERE name = 'send' AND least(capacity, tokens + elapsed * rate) >= 1

Why the database and not Django's cache: it is the one store every deployment has (the
embedded default runs on SQLite without Redis), one statement is atomic on every backend
(PostgreSQL locks the row and re-checks the condition after a concurrent update; SQLite
serialises writers), and a cache may be per process (LocMem) or lose keys under memory
pressure, which would silently lift the limit. At ESP rates (tens per second) one short
``UPDATE`` per email is nothing for the database.

The capacity is one token: sends are spaced evenly (``14/s`` is one every 1/14 s), so no
sliding window of the period ever holds more than the rate, and there is no burst after a
quiet spell. Clocks: each worker refills with its own clock; ``refilled_at`` only moves
forward and a negative elapsed time refills nothing, so a skewed clock can slow the rate,
never exceed it.

Only workers wait (a bounded sleep, :func:`acquire`); nothing here runs in a shop request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.db.models.lookups import GreaterThanOrEqual

from oscar_recovery.models import SendRateBucket

#: The bucket every email to a shopper takes from: recovery and confirmation emails.
SEND_BUCKET = "send"
#: Tokens the bucket holds at most: one, so sends are evenly spaced (see the module's doc).
CAPACITY = 1.0

#: Float rounding slack on "one whole token" (``(100.1 - 100.0) * 10`` is not quite 1).
_EPSILON = 1e-9

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([smhd])[a-z]*\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    """``count`` sends per ``period`` seconds."""

    count: float
    period: float

    @property
    def per_second(self) -> float:
        return self.count / self.period


def parse_rate(value: str) -> Rate:
    """``"14/s"``, ``"600/m"``, ``"5000/h"``, ``"100000/d"`` (``/sec``, ``/min`` too).
    Raises ``ValueError`` for anything else, or a rate that is not positive."""
    match = _RATE.match(str(value))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a send rate: {value!r} (expected e.g. '14/s' or '600/m')")
    return Rate(float(match.group(1)), _PERIODS[match.group(2).lower()])


def take(rate: Rate, name: str = SEND_BUCKET, now: float | None = None) -> float:
    """Take one token from bucket ``name`` if one is there: returns 0. Otherwise takes
    nothing and returns the seconds until the next token is due (always > 0)."""
    now = time.time() if now is None else now
    elapsed = Greatest(Value(0.0), Value(now) - F("refilled_at"))
    available = Least(Value(CAPACITY), F("tokens") + elapsed * Value(rate.per_second))
    taken = (
        SendRateBucket.objects.filter(name=name)
        .filter(GreaterThanOrEqual(available, Value(1.0 - _EPSILON)))
        .update(
            tokens=Greatest(Value(0.0), available - Value(1.0)),
            refilled_at=Greatest(F("refilled_at"), Value(now)),
        )
    )
    if taken:
        return 0.0
    bucket, created = SendRateBucket.objects.get_or_create(
        name=name, defaults={"tokens": CAPACITY, "refilled_at": now}
    )
    if created:
        return take(rate, name, now)  # a full bucket: this take succeeds unless raced
    tokens = min(CAPACITY, bucket.tokens + max(0.0, now - bucket.refilled_at) * rate.per_second)
    return max((1.0 - tokens) / rate.per_second, 0.001)


def acquire(
    rate: Rate,
    max_wait: float,
    name: str = SEND_BUCKET,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> float:
    """Take a token, sleeping for it up to ``max_wait`` seconds in all. Returns 0 once one
    is taken, else (nothing taken) the seconds until the next is due, for a retry later."""
    deadline = clock() + max_wait
    while True:
        now = clock()
        wait = take(rate, name, now)
        if wait == 0:
            return 0.0
        if now + wait > deadline:
            return wait
        sleep(wait)
