"""The recommender and the bought-together tables it reads."""

from oscar_recovery.recommendations.service import recommend

__all__ = ["recommend"]
