"""One canonical address: every spelling an ESP delivers to one mailbox is one address."""

from __future__ import annotations

import hashlib
import importlib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation
from oscar.test import factories

from oscar_recovery.constants import (
    ConsentSource,
    JourneyStatus,
    LawfulBasis,
    MessageStatus,
    SkipReason,
)
from oscar_recovery.contacts.addresses import (
    InvalidAddress,
    canonical_email,
    canonical_phone,
    display_email,
    email_sha256,
    phone_sha256,
    safe_canonical_email,
)
from oscar_recovery.contacts.backfill import canonicalise_addresses
from oscar_recovery.models import (
    Campaign,
    CampaignStep,
    CartJourney,
    RecoveryMessage,
    SuppressedAddress,
)
from oscar_recovery.privacy import consent, hashing
from oscar_recovery.privacy.data_rights import erase_email, export_email
from oscar_recovery.privacy.suppression import email_hash, is_suppressed, suppress, suppress_hash
from oscar_recovery.sending import send as sending
from oscar_recovery.sending.send_checks import why_not_send
from oscar_recovery.sending.tokens import unsubscribe_token
from oscar_recovery.utils import redact
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket, guest_gateway

SOFT_HYPHEN = "victim@exam\u00adple.com"
FULL_WIDTH = "victim@\uff45xample.com"


