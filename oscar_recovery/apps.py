from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarConfig


class RecoveryConfig(OscarConfig):
    name = "oscar_recovery"
    label = "oscar_recovery"
    verbose_name = _("Cart recovery")
    default_auto_field = "django.db.models.BigAutoField"
    default = True

    def ready(self) -> None:
        # Importing these registers the system checks, the Celery tasks (services publish
        # them by name and never import them) and connects each package's signal receivers,
        # one line per package (function-level: models and Oscar's apps are only ready now).
        # No receiver depends on another of the same signal having run first: work that
        # reads what another receiver wrote runs after commit.
        from oscar_recovery import checks, tasks  # noqa: F401
        from oscar_recovery.campaigns import receivers as campaigns_receivers  # noqa: F401
        from oscar_recovery.capture import receivers as capture_receivers  # noqa: F401
        from oscar_recovery.operations import doctor, heartbeat  # noqa: F401
        from oscar_recovery.outcomes import receivers as outcomes_receivers  # noqa: F401
        from oscar_recovery.outgoing_webhooks import receivers as webhooks_receivers  # noqa: F401
        from oscar_recovery.privacy import receivers as privacy_receivers  # noqa: F401
        from oscar_recovery.prompts import receivers as prompts_receivers  # noqa: F401
        from oscar_recovery.recommendations import receivers as recs_receivers  # noqa: F401
        from oscar_recovery.reporting import receivers as reporting_receivers  # noqa: F401
        from oscar_recovery.sweep import receivers as sweep_receivers  # noqa: F401

        heartbeat.connect()
