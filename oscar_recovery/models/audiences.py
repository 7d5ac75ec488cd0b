"""Retargeting audiences: a segment turned into hashed lists on advertising platforms.

An :class:`Audience` names the segment it is built from and where it goes (a CSV download
always; Meta Custom Audiences and Google Customer Match when switched on). Its
:class:`AudienceMember` rows hold, per destination, who should be in the list (``desired``)
and what the platform was last told (``synced_state``); the daily sync
(:mod:`oscar_recovery.audiences.sync`) sends only the difference. A member row keeps SHA-256
digests of the canonical address and number, computed once when the row is written, never
the address itself; its ``contact`` is cleared on erasure so the person can still be removed
from the platform by hash, after which the row is deleted.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import AudienceDestination, AudienceSyncState, AudienceSyncStatus

#: Google Customer Match keeps a member at most this many days after its last upload.
MAX_TTL_DAYS = 540


class Audience(models.Model):
    """A retargeting audience: the contacts of ``segment`` who gave advertising consent,
    minus recent buyers when ``exclude_buyers_days`` is set."""

    name = models.CharField(_("name"), max_length=128)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    segment = models.ForeignKey(
        "oscar_recovery.Segment",
        on_delete=models.PROTECT,
        related_name="audiences",
        verbose_name=_("segment"),
    )
    exclude_buyers_days = models.PositiveIntegerField(
        _("leave out buyers of the last N days"),
        null=True,
        blank=True,
        help_text=_(
            "Leave out anyone who placed an order less than this many days ago (empty: "
            "nobody is left out for ordering)."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    #: The CSV download is always available; these send the list to the platforms too.
    sync_meta = models.BooleanField(_("sync to Meta Custom Audiences"), default=False)
    sync_google = models.BooleanField(_("sync to Google Customer Match"), default=False)
    meta_external_id = models.CharField(_("Meta audience id"), max_length=64, blank=True)
    google_external_id = models.CharField(_("Google user list id"), max_length=128, blank=True)
    ttl_days = models.PositiveIntegerField(
        _("membership duration (days)"),
        default=MAX_TTL_DAYS,
        validators=[MinValueValidator(31), MaxValueValidator(MAX_TTL_DAYS)],
        help_text=_(
            "How long a platform keeps a member after its last upload (Google allows at "
            "most 540). Members are uploaded again 30 days before it runs out."
        ),
    )
    last_sync_at = models.DateTimeField(_("last sync at"), null=True, blank=True, editable=False)
    last_sync_status = models.CharField(
        _("last sync"),
        max_length=8,
        choices=AudienceSyncStatus.choices,
        default=AudienceSyncStatus.NEVER,
        editable=False,
    )
    #: The last failure, per destination: ``{"meta": "message", ...}``; empty when the
    #: last sync succeeded everywhere.
    last_errors = models.JSONField(_("last errors"), default=dict, blank=True, editable=False)
    failure_count = models.PositiveIntegerField(_("failures in a row"), default=0, editable=False)
    #: A failed audience is not synced again before this time (exponential back-off); a
    #: failure no retry can fix holds it until staff save it again.
    next_attempt_at = models.DateTimeField(
        _("next attempt at"), null=True, blank=True, editable=False
    )
    held = models.BooleanField(_("held after a permanent error"), default=False, editable=False)
    member_count = models.PositiveIntegerField(_("members"), default=0, editable=False)
    #: Set while a sync runs, so two never work on one audience at once.
    sync_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("audience")
        verbose_name_plural = _("audiences")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def destinations(self) -> list[str]:
        """Every destination the audience is kept for: the CSV, then the platforms on."""
        names = [AudienceDestination.CSV.value]
        if self.sync_meta:
            names.append(AudienceDestination.META.value)
        if self.sync_google:
            names.append(AudienceDestination.GOOGLE.value)
        return names

    def external_id(self, destination: str) -> str:
        return getattr(self, f"{destination}_external_id", "") or ""


class AudienceMember(models.Model):
    """One person in one destination of an audience: hashes only, the wanted state and the
    state the platform was last told."""

    audience = models.ForeignKey(
        Audience, on_delete=models.CASCADE, related_name="members", verbose_name=_("audience")
    )
    destination = models.CharField(
        _("destination"), max_length=8, choices=AudienceDestination.choices
    )
    #: Cleared when the contact is erased; the row stays until the removal is sent.
    contact = models.ForeignKey(
        "oscar_recovery.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audience_members",
        verbose_name=_("contact"),
    )
    email_sha256 = models.CharField(_("email SHA-256"), max_length=64, blank=True)
    phone_sha256 = models.CharField(_("phone SHA-256"), max_length=64, blank=True)
    #: The keyed hash the suppression list uses (never the address): lets the sync drop
    #: suppressed addresses set-based.
    suppression_hash = models.CharField(max_length=64, blank=True, editable=False)
    desired = models.BooleanField(_("should be in the list"), default=True)
    synced_state = models.CharField(
        _("platform state"),
        max_length=8,
        choices=AudienceSyncState.choices,
        default=AudienceSyncState.NONE,
    )
    synced_at = models.DateTimeField(_("last sent at"), null=True, blank=True)
    #: When ``desired`` last changed: when the person entered or was taken out.
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("audience member")
        verbose_name_plural = _("audience members")
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "destination", "contact"],
                condition=Q(contact__isnull=False),
                name="recovery_audience_member_uniq",
            )
        ]
        indexes = [
            models.Index(
                fields=["audience", "destination", "desired", "synced_state"],
                name="recovery_audmember_sync_idx",
            ),
            models.Index(fields=["contact"], name="recovery_audmember_contact_idx"),
            models.Index(
                fields=["audience", "destination", "email_sha256"],
                name="recovery_audmember_hash_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.audience_id}/{self.destination}/{self.pk}"
