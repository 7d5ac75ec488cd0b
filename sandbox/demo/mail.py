from collections.abc import Sequence
from email.header import decode_header, make_header

from anymail.message import AnymailRecipientStatus, AnymailStatus
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from .models import OutboxMessage


class OutboxBackend(BaseEmailBackend):
    """Stores every email in the database, readable at /outbox/, instead of sending it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            text, html = _text_and_html(message)
            stored = OutboxMessage.objects.create(
                to=", ".join(message.recipients()),
                from_email=message.from_email or "",
                subject=message.subject,
                body=text,
                html=html,
                # The headers as sent (From, To, Cc, Date, Message-ID, extra headers...),
                # with encoded words (non-ASCII subjects and names) decoded for reading.
                headers={
                    name: str(make_header(decode_header(value)))
                    for name, value in message.message().items()
                },
            )
            _set_anymail_status(message, f"outbox-{stored.pk}")
            sent += 1
        return sent


def _text_and_html(message: EmailMessage) -> tuple[str, str]:
    if message.content_subtype == "html":
        return "", message.body
    html = next(
        (
            content
            for content, mimetype in getattr(message, "alternatives", ())
            if mimetype == "text/html"
        ),
        "",
    )
    return message.body, html


def _set_anymail_status(message: EmailMessage, message_id: str) -> None:
    # Code written for an Anymail ESP reads ``message.anymail_status`` after sending; give it
    # what a real ESP backend would, so it runs unchanged against the outbox.
    status = AnymailStatus()
    status.set_recipient_status(
        {email: AnymailRecipientStatus(message_id, "sent") for email in message.recipients()}
    )
    message.anymail_status = status
