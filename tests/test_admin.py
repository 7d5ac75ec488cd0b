"""Staff see journeys read-only in the Django admin."""

from datetime import timedelta

import pytest
from django.urls import reverse
from oscar.test.factories import UserFactory

from oscar_recovery.constants import JourneyStatus
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_changelist_filters_and_search(staff_client):
    make_journey(quiet_for=timedelta(hours=1), email="findme@example.com", total=120)
    make_journey(quiet_for=timedelta(hours=1), email="", status=JourneyStatus.ABANDONED)
    url = reverse("admin:oscar_recovery_cartjourney_changelist")

    assert staff_client.get(url).status_code == 200
    searched = staff_client.get(url, {"q": "findme"})
    assert list(searched.context["cl"].result_list.values_list("email", flat=True)) == [
        "findme@example.com"
    ]
    for params, expected in [
        ({"status": "abandoned"}, 1),
        ({"has_email": "no"}, 1),
        ({"value": "100-250"}, 1),
        ({"furthest_step__exact": "10"}, 2),
    ]:
        response = staff_client.get(url, params)
        assert response.status_code == 200
        assert response.context["cl"].result_count == expected, params


def test_detail_shows_lines_and_timeline_and_cannot_be_edited(staff_client, shopper, product):
    from tests.support.journeys import add_to_basket, guest_gateway, only_journey

    add_to_basket(shopper, product)
    guest_gateway(shopper)
    journey = only_journey()
    url = reverse("admin:oscar_recovery_cartjourney_change", args=[journey.pk])

    page = staff_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Winter coat" in html and "Email captured" in html and "Checkout gateway" in html
    assert staff_client.post(url, {"email": "changed@example.com"}).status_code == 403
    journey.refresh_from_db()
    assert journey.email == "guest@example.com"
    add_url = reverse("admin:oscar_recovery_cartjourney_add")
    assert staff_client.get(add_url).status_code == 403
