"""What the ``recovery_*`` commands share: translated help, quiet ``-v0`` runs and the
email argument."""

from __future__ import annotations

import io
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.core.validators import validate_email
from django.utils.translation import gettext as _


class RecoveryCommand(BaseCommand):
    """A command whose ``help_text`` is a lazy translation, shown in the active language.

    At ``-v0`` (cron) a successful run prints nothing, since cron mails whatever a command
    prints, every run: the system checks it runs first show nothing short of an error (which
    still stops the command, on stderr, with exit status 1; warnings and notes are for
    ``manage.py check``), and a command with :attr:`routine_output` drops its stdout. Errors
    go to stderr at any verbosity."""

    help_text: Any = ""
    verbosity = 1
    #: The command's stdout is a routine summary (commands run from cron): not at ``-v0``.
    #: Left False where stdout is the result (an export).
    routine_output = False

    @property
    def help(self) -> str:
        # A property: argparse needs a real str, in the language active when help is shown.
        return str(self.help_text)

    def execute(self, *args, **options):
        self.verbosity = options.get("verbosity", 1)
        if self.routine_output and self.verbosity == 0:
            options["stdout"] = io.StringIO()
        return super().execute(*args, **options)

    def check(self, *args, **kwargs):
        if self.verbosity >= 1:
            return super().check(*args, **kwargs)
        # Errors raise SystemCheckError, whose text lists every issue: Django prints it.
        stdout, stderr = self.stdout, self.stderr
        self.stdout = self.stderr = OutputWrapper(io.StringIO())
        try:
            return super().check(*args, **kwargs)
        finally:
            self.stdout, self.stderr = stdout, stderr


def checked_email(email: str) -> str:
    """``email`` as given, or a :class:`CommandError` when it is no email address."""
    try:
        validate_email(email.strip())
    except ValidationError as exc:
        raise CommandError(_("Not an email address.")) from exc
    return email
