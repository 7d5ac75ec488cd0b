"""Segments of contacts and who is in them, with entry and exit times.

A segment is one SQL predicate over a contact and its facts (built in, or the owner's own
definition); :mod:`oscar_recovery.segments` compiles it and keeps memberships up to date,
set-based and incrementally. A membership row is opened when a contact enters and closed
(``exited_at``) when it leaves; a contact coming back opens a new row, so the rows are the
history of entries and exits.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import AmountBasis, SegmentKind, SegmentRule

#: The fields whose change makes a segment another segment: its version goes up and its
#: memberships are rebuilt.
DEFINITION_FIELDS = ("rule", "definition", "days", "amount", "amount_basis")
#: The fields only the refresh writes.
REFRESH_FIELDS = ("built_signature", "last_run_at", "last_duration_ms", "member_count")


class Segment(models.Model):
    """A set of contacts. Built-in segments have a fixed ``rule`` and owner-set numbers
    (``days``, ``amount``, ``amount_basis``); custom ones a ``definition``: a list of
    conditions over the contact's facts, all of which must hold (validated by
    :func:`oscar_recovery.segments.definition.validate`)."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(
        _("kind"), max_length=8, choices=SegmentKind.choices, default=SegmentKind.CUSTOM
    )
    rule = models.CharField(
        _("rule"), max_length=24, choices=SegmentRule.choices, default=SegmentRule.CUSTOM
    )
    definition = models.JSONField(
        _("definition"),
        default=list,
        blank=True,
        help_text=_(
            "Custom segments: a list of conditions, all of which must hold, e.g. "
            '[{"field": "order_count", "op": "gte", "value": 2}, '
            '{"field": "days_since_last_order", "op": "lt", "value": 30}].'
        ),
    )
    days = models.PositiveIntegerField(
        _("days"),
        null=True,
        blank=True,
        help_text=_(
            "Built-in segments with a time window: first-time buyers ordered less than this "
            "many days ago, recent buyers less than this many days ago, lapsed customers "
            "have not ordered for more than this many days, abandoned baskets and browsing "
            "happened less than this many days ago."
        ),
    )
    amount = models.DecimalField(
        _("amount"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "Recent buyers: the order value from which a buyer is in the segment (at least "
            "this amount, in the shop's currency). Which value is compared is set below."
        ),
    )
    amount_basis = models.CharField(
        _("amount compared with"),
        max_length=12,
        choices=AmountBasis.choices,
        default=AmountBasis.LAST_ORDER,
        help_text=_(
            "Recent buyers: compare the amount with the last order's total, or with the "
            "lifetime total of all the customer's orders."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    #: What the memberships were last fully built from (version and the settings the rule
    #: reads): when it differs from now, the next refresh rebuilds.
    built_signature = models.CharField(max_length=64, blank=True, editable=False)
    last_run_at = models.DateTimeField(_("last run at"), null=True, blank=True, editable=False)
    last_duration_ms = models.PositiveIntegerField(
        _("last run took (ms)"), null=True, blank=True, editable=False
    )
    member_count = models.PositiveIntegerField(_("members"), default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # What the refresh records is written by the refresh alone: a form or a stale copy
        # saved meanwhile must not put back an older count or run time.
        if self.pk and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in REFRESH_FIELDS
            ]
        # A changed definition is a new version: the next refresh rebuilds the memberships.
        if self.pk:
            old = Segment.objects.filter(pk=self.pk).values(*DEFINITION_FIELDS).first()
            if old and any(old[name] != getattr(self, name) for name in DEFINITION_FIELDS):
                self.version += 1
                if kwargs.get("update_fields") is not None:
                    kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
        super().save(*args, **kwargs)


class SegmentMembership(models.Model):
    """One stay of a contact in a segment: from ``entered_at`` to ``exited_at`` (null while
    it lasts). At most one open stay per segment and contact."""

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("segment")
    )
    contact = models.ForeignKey(
        "oscar_recovery.Contact",
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        verbose_name=_("contact"),
    )
    entered_at = models.DateTimeField(_("entered at"))
    exited_at = models.DateTimeField(_("exited at"), null=True, blank=True)

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "contact"],
                condition=Q(exited_at__isnull=True),
                name="recovery_segment_open_uniq",
            )
        ]
        indexes = [models.Index(fields=["contact"], name="recovery_member_contact_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.segment_id}"