@pytest.mark.parametrize(
    "raw, canonical",
    [
        ("victim@example.com", "victim@example.com"),
        ("  Victim@Example.COM \n", "victim@example.com"),
        ("anna@bücher.de", "anna@xn--bcher-kva.de"),
        ("Anna@BÜCHER.de", "anna@xn--bcher-kva.de"),
        ("anna@xn--bcher-kva.de", "anna@xn--bcher-kva.de"),
        # NFD (u + combining diaeresis) is the same domain as NFC.
        ("anna@bu\u0308cher.de", "anna@xn--bcher-kva.de"),
        # IDNA 2008 keeps ß: straße.de is not strasse.de.
        ("anna@straße.de", "anna@xn--strae-oqa.de"),
        ("anna@пример.рф", "anna@xn--e1afmkfd.xn--p1ai"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
    ],
)
def test_canonical_email(raw, canonical):
    assert canonical_email(raw) == canonical
    assert canonical_email(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    "raw",
    [
        SOFT_HYPHEN,
        FULL_WIDTH,
        "vic\u200btim@example.com",  # zero-width space
        "victim@example\u200d.com",  # zero-width joiner
        "victim@\u202eexample.com",  # right-to-left override
        "victim\u00a0@example.com",  # no-break space inside
        "vic tim@example.com",
        "victim@exa\tmple.com",
        "ﬁnance@example.com",  # ligature fi
        "victim@example.co\u00b2",  # superscript two
        "victim@ex\u0430mple.com",  # Cyrillic a in a Latin label
        "vict\u0456m@example.com",  # Cyrillic i in a Latin local part
        "victim@\u03bfrange.com",  # Greek omicron in a Latin label
        "",
        "   ",
        "not-an-address",
        "victim@",
        "@example.com",
        "victim@@example.com",
        "victim@-example-.com",
    ],
)
def test_refused(raw):
    with pytest.raises(InvalidAddress) as excinfo:
        canonical_email(raw)
    assert str(excinfo.value)  # a message the shopper can read
    assert safe_canonical_email(raw) == ""


def test_sharp_s_is_not_ss():
    """``str.casefold`` would turn ß into ss and merge two mailboxes; nor does the
    address's ß become anything else."""
    assert canonical_email("STRASSE@example.de") == "strasse@example.de"
    assert safe_canonical_email("straße@example.de") != "strasse@example.de"
    assert canonical_email("anna@STRASSE.de") != canonical_email("anna@straße.de")


def test_display_email_shows_the_u_label():
    assert display_email("anna@xn--bcher-kva.de") == "anna@bücher.de"
    assert display_email("victim@example.com") == "victim@example.com"
    assert display_email("") == ""
    # Something that is not a canonical address is shown as it is, never raises.
    assert display_email("broken@xn--") == "broken@xn--"


def test_safe_canonical_email_reads_anything():
    assert safe_canonical_email(None) == ""
    assert safe_canonical_email(42) == ""
    assert safe_canonical_email("Victim@Example.com") == "victim@example.com"


def reason(raw: str) -> str:
    with pytest.raises(InvalidAddress) as excinfo:
        canonical_email(raw)
    return str(excinfo.value)


def test_the_reason_is_in_the_shoppers_language():
    with translation.override("ro"):
        assert reason("not-an-address") == "Introdu o adresă de e-mail validă."
        assert reason(SOFT_HYPHEN).startswith("Această adresă de e-mail conține caractere")


@pytest.mark.parametrize(
    "raw, region, e164",
    [
        ("+44 20 7946 0958", None, "+442079460958"),
        ("+1 (202) 555-0143", None, "+12025550143"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("+442079460958", "FR", "+442079460958"),
    ],
)
def test_canonical_phone(raw, region, e164):
    assert canonical_phone(raw, region) == e164
    assert canonical_phone(e164) == e164


def test_identifier_hashes_are_of_the_canonical_forms():
    expected = hashlib.sha256(b"victim@example.com").hexdigest()
    assert email_sha256(" Victim@Example.COM ") == email_sha256("victim@example.com") == expected
    assert email_sha256(SOFT_HYPHEN) == email_sha256("") == ""
    e164 = hashlib.sha256(b"+442079460958").hexdigest()
    assert phone_sha256("020 7946 0958", "GB") == phone_sha256("+44 20 7946 0958") == e164
    assert phone_sha256("12", "GB") == ""


def test_phone_region_default_is_the_setting(settings):
    with pytest.raises(InvalidAddress):
        canonical_phone("020 7946 0958")  # no region: must be +international
    settings.OSCAR_RECOVERY_PHONE_REGION = "GB"
    assert canonical_phone("020 7946 0958") == "+442079460958"


@pytest.mark.parametrize(
    "raw", ["", "12", "+44 20", "not a number", "+999 123 456", "+44 20 7946 0958 0958 0958"]
)
def test_invalid_phone_refused(raw):
    with pytest.raises(InvalidAddress):
        canonical_phone(raw, "GB")


# -- one address everywhere -----------------------------------------------------------------
#
# The worst sender knows the victim unsubscribed (or was erased) and types the victim's
# address again under another spelling the ESP delivers to the same mailbox: upper case, the
# domain's U-label or A-label, or an invisible or look-alike character. Every spelling is the
# victim: it is refused, or it is the one canonical address the suppression list covers.

IDN = "anna@bücher.de"
IDN_CANONICAL = "anna@xn--bcher-kva.de"


@pytest.fixture
def step(db):
    campaign = Campaign.objects.create(name="Spellings", is_active=True, holdout_percent=0)
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Your basket"
    )


@pytest.fixture
def soft_opt_in(settings):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.SOFT_OPT_IN


@pytest.fixture
def queued(step, product):
    """A message due to ``email`` (as a journey row holds it), for a basket with a product."""

    def queue(email: str, **fields) -> RecoveryMessage:
        journey = make_journey(
            quiet_for=timedelta(hours=2),
            status=JourneyStatus.ABANDONED,
            email=email,
            lines=[{"product_id": product.pk, "quantity": 1}],
            **fields,
        )
        return RecoveryMessage.objects.create(journey=journey, step=step, to_email=journey.email)

    return queue


def sent_to() -> list[list[str]]:
    return [message.to for message in mail.outbox]


@pytest.mark.parametrize("spelling", [SOFT_HYPHEN, FULL_WIDTH])
def test_invisible_or_look_alike_spellings_are_not_captured_at_the_gateway(
    shopper, product, spelling
):
    add_to_basket(shopper, product)
    guest_gateway(shopper, spelling)
    assert CartJourney.objects.get().email == ""


def test_the_gateway_stores_the_canonical_address(shopper, product):
    add_to_basket(shopper, product)
    guest_gateway(shopper, " Anna@BÜCHER.de ")
    assert CartJourney.objects.get().email == IDN_CANONICAL


@pytest.mark.parametrize(
    "account_email, stored",
    [(SOFT_HYPHEN, ""), ("Customer@Bücher.de", "customer@xn--bcher-kva.de")],
)
def test_an_account_address_is_stored_canonical_or_not_at_all(
    customer, shopper, product, account_email, stored
):
    customer.email = account_email
    customer.save()
    shopper.force_login(customer)
    add_to_basket(shopper, product)
    assert CartJourney.objects.get().email == stored


def test_an_order_address_is_stored_canonical_or_not_at_all(shopper, product):
    from oscar_recovery.journeys.writes import end_with_order

    add_to_basket(shopper, product)
    journey = CartJourney.objects.get()
    order = factories.create_order(guest_email=SOFT_HYPHEN)
    order.basket_id = journey.basket_id  # the order of the journey's basket
    end_with_order(order)
    journey.refresh_from_db()
    assert journey.email == "" and journey.status == JourneyStatus.CONVERTED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "suppressed, spelling",
    [
        ("victim@example.com", "Victim@Example.COM"),
        (IDN, IDN_CANONICAL),
        (IDN_CANONICAL, "ANNA@Bücher.DE"),
        ("anna@xn--bcher-kva.de", "anna@bu\u0308cher.de"),
    ],
)
def test_a_suppression_covers_every_spelling(suppressed, spelling):
    suppress(suppressed)
    assert is_suppressed(spelling)
    assert SuppressedAddress.objects.get().email_hash == email_hash(spelling)


