"""A guest abandons a basket in a shop with no Celery, and cron runs ``recovery_sweep``.

Run as a script (``DJANGO_SETTINGS_MODULE=tests.settings_no_celery``) by
``tests/test_handoff.py``; prints one JSON line with what happened.
"""

import json
from datetime import timedelta

import django

django.setup()

import time_machine  # noqa: E402
from celery import _state  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from oscar.test import factories  # noqa: E402

call_command("migrate", verbosity=0)

from oscar_recovery.campaigns.install import install_defaults  # noqa: E402
from oscar_recovery.handoff import task_mode  # noqa: E402
from oscar_recovery.models import Campaign, RecoveryMessage  # noqa: E402
from tests.conftest import BROWSER_UA  # noqa: E402
from tests.support.journeys import add_to_basket, guest_gateway  # noqa: E402

campaign = install_defaults(activate=True)
Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
product = factories.create_product(title="Winter coat", price="40.00", num_in_stock=10)
shopper = Client(HTTP_USER_AGENT=BROWSER_UA)
add_to_basket(shopper, product)
guest_gateway(shopper, "guest@example.com")
start = timezone.now()
for offset in (timedelta(hours=1), timedelta(hours=2, minutes=1)):
    with time_machine.travel(start + offset, tick=False):
        call_command("recovery_sweep", verbosity=0)

print(
    json.dumps(
        {
            "mode": task_mode(),
            "statuses": list(RecoveryMessage.objects.values_list("status", flat=True)),
            # No Celery app was ever created, not even Celery's fallback: nothing could
            # have been published to any broker.
            "celery_apps": len(list(_state._get_active_apps())),
            "fallback_app": _state.default_app is not None,
        }
    )
)
