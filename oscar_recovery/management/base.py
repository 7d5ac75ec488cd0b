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

    At ``-v0`` (cron) a successful run prints nothing: the system checks it runs first show
    nothing short of an error (which still stops the command, on stderr, with exit status
    1), since cron mails whatever a command prints, every run; warnings and notes are for
    ``manage.py check``. Commands print their own output at verbosity 1 and above."""

    help_text: Any = ""
    verbosity = 1

    @property
    def help(self) -> str:
        # A property: argparse needs a real str, in the language active when help is shown.
        return str(self.help_text)

    def execute(self, *args, **options):
        self.verbosity = options.get("verbosity", 1)
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
