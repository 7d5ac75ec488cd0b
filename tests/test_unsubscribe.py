"""One-click unsubscribe (RFC 8058): GET confirms, POST suppresses, nothing else."""

import pytest
from django.test import Client
from django.urls import reverse

from oscar_recovery.privacy.suppression import is_suppressed
from oscar_recovery.sending.tokens import unsubscribe_token

pytestmark = pytest.mark.django_db


def url_for(email: str) -> str:
    return reverse("oscar_recovery:unsubscribe", kwargs={"token": unsubscribe_token(email)})


def test_get_shows_a_confirmation_and_changes_nothing(client):
    response = client.get(url_for("shopper@example.com"))
    assert response.status_code == 200
    assert b"Unsubscribe from basket reminders?" in response.content
    assert response["Referrer-Policy"] == "strict-origin"
    assert not is_suppressed("shopper@example.com")


def test_one_click_post_without_cookies_or_csrf_suppresses_at_once():
    mail_client = Client(enforce_csrf_checks=True)
    response = mail_client.post(
        url_for("shopper@example.com"),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200  # never a redirect
    assert b"You are unsubscribed" in response.content
    assert is_suppressed("shopper@example.com")


def test_unsubscribing_twice_is_harmless(client):
    url = url_for("shopper@example.com")
    assert client.post(url).status_code == 200
    assert client.post(url).status_code == 200
    assert is_suppressed("shopper@example.com")


def test_a_tampered_link_gets_a_friendly_400_and_changes_nothing(client):
    url = url_for("shopper@example.com")[:-3] + "xx/"
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 400
        assert b"could not read this unsubscribe link" in response.content
    assert not is_suppressed("shopper@example.com")


def test_the_page_speaks_the_emails_language_and_names_the_address_masked(client):
    """The language and the masked address travel in the signed link, so the page is right
    for whoever opens it (no cookie, any browser language); the whole address never shows."""
    token = unsubscribe_token("jane.doe@example.com", language="ar")
    url = reverse("oscar_recovery:unsubscribe", kwargs={"token": token})
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response["Content-Language"] == "ar"
    assert "هل تريد إلغاء الاشتراك في تذكيرات السلة؟" in body
    assert "j***@example.com" in body and "jane.doe" not in body
    done = client.post(url).content.decode()
    assert "j***@example.com" in done and "jane.doe" not in done


def test_a_language_the_shop_does_not_offer_is_ignored(client):
    token = unsubscribe_token("jane@example.com", language="xx-evil")
    response = client.get(reverse("oscar_recovery:unsubscribe", kwargs={"token": token}))
    assert response.status_code == 200
    assert response["Content-Language"] != "xx-evil"


def test_mask_email_keeps_one_character_and_the_domain():
    from oscar_recovery.utils import mask_email

    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_email("not an address") == ""
    assert mask_email("") == ""
