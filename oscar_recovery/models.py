from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings
from oscar_recovery.constants import (
    AttemptOutcome,
    CampaignTrigger,
    CheckoutStep,
    ConsentSource,
    CustomerType,
    DeliveryStatus,
    DeviceClass,
    EmailSource,
    EnrolmentStatus,
    Incentive,
    JourneyEventKind,
    JourneyStatus,
    LawfulBasis,
    LoginState,
    MessageStatus,
    PromptEventKind,
    PromptKind,
    SuppressionReason,
    ValueTier,
    VisitorType,
    WebhookEvent,
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
    #: Products the shopper viewed, most recent first (ids): Oscar's recently-viewed cookie
    #: for guests, read when the journey is written; ``UserProductView`` for accounts.
    viewed = models.JSONField(_("viewed products"), default=list, blank=True)
    num_viewed = models.PositiveIntegerField(_("number of viewed products"), default=0)

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

    # Consent: the shopper's latest decision about reminders, with the exact words they saw
    # (see :mod:`oscar_recovery.consent`). Empty: never asked.
    consent_basis = models.CharField(
        _("lawful basis"), max_length=16, choices=LawfulBasis.choices, blank=True
    )
    consent_text = models.TextField(_("consent text shown"), blank=True)
    consent_given = models.BooleanField(
        _("consent given"),
        null=True,
        blank=True,
        help_text=_("Yes: agreed or did not opt out. No: said no thanks. Empty: never asked."),
    )
    consent_at = models.DateTimeField(_("consent decided at"), null=True, blank=True)
    consent_source = models.CharField(
        _("consent source"), max_length=16, choices=ConsentSource.choices, blank=True
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
            # The retention purge walks journeys by age, whatever their status.
            models.Index(fields=["last_activity_at"], name="recovery_journey_activity_idx"),
            # Addresses are matched case-insensitively (``email__iexact`` is UPPER() = UPPER()
            # on PostgreSQL): consent, newest-journey and data-request look-ups.
            models.Index(Upper("email"), name="recovery_journey_email_ci_idx"),
            # The dashboard's daily aggregation reads journeys a day at a time.
            models.Index(fields=["created_at"], name="recovery_journey_created_idx"),
            models.Index(fields=["abandoned_at"], name="recovery_journey_abandoned_idx"),
            models.Index(
                fields=["ended_at"],
                condition=Q(status=JourneyStatus.RECOVERED),
                name="recovery_journey_recovered_idx",
            ),
        ]

    def __str__(self) -> str:
        who = self.email or (
            _("user #%(id)s") % {"id": self.user_id} if self.user_id else _("anonymous")
        )
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
            # The dashboard's daily aggregation.
            models.Index(fields=["sent_at"], name="recovery_message_sent_idx"),
        ]

    def __str__(self) -> str:
        return _("%(step)s to journey %(journey)s (%(status)s)") % {
            "step": self.step,
            "journey": self.journey_id,
            "status": self.get_status_display(),
        }


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


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


