"""Precomputed recommendation tables: bought together and bestsellers."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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
