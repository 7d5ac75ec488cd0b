"""Every ``OSCAR_RECOVERY_PROMPTS_*`` setting, with its default, in one place.

The prompts package owns its settings, as it owns its models, admin and receivers; the
names a shop writes in ``settings.py`` are unchanged. Read lazily on each access, so
``override_settings`` keeps working::

    from oscar_recovery.prompts import app_settings as prompt_settings
    prompt_settings.ENABLED   # OSCAR_RECOVERY_PROMPTS_ENABLED, default True
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

from oscar_recovery.app_settings import _as_timedelta

PREFIX = "OSCAR_RECOVERY_PROMPTS_"


class PromptSettings:
    def _setting(self, name: str, default: Any) -> Any:
        return getattr(settings, PREFIX + name, default)

    @property
    def ENABLED(self) -> bool:
        """Master switch for on-site prompts: off, ``{% recovery_prompts %}`` renders nothing."""
        return bool(self._setting("ENABLED", True))

    @property
    def CACHE_TIMEOUT(self) -> int:
        """Seconds the active prompts stay cached; saving a prompt clears the cache at once."""
        return int(self._setting("CACHE_TIMEOUT", 300))

    @property
    def VISIT_GAP(self) -> timedelta:
        """A visitor first seen longer ago than this, before the current visit, is returning."""
        return _as_timedelta(self._setting("VISIT_GAP", timedelta(minutes=30)))

    @property
    def TAB_REMINDER(self) -> bool:
        """Change the page title and favicon while the tab is hidden and the basket is not
        empty."""
        return bool(self._setting("TAB_REMINDER", True))

    @property
    def LIVE_CAPTURE(self) -> bool:
        """Capture the checkout email as it is typed, before submit. Only takes effect when
        ``OSCAR_RECOVERY_LAWFUL_BASIS`` allows it (never under ``consent``)."""
        return bool(self._setting("LIVE_CAPTURE", False))

    @property
    def EVENTS_RATE_LIMIT(self) -> tuple[int, timedelta]:
        """Prompt events accepted per client address, and the window they count in."""
        count, window = self._setting("EVENTS_RATE_LIMIT", (120, timedelta(hours=1)))
        return int(count), _as_timedelta(window)

    @property
    def CAPTURE_RATE_LIMIT(self) -> tuple[int, timedelta]:
        """Emails accepted by the prompt capture endpoint per client address and window."""
        count, window = self._setting("CAPTURE_RATE_LIMIT", (10, timedelta(hours=1)))
        return int(count), _as_timedelta(window)

    @property
    def ATTRIBUTION_WINDOW(self) -> timedelta:
        """An order within this time of a prompt being shown counts as its conversion."""
        return _as_timedelta(self._setting("ATTRIBUTION_WINDOW", timedelta(days=7)))


_prompt_settings = PromptSettings()


def __getattr__(name: str) -> Any:
    # PEP 562: module attributes resolve on the settings object at access time.
    return getattr(_prompt_settings, name)
