"""The doctor: what a production shop has wrong, each with how to fix it.

The checks are data (:data:`CHECKS`): an id, a test that returns what is wrong (or ``None``)
and a fix line. ``manage.py recovery_doctor`` prints them; ``manage.py check --deploy`` shows
the same as warnings (``oscar_recovery.W13x``). Checks that read the database
(``needs_db``) answer nothing when it cannot be read (not migrated yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Warning, register
from django.db import DatabaseError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oscar_recovery import app_settings, checks, handoff
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

SWEEP_TASK = "oscar_recovery.sweep"
#: Backends that never deliver: fine while developing, silent loss in production.
NON_DELIVERING_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)
PLACEHOLDER_HOSTS = {"example.com", "www.example.com", "localhost", "127.0.0.1", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class DoctorCheck:
    id: str
    test: Callable[[], str | None]
    fix: Promise | str
    needs_db: bool = False
    #: False where an ordinary system check already says it (no double warning).
    in_check_deploy: bool = True


@dataclass(frozen=True)
class Finding:
    id: str
    message: str
    fix: str


def task_mode() -> str:
    """The active task mode (``celery`` or ``inline``), as :mod:`oscar_recovery.handoff`
    decides it."""
    return handoff.task_mode()


def _email_backend() -> str | None:
    backend = settings.EMAIL_BACKEND
    if not settings.DEBUG and backend in NON_DELIVERING_BACKENDS:
        return _("EMAIL_BACKEND is %(backend)s with DEBUG off: recovery emails never leave.") % {
            "backend": backend
        }
    return None


def _webhook_secret() -> str | None:
    open_esps = checks.open_esp_webhooks()
    if open_esps:
        return _(
            "The ESP webhooks of %(esps)s have no secret: anyone can post forged deliveries, "
            "bounces and clicks to them."
        ) % {"esps": ", ".join(open_esps)}
    withheld = checks.withheld_esp_tracking()
    if withheld:
        return _(
            "The tracking webhook of %(esp)s has no secret, so it answers 404: bounces and "
            "complaints are not recorded."
        ) % {"esp": withheld}
    return None


def _lawful_basis() -> str | None:
    if not app_settings.LAWFUL_BASIS_IS_SET:
        return _("OSCAR_RECOVERY_LAWFUL_BASIS is not set: emails go out under the soft opt-in.")
    return None


def _postal_address() -> str | None:
    if not app_settings.POSTAL_ADDRESS.strip():
        return _("OSCAR_RECOVERY_POSTAL_ADDRESS is empty: email footers have no postal address.")
    return None


def _is_placeholder(host: str | None) -> bool:
    host = (host or "").lower().strip("[]")
    return host in PLACEHOLDER_HOSTS or host.endswith((".localhost", ".example.com"))


def _site_url() -> str | None:
    # Names the host only: the port this process was configured with need not be the one
    # the shop serves on (the sandbox follows SANDBOX_ADDR, which another shell may not set).
    configured = app_settings.SITE_URL
    host = urlsplit(configured).hostname if configured else None
    if configured and _is_placeholder(host):
        return _(
            "OSCAR_RECOVERY_SITE_URL points at %(host)s, a local or example address: links "
            "and images in emails only work on this machine, or nowhere."
        ) % {"host": host}
    return None


def _site_domain() -> str | None:
    from django.contrib.sites.models import Site

    domain = Site.objects.get_current().domain
    if _is_placeholder(domain.split(":")[0]):
        return _(
            "The current Site's domain is %(domain)s: Oscar's emails (and ours, without "
            "OSCAR_RECOVERY_SITE_URL) link to it."
        ) % {"domain": domain}
    return None


def beat_schedules_sweep() -> bool:
    """Whether the Celery beat schedule (settings, the Celery app, or django-celery-beat's
    table) runs ``oscar_recovery.sweep``."""
    schedules = [getattr(settings, "CELERY_BEAT_SCHEDULE", None) or {}]
    try:
        from celery import current_app

        schedules.append(current_app.conf.beat_schedule or {})
    except Exception:
        logger.debug("No Celery app to read the beat schedule from", exc_info=True)
    if any(entry.get("task") == SWEEP_TASK for s in schedules for entry in s.values()):
        return True
    if "django_celery_beat" in settings.INSTALLED_APPS:
        from django_celery_beat.models import PeriodicTask

        return PeriodicTask.objects.filter(task=SWEEP_TASK, enabled=True).exists()
    return False


def sweep_ran_recently(now: datetime | None = None) -> bool:
    """Whether a sweep started within three sweep intervals of ``now``: something starts it
    (beat, cron, or the sandbox's own thread), whatever the beat schedule says. False when
    the database cannot be read."""
    from oscar_recovery.models import SweepRun

    since = (now or timezone.now()) - 3 * app_settings.SWEEP_INTERVAL
    try:
        return SweepRun.objects.filter(started_at__gte=since).exists()
    except DatabaseError:
        return False


def _beat_schedule() -> str | None:
    # With eager Celery nothing is published, so beat has nothing to do with the sweep.
    if not handoff.needs_workers() or beat_schedules_sweep() or sweep_ran_recently():
        return None
    return _(
        "The Celery beat schedule has no %(task)s entry and no sweep ran lately: nothing "
        "seems to start the sweep."
    ) % {"task": SWEEP_TASK}


def _worker_seen() -> str | None:
    from oscar_recovery.models import WorkerHeartbeat

    if not handoff.needs_workers() or WorkerHeartbeat.objects.exists():
        return None
    return _("No Celery worker has ever run a task of this app.")


def _sweep_ran() -> str | None:
    from oscar_recovery.models import SweepRun

    if SweepRun.objects.exists():
        return None
    return _("The sweep has never run: no basket is marked abandoned, no email goes out.")


CHECKS: list[DoctorCheck] = [
    DoctorCheck(
        "oscar_recovery.W131",
        _email_backend,
        gettext_lazy(
            "Set EMAIL_BACKEND to your ESP's django-anymail backend (or SMTP) and its "
            "credentials in ANYMAIL."
        ),
    ),
    DoctorCheck(
        "oscar_recovery.W132",
        _webhook_secret,
        gettext_lazy(
            'Set ANYMAIL["WEBHOOK_SECRET"] = "<random>:<random>" and put the same user:password '
            "in the ESP's webhook URL (https://user:password@shop/anymail/<esp>/tracking/), or "
            "the ESP's signing key (e.g. MAILGUN_WEBHOOK_SIGNING_KEY); mount "
            'include("oscar_recovery.webhooks"), not anymail.urls.'
        ),
        in_check_deploy=False,  # oscar_recovery.E030 and W031
    ),
    DoctorCheck(
        "oscar_recovery.W133",
        _lawful_basis,
        gettext_lazy(
            "Set OSCAR_RECOVERY_LAWFUL_BASIS to 'soft_opt_in', 'consent' or 'us_canspam' (see "
            "the README's privacy section)."
        ),
        in_check_deploy=False,  # oscar_recovery.W003
    ),
    DoctorCheck(
        "oscar_recovery.W134",
        _postal_address,
        gettext_lazy("Set OSCAR_RECOVERY_POSTAL_ADDRESS to the shop's postal address."),
        in_check_deploy=False,  # oscar_recovery.W002
    ),
    DoctorCheck(
        "oscar_recovery.W135",
        _site_url,
        gettext_lazy("Set OSCAR_RECOVERY_SITE_URL to the shop's public https:// address."),
    ),
    DoctorCheck(
        "oscar_recovery.W136",
        _site_domain,
        gettext_lazy(
            "Set the Site's domain to the shop's public host (admin: Sites, or "
            "Site.objects.update(domain=...))."
        ),
        needs_db=True,
    ),
    DoctorCheck(
        "oscar_recovery.W137",
        _beat_schedule,
        gettext_lazy(
            "Add oscar_recovery.schedules.BEAT_SCHEDULE to CELERY_BEAT_SCHEDULE and run "
            "'celery -A <project> beat'."
        ),
    ),
    DoctorCheck(
        "oscar_recovery.W138",
        _worker_seen,
        gettext_lazy("Run 'celery -A <project> worker' with the same settings and broker."),
        needs_db=True,
    ),
    DoctorCheck(
        "oscar_recovery.W139",
        _sweep_ran,
        gettext_lazy(
            "Start Celery beat and a worker, or run 'manage.py recovery_sweep' once to try it."
        ),
        needs_db=True,
    ),
    DoctorCheck(
        "oscar_recovery.W140",
        checks.broker_client_problem,
        checks.BROKER_CLIENT_FIX,
        in_check_deploy=False,  # oscar_recovery.W040
    ),
]


def diagnose(include_db: bool = True, for_check_deploy: bool = False) -> list[Finding]:
    """Every check that finds something wrong, in :data:`CHECKS` order."""
    findings = []
    for doctor_check in CHECKS:
        if doctor_check.needs_db and not include_db:
            continue
        if for_check_deploy and not doctor_check.in_check_deploy:
            continue
        try:
            message = doctor_check.test()
        except DatabaseError:
            logger.debug("Doctor check %s could not read the database", doctor_check.id)
            continue
        if message:
            findings.append(Finding(doctor_check.id, message, str(doctor_check.fix)))
    return findings


@register(deploy=True)
def check_deploy(app_configs, databases=None, **kwargs) -> list[Warning]:
    """The doctor's findings under ``manage.py check --deploy``."""
    findings = diagnose(for_check_deploy=True)
    return [Warning(finding.message, hint=finding.fix, id=finding.id) for finding in findings]
