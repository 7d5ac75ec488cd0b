"""Double opt-in under the ``consent`` basis, and the newest-journey rule a stranger
could use to silence someone's reminder.

The worst sender types someone else's address (at the gateway, in a prompt) and ticks the
consent box, again and again, from one or many browsers. What they can cause: at most one
confirmation email to that address per ``DOUBLE_OPT_IN_COOLDOWN`` (and only
``DOUBLE_OPT_IN_RATE_LIMIT`` of them per client), never a recovery email before the owner
confirms, never one to an address that unsubscribed, bounced or complained, and no
confirmation of any address but the one the link was sent to.
"""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail, signing
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oscar.test.factories import BasketFactory

from oscar_recovery.constants import (
    ConfirmationStatus,
    ConsentSource,
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
    ConsentConfirmation,
    RecoveryMessage,
)
from oscar_recovery.privacy import confirmation, confirmation_requests, consent
from oscar_recovery.privacy.suppression import email_hash, is_suppressed, suppress
from oscar_recovery.sending import send as sending
from oscar_recovery.sending.send_checks import why_not_send
from oscar_recovery.sweep.stages import send_due
from tests.conftest import BROWSER_UA
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.com"


@pytest.fixture(autouse=True)
def consent_basis(settings):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    cache.clear()  # the per-client rate limit counts in the cache
    yield
    cache.clear()


@pytest.fixture
def step():
    campaign = Campaign.objects.create(name="Default", is_active=True, holdout_percent=0)
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Still thinking?"
    )


def journey_for(email=VICTIM, **fields):
    fields.setdefault("basket", BasketFactory())
    return make_journey(
        quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED, email=email, **fields
    )


def due_message(step, journey) -> RecoveryMessage:
    CampaignEnrolment.objects.create(journey=journey, campaign=step.campaign, next_step=step)
    return RecoveryMessage.objects.create(journey=journey, step=step, to_email=journey.email)


def reason(message):
    message = RecoveryMessage.objects.select_related("journey__enrolment").get(pk=message.pk)
    return why_not_send(message, timezone.now())


def consent_on(journey, *, client="", source=ConsentSource.PROMPT):
    consent.record_consent(journey, text="Remind me", given=True, source=source, client=client)


def confirm_link(email) -> str:
    (sent,) = [m for m in mail.outbox if m.to == [email]]
    return re.search(r"https?://\S+/recovery/confirm/\S+/", sent.body).group(0)


def path_of(url: str) -> str:
    return urlsplit(url).path


# -- the confirmation email ---------------------------------------------------------------


def test_a_consent_at_the_gateway_sends_one_confirmation_after_the_request(
    shopper, product, django_capture_on_commit_callbacks
):
    from tests.test_consent import gateway, rendered_field

    add_to_basket(shopper, product)
    with django_capture_on_commit_callbacks(execute=True):
        journey = gateway(shopper, rendered_field(), tick=True, email=VICTIM)

    (sent,) = mail.outbox
    assert sent.to == [VICTIM]
    assert "Please confirm" in sent.subject
    assert "Test Shop Ltd, 1 High Street, London" in sent.body  # the postal address footer
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(consent.notice().text) in sent.body
    # The link names ids and hashes only, never the address.
    token = path_of(confirm_link(VICTIM)).rstrip("/").rsplit("/", 1)[1]
    assert "victim" not in token
    payload = signing.loads(token, salt="oscar_recovery.consent_confirmation")
    assert payload == {"j": journey.pk, "h": email_hash(VICTIM)}
    row = ConsentConfirmation.objects.get()
    assert row.status == ConfirmationStatus.SENT and row.journey == journey


def test_the_confirmation_is_in_the_shoppers_language(django_capture_on_commit_callbacks):
    journey = journey_for(language="ar")
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey)
    (sent,) = mail.outbox
    html = sent.alternatives[0][0]
    assert 'lang="ar"' in html and 'dir="rtl"' in html
    assert sent.subject.startswith("يُرجى تأكيد تذكيرات السلة")
    assert "يُرجى التأكيد" in sent.body and "يُرجى التأكيد" in html


