"""Recovery emails and the ESP tracking events applied to them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import MessageStatus
from oscar_recovery.models.campaigns import CampaignStep, StepVariant
from oscar_recovery.models.journeys import CanonicalEmailField, CartJourney, email_matches


class MessageQuerySet(models.QuerySet):
    def for_email(self, email: str) -> MessageQuerySet:
        """Messages addressed to ``email``, however it is spelled."""
        return self.filter(email_matches(email, "to_email"))


class RecoveryMessage(models.Model):
    """One recovery email for one journey and step: exactly one row, however many workers,
    retries or sweeps race to send it (the unique constraint is the guarantee)."""

    journey = models.ForeignKey(
        CartJourney, on_delete=models.CASCADE, related_name="messages", verbose_name=_("journey")
    )
    step = models.ForeignKey(
        CampaignStep, on_delete=models.PROTECT, related_name="messages", verbose_name=_("step")
    )
    variant = models.ForeignKey(
        StepVariant,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("variant"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    skip_reason = models.CharField(_("skip reason"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    to_email = CanonicalEmailField(_("to"), blank=True)
    esp_message_id = models.CharField(_("ESP message id"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    voucher_code = models.CharField(_("voucher code"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    #: When a send task was last handed to the broker; the sweep hands over again messages
    #: left queued for long (the broker was down, the task was lost).
    enqueued_at = models.DateTimeField(_("enqueued at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    #: Committed right before the ESP call of the current claim. A message left "sending"
    #: without it never reached the ESP and is queued again; with it, it may have.
    esp_call_started_at = models.DateTimeField(_("ESP call started at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("recovery message")
        verbose_name_plural = _("recovery messages")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "step"], name="recovery_message_once")
        ]
        indexes = [
            models.Index(
                fields=["esp_message_id"],
                condition=~Q(esp_message_id=""),
                name="recovery_message_esp_id_idx",
            ),
            models.Index(fields=["to_email", "sent_at"], name="recovery_message_cooldown_idx"),
            # The sweep's look for messages stuck queued or sending.
            models.Index(
                fields=["status", "claimed_at"],
                condition=Q(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]),
                name="recovery_message_pending_idx",
            ),
            # The dashboard's daily aggregation.
            models.Index(fields=["sent_at"], name="recovery_message_sent_idx"),
        ]

    def __str__(self) -> str:
        return _("%(step)s to journey %(journey)s (%(status)s)") % {
            "step": self.step,
            "journey": self.journey_id,
            "status": self.get_status_display(),
        }


class SendRateBucket(models.Model):
    """The shared token bucket of ``OSCAR_RECOVERY_SEND_RATE``: one row per bucket, taken
    from by an atomic conditional ``UPDATE`` (:mod:`oscar_recovery.sending.rate`)."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    tokens = models.FloatField(_("tokens"), default=0)
    #: Seconds since the epoch of the last refill (a float keeps the arithmetic portable).
    refilled_at = models.FloatField(_("refilled at"), default=0)

    class Meta:
        verbose_name = _("send rate bucket")
        verbose_name_plural = _("send rate buckets")

    def __str__(self) -> str:
        return self.name


class TrackingEvent(models.Model):
    """An ESP tracking event already applied: ESPs retry webhooks, so each is applied once."""

    event_key = models.CharField(_("event key"), max_length=64, unique=True)
    message = models.ForeignKey(
        RecoveryMessage,
        on_delete=models.CASCADE,
        related_name="tracking_events",
        null=True,
        verbose_name=_("message"),
    )
    event_type = models.CharField(_("event type"), max_length=32)
    esp_name = models.CharField(_("ESP"), max_length=64, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")

    def __str__(self) -> str:
        return _("%(event)s for message %(message)s") % {
            "event": self.event_type,
            "message": self.message_id,
        }
