"""A shop that mounts django-anymail's own webhook URLs, bypassing oscar_recovery.webhooks."""

from django.urls import include, path

urlpatterns = [path("anymail/", include("anymail.urls"))]