@pytest.mark.django_db
def test_suppressions_hashed_before_canonical_addresses_still_hold(settings):
    """Entries written by earlier versions hashed ``strip().lower()`` of what was typed."""
    legacy = hashing._hash("Anna@Bücher.de".strip().lower(), settings.SECRET_KEY)
    suppress_hash(legacy)
    assert is_suppressed(IDN_CANONICAL)
    assert is_suppressed("anna@bücher.de")


@pytest.mark.parametrize(
    "spelling", ["Victim@Example.COM", " victim@EXAMPLE.com", SOFT_HYPHEN, FULL_WIDTH]
)
def test_an_unsubscribed_address_is_not_emailed_under_any_spelling(
    soft_opt_in, queued, spelling, client
):
    client.post(
        reverse("oscar_recovery:unsubscribe", args=[unsubscribe_token("victim@example.com")])
    )
    message = queued(spelling)  # an old row may hold a spelling capture now refuses
    sending.send_batch([message.pk])
    assert sent_to() == []
    assert RecoveryMessage.objects.get(pk=message.pk).status == MessageStatus.SKIPPED


@pytest.mark.django_db
def test_one_unsubscribe_link_covers_every_spelling(client):
    client.post(reverse("oscar_recovery:unsubscribe", args=[unsubscribe_token(IDN)]))
    assert is_suppressed(IDN_CANONICAL)
    assert is_suppressed("Anna@XN--BCHER-KVA.de")


@pytest.mark.parametrize(
    "first_spelling, second_spelling, canonical",
    [
        ("victim@example.com", "Victim@Example.COM", "victim@example.com"),
        (IDN, "Anna@XN--BCHER-KVA.DE", IDN_CANONICAL),
    ],
)
def test_the_cooldown_counts_every_spelling(
    soft_opt_in, settings, queued, first_spelling, second_spelling, canonical
):
    settings.OSCAR_RECOVERY_ADDRESS_COOLDOWN = timedelta(days=1)
    first = queued(first_spelling, visitor_id="one")
    sending.send_batch([first.pk])
    second = queued(second_spelling, visitor_id="two")
    sending.send_batch([second.pk])
    assert sent_to() == [[canonical]]
    assert RecoveryMessage.objects.get(pk=second.pk).skip_reason == SkipReason.COOLDOWN


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spellings, canonical",
    [
        (["victim@example.com", "Victim@Example.COM"], "victim@example.com"),
        ([IDN, "ANNA@xn--bcher-kva.de", "Anna@Bu\u0308cher.de"], IDN_CANONICAL),
    ],
)
def test_one_confirmation_per_address_and_window_whatever_the_spelling(
    settings, django_capture_on_commit_callbacks, spellings, canonical
):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for n, spelling in enumerate(spellings):
            journey = make_journey(
                quiet_for=timedelta(hours=2), email=spelling, visitor_id=f"stranger-{n}"
            )
            consent.record_consent(
                journey, text="Remind me", given=True, source=ConsentSource.PROMPT
            )
    assert sent_to() == [[canonical]]
    cache.clear()


def test_sharp_s_and_ss_are_two_mailboxes_in_a_batch(soft_opt_in, settings, queued):
    """Python's ``"ß".upper()`` is ``"SS"``: the batch once took these for one address and
    kept the second back under the cooldown."""
    settings.OSCAR_RECOVERY_ADDRESS_COOLDOWN = timedelta(days=1)
    old = queued("straße@example.de", visitor_id="one")  # a row from before
    plain = queued("strasse@example.de", visitor_id="two")
    sending.send_batch([old.pk, plain.pk])
    assert sent_to() == [["strasse@example.de"]]


def test_an_order_under_another_spelling_stops_the_reminder(soft_opt_in, queued):
    message = queued(IDN)
    factories.create_order(guest_email="Anna@BÜCHER.de")
    message = RecoveryMessage.objects.select_related("journey").get(pk=message.pk)
    assert why_not_send(message, timezone.now()) == SkipReason.ORDER_PLACED
    sending.send_batch([message.pk])
    assert sent_to() == []


