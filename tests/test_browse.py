"""Browse abandonment: shoppers who viewed products, added nothing and went quiet.

Through the shop's real views, the sweep and the Celery task (eager), as the basket story.
"""

import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.test import RequestFactory
from django.utils import timezone
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from oscar_recovery.campaigns.enrolment import CustomerHistory, matches
from oscar_recovery.campaigns.install import install_defaults
from oscar_recovery.capture.history import viewed_from_cookie
from oscar_recovery.capture.scope import capture_email, lines_changed
from oscar_recovery.constants import (
    CampaignTrigger,
    ConsentSource,
    EmailSource,
    JourneyStatus,
    MessageStatus,
    SkipReason,
)
from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage
from oscar_recovery.privacy import consent
from oscar_recovery.privacy.suppression import suppress
from oscar_recovery.sending.send_checks import why_not_send
from oscar_recovery.sweep.browse import abandon_browsing
from oscar_recovery.sweep.stages import run_sweep
from tests.conftest import BROWSER_UA
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket
from tests.support.outbox import run_followups

pytestmark = pytest.mark.django_db

Basket = get_model("basket", "Basket")
UserProductView = get_model("analytics", "UserProductView")
Selector = get_class("partner.strategy", "Selector")


@pytest.fixture
def browse_campaign():
    campaign = Campaign.objects.create(
        name="Browse",
        is_active=True,
        trigger=CampaignTrigger.BROWSE_ABANDONED,
        holdout_percent=0,
    )
    CampaignStep.objects.create(
        campaign=campaign,
        position=1,
        delay=timedelta(hours=1),
        subject="Still thinking about the {{ viewed.0.title }}?",
    )
    CampaignStep.objects.create(
        campaign=campaign, position=2, delay=timedelta(days=2), subject="Take another look"
    )
    return campaign


@pytest.fixture
def basket_campaign():
    campaign = install_defaults(activate=True)
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
    return campaign


@pytest.fixture
def start():
    return timezone.now()


