"""The restore link of recovery emails, through the shop's real views and baskets."""

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation
from oscar.core.loading import get_model

from oscar_recovery.constants import JourneyEventKind, JourneyStatus, MessageStatus
from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage
from oscar_recovery.sending.tokens import restore_token
from tests.conftest import BROWSER_UA
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket, guest_gateway, place_order, shipping_address

pytestmark = pytest.mark.django_db

Basket = get_model("basket", "Basket")

BASKET_URL = "/basket/"
SCANNER_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    # The rate limit counts in the (locmem) cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def guest(db) -> Client:
    """The shopper who left the basket, in the browser they left it in."""
    return Client(HTTP_USER_AGENT=BROWSER_UA)


@pytest.fixture
def guest_journey(guest, product) -> CartJourney:
    add_to_basket(guest, product)
    guest_gateway(guest, "guest@example.com")
    return CartJourney.objects.get(email="guest@example.com")


@pytest.fixture
def customer_journey(customer, product) -> CartJourney:
    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    browser.force_login(customer)
    add_to_basket(browser, product)
    return CartJourney.objects.get(user=customer)


def make_message(journey: CartJourney, **fields) -> RecoveryMessage:
    campaign, _ = Campaign.objects.get_or_create(name="Default")
    step, _ = CampaignStep.objects.get_or_create(
        campaign=campaign,
        position=1,
        defaults={"delay": timedelta(hours=1), "subject": "Still thinking?"},
    )
    fields = {"status": MessageStatus.SENT, "sent_at": timezone.now(), **fields}
    return RecoveryMessage.objects.create(journey=journey, step=step, **fields)


def restore_path(journey: CartJourney, message: RecoveryMessage | None = None) -> str:
    return reverse("oscar_recovery:restore", args=[restore_token(journey, message)])


def basket_page(client: Client) -> str:
    return client.get(reverse("basket:summary")).content.decode()


def assert_friendly_page(response, status: int, text: str) -> None:
    assert response.status_code == status
    assert "oscar_recovery/restore_invalid.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert text in content
    assert f'href="{BASKET_URL}"' in content
    assert response["Referrer-Policy"] == "strict-origin"


# -- guest baskets --------------------------------------------------------------------------


def test_a_fresh_browser_gets_the_guest_basket_back(guest_journey, shopper):
    path = restore_path(guest_journey)
    response = shopper.get(path)

    assert response.status_code == 303
    assert response["Location"] == BASKET_URL  # clean: no token, nothing to leak
    assert response["Referrer-Policy"] == "strict-origin"
    assert "no-store" in response["Cache-Control"]
    page = shopper.get(reverse("basket:summary"))
    # One click, and the lines are back: in a basket of this browser's own.
    assert page.context["basket"].id != guest_journey.basket_id
    assert [line.product.title for line in page.context["basket"].all_lines()] == ["Winter coat"]


def test_opening_a_link_never_makes_two_browsers_share_a_basket(
    guest_journey, guest, shopper, other_product, product
):
    """Worst sender: abandons a basket, gets their own valid link and makes other people's
    browsers open it (any page can navigate there). Before: an opener with an empty basket
    was given the sender's basket in their cookie, so what they added the sender saw (and
    the sender's next email described it). Now each browser keeps a basket of its own."""
    shopper.get(restore_path(guest_journey))
    add_to_basket(shopper, other_product)

    assert "Wool hat" not in basket_page(guest)
    sender_basket = Basket.objects.get(pk=guest_journey.basket_id)
    assert [line.product for line in sender_basket.all_lines()] == [product]
    assert sender_basket.lines.count() == 1
    opener = CartJourney.objects.get(basket__lines__product=other_product)
    assert opener.pk != guest_journey.pk
    assert opener.email == ""  # the sender's address never follows the lines


def test_a_link_never_puts_the_senders_address_into_checkout(guest_journey, shopper):
    """Worst sender: the opener clicks through to checkout without reading. Before: the
    sender's address sat in Oscar's checkout session, which lets checkout skip the gateway,
    so the order (and its confirmation) went out in the sender's name. Now checkout still
    asks the opener for an address."""
    shopper.get(restore_path(guest_journey))

    response = shopper.get(reverse("checkout:shipping-address"))

    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("checkout:index")
    gateway = shopper.get(reverse("checkout:index"))
    assert gateway.context["form"].initial.get("username") in (None, "")


def test_the_link_works_again_in_the_browser_that_already_has_the_basket(guest_journey, guest):
    response = guest.get(restore_path(guest_journey))
    assert response.status_code == 303
    assert settings.OSCAR_BASKET_COOKIE_OPEN not in response.cookies  # nothing to move
    assert "Winter coat" in basket_page(guest)


