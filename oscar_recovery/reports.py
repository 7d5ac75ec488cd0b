"""Kept for the import path the documentation names; the code lives in
:mod:`oscar_recovery.reporting.reports`."""

from oscar_recovery.reporting.reports import prompt_rows

__all__ = ["prompt_rows"]