@pytest.fixture
def sweep_at(django_capture_on_commit_callbacks, start):
    def sweep(offset: timedelta):
        with (
            time_machine.travel(start + offset, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            return run_sweep()

    return sweep


@pytest.fixture
def signed_in(shopper, customer):
    shopper.force_login(customer)
    return shopper


def recovery_emails() -> list:
    return [email for email in mail.outbox if "oscar-recovery" in getattr(email, "tags", [])]


def view(client, *products):
    for product in products:
        assert client.get(product.get_absolute_url()).status_code == 200


def test_a_signed_in_shopper_who_only_browsed_gets_a_browse_email(
    browse_campaign, basket_campaign, signed_in, customer, product, other_product, sweep_at
):
    view(signed_in, product, other_product)

    result = sweep_at(timedelta(hours=2))
    assert result.browse_abandoned == 1
    journey = CartJourney.objects.get()
    assert (journey.user, journey.email, journey.email_source) == (
        customer,
        "customer@example.com",
        EmailSource.ACCOUNT,
    )
    assert journey.viewed == [other_product.pk, product.pk]  # most recent first
    assert journey.status == JourneyStatus.ABANDONED and journey.basket is None
    assert journey.enrolment.campaign == browse_campaign  # never the basket campaign
    assert sweep_at(timedelta(hours=2, minutes=5)).browse_abandoned == 0  # once per visit

    sweep_at(timedelta(hours=3, minutes=5))
    (email,) = recovery_emails()
    assert email.to == ["customer@example.com"]
    assert email.subject == "Still thinking about the Wool hat?"
    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert "Wool hat" in body and "Winter coat" in body
        assert "Continue shopping" in body and "/recovery/restore/" not in body
        assert "because you viewed products" in body
    assert other_product.get_absolute_url() in html


def test_views_then_a_basket_in_the_same_visit_get_the_basket_email_only(
    browse_campaign, basket_campaign, signed_in, product, other_product, sweep_at, start
):
    view(signed_in, product)
    add_to_basket(signed_in, other_product)
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        view(signed_in, product)  # more browsing after the basket, same visit

    sweep_at(timedelta(hours=2))
    sweep_at(timedelta(hours=3, minutes=5))

    journey = CartJourney.objects.get()  # no browse journey
    assert journey.num_items == 1 and journey.enrolment.campaign == basket_campaign
    (email,) = recovery_emails()
    assert "/recovery/restore/" in email.body


def test_a_later_visit_gets_its_own_browse_journey(
    browse_campaign, signed_in, product, other_product, sweep_at, start
):
    view(signed_in, product)
    sweep_at(timedelta(hours=2))
    with time_machine.travel(start + timedelta(hours=5), tick=False):
        view(signed_in, other_product)

    sweep_at(timedelta(hours=7))

    journeys = CartJourney.objects.order_by("created_at")
    assert [j.viewed for j in journeys] == [[product.pk], [other_product.pk]]


def test_products_already_bought_and_shoppers_without_email_are_left_out(
    browse_campaign, signed_in, customer, product, other_product, sweep_at, start
):
    with time_machine.travel(start - timedelta(days=1), tick=False):  # an earlier visit
        basket = factories.create_basket(empty=True)
        basket.add_product(product)
        factories.create_order(basket=basket, user=customer)
    view(signed_in, product, other_product)
    no_email = factories.UserFactory(email="")
    UserProductView.objects.create(user=no_email, product=product)

    sweep_at(timedelta(hours=2))

    journey = CartJourney.objects.get(num_viewed__gt=0)
    assert journey.user == customer and journey.viewed == [other_product.pk]


def capture_with_notice(request, email: str) -> CartJourney:
    """An email captured on site the way a prompt does it: with the soft opt-in notice shown
    and recorded, which that lawful basis needs before any email goes out."""
    journey = capture_email(request, email)
    consent.record_consent(
        journey, text=consent.notice().text_shown, given=True, source=ConsentSource.PROMPT
    )
    return journey


def test_a_guest_whose_email_we_have_gets_one_from_oscars_history_cookie(
    browse_campaign, basket_campaign, product, other_product, sweep_at
):
    request = RequestFactory(HTTP_USER_AGENT=BROWSER_UA).get("/")
    request.COOKIES["oscar_history"] = json.dumps([product.pk, other_product.pk])
    request.user = AnonymousUser()
    request.basket = Basket()
    request.basket.strategy = Selector().strategy(request=request)

    journey = capture_with_notice(request, "guest@example.com")
    assert journey.viewed == [other_product.pk, product.pk] and journey.num_items == 0

    sweep_at(timedelta(hours=1))
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.ABANDONED
    assert journey.enrolment.campaign == browse_campaign
    sweep_at(timedelta(hours=2, minutes=5))
    (email,) = recovery_emails()
    assert email.to == ["guest@example.com"] and "Winter coat" in email.body


def test_browse_emails_follow_suppression(browse_campaign, signed_in, product, sweep_at, customer):
    view(signed_in, product)
    sweep_at(timedelta(hours=2))
    suppress(customer.email)

    sweep_at(timedelta(hours=3, minutes=5))

    assert recovery_emails() == []
    message = RecoveryMessage.objects.get()
    assert (message.status, message.skip_reason) == (MessageStatus.SKIPPED, SkipReason.SUPPRESSED)


def test_an_order_after_a_click_on_a_browse_email_is_recovered(
    browse_campaign, signed_in, customer, product, sweep_at, start
):
    view(signed_in, product)
    sweep_at(timedelta(hours=2))
    sweep_at(timedelta(hours=3, minutes=5))
    message = RecoveryMessage.objects.get(status=MessageStatus.SENT)
    clicked = start + timedelta(hours=4)
    RecoveryMessage.objects.filter(pk=message.pk).update(clicked_at=clicked)  # ESP click event

    with time_machine.travel(clicked + timedelta(minutes=20), tick=False):
        basket = factories.create_basket(empty=True)
        basket.add_product(product)
        order = factories.create_order(basket=basket, user=customer)
        run_followups()  # a worker, a moment later

    journey = CartJourney.objects.get(num_viewed__gt=0)
    assert journey.status == JourneyStatus.RECOVERED
    assert (journey.order, journey.attributed_message) == (order, message)
    assert journey.enrolment.status == "stopped"  # no second browse email


def test_a_browse_journey_whose_shopper_started_a_basket_is_not_emailed(browse_campaign):
    step = browse_campaign.steps.get(position=1)
    journey = make_journey(
        quiet_for=timedelta(hours=2),
        status=JourneyStatus.ABANDONED,
        viewed=[1],
        num_viewed=1,
    )
    message = RecoveryMessage.objects.create(journey=journey, step=step)

    assert why_not_send(message, timezone.now()) == SkipReason.BASKET_STARTED
    CartJourney.objects.filter(pk=journey.pk).update(num_items=0, lines=[], viewed=[], num_viewed=0)
    message.journey.refresh_from_db()
    assert why_not_send(message, timezone.now()) == SkipReason.NOTHING_VIEWED


def test_browse_and_basket_campaigns_take_only_their_own_journeys(browse_campaign, basket_campaign):
    history = CustomerHistory()
    basket = make_journey(quiet_for=timedelta(hours=2), viewed=[1], num_viewed=1)
    browsing = make_journey(
        quiet_for=timedelta(hours=2), num_items=0, num_lines=0, lines=[], viewed=[1], num_viewed=1
    )

    assert matches(basket_campaign, basket, history)
    assert not matches(browse_campaign, basket, history)
    assert matches(browse_campaign, browsing, history)
    assert not matches(basket_campaign, browsing, history)


def test_the_cookie_is_read_defensively():
    assert viewed_from_cookie({"oscar_history": "[3, 1, 2, 1]"}) == [1, 2, 3]
    assert viewed_from_cookie({"oscar_history": '"garbage"'}) is None
    assert viewed_from_cookie({"oscar_history": "not json"}) is None
    assert viewed_from_cookie({"oscar_history": '[1, "2", true, -4]'}) == [1]
    assert viewed_from_cookie({}) is None


def test_nothing_to_do_without_views():
    assert abandon_browsing() == []


def test_the_default_browse_campaign_installs_once_with_two_emails():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("recovery_install_defaults", "--browse", stdout=out)
    call_command("recovery_install_defaults", "--browse", "--activate", stdout=out)

    campaign = Campaign.objects.get(trigger=CampaignTrigger.BROWSE_ABANDONED)
    assert campaign.is_active and campaign.steps.count() == 2
    assert "Browse abandonment (default): 2 emails, active" in out.getvalue()


def test_the_default_browse_email_renders_in_the_shoppers_language(signed_in, product, sweep_at):
    from oscar_recovery.campaigns.install import install_browse_defaults

    campaign = install_browse_defaults(activate=True)
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
    view(signed_in, product)
    sweep_at(timedelta(hours=2))
    sweep_at(timedelta(hours=4, minutes=5))

    (email,) = recovery_emails()
    assert email.subject == "Still interested in what you saw?"
    assert "Winter coat" in email.body


def test_a_guests_viewed_products_follow_the_basket_into_the_account_on_login():
    from oscar_recovery.journeys.writes import merge_baskets

    guest_basket, account_basket = Basket.objects.create(), Basket.objects.create()
    make_journey(quiet_for=timedelta(minutes=1), basket=guest_basket, viewed=[3, 1], num_viewed=2)
    continuing = make_journey(
        quiet_for=timedelta(minutes=5), basket=account_basket, viewed=[1, 2], num_viewed=2
    )

    merge_baskets(guest_basket.id, account_basket)

    continuing.refresh_from_db()
    assert (continuing.viewed, continuing.num_viewed) == ([3, 1, 2], 3)


def test_a_guest_who_fills_the_basket_after_browsing_moves_to_the_basket_campaign(
    browse_campaign, basket_campaign, product, other_product, sweep_at, start
):
    from django.test import Client

    guest = Client(HTTP_USER_AGENT=BROWSER_UA)
    view(guest, product)
    request = RequestFactory(HTTP_USER_AGENT=BROWSER_UA).get("/")
    request.COOKIES["oscar_history"] = guest.cookies["oscar_history"].value  # Oscar's cookie
    request.user = AnonymousUser()
    request.basket = Basket()
    request.basket.strategy = Selector().strategy(request=request)
    journey = capture_with_notice(request, "guest@example.com")
    sweep_at(timedelta(hours=1))
    journey.refresh_from_db()
    assert journey.enrolment.campaign == browse_campaign

    # Back the next day: the same journey gets a line, then goes quiet again.
    with time_machine.travel(start + timedelta(days=1), tick=False):
        basket = Basket.objects.get(pk=journey.basket_id)
        basket.strategy = request.basket.strategy
        basket.add_product(other_product)
        lines_changed(basket)  # what the basket_addition receiver does after Oscar's view
    sweep_at(timedelta(days=1, hours=1))

    journey.refresh_from_db()
    assert journey.num_items == 1 and journey.enrolment.campaign == basket_campaign
    sweep_at(timedelta(days=1, hours=2, minutes=5))
    (email,) = recovery_emails()  # the basket email; the browse one never went out
    assert "/recovery/restore/" in email.body and "Wool hat" in email.body


def test_only_the_lookback_windows_views_are_read(settings, customer, product, other_product):
    from oscar_recovery.sweep.browse import recent_views

    old = UserProductView.objects.create(user=customer, product=product)
    UserProductView.objects.filter(pk=old.pk).update(
        date_created=timezone.now() - timedelta(days=3)
    )
    new = UserProductView.objects.create(user=customer, product=other_product)

    since = timezone.now() - timedelta(days=1)
    assert list(recent_views(since)) == [new]
    # Bounded by the primary key (an index), not a scan of every view ever recorded.
    assert f'"id" > {old.pk}' in str(recent_views(since).query)