def test_an_idn_address_end_to_end(soft_opt_in, step, queued, shopper, product, client):
    add_to_basket(shopper, product)
    guest_gateway(shopper, "Anna@Bücher.de")
    journey = CartJourney.objects.get()
    assert journey.email == IDN_CANONICAL
    CartJourney.objects.filter(pk=journey.pk).update(
        status=JourneyStatus.ABANDONED, abandoned_at=timezone.now()
    )
    message = RecoveryMessage.objects.create(journey=journey, step=step, to_email=journey.email)
    sending.send_batch([message.pk])
    assert sent_to() == [[IDN_CANONICAL]]
    link = re.search(r"https?://\S+?(/recovery/unsubscribe/[^/\s]+/)", mail.outbox[0].body)
    assert client.post(link.group(1)).status_code == 200
    assert is_suppressed(IDN)
    again = queued("ANNA@bücher.de", visitor_id="another-browser")
    sending.send_batch([again.pk])
    assert len(mail.outbox) == 1


def test_export_and_erase_by_any_spelling_find_the_canonical_rows(step):
    journey = make_journey(quiet_for=timedelta(hours=2), email=IDN)
    assert [j["id"] for j in export_email("ANNA@xn--bcher-kva.de")["journeys"]] == [journey.pk]
    erase_email("Anna@BÜCHER.de")
    assert not CartJourney.objects.filter(pk=journey.pk).exists()
    assert is_suppressed(IDN_CANONICAL)


def test_staff_find_journeys_in_the_admin_by_any_spelling(admin_client):
    journey = make_journey(quiet_for=timedelta(hours=1), email=IDN)
    make_journey(quiet_for=timedelta(hours=1), email="other@example.com")
    changelist = reverse("admin:oscar_recovery_cartjourney_changelist")
    for spelling in ("Anna@BÜCHER.de", IDN_CANONICAL):
        response = admin_client.get(changelist, {"q": spelling})
        assert [j.pk for j in response.context["cl"].result_list] == [journey.pk]


@pytest.mark.parametrize(
    "text",
    [
        f"550 unknown user {SOFT_HYPHEN}",
        f"550 unknown user {FULL_WIDTH}",
        "550 unknown user anna@bücher.de",
        "550 unknown user victim\uff20example\uff0ecom",
        "550 unknown user victim@example\u3002com",
    ],
)
def test_log_redaction_covers_every_spelling(text):
    assert "victim" not in redact(text) and "anna" not in redact(text)


# -- the data migration ---------------------------------------------------------------------


def stored_as_typed(journey: CartJourney, email: str) -> None:
    """Write ``email`` as an earlier version did, past the field's canonical form."""
    table = connection.ops.quote_name(CartJourney._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET email = %s WHERE id = %s", [email, journey.pk])


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_old_spellings_canonical_and_keeps_the_rest():
    spellings = {
        "Victim@Example.COM ": "victim@example.com",
        "Anna@Bücher.de": IDN_CANONICAL,
        "plain@example.com": "plain@example.com",
        SOFT_HYPHEN: SOFT_HYPHEN,  # refused: kept as it was
        FULL_WIDTH: FULL_WIDTH,
        "": "",
    }
    journeys = {}
    for typed in spellings:
        journey = make_journey(quiet_for=timedelta(hours=1), email="placeholder@example.com")
        stored_as_typed(journey, typed)
        journeys[typed] = journey
    seen = []

    done = canonicalise_addresses(
        CartJourney, "email", batch_size=2, on_batch=lambda last, s: seen.append(last)
    )

    for typed, expected in spellings.items():
        assert (
            CartJourney.objects.values_list("email", flat=True).get(pk=journeys[typed].pk)
            == expected
        )
    assert done.rows == 5 and done.changed == 2
    assert sorted(done.refused) == sorted([journeys[SOFT_HYPHEN].pk, journeys[FULL_WIDTH].pk])
    assert done.batches == len(seen) >= 3  # one transaction per id range
    # Kept spellings match nothing new, and are never emailed.
    assert not CartJourney.objects.for_email("victim@example.com").filter(
        pk=journeys[SOFT_HYPHEN].pk
    )
    assert CartJourney.objects.get(pk=journeys[SOFT_HYPHEN].pk).why_not_contactable() == (
        SkipReason.NO_EMAIL
    )
    # A second run has nothing left to do.
    assert canonicalise_addresses(CartJourney, "email").changed == 0


@pytest.mark.django_db(transaction=True)
def test_the_migration_step_covers_journeys_and_messages(step):
    migration = importlib.import_module("oscar_recovery.migrations.0021_canonical_addresses")
    journey = make_journey(quiet_for=timedelta(hours=1))
    message = RecoveryMessage.objects.create(journey=journey, step=step)
    stored_as_typed(journey, "Anna@Bücher.de")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE oscar_recovery_recoverymessage SET to_email = %s WHERE id = %s",
            ["ANNA@BÜCHER.DE", message.pk],
        )
    migration.canonicalise(django_apps, SimpleNamespace(connection=connection))
    assert CartJourney.objects.values_list("email", flat=True).get() == IDN_CANONICAL
    assert RecoveryMessage.objects.values_list("to_email", flat=True).get() == IDN_CANONICAL
