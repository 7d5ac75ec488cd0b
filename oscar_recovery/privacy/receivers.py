"""Connects consent to capture: a decision made before the address was known follows the
address once it is."""

from django.dispatch import receiver

from oscar_recovery import signals
from oscar_recovery.models import CartJourney
from oscar_recovery.privacy import consent
from oscar_recovery.utils import never_raises


@receiver(signals.email_captured, sender=CartJourney, dispatch_uid="oscar_recovery.consent_email")
def on_email_captured(sender, journey, email, **kwargs):
    # A "no thanks" said before the address was known covers it from now on.
    never_raises(consent.email_attached)(journey, email)
