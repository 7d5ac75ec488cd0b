"""Kept for the import path the documentation names; the code lives in
:mod:`oscar_recovery.reporting.statistics`."""

from oscar_recovery.reporting.statistics import sample_size_per_arm

__all__ = ["sample_size_per_arm"]
