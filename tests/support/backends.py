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
    pause before and after it (a window for a kill from outside mid-call).

    Kills at chosen emails, decided by the test, not the clock: the worker SIGKILLs itself
    in the call to an address of ``OSCAR_RECOVERY_TEST_KILL_IN_CALL`` before the ESP takes
    the email (lost: its call had started), and in the call to an address of
    ``OSCAR_RECOVERY_TEST_KILL_AFTER_CALL`` right after the ESP took it, before the call
    returns (between this call and its batch's next: taken, but never recorded as sent).
    Both are comma-separated lists; each kill first leaves a file
    ``.kills/<in|after>.<address>.<pid>`` in the record directory, for the test to count."""

    def send_messages(self, email_messages):
        import os
        import random
        import signal
        import time
        import uuid

        directory = os.environ["OSCAR_RECOVERY_TEST_RECORD_DIR"]
        jitter = float(os.environ.get("OSCAR_RECOVERY_TEST_SEND_JITTER_MS", "0")) / 1000

        def kill_at(where: str, address: str) -> None:
            chosen = os.environ.get(f"OSCAR_RECOVERY_TEST_KILL_{where.upper()}_CALL", "")
            if address not in chosen.split(","):
                return
            kills = os.path.join(directory, ".kills")
            os.makedirs(kills, exist_ok=True)
            open(os.path.join(kills, f"{where}.{address}.{os.getpid()}"), "w").close()
            os.kill(os.getpid(), signal.SIGKILL)

        for email in email_messages:
            time.sleep(random.uniform(0, jitter))
            kill_at("in", email.to[0])
            name = f"{email.to[0]}.{uuid.uuid4().hex}"
            partial = os.path.join(directory, f".{name}.partial")
            with open(partial, "w") as out:
                out.write(f"{time.time():.6f} {os.getpid()}")
            os.rename(partial, os.path.join(directory, name))
            kill_at("after", email.to[0])
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
