"""URLs of the sandbox shop."""

from django.apps import apps
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("outbox/", include("sandbox.demo.urls")),
    path("recovery/", include("oscar_recovery.urls")),
    path("anymail/", include("oscar_recovery.webhooks")),
]

if settings.DEBUG:
    # Product images; listed before Oscar's URLs so no shop pattern can shadow them.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

urlpatterns += [
    path("dashboard/recovery/", apps.get_app_config("recovery_dashboard").urls),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
