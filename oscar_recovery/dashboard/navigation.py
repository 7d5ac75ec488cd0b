"""The dashboard menu entry; see the how-to "Dashboard" (docs/howto/dashboard.md) for
adding it to your settings::

from oscar.defaults import *  # noqa
from oscar_recovery.dashboard.navigation import RECOVERY_NAVIGATION
OSCAR_DASHBOARD_NAVIGATION = [*OSCAR_DASHBOARD_NAVIGATION, RECOVERY_NAVIGATION]
"""

from django.utils.translation import gettext_lazy as _

RECOVERY_NAVIGATION = {
    "label": _("Cart recovery"),
    "icon": "fas fa-shopping-basket",
    "children": [
        {"label": _("Overview"), "url_name": "recovery_dashboard:recovery-overview"},
        {"label": _("Abandoned baskets"), "url_name": "recovery_dashboard:recovery-basket-list"},
        {"label": _("Customers"), "url_name": "recovery_dashboard:recovery-contact-list"},
        {
            "label": _("Retargeting audiences"),
            "url_name": "recovery_dashboard:recovery-audience-list",
        },
        {"label": _("Campaigns and steps"), "url_name": "recovery_dashboard:recovery-campaigns"},
        {"label": _("A/B tests"), "url_name": "recovery_dashboard:recovery-ab-tests"},
        {"label": _("Top abandoned products"), "url_name": "recovery_dashboard:recovery-products"},
    ],
}
