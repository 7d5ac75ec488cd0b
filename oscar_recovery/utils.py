"""Small helpers shared across the app."""

from __future__ import annotations

import functools
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
