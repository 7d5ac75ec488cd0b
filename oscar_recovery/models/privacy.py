"""Privacy records that outlive the shopper's other data."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import ConfirmationStatus, SuppressionReason


class SuppressedAddress(models.Model):
    """An address we must never email again. Only a keyed hash of the address is kept, so
    the list can outlive every other record of the shopper (see ``suppression.py``)."""

    email_hash = models.CharField(_("email hash"), max_length=64, unique=True)
    reason = models.CharField(_("reason"), max_length=16, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.get_reason_display()})"


class ConsentConfirmation(models.Model):
    """The double opt-in email of one address: one row per address (by its suppression
    hash, never the address in clear), so "at most one confirmation email per address and
    window" is a single-row atomic update, whatever races (see
    :mod:`oscar_recovery.privacy.confirmation`). It names the journey whose consent the
    email asks to confirm; the address is read from that journey when sending."""

    email_hash = models.CharField(_("email hash"), max_length=64, unique=True)
    journey = models.ForeignKey(
        "oscar_recovery.CartJourney",
        on_delete=models.CASCADE,
        related_name="consent_confirmations",
        verbose_name=_("journey"),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ConfirmationStatus.choices,
        default=ConfirmationStatus.QUEUED,
    )
    #: Why it was skipped or failed (a ``SkipReason`` or the redacted error).
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    enqueued_at = models.DateTimeField(_("enqueued at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    #: Committed right before the ESP call of the current claim, as on recovery messages:
    #: a row left "sending" without it never reached the ESP and is sent again; with it, it
    #: may have, and is failed as interrupted.
    esp_call_started_at = models.DateTimeField(_("ESP call started at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent confirmation")
        verbose_name_plural = _("consent confirmations")
        indexes = [
            models.Index(
                fields=["status", "requested_at"],
                condition=Q(status__in=[ConfirmationStatus.QUEUED, ConfirmationStatus.SENDING]),
                name="recovery_confirm_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.get_status_display()})"
