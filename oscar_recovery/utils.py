"""Small helpers shared across the app."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger("oscar_recovery")
F = TypeVar("F", bound=Callable[..., Any])


def never_raises(func: F) -> F:
    """Failures are logged, never raised into the shop's request or an ESP's webhook."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception:
            logger.exception("oscar_recovery: %s failed", func.__name__)
            return None

    return wrapper  # type: ignore[return-value]


def skip_locked(queryset, **kwargs):
    """Lock the rows a worker claims, skipping those another worker holds (PostgreSQL).
    SQLite has no row locks; there the database serialises writing transactions."""
    from django.db import connections

    if connections[queryset.db].features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, **kwargs)
    return queryset


def percentile(*parts: object) -> int:
    """A stable number in 0..99 for the given key: the same journey always lands in the same
    holdout group and A/B variant, across processes and restarts (unlike ``hash()``)."""
    key = ":".join(str(part) for part in parts)
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100
