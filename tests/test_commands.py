"""What every ``recovery_*`` command shares: help in the active language, the email check."""

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.utils import translation

from oscar_recovery.management.base import RecoveryCommand

COMMANDS = sorted(name for name, app in get_commands().items() if app == "oscar_recovery")


def test_every_command_shares_the_base():
    assert len(COMMANDS) >= 9
    for name in COMMANDS:
        command = load_command_class("oscar_recovery", name)
        assert isinstance(command, RecoveryCommand), name
        assert isinstance(command.help, str) and command.help, name


def test_help_is_shown_in_the_active_language():
    command = load_command_class("oscar_recovery", "recovery_export_email")
    english = command.help
    with translation.override("ro"):
        assert command.help != english
        assert "JSON" in command.help


@pytest.mark.parametrize(
    "args", [["recovery_export_email"], ["recovery_erase_email", "--yes"]], ids=["export", "erase"]
)
def test_a_data_request_needs_an_email_address(args, db):
    with pytest.raises(CommandError, match="Not an email address"):
        call_command(*args[:1], "nobody-at-example", *args[1:])
