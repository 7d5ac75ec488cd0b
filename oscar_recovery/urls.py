"""Shopper-facing URLs of the app, mounted by the project with
``path("recovery/", include("oscar_recovery.urls"))``."""

from django.urls import path

from .views import RestoreView, UnsubscribeView

app_name = "oscar_recovery"

urlpatterns = [
    path("restore/<str:token>/", RestoreView.as_view(), name="restore"),
    path("unsubscribe/<str:token>/", UnsubscribeView.as_view(), name="unsubscribe"),
]
