"""Lawful basis and consent: what the shopper is shown, what is stored, what may be sent."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation
from oscar.test.factories import BasketFactory

from oscar_recovery.campaigns.dispatch import dispatch_due
from oscar_recovery.campaigns.enrolment import enrol_journeys
from oscar_recovery.checks import check_privacy_settings
from oscar_recovery.constants import (
    ConsentSource,
    EmailSource,
    JourneyStatus,
    LawfulBasis,
    MessageStatus,
    SkipReason,
    SuppressionReason,
)
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    CartJourney,
    RecoveryMessage,
    SuppressedAddress,
)
from oscar_recovery.privacy import consent
from oscar_recovery.privacy.suppression import is_suppressed, suppress
from oscar_recovery.sending import send as sending
from oscar_recovery.sending.send_checks import why_not_send
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket

pytestmark = pytest.mark.django_db


@pytest.fixture
def step():
    campaign = Campaign.objects.create(name="Default", is_active=True, holdout_percent=0)
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Still thinking?"
    )


def due_message(step, **journey_fields) -> RecoveryMessage:
    journey_fields.setdefault("basket", BasketFactory())
    journey = make_journey(
        quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED, **journey_fields
    )
    CampaignEnrolment.objects.create(journey=journey, campaign=step.campaign, next_step=step)
    return RecoveryMessage.objects.create(journey=journey, step=step, to_email=journey.email)


def reason(message):
    message = RecoveryMessage.objects.select_related("journey__enrolment").get(pk=message.pk)
    return why_not_send(message, timezone.now())


# -- each basis decides send or skip ------------------------------------------------------

NEVER_ASKED = {}
AGREED = {"given": True, "basis": LawfulBasis.CONSENT}
NOT_OPTED_OUT = {"given": True, "basis": LawfulBasis.SOFT_OPT_IN}
UNTICKED = {"given": False, "basis": LawfulBasis.CONSENT}


@pytest.mark.parametrize(
    ("basis", "source", "decision", "expected"),
    [
        # soft opt-in: checkout and account emails qualify; prompts need the notice
        (LawfulBasis.SOFT_OPT_IN, EmailSource.CHECKOUT, NEVER_ASKED, None),
        (LawfulBasis.SOFT_OPT_IN, EmailSource.ACCOUNT, NEVER_ASKED, None),
        (LawfulBasis.SOFT_OPT_IN, EmailSource.CAPTURED, NEVER_ASKED, SkipReason.NO_NOTICE),
        (LawfulBasis.SOFT_OPT_IN, EmailSource.CAPTURED, NOT_OPTED_OUT, None),
        # consent: only an actively given consent under the consent basis
        (LawfulBasis.CONSENT, EmailSource.CHECKOUT, NEVER_ASKED, SkipReason.NO_CONSENT),
        (LawfulBasis.CONSENT, EmailSource.ACCOUNT, NEVER_ASKED, SkipReason.NO_CONSENT),
        (LawfulBasis.CONSENT, EmailSource.CHECKOUT, NOT_OPTED_OUT, SkipReason.NO_CONSENT),
        (LawfulBasis.CONSENT, EmailSource.CHECKOUT, UNTICKED, SkipReason.CONSENT_REFUSED),
        (LawfulBasis.CONSENT, EmailSource.CAPTURED, AGREED, None),
        # CAN-SPAM: anything but an opt-out
        (LawfulBasis.US_CANSPAM, EmailSource.CHECKOUT, NEVER_ASKED, None),
        (LawfulBasis.US_CANSPAM, EmailSource.CAPTURED, NEVER_ASKED, None),
    ],
)
def test_each_lawful_basis_decides_send_or_skip(settings, step, basis, source, decision, expected):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = basis
    # Single opt-in; test_double_opt_in.py holds back the consent until it is confirmed.
    settings.OSCAR_RECOVERY_DOUBLE_OPT_IN = False
    message = due_message(step, email_source=source)
    if decision:
        consent.record_consent(
            message.journey, text="Shown words", source=ConsentSource.CHECKOUT, **decision
        )
    assert reason(message) == expected


@pytest.mark.parametrize("basis", LawfulBasis.values)
def test_no_thanks_is_honoured_under_every_basis(settings, step, basis):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = basis
    message = due_message(step, email_source=EmailSource.CHECKOUT)
    consent.record_refusal(message.journey, text="No thanks", source=ConsentSource.PROMPT)
    # Suppressed at once: every campaign, journey and send after this one skips.
    assert reason(message) == SkipReason.SUPPRESSED
    assert SuppressedAddress.objects.get().reason == SuppressionReason.DECLINED


def test_no_thanks_said_before_the_email_was_known_covers_later_journeys(step):
    earlier = make_journey(quiet_for=timedelta(days=3), email="", visitor_id="v1")
    consent.record_refusal(earlier, text="No thanks", source=ConsentSource.PROMPT)
    message = due_message(step, visitor_id="v1", email="later@example.com")
    assert reason(message) == SkipReason.CONSENT_REFUSED


def test_no_thanks_before_the_email_suppresses_the_address_once_it_is_given(shopper, product):
    add_to_basket(shopper, product)
    journey = CartJourney.objects.get()
    consent.record_refusal(journey, text="No thanks", source=ConsentSource.PROMPT)
    assert not SuppressedAddress.objects.exists()
    shopper.post(reverse("checkout:index"), {"username": "g@example.com", "options": "anonymous"})
    assert is_suppressed("g@example.com")


def test_a_later_verified_consent_lifts_a_no_thanks_but_never_an_unsubscribe(settings, step):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    message = due_message(step, email="changed@example.com")
    journey = message.journey
    consent.record_refusal(journey, text="No thanks", source=ConsentSource.PROMPT)
    consent.record_consent(journey, text="Yes please", given=True, source=ConsentSource.STAFF)
    assert reason(message) is None

    suppress("changed@example.com", SuppressionReason.UNSUBSCRIBED)
    other = due_message(step, email="gone@example.com")
    suppress("gone@example.com", SuppressionReason.UNSUBSCRIBED)
    consent.record_consent(other.journey, text="Yes", given=True, source=ConsentSource.PROMPT)
    assert reason(other) == SkipReason.SUPPRESSED


def test_a_shop_with_its_own_consent_records_uses_the_adapter(settings, step):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    settings.OSCAR_RECOVERY_ADAPTER = "tests.test_consent.ConsentOnAccount"
    assert reason(due_message(step, email="shopper@example.com")) is None


class ConsentOnAccount(consent.get_adapter().__class__):
    def has_prior_consent(self, journey) -> bool:
        return journey.email == "shopper@example.com"


def test_a_skipped_send_records_the_lawful_reason(settings, step, shopper, product):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    add_to_basket(shopper, product)
    shopper.post(reverse("checkout:index"), {"username": "g@example.com", "options": "anonymous"})
    journey = CartJourney.objects.get()
    ago = timezone.now() - timedelta(hours=2)
    CartJourney.objects.filter(pk=journey.pk).update(
        status=JourneyStatus.ABANDONED, abandoned_at=ago, last_activity_at=ago
    )
    enrol_journeys([journey.pk])
    (message_id,) = dispatch_due()
    assert sending.send_message(message_id) == MessageStatus.SKIPPED
    assert RecoveryMessage.objects.get().skip_reason == SkipReason.NO_CONSENT
    assert mail.outbox == []


# -- the checkout gateway -----------------------------------------------------------------


def rendered_field(path="/checkout/", data=None) -> str:
    request = RequestFactory().post(path, data or {}) if data else RequestFactory().get(path)
    return Template("{% load recovery_consent %}{% recovery_consent_field %}").render(
        Context({"request": request})
    )


def hidden_notice(html: str) -> str:
    return re.search(rf'name="{consent.NOTICE_FIELD}" value="([^"]+)"', html).group(1)


def gateway(client, html: str, *, tick: bool, email="guest@example.com"):
    data = {"username": email, "options": "anonymous", consent.NOTICE_FIELD: hidden_notice(html)}
    if tick:
        data[consent.CHOICE_FIELD] = re.search(r'value="(yes|no)"', html).group(1)
    response = client.post(reverse("checkout:index"), data)
    assert response.status_code == 302
    return CartJourney.objects.get()


def test_soft_opt_in_shows_the_notice_and_an_unticked_opt_out(shopper, product):
    html = rendered_field()
    assert str(consent.DEFAULT_TEXTS[LawfulBasis.SOFT_OPT_IN]) in html
    assert str(consent.DEFAULT_OPT_OUT_TEXT) in html
    assert " checked" not in html

    add_to_basket(shopper, product)
    before = timezone.now()
    journey = gateway(shopper, html, tick=False)
    assert journey.consent_given is True
    assert journey.consent_basis == LawfulBasis.SOFT_OPT_IN
    assert journey.consent_source == ConsentSource.CHECKOUT
    assert journey.consent_text == consent.notice().text_shown
    assert journey.consent_at >= before
    assert not is_suppressed("guest@example.com")


def test_soft_opt_in_no_thanks_at_the_gateway_suppresses(shopper, product):
    add_to_basket(shopper, product)
    journey = gateway(shopper, rendered_field(), tick=True)
    assert journey.consent_given is False
    assert is_suppressed("guest@example.com")


def test_consent_mode_shows_an_unticked_box_and_stores_the_exact_text(settings, shopper, product):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    settings.OSCAR_RECOVERY_CONSENT_TEXT = "Remind me of my basket by email."
    html = rendered_field()
    assert 'type="checkbox"' in html and " checked" not in html
    assert "Remind me of my basket by email." in html

    add_to_basket(shopper, product)
    journey = gateway(shopper, html, tick=True)
    assert journey.consent_given is True
    assert journey.consent_basis == LawfulBasis.CONSENT
    assert journey.consent_text == "Remind me of my basket by email."


def test_consent_mode_without_the_tick_records_no_consent(settings, shopper, product):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    add_to_basket(shopper, product)
    journey = gateway(shopper, rendered_field(), tick=False)
    assert journey.consent_given is False
    assert not is_suppressed("guest@example.com")  # no consent is not an opt-out


def test_the_text_shown_is_stored_in_the_shoppers_language(settings, shopper, product):
    with translation.override("de"):
        html = rendered_field()
        shown = consent.notice().text_shown
    add_to_basket(shopper, product)
    assert gateway(shopper, html, tick=False).consent_text == shown


def test_a_tampered_notice_records_nothing(shopper, product):
    add_to_basket(shopper, product)
    data = {
        "username": "guest@example.com",
        "options": "anonymous",
        consent.NOTICE_FIELD: "forged",
        consent.CHOICE_FIELD: "yes",
    }
    assert shopper.post(reverse("checkout:index"), data).status_code == 302
    journey = CartJourney.objects.get()
    assert journey.email == "guest@example.com"
    assert journey.consent_at is None


def test_a_form_shown_again_keeps_the_shoppers_tick():
    html = rendered_field(data={consent.CHOICE_FIELD: "no"})
    assert " checked" in html


def test_the_sandbox_gateway_renders_the_consent_field(settings, shopper, product):
    from pathlib import Path

    sandbox_templates = Path(__file__).resolve().parent.parent / "sandbox" / "templates"
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [sandbox_templates]}]
    add_to_basket(shopper, product)
    page = shopper.get(reverse("checkout:index")).content.decode()
    assert consent.NOTICE_FIELD in page and str(consent.DEFAULT_OPT_OUT_TEXT) in page


# -- owner's choice -----------------------------------------------------------------------


def test_an_owner_who_never_chose_a_basis_is_reminded(settings):
    del settings.OSCAR_RECOVERY_LAWFUL_BASIS
    assert "oscar_recovery.W003" in [p.id for p in check_privacy_settings(None)]
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    assert check_privacy_settings(None) == []
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "opt_out"
    assert "oscar_recovery.E009" in [p.id for p in check_privacy_settings(None)]


def test_retention_shorter_than_expiry_is_an_error(settings):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "consent"
    settings.OSCAR_RECOVERY_RETENTION = timedelta(days=7)
    assert "oscar_recovery.E010" in [p.id for p in check_privacy_settings(None)]


def test_a_guests_no_thanks_goes_along_when_the_basket_merges_on_login(
    db, product, other_product, customer
):
    from django.test import Client

    from tests.conftest import BROWSER_UA
    from tests.support.journeys import add_to_basket as add
    from tests.test_capture_identity import login

    earlier_device = Client(HTTP_USER_AGENT=BROWSER_UA)
    earlier_device.force_login(customer)
    add(earlier_device, other_product)
    customers = CartJourney.objects.get()

    guest_browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    add(guest_browser, product)
    guest = CartJourney.objects.exclude(pk=customers.pk).get()
    consent.record_refusal(guest, text="No thanks", source=ConsentSource.PROMPT)

    login(guest_browser, customer)

    customers.refresh_from_db()
    assert CartJourney.objects.get(pk=guest.pk).status == JourneyStatus.MERGED
    assert customers.consent_given is False and customers.consent_text == "No thanks"
    assert consent.why_not_contact(customers) == SkipReason.CONSENT_REFUSED
    assert is_suppressed("customer@example.com")


def test_a_strangers_consent_never_lifts_the_owners_no_thanks(settings, step):
    """Worst sender: under ``consent`` posts ``{"email": victim, "consent": true}`` from
    their own browser. Before: the victim's "declined" suppression was deleted and the
    stranger's consent became the newest decision for every journey of the address, so the
    basket the victim refused got emailed. Now the victim's refusal and suppression stand."""
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    victims = due_message(step, email="victim@example.com", visitor_id="victim")
    consent.record_refusal(victims.journey, text="No thanks", source=ConsentSource.CHECKOUT)
    strangers = make_journey(
        quiet_for=timedelta(hours=2), email="VICTIM@example.com", visitor_id="stranger"
    )

    consent.record_consent(strangers, text="Yes", given=True, source=ConsentSource.PROMPT)

    assert is_suppressed("victim@example.com")
    assert reason(victims) == SkipReason.SUPPRESSED
    assert consent.latest_decision(victims.journey)["consent_given"] is False


