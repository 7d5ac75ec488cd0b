"""Outgoing webhooks: endpoints, deliveries and the attempts of each delivery."""

from __future__ import annotations

import base64
import secrets

from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import (
    AttemptOutcome,
    DeliveryStatus,
    SignatureFormat,
    WebhookEvent,
)


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes. The earlier
    scheme signs with the same string, so one secret serves either format."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """A URL that receives signed JSON events (a Zapier-style catch hook, a CRM, your own
    service). See the how-to "Outgoing webhooks" (docs/howto/outgoing-webhooks.md) for the
    payload schema and how to verify it."""

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
    signature_format = models.CharField(
        _("signature format"),
        max_length=16,
        choices=SignatureFormat.choices,
        # Endpoints that existed before the field keep the earlier scheme (the migration).
        default=SignatureFormat.STANDARD,
        help_text=_(
            "Standard Webhooks: receivers verify with the standardwebhooks library or any "
            "other that implements the spec. X-Recovery-Signature: for receivers built on "
            "this app's earlier scheme."
        ),
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
