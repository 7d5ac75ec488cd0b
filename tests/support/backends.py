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


class RecordingBackend(AnymailTestBackend):
    """The integration tier's ESP in worker processes: each email it takes becomes one file
    in ``OSCAR_RECOVERY_TEST_RECORD_DIR`` (``<to>.<uuid>``, holding the time taken and the
    worker's pid), made visible by one atomic rename, so a worker killed at any point leaves
    either a whole delivery or none. ``OSCAR_RECOVERY_TEST_SEND_JITTER_MS`` adds a random
    pause before and after it: a window for a kill mid-call, and
    ``OSCAR_RECOVERY_TEST_SELF_KILL`` the chance that the worker SIGKILLs itself there (before
    or after the ESP took the email)."""

    def send_messages(self, email_messages):
        import os
        import random
        import time
        import uuid

        directory = os.environ["OSCAR_RECOVERY_TEST_RECORD_DIR"]
        import signal

        jitter = float(os.environ.get("OSCAR_RECOVERY_TEST_SEND_JITTER_MS", "0")) / 1000
        self_kill = float(os.environ.get("OSCAR_RECOVERY_TEST_SELF_KILL", "0"))

        def maybe_die():
            if random.random() < self_kill:
                os.kill(os.getpid(), signal.SIGKILL)

        for email in email_messages:
            time.sleep(random.uniform(0, jitter))
            maybe_die()
            name = f"{email.to[0]}.{uuid.uuid4().hex}"
            partial = os.path.join(directory, f".{name}.partial")
            with open(partial, "w") as out:
                out.write(f"{time.time():.6f} {os.getpid()}")
            os.rename(partial, os.path.join(directory, name))
            maybe_die()
            time.sleep(random.uniform(0, jitter))
        return super().send_messages(email_messages)


def in_another_session(read):
    """``read()``'s answer from another database session: another thread's connection, as
    another worker or the sweep would see the database (only what is committed). For
    backends that look at the database at the moment the ESP gets an email."""
    import threading

    from django.db import connections

    answer = []

    def run():
        try:
            answer.append(read())
        finally:
            connections.close_all()

    reader = threading.Thread(target=run)
    reader.start()
    reader.join()
    return answer[0] if answer else None
