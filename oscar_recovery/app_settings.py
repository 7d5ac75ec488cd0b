"""Every ``OSCAR_RECOVERY_*`` setting, with its default, in one place.

Settings are read lazily on each access, so ``override_settings`` keeps working::

    from oscar_recovery import app_settings
    app_settings.ABANDON_AFTER   # -> datetime.timedelta
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings

PREFIX = "OSCAR_RECOVERY_"


def _as_timedelta(value: Any) -> timedelta:
    # Owners may write a number of seconds or a timedelta.
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


def _as_dict(value: Any) -> Any:
    # A copy, so nobody edits the settings through it; anything but a mapping is returned as
    # it is, for the system checks to report (oscar_recovery.E701, E702).
    if not value:
        return {}
    return dict(value) if isinstance(value, Mapping) else value


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
    def SEND_BATCH_SIZE(self) -> int:
        """Messages one send task (or inline sweep step) sends together: the send-time
        checks and products are loaded once per batch."""
        return max(1, int(self._setting("SEND_BATCH_SIZE", 50)))

    @property
    def UNVERIFIED_RECHECK(self) -> timedelta:
        """How often a campaign step held for an unverified address (one nobody has shown
        to be theirs: no account, order, confirmation or click) is checked again. Such an
        address gets the first step of a campaign only until it is verified."""
        return _as_timedelta(self._setting("UNVERIFIED_RECHECK", timedelta(hours=1)))

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
        """How long the visitor cookie lives: a returning shopper is recognised within it."""
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
    def EMAIL_LOGO_URL(self) -> str:
        """The shop's logo in the email header: an absolute URL, a site path (``/media/…``)
        or a static path (``shop/logo.png``), made absolute on the shop's site. "" for none:
        the header shows the shop's name."""
        return self._setting("EMAIL_LOGO_URL", "")

    @property
    def EMAIL_LOGO_WIDTH(self) -> int:
        """Width of the email logo in pixels (the ``width`` attribute email clients need)."""
        return int(self._setting("EMAIL_LOGO_WIDTH", 160))

    @property
    def EMAIL_LOGO_HEIGHT(self) -> int | None:
        """Height of the email logo in pixels, or ``None`` to let it follow the width."""
        height = self._setting("EMAIL_LOGO_HEIGHT", None)
        return None if height is None else int(height)

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
        """Attempts at an email after transient ESP or network errors (with backoff); also
        the most claims of an email whose worker keeps stopping before its ESP call."""
        return int(self._setting("SEND_MAX_RETRIES", 5))

    @property
    def SEND_RATE(self) -> str | None:
        """Most emails to shoppers (recovery and double opt-in confirmation) handed to the
        ESP, across all workers together: ``"14/s"``, ``"600/m"``, ``"5000/h"``. ``None``:
        unlimited (no query)."""
        return self._setting("SEND_RATE", None) or None

    @property
    def SEND_RATE_MAX_WAIT(self) -> timedelta:
        """Longest a worker sleeps for a send-rate token; past it the message goes back to
        the queue and its task is retried when a token is due."""
        return _as_timedelta(self._setting("SEND_RATE_MAX_WAIT", timedelta(seconds=10)))

    @property
    def SENDING_STALE_AFTER(self) -> timedelta:
        """A message (or double opt-in confirmation) still "sending" this long after its
        claim belonged to a worker that died mid-send. If its ESP call had started, whether
        the ESP took it is unknown, so it is marked failed, never sent again: a lost email
        is better than a duplicate. If not, it never reached the ESP and is queued again."""
        return _as_timedelta(self._setting("SENDING_STALE_AFTER", timedelta(minutes=15)))

    @property
    def QUEUED_STALE_AFTER(self) -> timedelta:
        """A queued message untouched this long (the broker was down, the task was lost) is
        queued again by the sweep."""
        return _as_timedelta(self._setting("QUEUED_STALE_AFTER", timedelta(minutes=10)))

    @property
    def RESTORE_RATE_LIMIT(self) -> tuple[int, timedelta]:
        """Restore-link requests allowed, and the window they count in: invalid links per
        client address, valid links per link (so junk never locks out a genuine link)."""
        count, window = self._setting("RESTORE_RATE_LIMIT", (30, timedelta(hours=1)))
        return int(count), _as_timedelta(window)

    @property
    def TRUSTED_PROXIES(self) -> tuple[str, ...]:
        """Addresses or networks (``"10.0.0.0/8"``, ``"::1"``) of the shop's own reverse
        proxies. A request from one of them is attributed to the address it names in
        ``X-Forwarded-For``; empty (the default) trusts no header and uses ``REMOTE_ADDR``."""
        return tuple(str(value) for value in self._setting("TRUSTED_PROXIES", ()))

    # Staff alerts and outgoing webhooks

    @property
    def ALERT_MIN_BASKET_VALUE(self) -> Any:
        """Staff get an email for each abandoned basket worth at least this much (in its own
        currency; ``Decimal`` or number). ``None``, the default, sends no such alerts."""
        return self._setting("ALERT_MIN_BASKET_VALUE", None)

    @property
    def ALERT_RECIPIENTS(self) -> list[str] | None:
        """Addresses that get staff alerts and the weekly summary. ``None``: every active
        staff user with an email address who may view journeys (see
        :meth:`RecoveryAdapter.staff_alert_recipients`)."""
        return self._setting("ALERT_RECIPIENTS", None)

    @property
    def WEEKLY_SUMMARY_ENABLED(self) -> bool:
        """Whether the weekly beat task emails the summary (last 7 days vs the 7 before)."""
        return bool(self._setting("WEEKLY_SUMMARY_ENABLED", True))

    @property
    def WEBHOOK_TIMEOUT(self) -> float:
        """Seconds to wait for a webhook endpoint to connect, and again to answer."""
        return float(self._setting("WEBHOOK_TIMEOUT", 10))

    @property
    def WEBHOOK_MAX_RETRIES(self) -> int:
        """Retries of a webhook delivery after transient failures (network, 5xx, 408, 429)."""
        return int(self._setting("WEBHOOK_MAX_RETRIES", 10))

    @property
    def WEBHOOK_BACKOFF(self) -> timedelta:
        """First retry delay of a webhook delivery; it doubles with each retry (with jitter)."""
        return _as_timedelta(self._setting("WEBHOOK_BACKOFF", timedelta(minutes=1)))

    @property
    def WEBHOOK_BACKOFF_MAX(self) -> timedelta:
        """Longest wait between two attempts of a webhook delivery."""
        return _as_timedelta(self._setting("WEBHOOK_BACKOFF_MAX", timedelta(hours=6)))

    @property
    def WEBHOOK_LOG_RETENTION(self) -> timedelta:
        """How long finished webhook deliveries and their attempts stay in the log."""
        return _as_timedelta(self._setting("WEBHOOK_LOG_RETENTION", timedelta(days=30)))

    @property
    def WEBHOOK_ALLOW_PRIVATE_ADDRESSES(self) -> bool:
        """Whether webhook URLs may point at loopback, private or link-local addresses. Off:
        a staff account cannot turn webhooks into requests against the shop's own network."""
        return bool(self._setting("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False))

    # Dashboard and analytics
    @property
    def STATS_RECOMPUTE_DAYS(self) -> int:
        """Days (today included) the hourly aggregation recomputes: late clicks, deliveries
        and orders still change them, and an enrolled journey may order until it expires
        (``EXPIRE_AFTER``), so keep it above that."""
        return int(self._setting("STATS_RECOMPUTE_DAYS", 35))

    @property
    def AB_SAMPLE_SIZE(self) -> int:
        """Emails per arm an A/B test needs before the dashboard judges it (fixed in advance,
        so looking every day cannot find noise; ``stats.sample_size_per_arm`` helps choose)."""
        return int(self._setting("AB_SAMPLE_SIZE", 1000))

    @property
    def AB_ALPHA(self) -> float:
        """Significance level of the A/B z-test."""
        return float(self._setting("AB_ALPHA", 0.05))

    @property
    def LIFT_CONFIDENCE(self) -> float:
        """Confidence level of the interval around the lift over the holdout."""
        return float(self._setting("LIFT_CONFIDENCE", 0.95))

    @property
    def ADAPTER(self) -> str:
        """Dotted path of the adapter class: the single customisation seam."""
        return self._setting("ADAPTER", "oscar_recovery.adapter.RecoveryAdapter")

    # -- Privacy: lawful basis, consent, tracking, retention --------------------------------

    @property
    def LAWFUL_BASIS(self) -> str:
        """Why recovery email may be sent: ``soft_opt_in`` (default), ``consent`` or
        ``us_canspam``; see docs/howto/consent.md for what each means for the shop."""
        return str(self._setting("LAWFUL_BASIS", "soft_opt_in"))

    @property
    def LAWFUL_BASIS_IS_SET(self) -> bool:
        """Whether the owner chose a lawful basis (the system check asks them to)."""
        return hasattr(settings, PREFIX + "LAWFUL_BASIS")

    @property
    def CONSENT_TEXT(self) -> Any:
        """What the shopper reads where their email is captured: the notice (soft opt-in,
        CAN-SPAM) or the checkbox label (consent). ``None``: the translated default for the
        basis. A string is shown as written; a ``gettext_lazy`` string is translated."""
        return self._setting("CONSENT_TEXT", None)

    @property
    def OPT_OUT_TEXT(self) -> Any:
        """Label of the opt-out checkbox under the notice (soft opt-in, CAN-SPAM). ``None``:
        the translated default."""
        return self._setting("OPT_OUT_TEXT", None)

    @property
    def DOUBLE_OPT_IN(self) -> bool:
        """Under ``LAWFUL_BASIS = "consent"``: a consent given with an address nobody
        verified (checkout box, prompt) only counts once the address confirms it with the
        signed link emailed to it; until then no recovery email goes there. On by default:
        German and French shops must be able to prove the address's owner agreed. Ignored
        under the other bases."""
        return bool(self._setting("DOUBLE_OPT_IN", True))

    @property
    def DOUBLE_OPT_IN_LINK_MAX_AGE(self) -> timedelta:
        """How long the link in a confirmation email keeps working."""
        return _as_timedelta(self._setting("DOUBLE_OPT_IN_LINK_MAX_AGE", timedelta(days=7)))

    @property
    def DOUBLE_OPT_IN_COOLDOWN(self) -> timedelta:
        """Least time between two confirmation emails to one address, whoever asks: a
        stranger typing someone's address cannot make the shop mail them more often."""
        return _as_timedelta(self._setting("DOUBLE_OPT_IN_COOLDOWN", timedelta(days=1)))

    @property
    def DOUBLE_OPT_IN_RATE_LIMIT(self) -> tuple[int, timedelta]:
        """Confirmation emails one client address may cause, and the window they count in
        (different addresses; each address has its own cooldown as well)."""
        count, window = self._setting("DOUBLE_OPT_IN_RATE_LIMIT", (5, timedelta(hours=1)))
        return int(count), _as_timedelta(window)

    @property
    def TRACK_OPENS(self) -> bool | None:
        """Open tracking per email (django-anymail ``track_opens``). Off by default: a pixel
        that tells when a person read an email needs consent in the EU. Click tracking is
        always off: the restore link records clicks itself. ``None`` sets neither flag, for
        ESPs that cannot set tracking per message (Amazon SES, Brevo, Mailtrap); turn it off
        in the ESP's account instead."""
        value = self._setting("TRACK_OPENS", False)
        return None if value is None else bool(value)

    @property
    def RETENTION(self) -> timedelta:
        """Journeys (with their events, messages and tracking events) untouched this long
        are purged; the suppression list is kept."""
        return _as_timedelta(self._setting("RETENTION", timedelta(days=90)))

    @property
    def PURGE_BATCH_SIZE(self) -> int:
        """Journeys deleted per transaction by the retention purge: small batches keep
        every lock short."""
        return int(self._setting("PURGE_BATCH_SIZE", 200))

    @property
    def PURGE_MAX_BATCHES(self) -> int:
        """Upper bound on batches per purge run; the next run continues."""
        return int(self._setting("PURGE_MAX_BATCHES", 2000))

    # Recommendations and browse abandonment

    @property
    def RECOMMENDATION_WEIGHTS(self) -> dict[str, float]:
        """Weight of each recommendation source (keys: ``RecommendationReason`` values);
        0 switches a source off. A product's score is the sum over the sources that
        suggest it of weight / (1 + its rank there)."""
        weights = {
            "bought_together": 1.0,
            "curated": 1.2,
            "viewed": 0.8,
            "category_bestseller": 0.5,
            "bestseller": 0.2,
        }
        weights.update(self._setting("RECOMMENDATION_WEIGHTS", {}))
        return {name: float(value) for name, value in weights.items()}

    @property
    def RECOMMENDATIONS_EXCLUDE_PURCHASED(self) -> bool:
        """Never recommend what the customer (account or email) already ordered."""
        return bool(self._setting("RECOMMENDATIONS_EXCLUDE_PURCHASED", True))

    @property
    def RECOMMENDATIONS_PER_CATEGORY(self) -> int:
        """Most recommendations from one category while others are available (diversity)."""
        return int(self._setting("RECOMMENDATIONS_PER_CATEGORY", 2))

    @property
    def RECOMMENDATIONS_GAP_POOL(self) -> int:
        """Catalogue products considered per price band when looking for what closes the
        free-shipping gap (bounds the search; 0 keeps it to the recommended products)."""
        return int(self._setting("RECOMMENDATIONS_GAP_POOL", 50))

    @property
    def BOUGHT_TOGETHER_PER_PRODUCT(self) -> int:
        """Partners kept per product by the full build of the bought-together table."""
        return int(self._setting("BOUGHT_TOGETHER_PER_PRODUCT", 50))

    @property
    def BOUGHT_TOGETHER_MIN_ORDERS(self) -> int:
        """Orders two products must share before they count as bought together: one
        shared order is chance. Sparser products get same-category bestsellers instead."""
        return max(1, int(self._setting("BOUGHT_TOGETHER_MIN_ORDERS", 2)))

    @property
    def BOUGHT_TOGETHER_WINDOW(self) -> timedelta | None:
        """Orders the bought-together table learns from (``None``: all of them)."""
        value = self._setting("BOUGHT_TOGETHER_WINDOW", timedelta(days=365))
        return None if value is None else _as_timedelta(value)

    @property
    def BUILD_WORK_MEM(self) -> str:
        """PostgreSQL ``work_mem`` for the recommendation tables' build transaction only
        (empty: the server's): pairing a year of orders sorts millions of rows."""
        return str(self._setting("BUILD_WORK_MEM", "256MB") or "")

    @property
    def BESTSELLERS_WINDOW(self) -> timedelta:
        """The recent window bestsellers (overall and per category) are counted over."""
        return _as_timedelta(self._setting("BESTSELLERS_WINDOW", timedelta(days=30)))

    @property
    def BROWSE_LOOKBACK(self) -> timedelta:
        """How far back the sweep looks for signed-in shoppers who viewed products and
        went quiet without adding any (browse abandonment)."""
        return _as_timedelta(self._setting("BROWSE_LOOKBACK", timedelta(days=1)))

    @property
    def BROWSE_VIEWED_LIMIT(self) -> int:
        """Viewed products a browse journey keeps (most recent first)."""
        return int(self._setting("BROWSE_VIEWED_LIMIT", 12))

    # How work leaves a request or the sweep (oscar_recovery.handoff)

    @property
    def TASK_MODE(self) -> str:
        """``"auto"`` (default): ``"celery"`` when the project has a Celery app, else
        ``"inline"``. ``"celery"``: hand work to Celery workers. ``"inline"``: no Celery at
        all; ``recovery_sweep`` (run by cron) does the work itself."""
        return str(self._setting("TASK_MODE", "auto")).lower()

    @property
    def BROKER_TIMEOUT(self) -> float:
        """Seconds a publish to the broker may take before it is left to the outbox (the
        sweep hands the work over again). Never spent in a shop request."""
        return float(self._setting("BROKER_TIMEOUT", 2.0))

    # Operations: health and the doctor

    @property
    def SWEEP_INTERVAL(self) -> timedelta:
        """How often the project schedules the sweep (``BEAT_SCHEDULE`` says every minute).
        Health calls the sweep late when its last run started over three intervals ago."""
        return _as_timedelta(self._setting("SWEEP_INTERVAL", timedelta(minutes=1)))

    @property
    def HEALTH_TOKEN(self) -> str:
        """Secret that lets an uptime monitor read the health endpoint without a staff
        login (``Authorization: Bearer <token>``). Empty, the default: staff only."""
        return str(self._setting("HEALTH_TOKEN", "") or "")

    # -- addresses --

    @property
    def PHONE_REGION(self) -> str | None:
        """The region (ISO 3166 code, ``"GB"``) a phone number typed without its
        ``+country`` prefix is read in. None, the default: such numbers are refused."""
        return self._setting("PHONE_REGION", None) or None

    # -- retargeting audiences --

    @property
    def AUDIENCE_PLATFORM_MODULES(self) -> dict[str, str]:
        """Which module under ``oscar_recovery.audiences.platforms`` serves each destination.
        Default: each destination's own (``meta``, ``google``); ``{"meta": "fake", "google":
        "fake"}`` records calls instead of sending them (tests, dry runs)."""
        return dict(self._setting("AUDIENCE_PLATFORM_MODULES", {}) or {})

    @property
    def AUDIENCE_SYNC_ENABLED(self) -> bool:
        """Whether the daily audience sync talks to the platforms at all. Off: audiences
        are still computed for the CSV downloads and the dashboard."""
        return bool(self._setting("AUDIENCE_SYNC_ENABLED", True))

    @property
    def AUDIENCE_SYNC_INTERVAL(self) -> timedelta:
        """How often the beat runs the audience sync (a day by default: the platforms take
        hours to apply a change, and recency audiences move by days)."""
        return _as_timedelta(self._setting("AUDIENCE_SYNC_INTERVAL", timedelta(days=1)))

    @property
    def AUDIENCE_RETRY_BASE(self) -> timedelta:
        """First wait before retrying an audience whose sync failed; doubled after each
        further failure, up to ``AUDIENCE_RETRY_MAX``."""
        return _as_timedelta(self._setting("AUDIENCE_RETRY_BASE", timedelta(minutes=15)))

    @property
    def AUDIENCE_RETRY_MAX(self) -> timedelta:
        """Longest wait between retries of a failing audience sync."""
        return _as_timedelta(self._setting("AUDIENCE_RETRY_MAX", timedelta(days=1)))

    @property
    def ADS_CONSENT_TEXT(self) -> str:
        """The words of the advertising consent box (empty: the app's own, translated).
        Whatever is shown is recorded with each consent."""
        return str(self._setting("ADS_CONSENT_TEXT", "") or "")

    @property
    def AUDIENCE_MIN_SIZE(self) -> int:
        """Below this many members the dashboard warns that the platforms will not serve
        ads to the audience (both ask for about 100 matched people)."""
        return int(self._setting("AUDIENCE_MIN_SIZE", 100))

    @property
    def META(self) -> dict[str, Any]:
        """Meta Custom Audiences credentials for the audience sync (extra ``meta``):
        ``{"access_token": ..., "ad_account_id": ..., "app_secret": ...}``, optionally
        ``"app_id"``, ``"api_version"`` (``"v26.0"``) and ``"timeout"`` (seconds). Empty, the
        default: no sync to Meta. Read only by the sync, never shown."""
        return _as_dict(self._setting("META", {}))

    @property
    def GOOGLE_ADS(self) -> dict[str, Any]:
        """Google Ads Customer Match credentials for the audience sync (extra ``google``):
        the google-ads library's configuration (``developer_token``, ``client_id``,
        ``client_secret``, ``refresh_token`` or ``json_key_file_path``, optionally
        ``login_customer_id``) plus ``"customer_id"`` (the account holding the lists) and
        optionally ``"api_version"`` and ``"timeout"``. Empty, the default: no sync to
        Google. Read only by the sync, never shown."""
        return _as_dict(self._setting("GOOGLE_ADS", {}))


_app_settings = AppSettings()


def __getattr__(name: str) -> Any:
    # PEP 562: module attributes resolve on the settings object at access time.
    return getattr(_app_settings, name)
