"""Kept for the import path the README documents; the code lives in
:mod:`oscar_recovery.privacy.consent`."""

from oscar_recovery.privacy.consent import record_consent

__all__ = ["record_consent"]
