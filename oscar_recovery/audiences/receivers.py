"""Signal receivers of the audiences: the ads consent box submitted with Oscar's checkout
gateway is recorded (one ledger insert; never raises into the shop's request)."""

from __future__ import annotations

from django.dispatch import receiver
from oscar.apps.checkout.signals import start_checkout

from oscar_recovery.audiences import consent
from oscar_recovery.constants import ConsentSource
from oscar_recovery.utils import never_raises


def record_from_request(request, email: str | None, source: str) -> None:
    """Record the ads box of a POSTed form, if it showed ours and it was ticked, for
    ``email`` (or the signed-in customer's address)."""
    if request.method != "POST":
        return
    decision = consent.decision_from_form(request.POST)
    if decision is None or not decision.given:
        return
    user = getattr(request, "user", None)
    address = email or (user.email if user is not None and user.is_authenticated else "")
    # A consent already standing is not recorded again at every visit to the gateway.
    if address and not consent.is_granted(address):
        consent.record(address, decision, source=source)


@receiver(start_checkout, dispatch_uid="oscar_recovery.audiences.start_checkout")
def on_start_checkout(sender, request, email=None, **kwargs):
    never_raises(record_from_request)(request, email, ConsentSource.CHECKOUT)
