"""Consent (the checkout notice and its decisions), the suppression list of hashed
addresses, data export and erasure by address, and retention. The personal-data log filter
every logger of the app carries is in :mod:`oscar_recovery.utils` (``get_logger``)."""

from oscar_recovery.privacy.data_rights import erase_email, export_email

__all__ = ["erase_email", "export_email"]
