"""The app's health: plain figures read from the database, and the verdicts drawn from them.

Silence is the failure owners miss for weeks (the scheduler stopped, no worker consumes the
queue, the ESP refuses every email), so each of those is a :class:`Problem`:

- ``sweep_never_ran`` / ``sweep_late``: no run recorded, or the last one started more than
  three ``OSCAR_RECOVERY_SWEEP_INTERVAL`` ago;
- ``sweep_errors``: the last finished run recorded errors;
- ``queue_stale``: a message has waited queued, never tried, longer than
  ``OSCAR_RECOVERY_QUEUED_STALE_AFTER`` (nothing consumes the queue);
- ``sends_failing``: the last :data:`FAILURE_STREAK` finished sends all failed;
- ``audience_sync_failing``: a retargeting audience's last sync to Meta or Google failed
  (retrying with back-off, or held until staff fix a permanent error).

Reading health costs a handful of indexed queries and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from oscar_recovery import app_settings
from oscar_recovery.constants import AudienceSyncStatus, MessageStatus
from oscar_recovery.models import Audience, RecoveryMessage, SweepRun, WorkerHeartbeat
from oscar_recovery.utils import get_logger, redact

logger = get_logger(__name__)

#: The sweep is late after this many intervals without a run.
LATE_AFTER_INTERVALS = 3
#: Sends failed in a row, with none accepted between, that make the app unhealthy.
FAILURE_STREAK = 3
#: How long sweep runs are kept (the table would otherwise grow by 1,440 rows a day).
SWEEP_RUNS_KEPT = timedelta(days=7)

#: Finished sends: accepted by the ESP (and what came after), or failed.
_FINISHED = [
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
    MessageStatus.BOUNCED,
    MessageStatus.COMPLAINED,
    MessageStatus.FAILED,
]


@dataclass(frozen=True)
class Problem:
    """One reason the app is unhealthy: a stable ``code`` for monitors, a ``message`` in
    the reader's language."""

    code: str
    message: str


