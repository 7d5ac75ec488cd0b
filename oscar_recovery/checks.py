"""System checks: configuration mistakes an owner should hear about at start-up."""

from datetime import timedelta

from django.conf import settings
from django.core.checks import Error, Info, Warning, register
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from oscar_recovery import app_settings
from oscar_recovery.constants import LawfulBasis
from oscar_recovery.handoff import mode


@register()
def check_settings(app_configs, **kwargs):
    problems = []
    try:
        import_string(app_settings.ADAPTER)
    except ImportError as exc:
        problems.append(
            Error(
                _("OSCAR_RECOVERY_ADAPTER %(adapter)r cannot be imported: %(error)s")
                % {"adapter": app_settings.ADAPTER, "error": exc},
                id="oscar_recovery.E001",
            )
        )
    if app_settings.ABANDON_AFTER.total_seconds() <= 0:
        problems.append(
            Error(_("OSCAR_RECOVERY_ABANDON_AFTER must be positive."), id="oscar_recovery.E002")
        )
    if app_settings.EXPIRE_AFTER <= app_settings.ABANDON_AFTER:
        problems.append(
            Error(
                _("OSCAR_RECOVERY_EXPIRE_AFTER must be longer than OSCAR_RECOVERY_ABANDON_AFTER."),
                id="oscar_recovery.E003",
            )
        )
    if "oscar.apps.basket.middleware.BasketMiddleware" not in settings.MIDDLEWARE:
        problems.append(
            Warning(
                _("Oscar's BasketMiddleware is not in MIDDLEWARE: no basket, nothing to recover."),
                id="oscar_recovery.W001",
            )
        )
    if not app_settings.POSTAL_ADDRESS:
        problems.append(
            Warning(
                _(
                    "OSCAR_RECOVERY_POSTAL_ADDRESS is empty: recovery emails are marketing email, "
                    "and laws such as CAN-SPAM require the sender's postal address in each one."
                ),
                id="oscar_recovery.W002",
            )
        )
    site_url = app_settings.SITE_URL
    if site_url and not site_url.startswith(("https://", "http://")):
        problems.append(
            Error(
                _("OSCAR_RECOVERY_SITE_URL %(url)r must start with https:// (or http://).")
                % {"url": site_url},
                id="oscar_recovery.E004",
            )
        )
    if timedelta(minutes=1) >= app_settings.SENDING_STALE_AFTER:
        problems.append(
            Error(
                _(
                    "OSCAR_RECOVERY_SENDING_STALE_AFTER must exceed a minute: a slow ESP call "
                    "would otherwise be taken for a dead worker and its email marked failed."
                ),
                id="oscar_recovery.E005",
            )
        )
    if app_settings.SEND_RATE is not None:
        from oscar_recovery.sending.rate import parse_rate

        try:
            parse_rate(app_settings.SEND_RATE)
        except ValueError:
            problems.append(
                Error(
                    _('OSCAR_RECOVERY_SEND_RATE %(rate)r is not a rate such as "14/s" or "600/m".')
                    % {"rate": app_settings.SEND_RATE},
                    id="oscar_recovery.E012",
                )
            )
    return problems


@register()
def check_alert_and_webhook_settings(app_configs, **kwargs):
    from decimal import Decimal, InvalidOperation

    problems = []
    threshold = app_settings.ALERT_MIN_BASKET_VALUE
    if threshold is not None:
        try:
            Decimal(str(threshold))
        except InvalidOperation:
            problems.append(
                Error(
                    _("OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE %(value)r is not a number.")
                    % {"value": threshold},
                    id="oscar_recovery.E006",
                )
            )
    recipients = app_settings.ALERT_RECIPIENTS
    if recipients is not None and (
        isinstance(recipients, str) or not all(isinstance(r, str) for r in recipients)
    ):
        problems.append(
            Error(
                _("OSCAR_RECOVERY_ALERT_RECIPIENTS must be a list of email addresses."),
                id="oscar_recovery.E007",
            )
        )
    if app_settings.WEBHOOK_TIMEOUT <= 0:
        problems.append(
            Error(_("OSCAR_RECOVERY_WEBHOOK_TIMEOUT must be positive."), id="oscar_recovery.E008")
        )
    return problems


@register()
def check_privacy_settings(app_configs, **kwargs):
    """Lawful basis and retention: the owner's decisions, not ours to guess."""
    problems = []
    if not app_settings.LAWFUL_BASIS_IS_SET:
        problems.append(
            Warning(
                _(
                    "OSCAR_RECOVERY_LAWFUL_BASIS is not set: recovery emails go out under the "
                    "soft opt-in. Choose the basis that fits where your shoppers live."
                ),
                hint=_(
                    "Set it to 'soft_opt_in' (UK), 'consent' (Germany, France and most of the "
                    "EU) or 'us_canspam' (US); the README explains each."
                ),
                id="oscar_recovery.W003",
            )
        )
    elif app_settings.LAWFUL_BASIS not in LawfulBasis.values:
        problems.append(
            Error(
                _("OSCAR_RECOVERY_LAWFUL_BASIS %(basis)r is not one of %(choices)s.")
                % {"basis": app_settings.LAWFUL_BASIS, "choices": ", ".join(LawfulBasis.values)},
                id="oscar_recovery.E009",
            )
        )
    if app_settings.RETENTION <= app_settings.EXPIRE_AFTER:
        problems.append(
            Error(
                _(
                    "OSCAR_RECOVERY_RETENTION must be longer than OSCAR_RECOVERY_EXPIRE_AFTER: "
                    "journeys would be deleted while still pursued."
                ),
                id="oscar_recovery.E010",
            )
        )
    return problems


