"""Consent, the suppression list, data export and erasure, retention."""

from oscar_recovery.privacy.data_rights import erase_email, export_email

__all__ = ["erase_email", "export_email"]