def test_no_recovery_email_before_the_address_confirms(client, step):
    journey = journey_for(visitor_id="owner")
    message = due_message(step, journey)
    consent_on(journey)
    assert reason(message) == SkipReason.UNCONFIRMED
    assert sending.send_message(message.pk) == MessageStatus.SKIPPED
    assert RecoveryMessage.objects.get().skip_reason == SkipReason.UNCONFIRMED
    assert [m.to for m in mail.outbox] == []  # the confirmation waits for the commit


def test_the_link_confirms_and_then_reminders_may_go(
    client, step, django_capture_on_commit_callbacks
):
    journey = journey_for(visitor_id="owner")
    message = due_message(step, journey)
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey)
    url = path_of(confirm_link(VICTIM))

    page = client.get(url)
    assert page.status_code == 200 and b"Yes, confirm" in page.content
    assert page["Referrer-Policy"] == "strict-origin"
    response = client.post(url)

    assert response.status_code == 200 and b"you are confirmed" in response.content
    journey.refresh_from_db()
    assert journey.consent_source == ConsentSource.CONFIRMED and journey.consent_given
    assert ConsentConfirmation.objects.get().confirmed_at is not None
    assert reason(message) is None
    # Confirmed, the address's other journeys need no new confirmation.
    assert consent.address_confirmed(VICTIM)
    assert client.post(url).status_code == 200  # repeating changes nothing


def test_a_link_scanners_get_never_confirms(step, django_capture_on_commit_callbacks):
    journey = journey_for()
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey)
    scanner = Client(HTTP_USER_AGENT="Mozilla/5.0 (compatible; SafeLinks)")
    for _ in range(3):
        assert scanner.get(path_of(confirm_link(VICTIM))).status_code == 200
        assert scanner.head(path_of(confirm_link(VICTIM))).status_code == 200
    journey.refresh_from_db()
    assert journey.consent_source == ConsentSource.PROMPT
    assert not consent.address_confirmed(VICTIM)


def test_a_tampered_or_expired_link_is_refused(
    client, settings, django_capture_on_commit_callbacks
):
    journey = journey_for()
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey)
    url = path_of(confirm_link(VICTIM))

    tampered = url[:-4] + "xx/"
    assert client.get(tampered).status_code == 400
    assert client.post(tampered).status_code == 400
    forged = signing.dumps({"j": journey.pk, "h": email_hash(VICTIM)}, salt="other")
    assert client.post(reverse("oscar_recovery:confirm-consent", args=[forged])).status_code == 400

    settings.OSCAR_RECOVERY_DOUBLE_OPT_IN_LINK_MAX_AGE = timedelta(seconds=-1)
    response = client.post(url)
    assert response.status_code == 410 and b"expired" in response.content
    assert not consent.address_confirmed(VICTIM)


def test_a_forwarded_link_confirms_only_the_address_it_was_sent_to(
    client, django_capture_on_commit_callbacks
):
    victims = journey_for(visitor_id="victim")
    others = journey_for(email="other@example.com", visitor_id="other")
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(victims)
        consent_on(others)
    assert client.post(path_of(confirm_link(VICTIM))).status_code == 200
    assert consent.address_confirmed(VICTIM)
    assert not consent.address_confirmed("other@example.com")


def test_a_link_stops_working_once_its_journey_holds_another_address(
    client, django_capture_on_commit_callbacks
):
    """Worst sender: consents with the victim's address, then retypes their own. The link
    the victim got can no longer confirm anything, in particular not the stranger's."""
    journey = journey_for()
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey)
    url = path_of(confirm_link(VICTIM))
    CartJourney.objects.filter(pk=journey.pk).update(email="stranger@example.com")

    assert client.post(url).status_code == 410
    assert not consent.address_confirmed("stranger@example.com")
    assert not consent.address_confirmed(VICTIM)


