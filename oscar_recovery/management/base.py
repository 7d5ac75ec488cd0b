"""What the ``recovery_*`` commands share: translated help and the email argument."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.utils.translation import gettext as _


class RecoveryCommand(BaseCommand):
    """A command whose ``help_text`` is a lazy translation, shown in the active language."""

    help_text: Any = ""

    @property
    def help(self) -> str:
        # A property: argparse needs a real str, in the language active when help is shown.
        return str(self.help_text)


def checked_email(email: str) -> str:
    """``email`` as given, or a :class:`CommandError` when it is no email address."""
    try:
        validate_email(email.strip())
    except ValidationError as exc:
        raise CommandError(_("Not an email address.")) from exc
    return email
