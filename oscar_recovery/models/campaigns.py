"""Campaigns: the email sequences, their steps and variants, and enrolments."""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import (
    CampaignTrigger,
    CheckoutStep,
    CustomerType,
    EnrolmentStatus,
    ValueTier,
)
from oscar_recovery.models.base import IncentiveFields, TranslatedFields, VariantFields
from oscar_recovery.models.journeys import CartJourney


class Campaign(models.Model):
    """A recovery email sequence and the journeys it is for."""

    name = models.CharField(_("name"), max_length=128, unique=True)
    is_active = models.BooleanField(_("active"), default=False)
    trigger = models.CharField(
        _("trigger"),
        max_length=32,
        choices=CampaignTrigger.choices,
        default=CampaignTrigger.BASKET_ABANDONED,
    )
    # Audience
    min_basket_value = models.DecimalField(
        _("minimum basket value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    max_basket_value = models.DecimalField(
        _("maximum basket value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    min_step = models.PositiveSmallIntegerField(
        _("reached at least"), choices=CheckoutStep.choices, null=True, blank=True
    )
    customer_type = models.CharField(
        _("customers"), max_length=16, choices=CustomerType.choices, default=CustomerType.ANY
    )
    value_tier = models.CharField(
        _("lifetime value tier"), max_length=16, choices=ValueTier.choices, default=ValueTier.ANY
    )
    exclude_staff = models.BooleanField(_("exclude staff"), default=True)
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout %"),
        default=10,
        validators=[MaxValueValidator(50)],
        help_text=_("Share of matching journeys that get no email, to measure real lift."),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        default=100,
        help_text=_("When several campaigns match a journey, the highest priority wins."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-priority", "name"]

    def __str__(self) -> str:
        return self.name


class CampaignStep(IncentiveFields, TranslatedFields):
    """One email of a campaign, sent ``delay`` after the journey was abandoned; its
    incentive fields come from :class:`~oscar_recovery.models.base.IncentiveFields`."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="steps", verbose_name=_("campaign")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    delay = models.DurationField(_("delay after abandonment"))
    subject = models.CharField(_("subject"), max_length=200)
    preheader = models.CharField(_("preheader"), max_length=200, blank=True)
    body_html = models.TextField(
        _("HTML body template"), blank=True, help_text=_("Empty: the shipped default.")
    )
    body_text = models.TextField(
        _("text body template"), blank=True, help_text=_("Empty: the shipped default.")
    )
    #: One offer, one story: by default a shopper who already holds an unused, valid
    #: voucher from this journey (a prompt's or an earlier step's) is shown that one again.
    new_voucher = models.BooleanField(
        _("mint a new voucher"),
        default=False,
        help_text=_(
            "Send this step's own voucher even when the shopper holds an unused one from "
            "an earlier email or prompt. Off: the unused voucher is shown again."
        ),
    )

    class Meta:
        verbose_name = _("campaign step")
        verbose_name_plural = _("campaign steps")
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "position"], name="recovery_step_unique_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.position}: {self.subject}"


class StepVariant(VariantFields, TranslatedFields):
    """An A/B alternative to a step's subject and body, sent to ``weight`` % of journeys."""

    step = models.ForeignKey(
        CampaignStep, on_delete=models.CASCADE, related_name="variants", verbose_name=_("step")
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    preheader = models.CharField(_("preheader"), max_length=200, blank=True)
    body_html = models.TextField(_("HTML body template"), blank=True)
    body_text = models.TextField(_("text body template"), blank=True)

    class Meta:
        verbose_name = _("step variant")
        verbose_name_plural = _("step variants")
        constraints = [
            models.UniqueConstraint(fields=["step", "label"], name="recovery_variant_unique_label")
        ]

    def __str__(self) -> str:
        return f"{self.step} [{self.label}]"


class CampaignEnrolment(models.Model):
    """A journey's place in a campaign: a journey is in one campaign at a time."""

    journey = models.OneToOneField(
        CartJourney, on_delete=models.CASCADE, related_name="enrolment", verbose_name=_("journey")
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="enrolments", verbose_name=_("campaign")
    )
    is_holdout = models.BooleanField(_("holdout"), default=False)
    status = models.CharField(
        _("status"), max_length=16, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE
    )
    stop_reason = models.CharField(_("stop reason"), max_length=64, blank=True)
    enrolled_at = models.DateTimeField(_("enrolled at"), default=timezone.now)
    next_step = models.ForeignKey(
        CampaignStep,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("next step"),
    )
    next_send_at = models.DateTimeField(_("next send at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign enrolment")
        verbose_name_plural = _("campaign enrolments")
        indexes = [
            # What the sender scans: due steps of active enrolments only.
            models.Index(
                fields=["next_send_at"],
                condition=Q(status=EnrolmentStatus.ACTIVE, next_send_at__isnull=False),
                name="recovery_enrolment_due_idx",
            ),
            # The dashboard's daily aggregation.
            models.Index(fields=["enrolled_at"], name="recovery_enrolment_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} in {self.campaign}"
