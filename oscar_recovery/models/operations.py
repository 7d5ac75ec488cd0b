"""How the app's own machinery is doing: the outbox of work handed to workers, the sweep's
runs and the workers' heartbeats (what the health view, endpoint and doctor read)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class HandOff(models.Model):
    """The outbox: one piece of work handed from a request or the sweep to a worker
    (:mod:`oscar_recovery.handoff`). Written in the transaction that causes the work, so
    work is never lost to a broker that is down; done once, in the transaction that does it."""

    task = models.CharField(_("task"), max_length=64)
    args = models.JSONField(_("arguments"), default=list)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    #: When the housekeeping may hand it over (again): until then a worker may have it.
    available_at = models.DateTimeField(_("available at"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("hand-off")
        verbose_name_plural = _("hand-offs")
        indexes = [
            models.Index(
                fields=["available_at"],
                condition=Q(done_at__isnull=True),
                name="recovery_handoff_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.task}({self.pk})"


class SweepRun(models.Model):
    """One run of the sweep, from start to end: the owner's proof that the scheduler runs.

    A row with no ``finished_at`` is a run in progress, or one whose process died."""

    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)

    class Meta:
        verbose_name = _("sweep run")
        verbose_name_plural = _("sweep runs")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["started_at"], name="recovery_sweeprun_started_idx")]

    def __str__(self) -> str:
        return f"sweep {self.started_at:%Y-%m-%d %H:%M:%S}"


class WorkerHeartbeat(models.Model):
    """The last task of this app each worker (by hostname) finished, and when."""

    worker = models.CharField(_("worker"), max_length=255, unique=True)
    task = models.CharField(_("last task"), max_length=255, blank=True)
    seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.worker


class SweepCursor(models.Model):
    """How far an incremental stage of the sweep has read a table (by id): the next run
    starts after ``position``. One row per stage, by ``name``."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    position = models.BigIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("sweep cursor")
        verbose_name_plural = _("sweep cursors")

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"
