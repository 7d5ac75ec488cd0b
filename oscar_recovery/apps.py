from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarConfig


class RecoveryConfig(OscarConfig):
    name = "oscar_recovery"
    label = "oscar_recovery"
    verbose_name = _("Cart recovery")
    default_auto_field = "django.db.models.BigAutoField"
    default = True

    def ready(self) -> None:
        # Importing these registers the system checks and connects the signal receivers.
        from oscar_recovery import checks  # noqa: F401
        from oscar_recovery.capture import receivers  # noqa: F401
        from oscar_recovery.operations import doctor, heartbeat  # noqa: F401

        heartbeat.connect()
