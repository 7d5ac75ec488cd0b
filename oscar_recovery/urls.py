"""Shopper-facing URLs of the app, mounted by the project with
``path("recovery/", include("oscar_recovery.urls"))``.

Restore links, unsubscribe and prompt endpoints live here as they are built, so a project
that includes this module once never has to change its URLconf again.
"""

app_name = "oscar_recovery"

urlpatterns: list = []
