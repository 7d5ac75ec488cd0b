"""Every ``OSCAR_RECOVERY_*`` setting, with its default, in one place.

Settings are read lazily on each access, so ``override_settings`` keeps working::

    from oscar_recovery import app_settings
    app_settings.ABANDON_AFTER   # -> datetime.timedelta
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

PREFIX = "OSCAR_RECOVERY_"


def _as_timedelta(value: Any) -> timedelta:
    # Owners may write a number of seconds or a timedelta.
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


class AppSettings:
    def _setting(self, name: str, default: Any) -> Any:
        return getattr(settings, PREFIX + name, default)

    @property
    def CAPTURE_ENABLED(self) -> bool:
        """Master switch for abandonment capture. Off: no journey is created or updated."""
        return bool(self._setting("CAPTURE_ENABLED", True))

    @property
    def ABANDON_AFTER(self) -> timedelta:
        """Inactivity after which the sweep marks an active journey abandoned."""
        return _as_timedelta(self._setting("ABANDON_AFTER", timedelta(minutes=30)))

    @property
    def EXPIRE_AFTER(self) -> timedelta:
        """Inactivity after which an abandoned journey is expired: no longer worth recovering."""
        return _as_timedelta(self._setting("EXPIRE_AFTER", timedelta(days=30)))

    @property
    def SWEEP_BATCH_SIZE(self) -> int:
        """Journeys locked and processed per database round trip by the sweep."""
        return int(self._setting("SWEEP_BATCH_SIZE", 1000))

    @property
    def SWEEP_MAX_BATCHES(self) -> int:
        """Upper bound on batches per sweep run, so one run never holds a worker for long;
        the next run picks up what is left."""
        return int(self._setting("SWEEP_MAX_BATCHES", 100))

    @property
    def CONTACT_STAFF(self) -> bool:
        """Whether journeys of staff users may be contacted (by default they are only recorded)."""
        return bool(self._setting("CONTACT_STAFF", False))

    @property
    def CHECKOUT_STEPS(self) -> dict[str, str]:
        """Maps checkout URL names (with namespace) to the step they represent. Shops with
        a custom checkout add their own URL names here."""
        return self._setting(
            "CHECKOUT_STEPS",
            {
                "checkout:index": "gateway",
                "checkout:shipping-address": "shipping_address",
                "checkout:user-address-update": "shipping_address",
                "checkout:shipping-method": "shipping_method",
                "checkout:payment-method": "payment",
                "checkout:payment-details": "payment",
                "checkout:preview": "preview",
            },
        )

    @property
    def VISITOR_COOKIE_NAME(self) -> str:
        """First-party cookie that carries the signed visitor id."""
        return self._setting("VISITOR_COOKIE_NAME", "oscar_recovery_visitor")

    @property
    def VISITOR_COOKIE_AGE(self) -> timedelta:
        return _as_timedelta(self._setting("VISITOR_COOKIE_AGE", timedelta(days=365)))

    @property
    def RESTORE_LINK_MAX_AGE(self) -> timedelta:
        """How long a restore link in an email keeps working."""
        return _as_timedelta(self._setting("RESTORE_LINK_MAX_AGE", timedelta(days=14)))

    @property
    def ADDRESS_COOLDOWN(self) -> timedelta:
        """Least time between two recovery emails to one address, across campaigns."""
        return _as_timedelta(self._setting("ADDRESS_COOLDOWN", timedelta(hours=20)))

    @property
    def VALUE_TIERS(self) -> dict[str, float]:
        """Lifetime spend (in the shop's currency) from which a customer is in a tier."""
        return self._setting("VALUE_TIERS", {"medium": 100, "high": 500})

    @property
    def ATTRIBUTION_WINDOW(self) -> timedelta:
        """An order within this time of a click on a recovery email counts as recovered."""
        return _as_timedelta(self._setting("ATTRIBUTION_WINDOW", timedelta(days=5)))

    @property
    def FROM_EMAIL(self) -> str | None:
        """Sender of recovery emails; ``None`` means Django's ``DEFAULT_FROM_EMAIL``."""
        return self._setting("FROM_EMAIL", None)

    @property
    def SITE_URL(self) -> str | None:
        """Scheme and host for links in emails (``https://shop.example``); ``None`` builds
        them from the current ``Site`` over https."""
        return self._setting("SITE_URL", None)

    @property
    def POSTAL_ADDRESS(self) -> str:
        """The shop's postal address, printed in every email's footer (CAN-SPAM and similar
        laws require one)."""
        return self._setting("POSTAL_ADDRESS", "")

    @property
    def FREE_SHIPPING_THRESHOLD(self) -> Any:
        """Basket total from which shipping is free (``Decimal`` or number), or ``None``.
        Below it, emails show the gap and recommendations that close it."""
        return self._setting("FREE_SHIPPING_THRESHOLD", None)

    @property
    def RECOMMENDATIONS_LIMIT(self) -> int:
        """Most products recommended in one email."""
        return int(self._setting("RECOMMENDATIONS_LIMIT", 4))

    @property
    def SEND_MAX_RETRIES(self) -> int:
        """Attempts at a message after transient ESP or network errors (with backoff)."""
        return int(self._setting("SEND_MAX_RETRIES", 5))

    @property
    def SENDING_STALE_AFTER(self) -> timedelta:
        """A message still "sending" this long after its claim belonged to a worker that
        died mid-send. Whether the ESP took it is unknown, so it is marked failed, never
        sent again: a lost email is better than a duplicate."""
        return _as_timedelta(self._setting("SENDING_STALE_AFTER", timedelta(minutes=15)))

    @property
    def QUEUED_STALE_AFTER(self) -> timedelta:
        """A queued message untouched this long (the broker was down, the task was lost) is
        queued again by the sweep."""
        return _as_timedelta(self._setting("QUEUED_STALE_AFTER", timedelta(minutes=10)))

    @property
    def RESTORE_RATE_LIMIT(self) -> tuple[int, timedelta]:
        """Restore-link requests allowed per client address, and the window they count in."""
        count, window = self._setting("RESTORE_RATE_LIMIT", (30, timedelta(hours=1)))
        return int(count), _as_timedelta(window)

    # -- on-site prompts (issue 5) --

    @property
    def PROMPTS_ENABLED(self) -> bool:
        """Master switch for on-site prompts: off, ``{% recovery_prompts %}`` renders nothing."""
        return bool(self._setting("PROMPTS_ENABLED", True))

    @property
    def PROMPTS_CACHE_TIMEOUT(self) -> int:
        """Seconds the active prompts stay cached; saving a prompt clears the cache at once."""
        return int(self._setting("PROMPTS_CACHE_TIMEOUT", 300))

    @property
    def PROMPTS_VISIT_GAP(self) -> timedelta:
        """A visitor first seen longer ago than this, before the current visit, is returning."""
        return _as_timedelta(self._setting("PROMPTS_VISIT_GAP", timedelta(minutes=30)))

    @property
    def PROMPTS_TAB_REMINDER(self) -> bool:
        """Change the page title and favicon while the tab is hidden and the basket is not
        empty."""
        return bool(self._setting("PROMPTS_TAB_REMINDER", True))

    @property
    def PROMPTS_LIVE_CAPTURE(self) -> bool:
        """Capture the checkout email as it is typed, before submit. Only takes effect when
        ``OSCAR_RECOVERY_LAWFUL_BASIS`` allows it (never under ``consent``)."""
        return bool(self._setting("PROMPTS_LIVE_CAPTURE", False))

    @property
    def LAWFUL_BASIS(self) -> str:
        """Why the shop may email shoppers who gave an address: ``consent``, ``soft_opt_in``
        or ``us_canspam`` (the full semantics belong to the consent settings)."""
        return str(self._setting("LAWFUL_BASIS", "soft_opt_in"))

    @property
    def PROMPTS_EVENTS_RATE_LIMIT(self) -> tuple[int, timedelta]:
        """Prompt events accepted per client address, and the window they count in."""
        count, window = self._setting("PROMPTS_EVENTS_RATE_LIMIT", (120, timedelta(hours=1)))
        return int(count), _as_timedelta(window)

    @property
    def PROMPTS_CAPTURE_RATE_LIMIT(self) -> tuple[int, timedelta]:
        """Emails accepted by the prompt capture endpoint per client address and window."""
        count, window = self._setting("PROMPTS_CAPTURE_RATE_LIMIT", (10, timedelta(hours=1)))
        return int(count), _as_timedelta(window)

    @property
    def PROMPTS_ATTRIBUTION_WINDOW(self) -> timedelta:
        """An order within this time of a prompt being shown counts as its conversion."""
        return _as_timedelta(self._setting("PROMPTS_ATTRIBUTION_WINDOW", timedelta(days=7)))

    @property
    def ADAPTER(self) -> str:
        """Dotted path of the adapter class: the single customisation seam."""
        return self._setting("ADAPTER", "oscar_recovery.adapter.RecoveryAdapter")


_app_settings = AppSettings()


def __getattr__(name: str) -> Any:
    # PEP 562: module attributes resolve on the settings object at access time.
    return getattr(_app_settings, name)
