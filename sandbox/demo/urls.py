from django.urls import path

from .views import OutboxDetailView, OutboxListView

app_name = "outbox"

urlpatterns = [
    path("", OutboxListView.as_view(), name="list"),
    path("<int:pk>/", OutboxDetailView.as_view(), name="detail"),
]