class WebhookEndpoint(models.Model):
    """A URL that receives signed JSON events (a Zapier-style catch hook, a CRM, your own
    service). See README "Outgoing webhooks" for the payload schema and how to verify it."""

    name = models.CharField(_("name"), max_length=128)
    url = models.URLField(
        _("URL"),
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("http:// or https:// only; https is strongly recommended."),
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=128,
        default=new_webhook_secret,
        help_text=_("Signs every request (HMAC-SHA256); give it to the receiving side only."),
    )
    events = models.JSONField(_("events"), default=list, blank=True)
    include_personal_data = models.BooleanField(
        _("include personal data"),
        default=False,
        help_text=_(
            "Send shoppers' email addresses, names and account ids. Leave off unless the "
            "receiving service may process personal data (a processor agreement is in place)."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event: str) -> bool:
        return self.is_active and (event == WebhookEvent.TEST or event in self.events)


class WebhookDelivery(models.Model):
    """One event for one endpoint; retried until it succeeds or fails for good."""

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    #: The event's id, shared by its deliveries to every endpoint: receivers deduplicate on it.
    event_id = models.UUIDField(_("event id"), db_index=True)
    event = models.CharField(_("event"), max_length=32, choices=WebhookEvent.choices)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(_("last status code"), null=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="recovery_delivery_status_idx")
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint} ({self.get_status_display()})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: the delivery log staff read in the admin."""

    delivery = models.ForeignKey(
        WebhookDelivery,
        on_delete=models.CASCADE,
        related_name="attempt_log",
        verbose_name=_("delivery"),
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=AttemptOutcome.choices)
    error = models.TextField(_("error"), blank=True)
    response_body = models.TextField(_("response (truncated)"), blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.get_outcome_display()}"


class BoughtTogether(models.Model):
    """How many orders contained both ``product`` and ``other``: the bought-together
    recommendations, precomputed (see :mod:`oscar_recovery.cooccurrence`) so that a lookup
    is one indexed query. Both directions are stored. Product ids are not constrained: the
    table is rebuilt from orders, and lookups only return products that still exist."""

    # The unique (product, other) index serves lookups; no other index slows the build.
    product = models.ForeignKey(
        "catalogue.Product",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    other = models.ForeignKey(
        "catalogue.Product",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    orders = models.PositiveIntegerField(_("orders together"), default=0)

    class Meta:
        verbose_name = _("bought-together pair")
        verbose_name_plural = _("bought-together pairs")
        constraints = [
            models.UniqueConstraint(fields=["product", "other"], name="recovery_bought_together")
        ]

    def __str__(self) -> str:
        return f"{self.product_id} + {self.other_id}: {self.orders}"


class ProductSales(models.Model):
    """Orders per product over ``OSCAR_RECOVERY_BESTSELLERS_WINDOW``: the bestsellers,
    rebuilt with the bought-together table and bumped as orders arrive."""

    product = models.OneToOneField(
        "catalogue.Product",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        primary_key=True,
    )
    orders = models.PositiveIntegerField(_("orders"), default=0)

    class Meta:
        verbose_name = _("product sales")
        verbose_name_plural = _("product sales")
        indexes = [models.Index(fields=["-orders", "product"], name="recovery_sales_rank_idx")]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.orders}"


class DailyStat(models.Model):
    """Figures of one day for one dimension, written by :mod:`oscar_recovery.aggregation`,
    so that reports sum a few hundred rows instead of scanning every journey.

    Three kinds of row, told apart by ``key``:

    * ``"all"``: journeys (created, abandoned, identified, the checkout funnel, orders);
    * ``"c<campaign>"``: a campaign's enrolments, emailed and holdout, and their orders;
    * ``"c<campaign>:s<step>:<variant>"``: a step's emails of one A/B variant ("A" is the
      control) and the orders they recovered.

    Journeys count on the day they were created or abandoned, enrolments on the day of
    enrolment, emails on the day they were sent (their deliveries and clicks with them,
    whenever those came) and recovered orders on the day they were placed.
    """

    TOTAL_KEY = "all"

    day = models.DateField(_("day"))
    key = models.CharField(_("dimension"), max_length=64)
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    step = models.ForeignKey(
        CampaignStep, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    variant = models.CharField(_("variant"), max_length=16, blank=True)

    # Journeys ("all")
    created = models.PositiveIntegerField(_("baskets created"), default=0)
    ordered = models.PositiveIntegerField(_("baskets ordered"), default=0)
    abandoned = models.PositiveIntegerField(_("baskets abandoned"), default=0)
    identified = models.PositiveIntegerField(_("abandoned with an email"), default=0)
    abandoned_value = models.DecimalField(
        _("abandoned value"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    #: Journeys created that day without an order, by the furthest checkout step reached.
    furthest_basket = models.PositiveIntegerField(default=0)
    furthest_gateway = models.PositiveIntegerField(default=0)
    furthest_shipping_address = models.PositiveIntegerField(default=0)
    furthest_shipping_method = models.PositiveIntegerField(default=0)
    furthest_payment = models.PositiveIntegerField(default=0)
    furthest_preview = models.PositiveIntegerField(default=0)

    # Enrolments ("c<campaign>")
    enrolled = models.PositiveIntegerField(_("enrolled (emailed)"), default=0)
    enrolled_ordered = models.PositiveIntegerField(_("enrolled and ordered"), default=0)
    holdout = models.PositiveIntegerField(_("holdout"), default=0)
    holdout_ordered = models.PositiveIntegerField(_("holdout and ordered"), default=0)

    # Emails ("c<campaign>:s<step>:<variant>")
    sent = models.PositiveIntegerField(_("emails sent"), default=0)
    delivered = models.PositiveIntegerField(_("delivered"), default=0)
    opened = models.PositiveIntegerField(_("opened"), default=0)
    clicked = models.PositiveIntegerField(_("clicked"), default=0)
    bounced = models.PositiveIntegerField(_("bounced or complained"), default=0)
    recovered_orders = models.PositiveIntegerField(_("recovered orders"), default=0)
    recovered_revenue = models.DecimalField(
        _("recovered revenue"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("daily figure")
        verbose_name_plural = _("daily figures")
        ordering = ["day", "key"]
        constraints = [
            models.UniqueConstraint(fields=["day", "key"], name="recovery_dailystat_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.key}"


class DailyProductStat(models.Model):
    """How often a product was left in abandoned baskets on a day (from journeys' lines)."""

    day = models.DateField(_("day"))
    #: Not a foreign key: the figure outlives a deleted product.
    product_id = models.PositiveIntegerField(_("product id"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=255, blank=True)
    baskets = models.PositiveIntegerField(_("abandoned baskets"), default=0)
    quantity = models.PositiveIntegerField(_("quantity"), default=0)
    value = models.DecimalField(
        _("value"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )

    class Meta:
        verbose_name = _("daily product figure")
        verbose_name_plural = _("daily product figures")
        indexes = [models.Index(fields=["day"], name="recovery_productstat_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.title}"


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


# Operations (issue 13): what the health view, endpoint and doctor read.


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
