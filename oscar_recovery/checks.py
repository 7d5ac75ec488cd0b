"""System checks: configuration mistakes an owner should hear about at start-up."""

from datetime import timedelta

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
    if not app_settings.POSTAL_ADDRESS:
        problems.append(
            Warning(
                "OSCAR_RECOVERY_POSTAL_ADDRESS is empty: recovery emails are marketing email, "
                "and laws such as CAN-SPAM require the sender's postal address in each one.",
                id="oscar_recovery.W002",
            )
        )
    site_url = app_settings.SITE_URL
    if site_url and not site_url.startswith(("https://", "http://")):
        problems.append(
            Error(
                f"OSCAR_RECOVERY_SITE_URL {site_url!r} must start with https:// (or http://).",
                id="oscar_recovery.E004",
            )
        )
    if timedelta(minutes=1) >= app_settings.SENDING_STALE_AFTER:
        problems.append(
            Error(
                "OSCAR_RECOVERY_SENDING_STALE_AFTER must exceed a minute: a slow ESP call "
                "would otherwise be taken for a dead worker and its email marked failed.",
                id="oscar_recovery.E005",
            )
        )
    return problems


@register()
def check_prompts(app_configs, **kwargs):
    """On-site prompts: configuration that makes a prompt pointless."""
    problems = []
    if not getattr(settings, "OSCAR_ALLOW_ANON_CHECKOUT", False):
        problems.append(
            Warning(
                "OSCAR_ALLOW_ANON_CHECKOUT is off: shoppers must create an account to buy, "
                "the second most common reason they abandon a basket. The guest-checkout "
                "prompt stays hidden until it is on.",
                hint="Set OSCAR_ALLOW_ANON_CHECKOUT = True in your settings.",
                id="oscar_recovery.W051",
            )
        )
    return problems
