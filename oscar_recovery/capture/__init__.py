"""1. Shop signals -> journey: the receivers of Oscar's basket, checkout and request signals
(:mod:`.receivers`), the per-request scope that batches a request's writes, the basket
snapshot, the visitor id and Oscar's history cookie. ``capture_email`` is the public entry
for a shop's own forms."""

from oscar_recovery.capture.scope import capture_email

__all__ = ["capture_email"]
