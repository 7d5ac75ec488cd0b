"""System checks: configuration mistakes an owner should hear about at start-up."""

import importlib.util
import sys
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Info, Warning, register
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oscar_recovery import app_settings
from oscar_recovery.audiences.platforms import config as audience_platforms
from oscar_recovery.constants import LawfulBasis
from oscar_recovery.handoff import mode
from oscar_recovery.outcomes import esp_webhooks


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


# Retargeting audiences' platforms (ids 7xx, so other branches' checks keep theirs)


def _audience_platform(config, find, module: str) -> tuple[str, bool]:
    """What is wrong with one platform's setting, and whether it is set without its SDK."""
    found = " ".join(find(config))
    return found, bool(config) and not found and not _importable(module)


@register()
def check_audience_platform_settings(app_configs, **kwargs):
    """A malformed Meta or Google setting, or one set without its SDK installed: found at
    start-up rather than at the first nightly sync. Names keys, never values."""
    problems = []
    malformed = _("%(setting)s is malformed: %(problems)s")
    missing = _(
        "%(setting)s is set but the %(package)s package is missing: audiences cannot sync "
        "to this platform."
    )
    platforms = (
        ("META", audience_platforms.meta_problems, "facebook_business", "facebook-business",
         "meta", "oscar_recovery.E701", "oscar_recovery.W701"),
        ("GOOGLE_ADS", audience_platforms.google_problems, "google.ads.googleads", "google-ads",
         "google", "oscar_recovery.E702", "oscar_recovery.W702"),
    )  # fmt: skip
    for name, problems_of, module, package, extra, error_id, warning_id in platforms:
        setting = f"OSCAR_RECOVERY_{name}"
        found, no_sdk = _audience_platform(getattr(app_settings, name), problems_of, module)
        if found:
            problems.append(Error(malformed % {"setting": setting, "problems": found}, id=error_id))
        if no_sdk:
            problems.append(
                Warning(
                    missing % {"setting": setting, "package": package},
                    hint=_("pip install 'oscar-recovery[%(extra)s]'") % {"extra": extra},
                    id=warning_id,
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


def _url_patterns() -> list:
    try:
        return get_resolver().url_patterns
    except Exception:  # a broken URLconf is reported by Django's own checks
        return []


def open_esp_webhooks() -> list[str]:
    """The ESPs (by anymail's name) whose webhook URLs are mounted where anyone may call
    them: ``anymail.urls`` (or an anymail view) mounted directly, for an ESP without the
    basic auth or signing key it needs. ``oscar_recovery.webhooks`` never leaves one open."""
    views = esp_webhooks.open_webhooks(_url_patterns())
    return sorted({view.esp_name for view in views})


def _guarded_patterns(patterns) -> list[URLPattern]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _guarded_patterns(pattern.url_patterns)
        elif getattr(pattern.callback, "recovery_guarded", False):
            found.append(pattern)
    return found


def withheld_esp_tracking() -> str | None:
    """The ESP whose tracking URL ``oscar_recovery.webhooks`` holds back (404) for want of
    its basic auth or signing key: the one ``EMAIL_BACKEND`` sends through, or, with
    another backend, any ESP when none has its check configured. ``None`` when tracking
    can arrive, or the URLs are not mounted."""
    tracking = {
        pattern.name: pattern.callback.view_class
        for pattern in _guarded_patterns(_url_patterns())
        if pattern.name and pattern.name.endswith("_tracking_webhook")
    }
    if not tracking:
        return None
    module, _dot, _name = (
        str(settings.EMAIL_BACKEND).removeprefix("anymail.backends.").partition(".")
    )
    in_use = tracking.get(f"{module}_tracking_webhook")
    if in_use is not None:
        return None if esp_webhooks.webhook_authenticated(in_use) else in_use.esp_name
    if any(esp_webhooks.webhook_authenticated(view) for view in tracking.values()):
        return None
    return _("any ESP")


@register()
def check_esp_webhook_secret(app_configs, **kwargs):
    """ESP webhook URLs anyone may call take forged events: a forged bounce or complaint
    suppresses any address. ``oscar_recovery.webhooks`` answers 404 for an ESP until its
    check is configured, so only ``anymail.urls`` mounted directly can be open: an error in
    production, a warning under ``DEBUG``. Held back for the ESP in use, tracking never
    arrives: a warning."""
    problems = []
    open_esps = open_esp_webhooks()
    if open_esps:
        level, check_id = (Warning, "W030") if settings.DEBUG else (Error, "E030")
        problems.append(
            level(
                _(
                    "The ESP webhook URLs of %(esps)s are mounted without authentication: "
                    "anyone can post forged bounces and complaints that suppress any address."
                )
                % {"esps": ", ".join(open_esps)},
                hint=_(
                    'Mount include("oscar_recovery.webhooks") instead of anymail.urls, and '
                    "set ANYMAIL['WEBHOOK_SECRET'] to 'user:password' (used as basic auth in "
                    "the ESP's webhook URL) or the ESP's signing key."
                ),
                id=f"oscar_recovery.{check_id}",
            )
        )
    withheld = withheld_esp_tracking()
    if withheld:
        problems.append(
            Warning(
                _(
                    "The tracking webhook URL of %(esp)s answers 404 until its "
                    "authentication is configured: bounces, complaints and unsubscribes "
                    "reported by the ESP are not recorded."
                )
                % {"esp": withheld},
                hint=_(
                    "Set ANYMAIL['WEBHOOK_SECRET'] to 'user:password' and use it as basic "
                    "auth in the ESP's webhook URL, or set the ESP's signing key "
                    "(e.g. MAILGUN_WEBHOOK_SIGNING_KEY) in ANYMAIL."
                ),
                id="oscar_recovery.W031",
            )
        )
    return problems


@register()
def check_task_mode(app_configs, **kwargs):
    """Which way work is done (Celery workers, or ``recovery_sweep`` from cron), said out
    loud: a shop without Celery must know that cron sends its emails. Said by ``manage.py
    check`` only (:func:`running_check_command`); a mistyped mode is an error everywhere."""
    if app_settings.TASK_MODE not in mode.MODES:
        return [
            Error(
                _("OSCAR_RECOVERY_TASK_MODE %(mode)r is not one of %(choices)s.")
                % {"mode": app_settings.TASK_MODE, "choices": ", ".join(mode.MODES)},
                id="oscar_recovery.E011",
            )
        ]
    if not running_check_command():
        return []
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


def running_check_command() -> bool:
    """Whether Django's ``check`` command (``manage.py check``, ``call_command("check")``)
    is what runs the checks now. Every other command (``migrate``, ``runserver``, a
    ``recovery_sweep`` run by cron every minute) runs them too and prints every note it
    gets; a note that is not a problem belongs to the command the owner runs to ask.
    Django passes no caller to a check, hence the look at the stack."""
    from django.core.management.commands.check import Command as CheckCommand

    handle = CheckCommand.handle.__code__
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is handle:
            return True
        frame = frame.f_back
    return False


#: The client library each kombu transport imports, by broker URL scheme, and the package
#: that provides it (what kombu's extras install). py-amqp (amqp://) comes with kombu;
#: memory:// and filesystem:// need nothing.
BROKER_CLIENTS = {
    "redis": ("redis", "redis"),
    "rediss": ("redis", "redis"),
    "sentinel": ("redis", "redis"),
    "amqp": ("amqp", "amqp"),
    "amqps": ("amqp", "amqp"),
    "pyamqp": ("amqp", "amqp"),
    "librabbitmq": ("librabbitmq", "librabbitmq"),
    "sqs": ("boto3", "boto3"),
    "mongodb": ("pymongo", "pymongo"),
    "zookeeper": ("kazoo", "kazoo"),
    "sqlalchemy": ("sqlalchemy", "sqlalchemy"),
    "sqla": ("sqlalchemy", "sqlalchemy"),
    "slmq": ("softlayer_messaging", "softlayer_messaging"),
    "qpid": ("qpid.messaging", "qpid-python"),
    "consul": ("consul", "python-consul2"),
    "etcd": ("etcd", "python-etcd"),
    "azurestoragequeues": ("azure.storage.queue", "azure-storage-queue"),
    "azureservicebus": ("azure.servicebus", "azure-servicebus"),
    "pyro": ("Pyro4", "pyro4"),
    "gcpubsub": ("google.cloud.pubsub_v1", "google-cloud-pubsub"),
    "confluentkafka": ("confluent_kafka", "confluent-kafka"),
    "kafka": ("confluent_kafka", "confluent-kafka"),
    "pgmq": ("pgmq", "pgmq"),
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package; a module set to None
        return False


def broker_client_missing() -> str | None:
    """In Celery mode, the client library the broker URL's kombu transport needs and cannot
    import (``redis`` for redis:// and rediss://, ``boto3`` for sqs://, ...: see
    :data:`BROKER_CLIENTS`), said as what to install; None when it is there or nothing is
    published. A scheme the table does not know is left to kombu: its transport is loaded
    (which opens no connection) and what fails to import is reported. Without the check a
    worker dies at start with kombu's ``'NoneType' object has no attribute 'Redis'``."""
    if mode.task_mode() != mode.CELERY:
        return None
    app = mode.project_celery_app()
    if app is None:
        return None
    scheme = broker_scheme()
    if scheme.lower() in BROKER_CLIENTS:
        module, package = BROKER_CLIENTS[scheme.lower()]
        if _importable(module):
            return None
        return _("the %(module)s module is missing (pip install %(package)s)") % {
            "module": module,
            "package": package,
        }
    try:
        connection = app.connection_for_write()
        try:
            connection.transport  # noqa: B018 (builds the transport: kombu imports here)
        finally:
            connection.release()
    except (ImportError, AttributeError) as exc:  # kombu's redis fails with the latter
        return str(exc) or type(exc).__name__
    return None


def broker_scheme() -> str:
    """The scheme of the Celery broker URL (``redis``, ``amqp``, ...), for messages."""
    app = mode.project_celery_app()
    url = (app.conf.broker_write_url or app.conf.broker_url or "") if app is not None else ""
    if isinstance(url, list | tuple):  # failover URLs: the first is used first
        url = url[0] if url else ""
    # "redis+socket://" is the redis transport; Celery's default broker is amqp.
    return urlsplit(url.split(";")[0]).scheme.split("+")[0] or "amqp"


def broker_client_problem() -> str | None:
    """:func:`broker_client_missing` as the owner reads it (system check W040, doctor W140),
    or None. Never raises: a broken Celery configuration is Celery's to report."""
    try:
        problem = broker_client_missing()
    except Exception:
        return None
    if problem is None:
        return None
    return _(
        "The Celery broker URL (%(scheme)s://) needs a client library that is not "
        "installed: %(problem)s. Nothing reaches the broker and workers fail at start."
    ) % {"scheme": broker_scheme(), "problem": problem}


#: How to fix :func:`broker_client_problem`, for the check's hint and the doctor.
BROKER_CLIENT_FIX = gettext_lazy(
    "Install it where the shop and the workers run (for redis:// and rediss://: pip "
    "install redis, or pip install 'celery[redis]')."
)


@register()
def check_broker_client(app_configs, **kwargs):
    """A broker whose client library is not installed: every publish fails and a worker
    dies at start (kombu's ``'NoneType' object has no attribute 'Redis'``)."""
    problem = broker_client_problem()
    if problem is None:
        return []
    return [Warning(problem, hint=str(BROKER_CLIENT_FIX), id="oscar_recovery.W040")]
