"""Signals this app sends. Receivers must not raise: they run inside the sweep and capture.

Each is sent with ``sender=CartJourney``.
"""

from django.dispatch import Signal

#: A sweep batch marked journeys abandoned; sent after the batch committed.
#: provides args: journey_ids (list[int])
journeys_abandoned = Signal()

#: A sweep batch expired abandoned journeys; sent after the batch committed.
#: provides args: journey_ids (list[int])
journeys_expired = Signal()

#: A journey ended in an order (status converted, or recovered once attribution says so).
#: Sent once, from the outbox after the shop's checkout request
#: (:mod:`oscar_recovery.journeys.followups`).
#: provides args: journey (CartJourney), order (Order)
journey_ended = Signal()

#: An email was attached to a journey for the first time or changed. Sent after the shop's
#: request, from the outbox (:mod:`oscar_recovery.journeys.followups`), once.
#: provides args: journey (CartJourney), email (str), source (EmailSource)
email_captured = Signal()

#: An order was placed in the shop; sent after the shop's request, from the outbox, once,
#: when the order's journey (if it had one) has ended and ``journey_ended`` was sent.
#: provides args: order (Order), at (datetime: when the order was noted)
order_recorded = Signal()

#: A recovery email was accepted by the email backend (ESP); sent after the message is saved.
#: provides args: message (RecoveryMessage)
email_sent = Signal()

#: The emails of one send batch that the email backend accepted, after their statuses were
#: saved; sent once per batch, before ``email_sent`` for each, for receivers that query or
#: write (one query for the batch instead of one per email).
#: provides args: messages (list[RecoveryMessage])
emails_sent = Signal()

#: An address was added to the suppression list through an unsubscribe link (not sent
#: again when the same link is used twice). Only the keyed hash of the address is known.
#: provides args: email_hash (str), reason (SuppressionReason)
unsubscribed = Signal()


#: Everything recovery held about an address was erased
#: (:func:`oscar_recovery.privacy.data_rights.erase_email`); sent after the transaction.
#: For shops that log data requests or erase elsewhere too.
#: provides args: email_hash (str, the suppression hash), erasure (privacy.Erasure)
personal_data_erased = Signal()

#: Two contacts turned out to be one person (:func:`oscar_recovery.contacts.identity.merge`):
#: the loser's journeys, identifiers and consent events now belong to the winner. Sent
#: inside the merge's transaction; for code that keeps its own rows per contact.
#: provides args: winner (Contact), loser_uuid (uuid.UUID), reason (MergeReason)
contact_merged = Signal()
