from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarDashboardConfig

from oscar_recovery.dashboard.permissions import (
    ACT_ON_ENROLMENTS,
    AUDIENCE_CSV,
    AUDIENCES,
    BASKETS,
    CONTACTS,
    FIGURES,
)


class RecoveryDashboardConfig(OscarDashboardConfig):
    """Mount with ``path("dashboard/recovery/", apps.get_app_config("recovery_dashboard").urls)``
    before Oscar's own URLs. Every view needs ``is_staff`` and the model permission the admin
    asks for the same data (:data:`FIGURES`, :data:`BASKETS`, :data:`CONTACTS`,
    :data:`ACT_ON_ENROLMENTS`, :data:`AUDIENCES`, :data:`AUDIENCE_CSV`);
    Oscar's menu hides entries the user may not open."""

    name = "oscar_recovery.dashboard"
    label = "recovery_dashboard"
    namespace = "recovery_dashboard"
    verbose_name = _("Cart recovery dashboard")
    default_auto_field = "django.db.models.BigAutoField"

    # A view missing from the map is closed to all but superusers: never open by mistake.
    default_permissions = ["is_superuser"]
    permissions_map = {
        "recovery-overview": FIGURES,
        "recovery-campaigns": FIGURES,
        "recovery-ab-tests": FIGURES,
        "recovery-products": FIGURES,
        "recovery-basket-list": BASKETS,
        "recovery-basket-detail": BASKETS,
        "recovery-basket-action": ACT_ON_ENROLMENTS,
        "recovery-contact-list": CONTACTS,
        "recovery-contact-detail": CONTACTS,
        "recovery-audience-list": AUDIENCES,
        "recovery-audience-csv": AUDIENCE_CSV,
    }

    def ready(self) -> None:
        # function-level: like Oscar's own dashboard apps, so that URLs load after models.
        from oscar_recovery.dashboard import views

        self.views = views

    def get_urls(self):
        views = self.views
        urls = [
            path("", views.OverviewView.as_view(), name="recovery-overview"),
            path("campaigns/", views.CampaignsView.as_view(), name="recovery-campaigns"),
            path("ab-tests/", views.ABTestsView.as_view(), name="recovery-ab-tests"),
            path("products/", views.ProductsView.as_view(), name="recovery-products"),
            path("baskets/", views.BasketListView.as_view(), name="recovery-basket-list"),
            path(
                "baskets/<int:pk>/",
                views.BasketDetailView.as_view(),
                name="recovery-basket-detail",
            ),
            path(
                "baskets/<int:pk>/action/",
                views.BasketActionView.as_view(),
                name="recovery-basket-action",
            ),
            path("customers/", views.ContactListView.as_view(), name="recovery-contact-list"),
            path(
                "customers/<uuid:uuid>/",
                views.ContactDetailView.as_view(),
                name="recovery-contact-detail",
            ),
            path(
                "customers/audiences/",
                views.AudienceListView.as_view(),
                name="recovery-audience-list",
            ),
            path(
                "customers/audiences/<int:pk>/<str:platform>.csv",
                views.AudienceCSVView.as_view(),
                name="recovery-audience-csv",
            ),
        ]
        return self.post_process_urls(urls)