def test_a_stale_basket_cookie_does_not_undo_the_restore(guest_journey, shopper, other_product):
    # The browser's own basket was ordered long ago: Oscar deletes its cookie on this
    # request, which must not take the restored basket's cookie with it.
    add_to_basket(shopper, other_product)
    Basket.objects.exclude(pk=guest_journey.basket_id).update(status=Basket.SUBMITTED)

    assert shopper.get(restore_path(guest_journey)).status_code == 303
    assert "Winter coat" in basket_page(shopper)


def test_a_basket_with_lines_gets_the_link_lines_copied_in(guest_journey, shopper, other_product):
    add_to_basket(shopper, other_product)
    current = CartJourney.objects.get(basket__lines__product=other_product)

    response = shopper.get(restore_path(guest_journey))

    assert response.status_code == 303 and response["Location"] == BASKET_URL
    page = basket_page(shopper)
    assert "Winter coat" in page and "Wool hat" in page  # nothing lost
    assert Basket.objects.get(pk=guest_journey.basket_id).status == Basket.OPEN
    guest_journey.refresh_from_db()
    current.refresh_from_db()
    assert guest_journey.status != JourneyStatus.MERGED
    assert current.num_lines == 2


def test_an_order_by_the_same_address_ends_the_links_journey_and_credits_the_click(
    guest_journey, shopper, country
):
    message = make_message(guest_journey)
    shopper.get(restore_path(guest_journey, message))
    guest_gateway(shopper, "GUEST@example.com")
    shipping_address(shopper, country)
    place_order(shopper)

    ordered = CartJourney.objects.get(order__isnull=False)
    guest_journey.refresh_from_db()
    assert ordered.pk != guest_journey.pk
    assert guest_journey.status == JourneyStatus.MERGED and guest_journey.merged_into == ordered
    assert ordered.status == JourneyStatus.RECOVERED and ordered.attributed_message == message


def test_an_order_by_someone_the_link_was_forwarded_to_leaves_the_senders_journey(
    guest_journey, shopper, country
):
    """Worst case: the link reached someone else, who buys. The sender's journey is not
    ended by a stranger's order (nor the stranger's order credited to the sender)."""
    shopper.get(restore_path(guest_journey, make_message(guest_journey)))
    guest_gateway(shopper, "friend@example.com")
    shipping_address(shopper, country)
    place_order(shopper)

    guest_journey.refresh_from_db()
    assert guest_journey.status not in JourneyStatus.ended_statuses()
    assert CartJourney.objects.get(order__isnull=False).status == JourneyStatus.CONVERTED


def test_a_link_never_changes_the_address_of_the_openers_journey(
    guest_journey, shopper, other_product
):
    """Worst sender: sends their link to a shopper who has a basket and gave their address.
    Before: the sender's basket was merged in and the opener's journey took the sender's
    address, so the opener's next reminder (a link to the opener's basket) went to the
    sender. Now both journeys keep their own address."""
    add_to_basket(shopper, other_product)
    guest_gateway(shopper, "opener@example.com")
    opener = CartJourney.objects.get(email="opener@example.com")

    shopper.get(restore_path(guest_journey))

    opener.refresh_from_db()
    guest_journey.refresh_from_db()
    assert opener.email == "opener@example.com"
    assert guest_journey.email == "guest@example.com"
    assert opener.merged_into is None and guest_journey.merged_into is None


def test_copying_the_same_product_keeps_the_larger_quantity(guest_journey, shopper, product):
    add_to_basket(shopper, product, quantity=3)
    current = CartJourney.objects.exclude(pk=guest_journey.pk).get()

    assert shopper.get(restore_path(guest_journey)).status_code == 303

    basket = Basket.objects.get(pk=current.basket_id)
    assert [(line.product, line.quantity) for line in basket.lines.all()] == [(product, 3)]


def test_a_logged_in_shopper_gets_a_guest_basket_merged_into_theirs(guest_journey, customer):
    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    browser.force_login(customer)

    assert browser.get(restore_path(guest_journey)).status_code == 303

    page = browser.get(reverse("basket:summary"))
    assert page.context["basket"].owner == customer
    assert "Winter coat" in page.content.decode()


def test_the_link_keeps_working_after_a_copy(guest_journey, shopper, other_product):
    path = restore_path(guest_journey)
    add_to_basket(shopper, other_product)
    shopper.get(path)

    other = Client(HTTP_USER_AGENT=BROWSER_UA)
    assert other.get(path).status_code == 303
    assert "Winter coat" in basket_page(other)


def test_the_links_address_is_only_suggested_for_the_visible_gateway_field(guest_journey, shopper):
    from oscar_recovery.outcomes.restore import SUGGESTED_EMAIL_KEY

    shopper.get(restore_path(guest_journey))

    assert shopper.session[SUGGESTED_EMAIL_KEY] == "guest@example.com"
    assert "checkout_data" not in shopper.session or "guest" not in str(
        shopper.session["checkout_data"]
    )


