import os
import sys

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "sandbox.demo"
    label = "sandbox_demo"
    verbose_name = "Sandbox demo"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        if _is_serving_process():
            from .sweeper import start_sweeper

            start_sweeper()


def _is_serving_process() -> bool:
    """True only in the process that serves runserver's requests: with the autoreloader that
    is the child (RUN_MAIN=true), not the parent that merely watches files; never for
    migrate, tests or any other command."""
    if sys.argv[1:2] != ["runserver"]:
        return False
    return os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv
