"""The ESP tracking URLs, for ``path("anymail/", include("oscar_recovery.webhooks"))`` as the
documentation names; the code lives in :mod:`oscar_recovery.outcomes.esp_webhooks`."""

from oscar_recovery.outcomes.esp_webhooks import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