def test_an_email_given_in_this_browser_is_not_overwritten(guest_journey, shopper, other_product):
    add_to_basket(shopper, other_product)
    guest_gateway(shopper, "me@example.com")

    shopper.get(restore_path(guest_journey))

    gateway = shopper.get(reverse("checkout:index"))
    assert gateway.context["form"].initial["username"] == "me@example.com"


# -- account baskets ------------------------------------------------------------------------


def test_an_account_basket_asks_for_login_and_shows_nothing(customer_journey, shopper):
    response = shopper.get(restore_path(customer_journey))

    assert response.status_code == 303
    location = urlsplit(response["Location"])
    assert location.path == reverse("customer:login")
    assert parse_qs(location.query) == {"next": [BASKET_URL]}
    assert settings.OSCAR_BASKET_COOKIE_OPEN not in response.cookies
    assert "Winter coat" not in basket_page(shopper)
    assert "_auth_user_id" not in shopper.session  # never logged in by a link


def test_the_login_page_says_why_it_is_there_in_the_journeys_language(customer_journey, shopper):
    """A link opened in a fresh browser lands on the login page: it says the basket waits
    in the account, in the email's language, rather than leaving the shopper guessing."""
    CartJourney.objects.filter(pk=customer_journey.pk).update(language="ro")
    response = shopper.get(restore_path(customer_journey), follow=True)

    assert response.request["PATH_INFO"] == reverse("customer:login")
    english = "Log in to see your saved basket: it is kept in your account."
    with translation.override("ro"):
        expected = translation.gettext(english)
    assert expected != english
    assert expected in response.content.decode()


def test_logging_in_from_the_link_lands_on_the_basket(customer_journey, shopper):
    login_url = shopper.get(restore_path(customer_journey))["Location"]
    response = shopper.post(
        login_url,
        {
            "login-username": "customer@example.com",
            "login-password": "secret-pass",
            "login-redirect_url": BASKET_URL,
            "login_submit": "1",
        },
    )
    assert response.status_code == 302 and response["Location"] == BASKET_URL
    assert "Winter coat" in basket_page(shopper)


def test_the_account_owner_goes_straight_to_their_basket(customer_journey, customer):
    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    browser.force_login(customer)

    response = browser.get(restore_path(customer_journey))

    assert response.status_code == 303 and response["Location"] == BASKET_URL
    assert "Winter coat" in basket_page(browser)


def test_another_logged_in_shopper_does_not_get_the_basket(customer_journey, other_product):
    from oscar.test.factories import UserFactory

    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    browser.force_login(UserFactory(email="someone-else@example.com"))
    add_to_basket(browser, other_product)

    response = browser.get(restore_path(customer_journey))

    assert response.status_code == 303
    assert urlsplit(response["Location"]).path == reverse("customer:login")
    page = basket_page(browser)
    assert "Winter coat" not in page and "Wool hat" in page
    basket = Basket.objects.get(pk=customer_journey.basket_id)
    assert basket.status == Basket.OPEN and basket.owner == customer_journey.user
    assert basket.lines.count() == 1


# -- clicks ---------------------------------------------------------------------------------


def test_a_click_is_recorded_once_and_on_the_timeline(guest_journey, shopper):
    message = make_message(guest_journey)
    path = restore_path(guest_journey, message)
    first = timezone.now()

    with time_machine.travel(first, tick=False):
        shopper.get(path)
    with time_machine.travel(first + timedelta(hours=1), tick=False):
        assert shopper.get(path).status_code == 303  # still the shopper's basket: still works

    message.refresh_from_db()
    assert message.status == MessageStatus.CLICKED
    assert message.clicked_at == first
    copy = Basket.objects.exclude(pk=guest_journey.basket_id).get()
    events = guest_journey.events.filter(kind=JourneyEventKind.RESTORED)
    assert [event.data for event in events] == [{"message": message.pk, "copied_to": copy.pk}] * 2


def test_a_click_never_moves_a_bounced_message_back(guest_journey, shopper):
    message = make_message(guest_journey, status=MessageStatus.BOUNCED)

    shopper.get(restore_path(guest_journey, message))

    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    assert message.clicked_at is not None


def test_a_click_is_only_recorded_on_the_journeys_own_message(guest_journey, shopper):
    foreign = make_message(make_journey(quiet_for=timedelta(hours=2)))

    assert shopper.get(restore_path(guest_journey, foreign)).status_code == 303

    foreign.refresh_from_db()
    assert foreign.clicked_at is None and foreign.status == MessageStatus.SENT
    event = guest_journey.events.get(kind=JourneyEventKind.RESTORED)
    assert event.data["message"] is None


