"""The advertising consent: an unticked box recorded with its words and language, a page and
a link to withdraw it, staff in the admin; only a tick is a ads_consent."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from oscar.test.factories import UserFactory

from oscar_recovery.audiences.views import withdrawal_token
from oscar_recovery.constants import Channel, ConsentAction, ConsentSource
from oscar_recovery.models import ConsentEvent
from oscar_recovery.privacy import ads_consent
from tests.support.journeys import add_to_basket

pytestmark = pytest.mark.django_db


def rendered(data=None) -> str:
    request = RequestFactory().post("/", data) if data else RequestFactory().get("/")
    return Template("{% load recovery_consent %}{% recovery_ads_consent_field %}").render(
        Context({"request": request})
    )


def notice_of(html: str) -> str:
    return re.search(rf'name="{ads_consent.NOTICE_FIELD}" value="([^"]+)"', html).group(1)


def ads_events():
    return list(ConsentEvent.objects.filter(channel=Channel.ADS).order_by("pk"))


def gateway(client, html: str, *, tick: bool, email="guest@example.com"):
    data = {"username": email, "options": "anonymous", ads_consent.NOTICE_FIELD: notice_of(html)}
    if tick:
        data[ads_consent.CHOICE_FIELD] = ads_consent.YES
    assert client.post(reverse("checkout:index"), data).status_code == 302


def test_the_box_is_unticked_and_carries_the_words(settings):
    settings.OSCAR_RECOVERY_ADS_CONSENT_TEXT = "Show me ads using my hashed email."
    html = rendered()
    assert 'type="checkbox"' in html and " checked" not in html
    assert "Show me ads using my hashed email." in html
    # A form shown again after an error keeps the shopper's own tick, nothing else.
    again = rendered({ads_consent.CHOICE_FIELD: ads_consent.YES})
    assert " checked" in again


def test_a_tick_at_checkout_is_recorded_with_its_words_and_language(shopper, product):
    with translation.override("fa"):
        html = rendered()
        shown = ads_consent.notice_text()
    add_to_basket(shopper, product)
    gateway(shopper, html, tick=True, email="Guest@Example.com")
    (event,) = ads_events()
    assert (event.address, event.action, event.source) == (
        "guest@example.com",
        ConsentAction.GIVEN,
        ConsentSource.CHECKOUT,
    )
    assert event.wording == shown and event.language == "fa"
    assert ads_consent.is_granted("guest@example.com")


def test_no_tick_or_a_forged_notice_records_nothing(shopper, product):
    add_to_basket(shopper, product)
    gateway(shopper, rendered(), tick=False)
    data = {
        "username": "guest@example.com",
        "options": "anonymous",
        ads_consent.NOTICE_FIELD: "forged",
        ads_consent.CHOICE_FIELD: ads_consent.YES,
    }
    shopper.post(reverse("checkout:index"), data)
    assert ads_events() == []
    assert not ads_consent.is_granted("guest@example.com")


def test_a_customer_gives_and_withdraws_on_the_account_page(client):
    user = UserFactory(email="ada@example.com")
    client.force_login(user)
    url = reverse("oscar_recovery:ads-consent")
    page = client.get(url).content.decode()
    assert "recovery_ads_consent" in page and ads_events() == []

    client.post(url, {ads_consent.NOTICE_FIELD: notice_of(page), ads_consent.CHOICE_FIELD: "yes"})
    assert ads_consent.is_granted("ada@example.com")
    assert ads_events()[-1].source == ConsentSource.ACCOUNT

    client.post(url, {"action": "withdraw"})
    assert not ads_consent.is_granted("ada@example.com")
    assert ads_events()[-1].action == ConsentAction.WITHDRAWN


def test_the_page_needs_a_signed_in_customer(client):
    url = reverse("oscar_recovery:ads-consent")
    assert client.post(url, {"action": "withdraw"}).status_code == 400
    assert ads_events() == []


def test_a_link_withdraws_on_post_only_and_cannot_give_consent(client):
    ads_consent.record(
        "bob@example.com", ads_consent.Decision("Ads?", "en", True), source=ConsentSource.CHECKOUT
    )
    url = reverse("oscar_recovery:ads-consent-link", args=[withdrawal_token("bob@example.com")])
    page = client.get(url)
    assert page.status_code == 200 and ads_consent.is_granted("bob@example.com")
    assert "bob@example.com" not in page.content.decode()  # masked

    client.post(url, {"action": "withdraw"})
    assert not ads_consent.is_granted("bob@example.com")
    html = rendered()
    client.post(url, {ads_consent.NOTICE_FIELD: notice_of(html), ads_consent.CHOICE_FIELD: "yes"})
    assert not ads_consent.is_granted("bob@example.com")


def test_a_forged_link_changes_nothing(client):
    url = reverse("oscar_recovery:ads-consent-link", args=["not-a-token"])
    assert client.post(url, {"action": "withdraw"}).status_code == 400
    assert ads_events() == []


@pytest.mark.parametrize("language", ["ar", "fa", "ko", "ro"])
def test_the_box_and_the_page_speak_every_shipped_language(language, client):
    with translation.override(language):
        html = rendered()
        translated = str(ads_consent.DEFAULT_TEXT)
    assert translated in html and "Google" in html  # the platforms keep their names
    assert "Yes, you may use a scrambled (hashed) copy" not in html
    client.force_login(UserFactory(email="ada@example.com"))
    page = client.get(
        reverse("oscar_recovery:ads-consent"), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    assert "Personalised ads" not in page


def test_a_standing_consent_is_not_recorded_again_at_each_checkout(shopper, product):
    add_to_basket(shopper, product)
    gateway(shopper, rendered(), tick=True)
    gateway(shopper, rendered(), tick=True)
    assert len(ads_events()) == 1
