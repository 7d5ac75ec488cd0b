"""Journeys: one basket's way through the shop, and its timeline."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Lookup, Q
from django.db.models.functions import Upper
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings
from oscar_recovery.constants import (
    CheckoutStep,
    ConsentSource,
    EmailSource,
    JourneyEventKind,
    JourneyStatus,
    LawfulBasis,
    SkipReason,
)
from oscar_recovery.contacts.addresses import (
    display_email,
    email_spellings,
    safe_canonical_email,
    validate_canonical_email,
)


class CanonicalEmailField(models.EmailField):
    """An address stored in its canonical form (:func:`~oscar_recovery.contacts.addresses.\
canonical_email`), whatever writes it: ``save()``, ``bulk_create()``, ``update()``, and the
    values a filter compares it with. A value that cannot be canonicalised (a row from
    before, which the data migration left as it was) is kept as it is: it then matches
    nothing new, and :meth:`CartJourney.why_not_contactable` never lets it be emailed.
    Forms (the admin's) refuse what :func:`canonical_email` refuses."""

    default_validators = [validate_canonical_email]

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if isinstance(value, str) and value:
            return safe_canonical_email(value) or value
        return value

    def pre_save(self, model_instance, add):
        value = self.get_prep_value(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)  # the instance holds what the row does
        return value


def email_matches(email: str, *fields: str) -> Q:
    """A ``Q`` matching the canonical form of ``email`` in any of ``fields`` (default:
    ``"email"``), fields that hold canonical addresses (:class:`CanonicalEmailField`): an
    address is one shopper however it was typed. An exact match (the fields' own indexes);
    nothing for something that is not an address. For Oscar's fields, which keep what was
    typed, see :func:`raw_email_candidates`."""
    canonical = safe_canonical_email(email)
    if not canonical:
        return Q(pk__in=[])
    matches = Q()
    for field in fields or ("email",):
        matches |= Q(**{field: canonical})
    return matches


def email_matches_any(emails: Iterable[str], *fields: str) -> Q:
    """:func:`email_matches` for many addresses (a send batch's), as one ``field IN (...)``
    per field. Matches nothing for no addresses."""
    values = list(dict.fromkeys(filter(None, map(safe_canonical_email, emails))))
    if not values:
        return Q(pk__in=[])
    matches = Q()
    for field in fields or ("email",):
        matches |= Q(**{f"{field}__in": values})
    return matches


def raw_email_candidates(emails: Iterable[str], *fields: str) -> Q:
    """A first look for addresses in fields that keep them as typed (Oscar's
    ``Order.guest_email``, a user's ``email``): ``UPPER(field) IN (UPPER(%s), ...)`` over the
    spellings of each canonical address (its A-label and U-label forms). Generous on purpose
    and never the answer: the database's ``UPPER`` is not Python's (``"ß".upper()`` is
    ``"SS"``), so every row it finds is confirmed in Python with :func:`same_email`."""
    values = list(
        dict.fromkeys(
            spelling
            for canonical in filter(None, map(safe_canonical_email, emails))
            for spelling in email_spellings(canonical)
        )
    )
    if not values:
        return Q(pk__in=[])
    matches = Q()
    for field in fields:
        matches |= Q(_UpperIn(F(field), values))
    return matches


def same_email(raw: str | None, canonical: str) -> bool:
    """Whether ``raw`` (as typed, e.g. an Oscar order's address) is the canonical address
    ``canonical``. Never true for no address."""
    return bool(canonical) and safe_canonical_email(raw) == canonical


class _UpperIn(Lookup):
    """``UPPER(lhs) IN (UPPER(%s), ...)`` over plain values: one node for the whole list,
    where ``In(Upper(..), [Upper(Value(..)), ..])`` cost the ORM a resolved expression per
    address (most of a send batch's checks)."""

    lookup_name = "upper_in"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        marks = ", ".join(["UPPER(%s)"] * len(self.rhs))
        return f"UPPER({lhs}) IN ({marks})", [*params, *self.rhs]


class JourneyQuerySet(models.QuerySet):
    """The journey predicates the app asks by name."""

    def for_email(self, email: str) -> JourneyQuerySet:
        """Journeys whose own address is ``email``, however it is spelled."""
        return self.filter(email_matches(email))

    def own_baskets(self) -> JourneyQuerySet:
        """Journeys that are a basket of their own: not a copy a restore link made of another
        journey's basket in another browser (``restored_from``). Only these are enrolled,
        alerted about, announced as abandoned and counted as baskets."""
        return self.filter(restored_from__isnull=True)

    def open(self) -> JourneyQuerySet:
        """Journeys shopper activity can still move (``JourneyStatus.open_statuses``)."""
        return self.filter(status__in=JourneyStatus.open_statuses())


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
    email = CanonicalEmailField(_("email"), blank=True, db_index=True)
    email_source = models.CharField(
        _("email source"), max_length=16, choices=EmailSource.choices, blank=True
    )
    email_captured_at = models.DateTimeField(_("email captured at"), null=True, blank=True)
    visitor_id = models.CharField(_("visitor id"), max_length=32, blank=True, db_index=True)
    #: The person, once identified (account or address): linked by the sweep
    #: (:mod:`oscar_recovery.contacts.identity`), empty until then.
    contact = models.ForeignKey(
        "oscar_recovery.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="journeys",
        verbose_name=_("contact"),
    )
    language = models.CharField(_("language"), max_length=15, blank=True)
    #: The first name typed at checkout (never the rest of the address), for the greeting.
    first_name = models.CharField(_("first name"), max_length=255, blank=True)
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
    #: The journey whose restore link brought this basket's lines here (opened in another
    #: browser): the same abandoned basket again, so it is never enrolled and never counted
    #: as a basket of its own (:func:`oscar_recovery.reporting.aggregation.reporting_journeys`).
    restored_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="restored_copies",
        verbose_name=_("restored from"),
        help_text=_("The journey whose restore link created this basket in another browser."),
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

    objects = JourneyQuerySet.as_manager()

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
            # Kept from when addresses were matched with UPPER() = UPPER(); stored addresses
            # are canonical now and matched exactly (the ``email`` index).
            models.Index(Upper("email"), name="recovery_journey_email_ci_idx"),
            # The dashboard's daily aggregation reads journeys a day at a time.
            models.Index(fields=["created_at"], name="recovery_journey_created_idx"),
            # The sweep links journeys that identify someone and have no contact yet.
            models.Index(
                fields=["last_activity_at"],
                condition=Q(contact__isnull=True) & (Q(user__isnull=False) | ~Q(email="")),
                name="recovery_journey_unlinked_idx",
            ),
            models.Index(fields=["abandoned_at"], name="recovery_journey_abandoned_idx"),
            models.Index(
                fields=["ended_at"],
                condition=Q(status=JourneyStatus.RECOVERED),
                name="recovery_journey_recovered_idx",
            ),
        ]

    def __str__(self) -> str:
        who = self.email_shown or (
            _("user #%(id)s") % {"id": self.user_id} if self.user_id else _("anonymous")
        )
        return f"#{self.pk} {who} ({self.get_status_display()})"

    @property
    def email_shown(self) -> str:
        """The address as people read it (the domain's U-label: ``anna@bücher.de``)."""
        return display_email(self.email)

    @property
    def is_restored_copy(self) -> bool:
        """Created by opening another journey's restore link: that journey's basket again."""
        return self.restored_from_id is not None

    @property
    def is_ended(self) -> bool:
        """Ended in an order or a merge (``JourneyStatus.ended_statuses``): for good."""
        return self.status in JourneyStatus.ended_statuses()

    def why_not_contactable(self) -> SkipReason | None:
        """Why recovery may never contact this shopper, or None when it may: the one rule.

        No address, a bot, or staff (unless ``OSCAR_RECOVERY_CONTACT_STAFF``), in that
        order. Whether an email should go out *now* is for the send-time checks
        (:func:`oscar_recovery.sending.send_checks.why_not_send`), which ask this first.
        """
        if not safe_canonical_email(self.email):
            # No address, or one from before that cannot be made canonical: emailing it
            # could reach a mailbox that unsubscribed under its plain spelling.
            return SkipReason.NO_EMAIL
        if self.is_bot:
            return SkipReason.BOT
        if self.is_staff and not app_settings.CONTACT_STAFF:
            return SkipReason.STAFF
        return None

    @property
    def is_contactable(self) -> bool:
        """Whether recovery may contact this shopper at all (not whether it should now)."""
        return self.why_not_contactable() is None

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
        # The admin lists events by this: the time as the owner's language writes it.
        when = formats.date_format(timezone.localtime(self.created_at), "DATETIME_FORMAT")
        return f"{self.get_kind_display()} ({when})"
