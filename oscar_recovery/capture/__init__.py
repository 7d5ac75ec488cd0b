"""1. Shop signals -> journey: the receivers, the per-request scope, the basket snapshot, the
visitor id and Oscar's history cookie."""

from oscar_recovery.capture.scope import capture_email

__all__ = ["capture_email"]
