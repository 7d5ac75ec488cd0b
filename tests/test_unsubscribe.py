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
    assert response["Referrer-Policy"] == "no-referrer"
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
