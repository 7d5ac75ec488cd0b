"""The recommender (:func:`recommend`, used by emails and the basket page's tag) and the
bought-together and bestseller tables it reads, rebuilt nightly and updated per order by
tasks (:mod:`.cooccurrence`, connected in :mod:`.receivers`)."""

from oscar_recovery.recommendations.service import recommend

__all__ = ["recommend"]
