"""An email backend for benches: an ESP that takes every message instantly.

anymail's test backend builds the payload as a real ESP backend does (recipients, headers,
tags, metadata, bodies) but also keeps every message in ``mail.outbox`` and finds its id by
searching that list, which grows with every send. This one keeps nothing: ESP time is zero
and a worker's memory and per-send cost stay flat however many emails it sends.
"""

from __future__ import annotations

from uuid import uuid4

from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.message import AnymailRecipientStatus


class EmailBackend(AnymailTestBackend):
    esp_name = "Bench"

    def post_to_esp(self, payload, message):
        payload.get_params()  # what a real backend serialises for its API
        status = AnymailRecipientStatus(message_id=uuid4().hex, status="sent")
        return {"recipient_status": {email: status for email in payload.recipient_emails}}