# -- what a hostile sender cannot do ------------------------------------------------------


def test_a_stranger_cannot_make_the_shop_mail_a_victim_more_than_once_per_window(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            consent_on(journey_for(visitor_id=f"stranger-{n}"), client=f"198.51.100.{n}")
    assert [m.to for m in mail.outbox] == [[VICTIM]]

    # After the window, one more.
    ConsentConfirmation.objects.update(requested_at=timezone.now() - timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            consent_on(journey_for(visitor_id=f"later-{n}"))
    assert len(mail.outbox) == 2


def test_one_client_can_cause_only_a_few_confirmation_emails(
    settings, django_capture_on_commit_callbacks
):
    settings.OSCAR_RECOVERY_DOUBLE_OPT_IN_RATE_LIMIT = (2, timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            consent_on(journey_for(email=f"v{n}@example.com"), client="203.0.113.7")
        consent_on(journey_for(email="elsewhere@example.com"), client="203.0.113.8")
    assert sorted(m.to[0] for m in mail.outbox) == [
        "elsewhere@example.com",
        "v0@example.com",
        "v1@example.com",
    ]


def test_the_gateway_counts_its_client(settings, product, django_capture_on_commit_callbacks):
    from tests.test_consent import rendered_field

    settings.OSCAR_RECOVERY_DOUBLE_OPT_IN_RATE_LIMIT = (1, timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            browser = Client(HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="192.0.2.44")
            add_to_basket(browser, product)
            html = rendered_field()
            browser.post(
                reverse("checkout:index"),
                {
                    "username": f"g{n}@example.com",
                    "options": "anonymous",
                    consent.NOTICE_FIELD: re.search(
                        r'name="recovery_consent_notice" value="([^"]+)"', html
                    ).group(1),
                    consent.CHOICE_FIELD: "yes",
                },
            )
    assert CartJourney.objects.filter(consent_given=True).count() == 3
    assert [m.to for m in mail.outbox] == [["g0@example.com"]]


@pytest.mark.parametrize(
    "why",
    [
        SuppressionReason.UNSUBSCRIBED,
        SuppressionReason.BOUNCED,
        SuppressionReason.COMPLAINED,
        SuppressionReason.ERASED,
        SuppressionReason.STAFF,
    ],
)
def test_an_address_that_opted_out_gets_no_confirmation_and_a_link_lifts_nothing(
    client, why, django_capture_on_commit_callbacks
):
    suppress(VICTIM, why)
    journey = journey_for()
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey)
    assert mail.outbox == []
    # Even an old link confirmed later does not lift it.
    url = reverse("oscar_recovery:confirm-consent", args=[confirmation.confirmation_token(journey)])
    assert client.post(url).status_code == 200
    assert is_suppressed(VICTIM)


def test_the_owners_confirmation_lifts_a_no_thanks(
    client, step, django_capture_on_commit_callbacks
):
    """A "no thanks" (anyone's) still lets one confirmation through per window; only the
    click of the address's owner lifts it."""
    refused = journey_for(visitor_id="owner")
    consent.record_refusal(refused, source=ConsentSource.CHECKOUT)
    journey = journey_for(visitor_id="owner-again")
    message = due_message(step, journey)
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey)
    assert reason(message) == SkipReason.SUPPRESSED  # the stranger's tick lifted nothing

    client.post(path_of(confirm_link(VICTIM)))
    assert not is_suppressed(VICTIM)
    assert reason(message) is None


def test_unsubscribing_from_a_confirmation_email_ends_them(
    client, django_capture_on_commit_callbacks
):
    consent.record_refusal(journey_for(visitor_id="owner"), source=ConsentSource.CHECKOUT)
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey_for(visitor_id="stranger"))
    (sent,) = mail.outbox
    client.post(path_of(sent.extra_headers["List-Unsubscribe"].strip("<>")))

    ConsentConfirmation.objects.update(requested_at=timezone.now() - timedelta(days=30))
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey_for(visitor_id="stranger-again"))
    assert len(mail.outbox) == 1


