"""Email backends that fail on demand, standing in for an ESP having a bad day."""

from anymail.backends.test import EmailBackend as AnymailTestBackend


class ScriptedBackend(AnymailTestBackend):
    """Raises the queued exceptions one send at a time, then behaves like anymail's test
    backend (which records sent messages in ``django.core.mail.outbox``)."""

    failures: list[Exception] = []

    def send_messages(self, email_messages):
        if ScriptedBackend.failures:
            raise ScriptedBackend.failures.pop(0)
        return super().send_messages(email_messages)