def test_an_unverified_consent_covers_only_its_own_journey(settings, step):
    """Worst sender: gives consent with someone else's address, hoping it carries over to
    the owner's own journeys. It covers the journey it was given on and nothing else: not
    even a later basket of the same browser, which may be typed with another address."""
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    settings.OSCAR_RECOVERY_DOUBLE_OPT_IN = False  # with it, not even its own journey
    owners = due_message(step, email="owner@example.com", visitor_id="owner")
    strangers = make_journey(
        quiet_for=timedelta(hours=2), email="owner@example.com", visitor_id="stranger"
    )

    consent.record_consent(strangers, text="Yes", given=True, source=ConsentSource.PROMPT)

    assert reason(owners) == SkipReason.NO_CONSENT
    assert consent.why_not_contact(strangers) is None
    same_browser = make_journey(quiet_for=timedelta(hours=2), email="", visitor_id="stranger")
    assert consent.latest_decision(same_browser) is None


def test_a_verified_consent_covers_the_address(settings, step):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    owners = due_message(step, email="owner@example.com", visitor_id="owner")
    other = make_journey(
        quiet_for=timedelta(hours=2), email="owner@example.com", visitor_id="elsewhere"
    )

    consent.record_consent(other, text="Yes", given=True, source=ConsentSource.STAFF)

    assert consent.why_not_contact(owners.journey) is None


