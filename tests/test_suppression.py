"""The suppression list keeps a keyed hash, never the address, and survives key rotation."""

import pytest

from oscar_recovery.constants import SuppressionReason
from oscar_recovery.models import SuppressedAddress
from oscar_recovery.privacy.suppression import email_hash, is_suppressed, suppress, unsuppress

pytestmark = pytest.mark.django_db


def test_a_suppressed_address_is_found_whatever_its_case_or_spacing():
    suppress("Shopper@Example.com", SuppressionReason.UNSUBSCRIBED)
    assert is_suppressed(" shopper@example.COM ")
    assert not is_suppressed("other@example.com")
    assert not is_suppressed("")


def test_only_a_hash_is_stored():
    suppress("shopper@example.com")
    stored = SuppressedAddress.objects.get()
    assert "shopper" not in stored.email_hash and "example" not in stored.email_hash
    assert len(stored.email_hash) == 64
    assert stored.email_hash == email_hash("shopper@example.com")


def test_suppressing_twice_keeps_one_entry_and_the_first_reason():
    suppress("shopper@example.com", SuppressionReason.BOUNCED)
    again = suppress("SHOPPER@example.com", SuppressionReason.UNSUBSCRIBED)
    assert SuppressedAddress.objects.count() == 1
    assert again.reason == SuppressionReason.BOUNCED


def test_rotating_the_secret_key_never_forgets_a_suppression(settings):
    suppress("shopper@example.com")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key"
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert is_suppressed("shopper@example.com")
    assert unsuppress("shopper@example.com") == 1
    assert not is_suppressed("shopper@example.com")


def test_the_hash_depends_on_the_secret_key(settings):
    before = email_hash("shopper@example.com")
    settings.SECRET_KEY = "another-secret"
    assert email_hash("shopper@example.com") != before


def test_staff_find_a_suppressed_address_by_searching_for_it(admin_client):
    from django.urls import reverse

    suppress("findme@example.com")
    suppress("other@example.com")
    url = reverse("admin:oscar_recovery_suppressedaddress_changelist")
    response = admin_client.get(url, {"q": "FindMe@example.com"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert response.context["cl"].result_list[0].email_hash == email_hash("findme@example.com")
