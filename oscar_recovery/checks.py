"""System checks: configuration mistakes an owner should hear about at start-up."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

from . import app_settings


@register()
def check_settings(app_configs, **kwargs):
    problems = []
    try:
        import_string(app_settings.ADAPTER)
    except ImportError as exc:
        problems.append(
            Error(
                f"OSCAR_RECOVERY_ADAPTER {app_settings.ADAPTER!r} cannot be imported: {exc}",
                id="oscar_recovery.E001",
            )
        )
    if app_settings.ABANDON_AFTER.total_seconds() <= 0:
        problems.append(
            Error("OSCAR_RECOVERY_ABANDON_AFTER must be positive.", id="oscar_recovery.E002")
        )
    if app_settings.EXPIRE_AFTER <= app_settings.ABANDON_AFTER:
        problems.append(
            Error(
                "OSCAR_RECOVERY_EXPIRE_AFTER must be longer than OSCAR_RECOVERY_ABANDON_AFTER.",
                id="oscar_recovery.E003",
            )
        )
    if "oscar.apps.basket.middleware.BasketMiddleware" not in settings.MIDDLEWARE:
        problems.append(
            Warning(
                "Oscar's BasketMiddleware is not in MIDDLEWARE: no basket, nothing to recover.",
                id="oscar_recovery.W001",
            )
        )
    return problems
