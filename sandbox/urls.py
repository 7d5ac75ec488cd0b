"""URLs of the sandbox shop."""

import re

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("outbox/", include("sandbox.demo.urls")),
    path("recovery/", include("oscar_recovery.urls")),
    path("anymail/", include("oscar_recovery.webhooks")),
]

# Product images, with DEBUG off too (a demo, never a production shop; the emails show
# them); listed before Oscar's URLs so no shop pattern can shadow them.
urlpatterns += [
    re_path(
        "^" + re.escape(settings.MEDIA_URL.lstrip("/")) + r"(?P<path>.*)$",
        serve,
        {"document_root": settings.MEDIA_ROOT},
    )
]

urlpatterns += [
    path("dashboard/recovery/", apps.get_app_config("recovery_dashboard").urls),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
