"""Daily figures the dashboard reports sum."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.models.campaigns import Campaign, CampaignStep


class DailyStat(models.Model):
    """Figures of one day for one dimension, written by :mod:`oscar_recovery.aggregation`,
    so that reports sum a few hundred rows instead of scanning every journey.

    Three kinds of row, told apart by ``key``:

    * ``"all"``: journeys (created, abandoned, identified, the checkout funnel, orders);
    * ``"c<campaign>"``: a campaign's enrolments, emailed group and holdout, their orders,
      and the journeys it emailed;
    * ``"c<campaign>:s<step>:<variant>"``: a step's emails of one A/B variant ("A" is the
      control) and the orders they recovered.

    Journeys count on the day they were created or abandoned, enrolments on the day of
    enrolment, journeys emailed on the day of their first email, emails on the day they
    were sent (their deliveries and clicks with them, whenever those came) and recovered
    orders on the day they were placed.
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
    #: Enrolled outside the holdout (the emailed group), whether or not an email went yet.
    enrolled = models.PositiveIntegerField(_("enrolled outside the holdout"), default=0)
    enrolled_ordered = models.PositiveIntegerField(_("enrolled and ordered"), default=0)
    holdout = models.PositiveIntegerField(_("holdout"), default=0)
    holdout_ordered = models.PositiveIntegerField(_("holdout and ordered"), default=0)
    #: Journeys sent their first email of the campaign that day (a skipped step sends none).
    emailed = models.PositiveIntegerField(_("journeys emailed"), default=0)

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
