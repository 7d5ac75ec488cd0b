"""Privacy records that outlive the shopper's other data."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import SuppressionReason


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
