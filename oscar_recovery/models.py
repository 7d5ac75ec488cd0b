from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import app_settings
from .constants import (
    CampaignTrigger,
    CheckoutStep,
    CustomerType,
    DeviceClass,
    EmailSource,
    EnrolmentStatus,
    Incentive,
    JourneyEventKind,
    JourneyStatus,
    LoginState,
    MessageStatus,
    PromptEventKind,
    PromptKind,
    SuppressionReason,
    ValueTier,
    VisitorType,
)


class CartJourney(models.Model):
    """One Oscar basket's journey through the shop: who, what, how far, and when.

    A journey starts with the first line added to an open basket and ends in an order
    (converted or recovered), in another journey (merged on login) or by expiry. It keeps
    a snapshot of the basket so reports and emails never depend on the live basket.
    """

    # The basket is the journey's key while it lives; the journey outlives a deleted basket.
    basket = models.OneToOneField(
        "basket.Basket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recovery_journey",
        verbose_name=_("basket"),
    )

    # Who
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recovery_journeys",
        verbose_name=_("user"),
    )
    email = models.EmailField(_("email"), blank=True, db_index=True)
    email_source = models.CharField(
        _("email source"), max_length=16, choices=EmailSource.choices, blank=True
    )
    email_captured_at = models.DateTimeField(_("email captured at"), null=True, blank=True)
    visitor_id = models.CharField(_("visitor id"), max_length=32, blank=True, db_index=True)
    language = models.CharField(_("language"), max_length=15, blank=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    is_bot = models.BooleanField(_("bot"), default=False)

    # What
    lines = models.JSONField(_("lines"), default=list, blank=True)
    num_lines = models.PositiveIntegerField(_("number of lines"), default=0)
    num_items = models.PositiveIntegerField(_("number of items"), default=0)
    total = models.DecimalField(
        _("total"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    currency = models.CharField(_("currency"), max_length=12, blank=True)
    vouchers = models.JSONField(_("voucher codes"), default=list, blank=True)
    basket_frozen = models.BooleanField(
        _("basket frozen"), default=False, help_text=_("Payment submitted and not yet failed.")
    )

    # How far
    furthest_step = models.PositiveSmallIntegerField(
        _("furthest step"), choices=CheckoutStep.choices, default=CheckoutStep.BASKET
    )
    basket_reached_at = models.DateTimeField(_("basket reached at"), null=True, blank=True)
    gateway_reached_at = models.DateTimeField(_("gateway reached at"), null=True, blank=True)
    shipping_address_reached_at = models.DateTimeField(
        _("shipping address reached at"), null=True, blank=True
    )
    shipping_method_reached_at = models.DateTimeField(
        _("shipping method reached at"), null=True, blank=True
    )
    payment_reached_at = models.DateTimeField(_("payment reached at"), null=True, blank=True)
    preview_reached_at = models.DateTimeField(_("preview reached at"), null=True, blank=True)

    # When
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_activity_at = models.DateTimeField(_("last activity at"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=16, choices=JourneyStatus.choices, default=JourneyStatus.ACTIVE
    )
    abandoned_at = models.DateTimeField(_("abandoned at"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_journeys",
        verbose_name=_("merged into"),
    )
    order = models.ForeignKey(
        "order.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recovery_journeys",
        verbose_name=_("order"),
    )
    order_total = models.DecimalField(
        _("order total"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    #: The recovery email whose link was clicked before the order: the order's revenue is
    #: credited to its campaign, step and variant. Empty for converted journeys.
    attributed_message = models.ForeignKey(
        "RecoveryMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("attributed to"),
    )

    class Meta:
        verbose_name = _("cart journey")
        verbose_name_plural = _("cart journeys")
        ordering = ["-last_activity_at"]
        indexes = [
            # The sweep's two scans touch only the rows that are due (partial indexes), so
            # their cost follows the number of due journeys, not the table size.
            models.Index(
                fields=["last_activity_at"],
                condition=Q(status=JourneyStatus.ACTIVE),
                name="recovery_journey_active_idx",
            ),
            models.Index(
                fields=["last_activity_at"],
                condition=Q(status=JourneyStatus.ABANDONED),
                name="recovery_journey_abandon_idx",
            ),
            models.Index(fields=["status", "created_at"], name="recovery_journey_status_idx"),
        ]

    def __str__(self) -> str:
        who = self.email or (f"user #{self.user_id}" if self.user_id else _("anonymous"))
        return f"#{self.pk} {who} ({self.get_status_display()})"

    @property
    def has_email(self) -> bool:
        return bool(self.email)

    @property
    def is_contactable(self) -> bool:
        """Whether recovery may contact this shopper at all (not whether it should now)."""
        if not self.email or self.is_bot:
            return False
        return app_settings.CONTACT_STAFF or not self.is_staff

    def step_reached_at(self, step: CheckoutStep):
        return getattr(self, step.reached_at_field)

    def funnel(self) -> list[tuple[CheckoutStep, object]]:
        """Each checkout step with when it was first reached (None: never)."""
        return [(step, self.step_reached_at(step)) for step in CheckoutStep]


class CartJourneyEvent(models.Model):
    """A timeline entry that the journey's own timestamps cannot express."""

    journey = models.ForeignKey(
        CartJourney, on_delete=models.CASCADE, related_name="events", verbose_name=_("journey")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=JourneyEventKind.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("journey event")
        verbose_name_plural = _("journey events")
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["journey", "created_at"], name="recovery_event_journey_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.created_at:%Y-%m-%d %H:%M}"


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


class CampaignStep(models.Model):
    """One email of a campaign, sent ``delay`` after the journey was abandoned."""

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
    incentive = models.CharField(
        _("incentive"), max_length=16, choices=Incentive.choices, default=Incentive.NONE
    )
    incentive_value = models.DecimalField(
        _("incentive value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    incentive_valid_for = models.DurationField(_("voucher valid for"), default=timedelta(days=7))
    #: The Oscar offer behind this step's vouchers (one per sent message); kept in step with
    #: the incentive by :mod:`oscar_recovery.vouchers`.
    offer = models.ForeignKey(
        "offer.ConditionalOffer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("voucher offer"),
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


class StepVariant(models.Model):
    """An A/B alternative to a step's subject and body, sent to ``weight`` % of journeys."""

    step = models.ForeignKey(
        CampaignStep, on_delete=models.CASCADE, related_name="variants", verbose_name=_("step")
    )
    label = models.CharField(_("label"), max_length=16, default="B")
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    preheader = models.CharField(_("preheader"), max_length=200, blank=True)
    body_html = models.TextField(_("HTML body template"), blank=True)
    body_text = models.TextField(_("text body template"), blank=True)
    weight = models.PositiveSmallIntegerField(
        _("share %"), default=50, validators=[MaxValueValidator(100)]
    )

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
        CampaignStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
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
            )
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} in {self.campaign}"


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
        StepVariant, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    skip_reason = models.CharField(_("skip reason"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    to_email = models.EmailField(_("to"), blank=True)
    esp_message_id = models.CharField(_("ESP message id"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    voucher_code = models.CharField(_("voucher code"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    #: When a send task was last handed to the broker; the sweep hands over again messages
    #: left queued for long (the broker was down, the task was lost).
    enqueued_at = models.DateTimeField(_("enqueued at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)

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
        ]

    def __str__(self) -> str:
        return f"{self.step} to journey {self.journey_id} ({self.get_status_display()})"


class TrackingEvent(models.Model):
    """An ESP tracking event already applied: ESPs retry webhooks, so each is applied once."""

    event_key = models.CharField(_("event key"), max_length=64, unique=True)
    message = models.ForeignKey(
        RecoveryMessage, on_delete=models.CASCADE, related_name="tracking_events", null=True
    )
    event_type = models.CharField(_("event type"), max_length=32)
    esp_name = models.CharField(_("ESP"), max_length=64, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")

    def __str__(self) -> str:
        return f"{self.event_type} for message {self.message_id}"


# -- on-site prompts ----------------------------------------------------------------------


class Prompt(models.Model):
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
    incentive = models.CharField(
        _("offer"), max_length=16, choices=Incentive.choices, default=Incentive.NONE
    )
    incentive_value = models.DecimalField(
        _("offer value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    incentive_valid_for = models.DurationField(_("voucher valid for"), default=timedelta(days=7))
    offer = models.ForeignKey(
        "offer.ConditionalOffer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("voucher offer"),
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


class PromptVariant(models.Model):
    """An A/B alternative to a prompt's content, shown to ``weight`` % of visitors. Empty
    fields keep the prompt's own content."""

    prompt = models.ForeignKey(
        Prompt, on_delete=models.CASCADE, related_name="variants", verbose_name=_("prompt")
    )
    label = models.CharField(_("label"), max_length=16, default="B")
    headline = models.CharField(_("headline"), max_length=120, blank=True)
    body = models.TextField(_("body"), blank=True)
    cta_label = models.CharField(_("call to action"), max_length=60, blank=True)
    consent_text = models.TextField(_("consent wording"), blank=True)
    thank_you = models.CharField(_("thank-you message"), max_length=200, blank=True)
    weight = models.PositiveSmallIntegerField(
        _("share %"), default=50, validators=[MaxValueValidator(100)]
    )

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
