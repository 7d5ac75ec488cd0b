"""The test shop's URLs less the app's own (``BENCH_WITH_APP=0``): what the shop serves
before it installs oscar_recovery."""

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
