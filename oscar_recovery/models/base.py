"""Abstract field groups that several models declare alike.

Each group is one idea with one definition: change a field here and every model that
carries the group changes with it (and ``makemigrations`` says which tables).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import Incentive


class IncentiveFields(models.Model):
    """An incentive and the Oscar offer behind its vouchers: campaign steps and prompts.

    ``offer`` is the Oscar offer behind the vouchers (one per shopper) of shoppers in the
    shop's default language, ``language_offers`` the other languages' (``{"ro": 12}``):
    Oscar shows an offer's name in the basket, so each language has its own, named with
    :attr:`incentive_name`. Both are kept in step with the incentive by
    :mod:`oscar_recovery.sending.vouchers`; staff never edit them.
    """

    incentive = models.CharField(
        _("incentive"), max_length=16, choices=Incentive.choices, default=Incentive.NONE
    )
    incentive_value = models.DecimalField(
        _("incentive value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    incentive_valid_for = models.DurationField(_("voucher valid for"), default=timedelta(days=7))
    incentive_name = models.CharField(
        _("name shown to shoppers"),
        max_length=60,
        blank=True,
        help_text=_(
            "What shoppers read next to the discount in their basket and order, in each "
            "language. Empty: what it gives (“10% off your order”, “Free delivery”), in "
            "the shopper's language."
        ),
    )
    offer = models.ForeignKey(
        "offer.ConditionalOffer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("voucher offer"),
    )
    language_offers = models.JSONField(
        _("voucher offers by language"), default=dict, blank=True, editable=False
    )

    class Meta:
        abstract = True


class VariantFields(models.Model):
    """An A/B variant's label and its share of traffic: step and prompt variants.

    The parent's own content is the control, labelled "A"; a variant takes ``weight`` %.
    """

    label = models.CharField(_("label"), max_length=16, default="B")
    weight = models.PositiveSmallIntegerField(
        _("share %"), default=50, validators=[MaxValueValidator(100)]
    )

    class Meta:
        abstract = True


class TranslatedFields(models.Model):
    """The owner's text in the shop's other languages: steps, prompts and their variants.

    ``translations`` maps a language code to that language's text of the model's own text
    fields (``{"fr": {"subject": "..."}}``); a missing field falls back to the model's own
    (:mod:`oscar_recovery.campaigns.translations`).
    """

    translations = models.JSONField(
        _("translations"),
        default=dict,
        blank=True,
        help_text=_("The text in the shop's other languages, by language code."),
    )

    class Meta:
        abstract = True
