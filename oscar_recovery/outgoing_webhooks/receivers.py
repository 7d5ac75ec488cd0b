"""Connects outgoing webhooks to the app's signals. Each receiver queues work, guarded, so
neither the sweep nor a shop request can fail because of a webhook."""

from django.dispatch import receiver

from oscar_recovery import signals
from oscar_recovery.models import CartJourney
from oscar_recovery.outgoing_webhooks import events as outgoing_webhooks
from oscar_recovery.utils import never_raises


@receiver(signals.journeys_abandoned, sender=CartJourney, dispatch_uid="oscar_recovery.wh_abandon")
def on_journeys_abandoned_webhooks(sender, journey_ids, **kwargs):
    never_raises(outgoing_webhooks.queue_abandoned)(journey_ids)


@receiver(signals.email_captured, sender=CartJourney, dispatch_uid="oscar_recovery.wh_contact")
def on_email_captured_webhooks(sender, journey, source, **kwargs):
    never_raises(outgoing_webhooks.contact_captured)(journey, source)


@receiver(signals.emails_sent, sender=CartJourney, dispatch_uid="oscar_recovery.wh_sent")
def on_emails_sent_webhooks(sender, messages, **kwargs):
    never_raises(outgoing_webhooks.emails_sent)([message.pk for message in messages])


@receiver(signals.journey_ended, sender=CartJourney, dispatch_uid="oscar_recovery.wh_recovered")
def on_journey_ended_webhooks(sender, journey, order, **kwargs):
    never_raises(outgoing_webhooks.journey_ended)(journey.pk)


@receiver(signals.unsubscribed, sender=CartJourney, dispatch_uid="oscar_recovery.wh_unsub")
def on_unsubscribed_webhooks(sender, email_hash, reason, **kwargs):
    never_raises(outgoing_webhooks.unsubscribed)(email_hash, reason)