# Dashboard and analytics (ids 6xx, so other branches' checks keep theirs)
@register()
def check_dashboard_settings(app_configs, **kwargs):
    problems = []
    if timedelta(days=app_settings.STATS_RECOMPUTE_DAYS) <= app_settings.EXPIRE_AFTER:
        problems.append(
            Warning(
                _(
                    "OSCAR_RECOVERY_STATS_RECOMPUTE_DAYS does not cover "
                    "OSCAR_RECOVERY_EXPIRE_AFTER: orders placed by journeys enrolled earlier "
                    "than that never reach the dashboard's lift figures (run recovery_aggregate "
                    "--from to catch up)."
                ),
                id="oscar_recovery.W601",
            )
        )
    if app_settings.AB_SAMPLE_SIZE < 1:
        problems.append(
            Error(_("OSCAR_RECOVERY_AB_SAMPLE_SIZE must be at least 1."), id="oscar_recovery.E601")
        )
    if not 0 < app_settings.AB_ALPHA < 1 or not 0 < app_settings.LIFT_CONFIDENCE < 1:
        problems.append(
            Error(
                _(
                    "OSCAR_RECOVERY_AB_ALPHA and OSCAR_RECOVERY_LIFT_CONFIDENCE must lie "
                    "between 0 and 1."
                ),
                id="oscar_recovery.E602",
            )
        )
    return problems


@register()
def check_prompts(app_configs, **kwargs):
    """On-site prompts: configuration that makes a prompt pointless."""
    problems = []
    if not getattr(settings, "OSCAR_ALLOW_ANON_CHECKOUT", False):
        problems.append(
            Warning(
                _(
                    "OSCAR_ALLOW_ANON_CHECKOUT is off: shoppers must create an account to buy, "
                    "the second most common reason they abandon a basket. The guest-checkout "
                    "prompt stays hidden until it is on."
                ),
                hint=_("Set OSCAR_ALLOW_ANON_CHECKOUT = True in your settings."),
                id="oscar_recovery.W051",
            )
        )
    return problems


def _anymail_urls_mounted(patterns) -> bool:
    from django.urls import URLResolver

    return any(
        isinstance(pattern, URLResolver)
        and (pattern.app_name == "anymail" or _anymail_urls_mounted(pattern.url_patterns))
        for pattern in patterns
    )


def esp_webhook_signed() -> bool:
    """Whether django-anymail checks the ESP's webhook calls: ``ANYMAIL["WEBHOOK_SECRET"]``
    (or ``ANYMAIL_WEBHOOK_SECRET``), or an ESP's own signing secret (``<ESP>_WEBHOOK_SECRET``,
    ``<ESP>_WEBHOOK_SIGNING_KEY``)."""
    anymail = getattr(settings, "ANYMAIL", None) or {}
    if getattr(settings, "ANYMAIL_WEBHOOK_SECRET", None):
        return True
    return any(
        value and (key == "WEBHOOK_SECRET" or key.endswith(("_WEBHOOK_SECRET", "_SIGNING_KEY")))
        for key, value in anymail.items()
    )


def esp_webhook_unsigned() -> bool:
    """The ESP tracking URLs are mounted and nothing checks who calls them."""
    from django.urls import get_resolver

    try:
        mounted = _anymail_urls_mounted(get_resolver().url_patterns)
    except Exception:  # a broken URLconf is reported by Django's own checks
        return False
    return mounted and not esp_webhook_signed()


@register()
def check_esp_webhook_secret(app_configs, **kwargs):
    """The ESP tracking URLs (``oscar_recovery.webhooks`` or ``anymail.urls``) without
    ``ANYMAIL["WEBHOOK_SECRET"]`` take events from anyone: a forged bounce or complaint
    suppresses any address. An error in production, a warning under ``DEBUG``."""
    if not esp_webhook_unsigned():
        return []
    level, check_id = (Warning, "W030") if settings.DEBUG else (Error, "E030")
    return [
        level(
            _(
                "The ESP tracking webhook URLs are mounted but ANYMAIL['WEBHOOK_SECRET'] is "
                "not set: anyone can post forged bounces and complaints that suppress any "
                "address."
            ),
            hint=_(
                "Set ANYMAIL['WEBHOOK_SECRET'] to 'user:password' and use it as basic auth "
                "in the ESP's webhook URL."
            ),
            id=f"oscar_recovery.{check_id}",
        )
    ]


@register()
def check_task_mode(app_configs, **kwargs):
    """Which way work is done (Celery workers, or ``recovery_sweep`` from cron), said out
    loud: a shop without Celery must know that cron sends its emails."""
    if app_settings.TASK_MODE not in mode.MODES:
        return [
            Error(
                _("OSCAR_RECOVERY_TASK_MODE %(mode)r is not one of %(choices)s.")
                % {"mode": app_settings.TASK_MODE, "choices": ", ".join(mode.MODES)},
                id="oscar_recovery.E011",
            )
        ]
    if mode.celery_runs_eagerly():
        message = _(
            "oscar-recovery hands its work to Celery, which runs each task eagerly "
            "(task_always_eager): inline, in the process that queues it; no worker is needed. "
            "Something must still start the sweep every minute (Celery beat with "
            "oscar_recovery.schedules.BEAT_SCHEDULE, or 'manage.py recovery_sweep' from cron)."
        )
    elif mode.task_mode() == mode.CELERY:
        message = _(
            "oscar-recovery hands its work to Celery workers (task mode: celery); run a "
            "worker and beat with oscar_recovery.schedules.BEAT_SCHEDULE."
        )
    else:
        message = _(
            "oscar-recovery runs without Celery (task mode: inline): run "
            "'manage.py recovery_sweep' every minute from cron; it sends the emails itself."
        )
    return [Info(message, id="oscar_recovery.I001")]