def test_link_scanners_are_answered_but_record_no_click(guest_journey):
    message = make_message(guest_journey)
    scanner = Client(HTTP_USER_AGENT=SCANNER_UA)

    response = scanner.get(restore_path(guest_journey, message))

    assert response.status_code == 303 and response["Location"] == BASKET_URL
    message.refresh_from_db()
    assert message.clicked_at is None and message.status == MessageStatus.SENT
    assert not guest_journey.events.filter(kind=JourneyEventKind.RESTORED).exists()


# -- links that cannot be honoured ----------------------------------------------------------


def test_a_tampered_link_gets_a_friendly_400(guest_journey, shopper):
    token = restore_token(guest_journey)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = shopper.get(reverse("oscar_recovery:restore", args=[tampered]))

    assert_friendly_page(response, 400, "This link is not valid.")
    assert "Winter coat" not in basket_page(shopper)


def test_an_expired_link_gets_a_friendly_410(guest_journey, shopper):
    with time_machine.travel(timezone.now() - timedelta(days=15)):
        path = restore_path(guest_journey)

    response = shopper.get(path)

    assert_friendly_page(response, 410, "This link has expired.")
    assert "Winter coat" not in basket_page(shopper)


def test_a_link_to_an_ordered_basket_gets_a_friendly_410(guest_journey, guest, country, shopper):
    message = make_message(guest_journey)
    path = restore_path(guest_journey, message)
    shipping_address(guest, country)
    place_order(guest)

    response = shopper.get(path)

    assert_friendly_page(response, 410, "This basket is no longer available.")
    message.refresh_from_db()
    assert message.clicked_at is None


@override_settings(OSCAR_RECOVERY_RESTORE_RATE_LIMIT=(2, timedelta(minutes=1)))
def test_too_many_junk_links_from_one_address_get_a_friendly_429(guest_journey, shopper):
    bad = reverse("oscar_recovery:restore", args=["not-a-token"])
    assert shopper.get(bad).status_code == 400
    assert shopper.get(bad).status_code == 400

    response = shopper.get(bad)

    assert_friendly_page(response, 429, "too many basket links")
    assert 1 <= int(response["Retry-After"]) <= 60
    other_address = Client(HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="192.0.2.7")
    assert other_address.get(bad).status_code == 400


@override_settings(OSCAR_RECOVERY_RESTORE_RATE_LIMIT=(2, timedelta(minutes=1)))
def test_a_flood_of_junk_links_never_locks_out_a_genuine_link(guest_journey, shopper):
    """Worst sender: behind the shop's proxy (or a shared NAT) every shopper has one client
    address; an attacker sends junk tokens until that address is over the limit. Genuine
    links must keep working for everyone sharing it."""
    bad = reverse("oscar_recovery:restore", args=["not-a-token"])
    attacker = Client(HTTP_USER_AGENT=BROWSER_UA)  # same REMOTE_ADDR as the shopper
    for _ in range(5):
        attacker.get(bad)
    assert attacker.get(bad).status_code == 429

    response = shopper.get(restore_path(guest_journey))

    assert response.status_code == 303 and response["Location"] == BASKET_URL
    assert "Winter coat" in basket_page(shopper)


@override_settings(OSCAR_RECOVERY_RESTORE_RATE_LIMIT=(2, timedelta(minutes=1)))
def test_hammering_one_valid_link_exhausts_only_that_link(guest_journey, shopper, other_product):
    """Worst sender: someone with a valid link of their own opens it from many fresh
    browsers (each would get a copy of the basket). Only that link is limited."""
    path = restore_path(guest_journey)
    for _ in range(2):
        assert Client(HTTP_USER_AGENT=BROWSER_UA).get(path).status_code == 303

    assert_friendly_page(Client(HTTP_USER_AGENT=BROWSER_UA).get(path), 429, "too many basket")

    other = Client(HTTP_USER_AGENT=BROWSER_UA)
    add_to_basket(other, other_product)
    guest_gateway(other, "other@example.com")
    other_journey = CartJourney.objects.get(email="other@example.com")
    assert Client(HTTP_USER_AGENT=BROWSER_UA).get(restore_path(other_journey)).status_code == 303


def test_a_failure_while_restoring_is_logged_and_loses_nothing(
    guest_journey, shopper, other_product, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("journey bookkeeping failed")

    add_to_basket(shopper, other_product)
    monkeypatch.setattr(Basket, "add_product", broken)

    with caplog.at_level(logging.ERROR, logger="oscar_recovery"):
        response = shopper.get(restore_path(guest_journey))

    assert response.status_code == 303 and response["Location"] == BASKET_URL
    assert "restoring a basket failed" in caplog.text
    page = basket_page(shopper)
    assert "Wool hat" in page and "Winter coat" not in page
    basket = Basket.objects.get(pk=guest_journey.basket_id)
    assert basket.status == Basket.OPEN and basket.lines.count() == 1  # rolled back whole
