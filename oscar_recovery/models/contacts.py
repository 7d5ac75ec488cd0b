"""Contacts: one record per person, the identifiers that lead to it, merges and facts.

A contact exists once a shopper is *identified*: a customer account, or an address they gave
(checkout, prompt, order). Anonymous visits stay on their journeys until then; when the
shopper identifies, the browser's visitor id is linked to the contact, and every journey of
that browser follows. Linking is done by the sweep, set-based (see
:mod:`oscar_recovery.contacts.identity`), so a shop request never pays for it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import ContactStatus, IdentifierKind, MergeReason


class Contact(models.Model):
    """One person: a customer account, or a canonical address nobody's account holds.

    ``email`` is the canonical address we write to (the account's, else the latest one
    the person gave); ``first_name`` only ever comes from a verified source (the account,
    a past order), never from text typed where anyone could type it.
    """

    uuid = models.UUIDField(_("uuid"), default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recovery_contact",
        verbose_name=_("customer account"),
    )
    email = models.CharField(_("email"), max_length=254, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=16, blank=True)
    first_name = models.CharField(_("first name"), max_length=64, blank=True)
    language = models.CharField(_("language"), max_length=15, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=ContactStatus.choices, default=ContactStatus.ACTIVE
    )
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_contacts",
        verbose_name=_("merged into"),
    )
    first_seen_at = models.DateTimeField(_("first seen at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    identified_at = models.DateTimeField(_("identified at"), default=timezone.now)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["last_seen_at"], name="recovery_contact_seen_idx")]

    def __str__(self) -> str:
        who = self.email or (_("account #%(id)s") % {"id": self.user_id} if self.user_id else "")
        return who or str(self.uuid)


class ContactIdentifier(models.Model):
    """A value that leads to one contact: a visitor cookie, an account, an address or a
    number (canonical form). Unique per kind and value; a browser shared by two people
    leads to whoever identified on it last."""

    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="identifiers",
        verbose_name=_("contact"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=IdentifierKind.choices)
    value = models.CharField(_("value"), max_length=254)
    first_seen_at = models.DateTimeField(_("first seen at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)

    class Meta:
        verbose_name = _("contact identifier")
        verbose_name_plural = _("contact identifiers")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="recovery_identifier_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class ContactMerge(models.Model):
    """The log of one merge: which contact survived, which one (by uuid) went into it, why,
    and what the merge did to consent (``details``)."""

    winner = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="merges", verbose_name=_("winner")
    )
    loser_uuid = models.UUIDField(_("merged contact"))
    reason = models.CharField(_("reason"), max_length=16, choices=MergeReason.choices)
    details = models.JSONField(_("details"), default=dict, blank=True)
    merged_at = models.DateTimeField(_("merged at"), default=timezone.now)

    class Meta:
        verbose_name = _("contact merge")
        verbose_name_plural = _("contact merges")
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.loser_uuid} -> {self.winner_id} ({self.get_reason_display()})"


class ContactFacts(models.Model):
    """What the shop's own data says about a contact, kept incrementally by the sweep:
    orders and their value, baskets, and the last message on each channel."""

    contact = models.OneToOneField(
        Contact,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="facts",
        verbose_name=_("contact"),
    )
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    first_order_at = models.DateTimeField(_("first order at"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order at"), null=True, blank=True)
    last_order_total = models.DecimalField(
        _("last order total"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    lifetime_value = models.DecimalField(
        _("lifetime value"), max_digits=14, decimal_places=2, default=0
    )
    currency = models.CharField(_("currency"), max_length=12, blank=True)
    last_basket_activity_at = models.DateTimeField(
        _("last basket activity at"), null=True, blank=True
    )
    last_email_at = models.DateTimeField(_("last email at"), null=True, blank=True)
    last_sms_at = models.DateTimeField(_("last SMS at"), null=True, blank=True)
    last_push_at = models.DateTimeField(_("last web push at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("contact facts")
        verbose_name_plural = _("contact facts")
        indexes = [
            models.Index(
                fields=["last_order_at"],
                condition=Q(last_order_at__isnull=False),
                name="recovery_facts_last_order_idx",
            ),
            # Segments refresh the contacts whose facts changed since their last run, and
            # those whose rolling thresholds the clock just crossed.
            models.Index(fields=["updated_at"], name="recovery_facts_updated_idx"),
            models.Index(
                fields=["first_order_at"],
                condition=Q(first_order_at__isnull=False),
                name="recovery_facts_first_order_idx",
            ),
            models.Index(
                fields=["last_basket_activity_at"],
                condition=Q(last_basket_activity_at__isnull=False),
                name="recovery_facts_basket_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"facts of {self.contact_id}"
