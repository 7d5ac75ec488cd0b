"""Shopper-facing URLs of the app and the health endpoint for uptime monitors, mounted by
the project with ``path("recovery/", include("oscar_recovery.urls"))``."""

from django.urls import path

from oscar_recovery.audiences.views import AdsConsentView
from oscar_recovery.operations.views import HealthView
from oscar_recovery.outcomes.views import ConfirmConsentView, RestoreView, UnsubscribeView
from oscar_recovery.prompts.views import PromptCaptureView, PromptEventView

app_name = "oscar_recovery"

urlpatterns = [
    path("restore/<str:token>/", RestoreView.as_view(), name="restore"),
    path("unsubscribe/<str:token>/", UnsubscribeView.as_view(), name="unsubscribe"),
    path("confirm/<str:token>/", ConfirmConsentView.as_view(), name="confirm-consent"),
    path("prompts/events/", PromptEventView.as_view(), name="prompt-events"),
    path("prompts/capture/", PromptCaptureView.as_view(), name="prompt-capture"),
    path("health/", HealthView.as_view(), name="health"),
    path("ads-consent/", AdsConsentView.as_view(), name="ads-consent"),
    path("ads-consent/<str:token>/", AdsConsentView.as_view(), name="ads-consent-link"),
]