# -- recorded first, sent once --------------------------------------------------------------


def test_nothing_is_sent_in_the_request_and_a_lost_task_is_sent_by_the_sweep(
    monkeypatch, django_capture_on_commit_callbacks
):
    from oscar_recovery.handoff import publish

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    # The publish fails as a refused broker would (after the commit, never in the request).
    monkeypatch.setattr(publish, "publish_now", broker_down)
    journey = journey_for()
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey)
    assert mail.outbox == []
    assert ConsentConfirmation.objects.get().status == ConfirmationStatus.QUEUED
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        send_due(timezone.now() + timedelta(hours=1))
        send_due(timezone.now() + timedelta(hours=2))
    assert [m.to for m in mail.outbox] == [[VICTIM]]


def test_a_redelivered_task_sends_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        consent_on(journey_for())
    row = ConsentConfirmation.objects.get()
    assert confirmation.send_confirmation(row.pk) == ConfirmationStatus.SENT
    assert len(mail.outbox) == 1


def test_a_failing_confirmation_never_breaks_the_consent(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(confirmation_requests, "_arm", broken)
    journey = journey_for()
    consent_on(journey)
    journey.refresh_from_db()
    assert journey.consent_given is True


def test_single_opt_in_when_switched_off(settings, step):
    settings.OSCAR_RECOVERY_DOUBLE_OPT_IN = False
    journey = journey_for()
    message = due_message(step, journey)
    consent_on(journey)
    assert ConsentConfirmation.objects.count() == 0
    assert reason(message) is None


# -- the newest-journey lever -------------------------------------------------------------


@pytest.fixture
def soft_opt_in(settings):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.SOFT_OPT_IN


def test_a_strangers_newer_basket_does_not_silence_the_owners_reminder(soft_opt_in, step):
    owners = due_message(step, journey_for(visitor_id="owner"))
    stranger = journey_for(visitor_id="stranger")
    CartJourney.objects.filter(pk=stranger.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    assert reason(owners) is None


@pytest.mark.parametrize("same", ["visitor", "user"])
def test_the_same_shoppers_newer_basket_still_takes_over(soft_opt_in, step, customer, same):
    who = {"visitor_id": "owner"} if same == "visitor" else {"user": customer}
    older = due_message(step, journey_for(**who))
    newer = journey_for(**who)
    CartJourney.objects.filter(pk=newer.pk).update(created_at=timezone.now())
    assert reason(older) == SkipReason.NEWER_JOURNEY


def test_two_unrelated_baskets_of_one_address_still_get_one_email(soft_opt_in, step, product):
    lines = [{"product_id": product.pk, "quantity": 1}]
    first = due_message(step, journey_for(visitor_id="laptop", lines=lines))
    second = due_message(step, journey_for(visitor_id="phone", lines=lines))
    assert sending.send_message(first.pk) == MessageStatus.SENT
    assert sending.send_message(second.pk) == MessageStatus.SKIPPED
    second.refresh_from_db()
    assert second.skip_reason == SkipReason.COOLDOWN
    assert len(mail.outbox) == 1


def test_retyping_the_address_on_a_consented_basket_mails_no_one(
    shopper, product, django_capture_on_commit_callbacks
):
    """Worst sender: ticks the box once, then retypes address after address at the gateway
    without the consent field. The consent stays unconfirmed; no new address is mailed."""
    from tests.support.journeys import guest_gateway
    from tests.test_consent import gateway, rendered_field

    add_to_basket(shopper, product)
    with django_capture_on_commit_callbacks(execute=True):
        gateway(shopper, rendered_field(), tick=True, email="first@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            guest_gateway(shopper, f"next{n}@example.com")
    assert [m.to for m in mail.outbox] == [["first@example.com"]]
    assert CartJourney.objects.get().email == "next2@example.com"