@dataclass
class Health:
    now: datetime
    sweep_interval: timedelta
    last_sweep: SweepRun | None
    last_sent_at: datetime | None
    oldest_queued_at: datetime | None
    queued: int
    failed_last_day: int
    failure_streak: bool
    worker: WorkerHeartbeat | None
    #: Audiences whose last sync failed: (name, status, destinations that failed).
    failing_audiences: list[tuple[str, str, list[str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def queue_age(self) -> timedelta | None:
        return None if self.oldest_queued_at is None else self.now - self.oldest_queued_at

    # "40 s", "3 min": for the dashboard's health line (``timesince`` stops at minutes).
    @property
    def last_sweep_ago(self) -> str:
        return "" if self.last_sweep is None else age_text(self.now - self.last_sweep.started_at)

    @property
    def last_sent_ago(self) -> str:
        return "" if self.last_sent_at is None else age_text(self.now - self.last_sent_at)

    @property
    def worker_ago(self) -> str:
        return "" if self.worker is None else age_text(self.now - self.worker.seen_at)

    def as_dict(self) -> dict:
        """The JSON the endpoint answers: timestamps in ISO 8601, ages in seconds; no
        personal data."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        def age(value: datetime | None) -> float | None:
            return None if value is None else round((self.now - value).total_seconds(), 1)

        run = self.last_sweep
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "checked_at": iso(self.now),
            "last_sweep": None
            if run is None
            else {
                "started_at": iso(run.started_at),
                "finished_at": iso(run.finished_at),
                "age_seconds": age(run.started_at),
                "counts": run.counts,
                "errors": len(run.errors),
            },
            "sweep_interval_seconds": self.sweep_interval.total_seconds(),
            "last_email_sent_at": iso(self.last_sent_at),
            "queue": {"queued": self.queued, "oldest_age_seconds": age(self.oldest_queued_at)},
            "failures": {"last_day": self.failed_last_day, "streak": self.failure_streak},
            "worker": None
            if self.worker is None
            else {
                "name": self.worker.worker,
                "task": self.worker.task,
                "seen_at": iso(self.worker.seen_at),
                "age_seconds": age(self.worker.seen_at),
            },
            "audiences_failing": [
                {"name": name, "status": status, "destinations": destinations}
                for name, status, destinations in self.failing_audiences
            ],
            "problems": [{"code": p.code, "message": p.message} for p in self.problems],
        }


def check(now: datetime | None = None) -> Health:
    """Read the figures and judge them."""
    now = now or timezone.now()
    untried = RecoveryMessage.objects.filter(status=MessageStatus.QUEUED, attempts=0)
    queue = untried.aggregate(oldest=Min("created_at"))
    last_finished = list(
        RecoveryMessage.objects.filter(status__in=_FINISHED, claimed_at__isnull=False)
        .order_by("-claimed_at")
        .values_list("status", flat=True)[:FAILURE_STREAK]
    )
    health = Health(
        now=now,
        sweep_interval=app_settings.SWEEP_INTERVAL,
        last_sweep=SweepRun.objects.order_by("-started_at").first(),
        last_sent_at=RecoveryMessage.objects.filter(sent_at__isnull=False)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first(),
        oldest_queued_at=queue["oldest"],
        queued=RecoveryMessage.objects.filter(status=MessageStatus.QUEUED).count(),
        failed_last_day=RecoveryMessage.objects.filter(
            status=MessageStatus.FAILED, claimed_at__gte=now - timedelta(days=1)
        ).count(),
        failure_streak=len(last_finished) == FAILURE_STREAK
        and all(status == MessageStatus.FAILED for status in last_finished),
        worker=WorkerHeartbeat.objects.order_by("-seen_at").first(),
        failing_audiences=[
            (name, status, sorted(errors or {}))
            for name, status, errors in Audience.objects.filter(
                last_sync_status__in=[AudienceSyncStatus.FAILED, AudienceSyncStatus.HELD]
            )
            .order_by("name")
            .values_list("name", "last_sync_status", "last_errors")
        ],
    )
    health.problems = judge(health)
    return health


def judge(health: Health) -> list[Problem]:
    """The problems these figures show, most fundamental first."""
    problems = []
    run = health.last_sweep
    late_after = health.sweep_interval * LATE_AFTER_INTERVALS
    if run is None:
        problems.append(
            Problem(
                "sweep_never_ran",
                _(
                    "The sweep has never run: no basket is marked abandoned and no recovery "
                    "email goes out. Start Celery beat and a worker (or run recovery_sweep "
                    "from cron)."
                ),
            )
        )
    elif run.started_at < health.now - late_after:
        problems.append(
            Problem(
                "sweep_late",
                _(
                    "The sweep is late: its last run started %(ago)s ago, and it is scheduled "
                    "every %(interval)s. Is Celery beat (or cron) running?"
                )
                % {
                    "ago": age_text(health.now - run.started_at),
                    "interval": age_text(health.sweep_interval),
                },
            )
        )
    elif run.errors:
        problems.append(
            Problem(
                "sweep_errors",
                _("The last sweep recorded %(count)d error(s); the worker's log has them.")
                % {"count": len(run.errors)},
            )
        )
    stale_after = app_settings.QUEUED_STALE_AFTER
    if health.queue_age is not None and health.queue_age > stale_after:
        problems.append(
            Problem(
                "queue_stale",
                _(
                    "%(count)d recovery email(s) have waited queued for up to %(age)s: no "
                    "worker is consuming the queue. Start a Celery worker."
                )
                % {"count": health.queued, "age": age_text(health.queue_age)},
            )
        )
    if health.failure_streak:
        problems.append(
            Problem(
                "sends_failing",
                _(
                    "The last %(count)d recovery emails all failed to send. Check the email "
                    "backend's settings and the ESP account (each message's error is in the "
                    "admin)."
                )
                % {"count": FAILURE_STREAK},
            )
        )
    if health.failing_audiences:
        problems.append(
            Problem(
                "audience_sync_failing",
                _(
                    "Retargeting audiences failing to sync: %(names)s. Their errors are on "
                    "the dashboard's audiences page; people who withdrew consent are removed "
                    "once a sync succeeds."
                )
                % {
                    "names": ", ".join(
                        f"{name} ({', '.join(destinations) or status})"
                        for name, status, destinations in health.failing_audiences
                    )
                },
            )
        )
    return problems


def age_text(value: timedelta) -> str:
    """A short age for banners and the health line: "40 s", "3 min", "5 h", "2 days"."""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 120:
        return _("%(n)d s") % {"n": seconds}
    if seconds < 2 * 3600:
        return _("%(n)d min") % {"n": seconds // 60}
    if seconds < 2 * 86400:
        return _("%(n)d h") % {"n": seconds // 3600}
    return _("%(n)d days") % {"n": seconds // 86400}


def recorded_sweep(now: datetime | None = None):
    """Run the sweep and record the run (start, end, counts, errors) as a :class:`SweepRun`.

    A sweep that raises is recorded with its error, then the error propagates. Failing to
    record never stops the sweep itself. Runs older than :data:`SWEEP_RUNS_KEPT` are deleted.
    """
    from oscar_recovery.sweep.stages import run_sweep

    run = _start_run()
    try:
        result = run_sweep(now)
    except Exception as exc:
        _finish_run(run, {}, [repr(exc)])
        raise
    _finish_run(run, result.as_dict(), result.errors)
    logger.debug("Sweep: %s", result)
    return result


def _start_run() -> SweepRun | None:
    try:
        with transaction.atomic():
            run = SweepRun.objects.create(started_at=timezone.now())
            SweepRun.objects.filter(started_at__lt=run.started_at - SWEEP_RUNS_KEPT).delete()
        return run
    except Exception:
        logger.warning("Could not record the sweep's start", exc_info=True)
        return None


def _finish_run(run: SweepRun | None, counts: dict, errors: list[str]) -> None:
    if run is None:
        return
    try:
        SweepRun.objects.filter(pk=run.pk).update(
            # Errors quote recipients (ESP and SMTP refusals); the record is kept for weeks.
            finished_at=timezone.now(),
            counts=counts,
            errors=[redact(e)[:500] for e in errors[:20]],
        )
    except Exception:
        logger.warning("Could not record the sweep's end", exc_info=True)
