from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarConfig


class RecoveryConfig(OscarConfig):
    name = "oscar_recovery"
    label = "oscar_recovery"
    verbose_name = _("Cart recovery")
    default_auto_field = "django.db.models.BigAutoField"
    default = True

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (connects signal receivers, registers checks)
