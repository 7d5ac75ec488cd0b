"""Privacy records that outlive the shopper's other data."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import (
    Channel,
    ConfirmationStatus,
    ConsentAction,
    ConsentSource,
    LawfulBasis,
    SuppressionReason,
)


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


class ConsentEvent(models.Model):
    """One entry of the consent ledger: append-only, never updated or deleted (erasure
    blanks its personal fields). A consent belongs to the ``address`` (canonical email,
    E.164 number or push endpoint) it was given with, on one ``channel``; the current state
    of an address is derived from its events (:func:`oscar_recovery.privacy.ledger.state`).
    ``address`` is empty for a decision given before any address was known (it then speaks
    for its journey and browser only)."""

    contact = models.ForeignKey(
        "oscar_recovery.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="consent_events",
        verbose_name=_("contact"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=ConsentAction.choices)
    source = models.CharField(_("source"), max_length=16, choices=ConsentSource.choices)
    basis = models.CharField(
        _("lawful basis"), max_length=16, choices=LawfulBasis.choices, blank=True
    )
    #: Every word the person was shown when deciding, in the language they read it in.
    wording = models.TextField(_("wording shown"), blank=True)
    language = models.CharField(_("language"), max_length=15, blank=True)
    #: What proves it: the journey, the message, the confirmation, the merge.
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    journey = models.ForeignKey(
        "oscar_recovery.CartJourney",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="consent_events",
        verbose_name=_("journey"),
    )
    visitor_id = models.CharField(_("visitor id"), max_length=32, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["occurred_at", "pk"]
        indexes = [
            models.Index(
                fields=["channel", "address", "occurred_at"], name="recovery_consent_addr_idx"
            ),
            models.Index(fields=["contact", "occurred_at"], name="recovery_consent_contact_idx"),
        ]

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d %H:%M}"
        return f"{self.get_channel_display()} {self.get_action_display()} @ {when}"
