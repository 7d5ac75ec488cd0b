"""On-site prompts, their A/B variants and what visitors did with them."""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import (
    DeviceClass,
    Incentive,
    LoginState,
    PromptEventKind,
    PromptKind,
    ValueTier,
    VisitorType,
)
from oscar_recovery.models.base import IncentiveFields, TranslatedFields, VariantFields
from oscar_recovery.models.journeys import CartJourney


class Prompt(IncentiveFields, TranslatedFields):
    """An on-site prompt: what it says, whom it is for, how often, and the offer it reveals.

    Its own content is variant "A" (the control); each :class:`PromptVariant` takes
    ``weight`` % of visitors. Which prompts a visitor sees is decided by
    :mod:`oscar_recovery.prompts.eligibility`.
    """

    name = models.CharField(_("name"), max_length=128, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=PromptKind.choices)
    is_active = models.BooleanField(_("active"), default=False)
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        default=100,
        help_text=_("When several prompts of a kind match, the highest priority is shown."),
    )
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)

    # Content
    headline = models.CharField(_("headline"), max_length=120)
    body = models.TextField(
        _("body"), blank=True, help_text=_("Plain text; blank lines part paragraphs.")
    )
    cta_label = models.CharField(_("call to action"), max_length=60)
    cta_url = models.CharField(
        _("call to action link"),
        max_length=255,
        blank=True,
        help_text=_("Only for prompts that do not ask for an email; empty: the basket."),
    )
    image = models.ImageField(
        _("image"),
        upload_to="oscar_recovery/prompts/",
        blank=True,
        width_field="image_width",
        height_field="image_height",
    )
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    asks_email = models.BooleanField(
        _("asks for an email"),
        default=True,
        help_text=_("Exit-intent and email-capture prompts: an email form instead of a link."),
    )
    consent_text = models.TextField(
        _("consent wording"),
        blank=True,
        help_text=_(
            "Shown next to a checkbox under the email field; recorded word for word "
            "with each email given. Empty: no checkbox."
        ),
    )
    consent_required = models.BooleanField(
        _("consent required"),
        default=False,
        help_text=_("The email is only taken when the checkbox is ticked."),
    )
    thank_you = models.CharField(
        _("thank-you message"),
        max_length=200,
        blank=True,
        help_text=_("Shown after the email is given. Empty: a default message."),
    )

    # Offer, revealed after the email is given: one unique, single-use voucher per shopper.
    # The incentive group comes from IncentiveFields; a prompt calls it an "offer".
    incentive = models.CharField(
        _("offer"), max_length=16, choices=Incentive.choices, default=Incentive.NONE
    )
    incentive_value = models.DecimalField(
        _("offer value"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    # Audience
    visitor_type = models.CharField(
        _("visitors"), max_length=16, choices=VisitorType.choices, default=VisitorType.ANY
    )
    login_state = models.CharField(
        _("logged in"), max_length=16, choices=LoginState.choices, default=LoginState.ANY
    )
    requires_basket = models.BooleanField(_("only with items in the basket"), default=True)
    min_basket_value = models.DecimalField(
        _("minimum basket value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    max_basket_value = models.DecimalField(
        _("maximum basket value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    value_tier = models.CharField(
        _("lifetime value tier"),
        max_length=16,
        choices=ValueTier.choices,
        default=ValueTier.ANY,
        help_text=_("Logged-in customers only; guests count as low value."),
    )
    device = models.CharField(
        _("device"), max_length=16, choices=DeviceClass.choices, default=DeviceClass.ANY
    )
    include_pages = models.TextField(
        _("only on pages"),
        blank=True,
        help_text=_(
            "One pattern a line: a path such as /catalogue/* or a URL name such as "
            "catalogue:detail. Empty: every page."
        ),
    )
    exclude_pages = models.TextField(
        _("never on pages"), blank=True, help_text=_("Patterns as above.")
    )

    # Caps and triggers
    quiet_days_after_dismissal = models.PositiveSmallIntegerField(
        _("quiet days after dismissal"), default=7
    )
    arm_after = models.PositiveIntegerField(
        _("arm after (ms)"), default=3000, help_text=_("Exit intent: not before this delay.")
    )
    grace = models.PositiveIntegerField(
        _("grace period (ms)"),
        default=500,
        help_text=_("Exit intent: the pointer must stay out this long."),
    )
    mobile_scroll = models.BooleanField(
        _("mobile: fast upward scroll"),
        default=False,
        help_text=_("Exit intent on touch devices when the shopper scrolls up fast."),
    )
    delay_seconds = models.PositiveIntegerField(
        _("show after (seconds)"),
        null=True,
        blank=True,
        default=15,
        help_text=_("Email capture: seconds on the page before it shows."),
    )
    scroll_percent = models.PositiveSmallIntegerField(
        _("or after scrolling (%)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text=_("Email capture: shows at this scroll depth if sooner."),
    )

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("prompt")
        verbose_name_plural = _("prompts")
        ordering = ["-priority", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_modal(self) -> bool:
        return self.kind in PromptKind.modal_kinds()


class PromptVariant(VariantFields, TranslatedFields):
    """An A/B alternative to a prompt's content, shown to ``weight`` % of visitors. Empty
    fields keep the prompt's own content."""

    prompt = models.ForeignKey(
        Prompt, on_delete=models.CASCADE, related_name="variants", verbose_name=_("prompt")
    )
    headline = models.CharField(_("headline"), max_length=120, blank=True)
    body = models.TextField(_("body"), blank=True)
    cta_label = models.CharField(_("call to action"), max_length=60, blank=True)
    consent_text = models.TextField(_("consent wording"), blank=True)
    thank_you = models.CharField(_("thank-you message"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("prompt variant")
        verbose_name_plural = _("prompt variants")
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "label"], name="recovery_prompt_variant_unique_label"
            )
        ]

    def __str__(self) -> str:
        return f"{self.prompt} [{self.label}]"


class PromptEvent(models.Model):
    """One thing that happened to a prompt for one visitor: the prompt's statistics and A/B
    results are counts of these. A submitted event also keeps the consent wording shown and
    the voucher revealed."""

    prompt = models.ForeignKey(
        Prompt, on_delete=models.CASCADE, related_name="events", verbose_name=_("prompt")
    )
    variant = models.CharField(_("variant"), max_length=16, default="A")
    kind = models.CharField(_("event"), max_length=16, choices=PromptEventKind.choices)
    visitor_id = models.CharField(_("visitor id"), max_length=32, blank=True)
    visit_id = models.CharField(_("visit id"), max_length=32, blank=True)
    journey = models.ForeignKey(
        CartJourney,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="prompt_events",
        verbose_name=_("journey"),
    )
    voucher_code = models.CharField(_("voucher code"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("prompt event")
        verbose_name_plural = _("prompt events")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["prompt", "kind", "variant"], name="recovery_pevent_stats_idx"),
            models.Index(fields=["visitor_id", "created_at"], name="recovery_pevent_visitor_idx"),
            models.Index(
                fields=["voucher_code"],
                condition=~Q(voucher_code=""),
                name="recovery_pevent_voucher_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt} [{self.variant}] {self.get_kind_display()}"
