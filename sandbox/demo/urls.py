from django.urls import path

from .views import OutboxDetailView, OutboxHTMLView, OutboxListView

app_name = "outbox"

urlpatterns = [
    path("", OutboxListView.as_view(), name="list"),
    path("<int:pk>/", OutboxDetailView.as_view(), name="detail"),
    path("<int:pk>/html/", OutboxHTMLView.as_view(), name="html"),
]
