"""How the app's own machinery is doing: the outbox of work handed to workers."""

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