# -- A consent belongs to the address it was given with --------------------------------------


def confirm(journey):
    """What the double opt-in link does once the address's owner clicks it."""
    consent.record_consent(journey, text="Yes", given=True, source=ConsentSource.CONFIRMED)


def test_retyping_another_address_at_the_gateway_never_carries_a_confirmed_consent(
    settings, shopper, product, step
):
    """Worst sender: confirms their own address once, then posts the gateway again with a
    victim's address and no consent field, hoping the journey's "confirmed" consent covers
    the victim. It belongs to the confirmed address only."""
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    add_to_basket(shopper, product)
    journey = gateway(shopper, rendered_field(), tick=True, email="me@example.com")
    confirm(journey)
    journey.refresh_from_db()
    assert consent.why_not_contact(journey) is None  # the sender's own address: fine

    response = shopper.post(
        reverse("checkout:index"), {"username": "victim@example.com", "options": "anonymous"}
    )
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.email == "victim@example.com"
    assert journey.consent_source == ""  # dropped with the address it was given with
    assert consent.why_not_contact(journey) == SkipReason.NO_CONSENT
    # And the confirmed address keeps its consent: it was never moved.
    assert consent.address_confirmed("me@example.com")
    assert not consent.address_confirmed("victim@example.com")


def test_a_browsers_consent_never_covers_its_later_baskets_with_another_address(settings, step):
    """Decisions are shared by browser only when they refuse: a later basket of the same
    browser typed with a victim's address gets nothing from the sender's consent."""
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    settings.OSCAR_RECOVERY_DOUBLE_OPT_IN = False
    first = make_journey(quiet_for=timedelta(hours=3), email="me@example.com", visitor_id="v1")
    confirm(first)
    later = due_message(step, email="victim@example.com", visitor_id="v1")
    assert reason(later) == SkipReason.NO_CONSENT
    # A refusal of the browser still covers it: it can only stop email.
    consent.record_refusal(first, text="No", source=ConsentSource.PROMPT)
    assert consent.latest_decision(later.journey)["consent_given"] is False


def test_every_decision_with_an_address_is_in_the_ledger(settings, shopper, product):
    from oscar_recovery.constants import Channel, ConsentAction, ConsentStatus
    from oscar_recovery.models import ConsentEvent
    from oscar_recovery.privacy import ledger

    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    add_to_basket(shopper, product)
    html = rendered_field()
    journey = gateway(shopper, html, tick=True, email="me@example.com")
    (given,) = ConsentEvent.objects.all()
    assert (given.channel, given.address, given.action) == (
        Channel.EMAIL,
        "me@example.com",
        ConsentAction.GIVEN,
    )
    assert given.wording == journey.consent_text and given.journey_id == journey.pk
    assert ledger.email_state("me@example.com").status == ConsentStatus.GIVEN
    confirm(journey)
    assert ledger.email_state("me@example.com").status == ConsentStatus.CONFIRMED
    suppress("me@example.com", SuppressionReason.BOUNCED)
    assert ledger.email_state("me@example.com").status == ConsentStatus.SUPPRESSED
    # A later confirmation never lifts a bounce.
    confirm(journey)
    assert ledger.email_state("me@example.com").status == ConsentStatus.SUPPRESSED
