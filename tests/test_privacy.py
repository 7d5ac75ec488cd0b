"""Data rights and retention: export everything, erase all but the hash, purge by age; and
no personal data in logs, ESP metadata or URLs."""

import json
import logging
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.contrib.admin.sites import site
from django.core import mail
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone
from oscar.core.loading import get_model
from oscar.test import factories
from oscar.test.factories import UserFactory

from oscar_recovery import signals
from oscar_recovery.campaigns.install import install_defaults
from oscar_recovery.constants import MessageStatus, SuppressionReason
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CartJourney,
    CartJourneyEvent,
    ConsentEvent,
    Prompt,
    PromptEvent,
    RecoveryMessage,
    SuppressedAddress,
    TrackingEvent,
    WebhookEndpoint,
)
from oscar_recovery.outcomes import tracking
from oscar_recovery.privacy import data_rights as privacy
from oscar_recovery.privacy import retention
from oscar_recovery.privacy.suppression import email_hash, is_suppressed
from oscar_recovery.schedules import BEAT_SCHEDULE
from oscar_recovery.sending.vouchers import RANGE_NAME
from oscar_recovery.sweep.stages import run_sweep
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket, guest_gateway

pytestmark = pytest.mark.django_db
Voucher = get_model("voucher", "Voucher")
ADDRESS = "Ada.Lovelace@example.com"
#: ``ADDRESS`` as the app stores it: canonical.
STORED = "ada.lovelace@example.com"


@pytest.fixture
def campaign():
    campaign = install_defaults(activate=True)
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
    # Every step with a voucher of its own (not the unused one shown again), so vouchers
    # are issued to the address too.
    campaign.steps.update(incentive="percentage", incentive_value=10, new_voucher=True)
    return campaign


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweep as if at ``at``, its send tasks too."""
    import time_machine

    def run(at):
        with (
            time_machine.travel(at, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            return run_sweep()

    return run


@pytest.fixture
def emailed(campaign, shopper, product, sweep):
    """A guest journey that got two recovery emails (with vouchers) and tracking events."""
    add_to_basket(shopper, product)
    guest_gateway(shopper, ADDRESS)
    start = timezone.now()
    for offset in (timedelta(hours=1), timedelta(hours=2, minutes=1)):
        sweep(start + offset)
    # The holder clicks the first email: the address is theirs, so the second may follow.
    RecoveryMessage.objects.update(clicked_at=start + timedelta(hours=3))
    sweep(start + timedelta(hours=26))
    for message in RecoveryMessage.objects.filter(status=MessageStatus.SENT):
        tracking.apply_tracking_event(
            SimpleNamespace(
                event_id=f"e{message.pk}",
                event_type="delivered",
                message_id=message.esp_message_id,
                recipient=ADDRESS,
                timestamp=timezone.now(),
            ),
            "test",
        )
    return CartJourney.objects.get()


def held_rows():
    return {
        "journeys": CartJourney.objects.count(),
        "events": CartJourneyEvent.objects.count(),
        "enrolments": CampaignEnrolment.objects.count(),
        "messages": RecoveryMessage.objects.count(),
        "tracking": TrackingEvent.objects.count(),
        "vouchers": Voucher.objects.count(),
    }


def test_export_returns_everything_held(emailed, customer):
    # A second journey of the same person through their account.
    make_journey(quiet_for=timedelta(days=1), email="", user=UserFactory(email=ADDRESS.lower()))
    data = json.loads(privacy.export_json(ADDRESS.upper()))
    assert len(data["journeys"]) == 2
    mine = next(j for j in data["journeys"] if j["id"] == emailed.pk)
    assert mine["email"] == STORED
    assert {e["kind"] for e in mine["events"]} >= {"email_captured", "abandoned"}
    assert mine["enrolment"]["campaign_id"] == emailed.enrolment.campaign_id
    assert mine["lines"][0]["title"] == "Winter coat"
    assert len(data["messages"]) == 2
    assert all(m["tracking_events"][0]["event_type"] == "delivered" for m in data["messages"])
    codes = set(RecoveryMessage.objects.values_list("voucher_code", flat=True))
    assert {v["code"] for v in data["vouchers"]} == codes and len(codes) == 2
    assert data["suppressed"] is None


def test_erase_leaves_nothing_but_the_hash(emailed):
    other = make_journey(quiet_for=timedelta(hours=1), email="someone@example.com")
    erased = []
    signals.personal_data_erased.connect(lambda **kw: erased.append(kw), weak=False)
    try:
        result = privacy.erase_email(ADDRESS.lower())
    finally:
        signals.personal_data_erased.receivers.clear()
    assert result.journeys == 1 and result.messages == 2 and result.vouchers == 2
    assert result.tracking_events == 2 and result.events >= 2 and result.enrolments == 1
    assert list(CartJourney.objects.all()) == [other]
    assert held_rows() == {
        "journeys": 1,
        "events": 0,
        "enrolments": 0,
        "messages": 0,
        "tracking": 0,
        "vouchers": 0,
    }
    (suppressed,) = SuppressedAddress.objects.all()
    assert suppressed.email_hash == email_hash(ADDRESS) and is_suppressed(ADDRESS)
    assert suppressed.reason == SuppressionReason.ERASED
    assert erased[0]["email_hash"] == email_hash(ADDRESS)
    export = privacy.export_email(ADDRESS)
    assert export["journeys"] == export["messages"] == export["vouchers"] == []
    assert privacy.erase_email(ADDRESS).journeys == 0  # idempotent


def test_anonymous_journeys_of_the_same_browser_go_with_the_address(emailed):
    before = make_journey(quiet_for=timedelta(days=9), email="", visitor_id=emailed.visitor_id)
    stranger = make_journey(quiet_for=timedelta(days=9), email="", visitor_id="someone-else")
    assert before.pk in [j["id"] for j in privacy.export_email(ADDRESS)["journeys"]]
    privacy.erase_email(ADDRESS)
    assert list(CartJourney.objects.all()) == [stranger]


def test_erase_keeps_used_vouchers(emailed):
    code = RecoveryMessage.objects.exclude(voucher_code="").first().voucher_code
    Voucher.objects.filter(code=code).update(num_orders=1)
    assert privacy.erase_email(ADDRESS).vouchers == 1
    assert list(Voucher.objects.values_list("code", flat=True)) == [code]


def test_the_commands_export_and_erase(emailed, tmp_path):
    out = tmp_path / "export.json"
    call_command("recovery_export_email", ADDRESS, output=str(out))
    assert json.loads(out.read_text())["journeys"][0]["id"] == emailed.pk
    stdout = StringIO()
    call_command("recovery_export_email", ADDRESS, stdout=stdout)
    assert json.loads(stdout.getvalue())["email"] == ADDRESS
    call_command("recovery_erase_email", ADDRESS, yes=True, stdout=StringIO())
    assert not CartJourney.objects.exists()


def test_the_commands_refuse_what_is_not_an_address():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("recovery_export_email", "not-an-address")
    with pytest.raises(CommandError):
        call_command("recovery_erase_email", "not-an-address", yes=True)


def test_admin_actions_export_and_erase_the_selected_addresses(emailed, admin_user):
    model_admin = site._registry[CartJourney]
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    response = model_admin.export_personal_data(request, CartJourney.objects.all())
    data = json.loads(response.content)
    assert [entry["email"] for entry in data] == [STORED]
    assert "attachment" in response["Content-Disposition"]

    confirm = model_admin.erase_personal_data(request, CartJourney.objects.all())
    assert confirm.status_code == 200 and STORED in confirm.rendered_content
    assert CartJourney.objects.exists()  # asked first
    request = RequestFactory().post("/admin/", {"confirm": "yes"})
    request.user = admin_user
    request._messages = SimpleNamespace(add=lambda *a, **k: None)
    model_admin.erase_personal_data(request, CartJourney.objects.all())
    assert not CartJourney.objects.exists() and is_suppressed(ADDRESS)


# -- retention ----------------------------------------------------------------------------


def test_the_purge_removes_exactly_what_is_older_than_the_window(settings, emailed):
    settings.OSCAR_RECOVERY_RETENTION = timedelta(days=90)
    now = timezone.now()
    window = now - timedelta(days=90)
    # The emailed journey, its events, messages and tracking events: just past the window.
    CartJourney.objects.filter(pk=emailed.pk).update(last_activity_at=window - timedelta(seconds=1))
    kept = make_journey(quiet_for=timedelta(days=90) - timedelta(seconds=5))
    old = [make_journey(quiet_for=timedelta(days=91 + i)) for i in range(5)]
    for journey in old:
        CartJourneyEvent.objects.create(journey=journey, kind="abandoned")
    orphan_old = TrackingEvent.objects.create(
        event_key="o1", event_type="opened", occurred_at=window - timedelta(days=1)
    )
    orphan_new = TrackingEvent.objects.create(event_key="o2", event_type="opened")
    SuppressedAddress.objects.create(email_hash="f" * 64, reason="unsubscribed")

    result = retention.purge_expired(now, batch_size=2)
    assert list(CartJourney.objects.all()) == [kept]
    assert result.journeys == 6 and result.batches >= 3
    assert not RecoveryMessage.objects.exists()
    assert list(TrackingEvent.objects.all()) == [orphan_new]
    assert not TrackingEvent.objects.filter(pk=orphan_old.pk).exists()
    assert not CartJourneyEvent.objects.exclude(journey=kept).exists()
    assert SuppressedAddress.objects.filter(email_hash="f" * 64).exists()
    assert retention.purge_expired(now).rows == 0


def test_the_purge_deletes_unused_expired_recovery_vouchers_only(emailed):
    codes = list(RecoveryMessage.objects.values_list("voucher_code", flat=True))
    Voucher.objects.filter(code=codes[0]).update(end_datetime=timezone.now() - timedelta(days=1))
    Voucher.objects.filter(code=codes[1]).update(
        end_datetime=timezone.now() - timedelta(days=1), num_orders=1
    )
    shop_voucher = Voucher.objects.create(
        name="Shop's own",
        code="BACK-SHOP",
        start_datetime=timezone.now() - timedelta(days=9),
        end_datetime=timezone.now() - timedelta(days=1),
    )
    result = retention.purge_expired()
    assert result.vouchers == 1
    assert set(Voucher.objects.values_list("code", flat=True)) == {codes[1], shop_voucher.code}
    assert RANGE_NAME  # the recovery range identifies our vouchers, not the prefix alone


def test_the_purge_runs_from_beat_and_the_command(settings):
    assert BEAT_SCHEDULE["oscar-recovery-purge"]["task"] == "oscar_recovery.purge"
    make_journey(quiet_for=timedelta(days=200))
    from oscar_recovery.tasks import purge

    assert purge.delay().get()["journeys"] == 1
    make_journey(quiet_for=timedelta(days=200))
    out = StringIO()
    call_command("recovery_purge", stdout=out)
    assert out.getvalue().startswith("Purged 1 journeys")


# -- no personal data in logs, ESP metadata or URLs ---------------------------------------


def test_no_email_address_in_logs_metadata_or_urls_during_a_recovery(
    campaign, shopper, product, caplog, settings, sweep
):
    settings.EMAIL_BACKEND = "tests.test_privacy.RefusingFirstBackend"
    RefusingFirstBackend.refused = 0
    caplog.set_level(logging.DEBUG)
    # A verified address (an earlier order was placed with it): the step after the refused
    # one goes out.
    factories.create_order(guest_email=ADDRESS)
    add_to_basket(shopper, product)
    guest_gateway(shopper, ADDRESS)
    start = timezone.now()
    for offset in (timedelta(hours=1), timedelta(hours=2, minutes=1), timedelta(days=4)):
        sweep(start + offset)
    assert RefusingFirstBackend.refused == 1  # the failure path logged the ESP's error
    needle = ADDRESS.lower()
    failed = RecoveryMessage.objects.get(status=MessageStatus.FAILED)
    assert "<email>" in failed.error and needle not in failed.error.lower()
    sent = [email for email in mail.outbox if "oscar-recovery" in getattr(email, "tags", [])]
    assert sent
    assert caplog.records
    for record in caplog.records:
        assert needle not in record.getMessage().lower()
    assert needle not in caplog.text.lower()
    for email in sent:
        assert email.track_opens is False and email.track_clicks is False
        assert needle not in json.dumps(email.metadata).lower()
        assert needle not in " ".join(email.tags).lower()
        assert needle not in email.extra_headers["List-Unsubscribe"].lower()
        for url in [u for u in email.body.split() if "://" in u]:
            assert needle not in url.lower()


def test_open_tracking_can_be_left_to_the_esp(settings, emailed):
    # The default: both flags off on every email (see the test above).
    sent = [email for email in mail.outbox if "oscar-recovery" in getattr(email, "tags", [])]
    assert sent and all(email.track_opens is False for email in sent)
    settings.OSCAR_RECOVERY_TRACK_OPENS = None
    from oscar_recovery.sending.content import compose, load_email_products

    message = RecoveryMessage.objects.select_related("journey", "step").first()
    email = compose(message, load_email_products(message.journey))
    assert not hasattr(email, "track_opens") and not hasattr(email, "track_clicks")


from anymail.backends.test import EmailBackend as _TestBackend  # noqa: E402
from anymail.exceptions import AnymailRecipientsRefused  # noqa: E402


class RefusingFirstBackend(_TestBackend):
    """Refuses the first email, quoting the recipient as ESPs and SMTP servers do."""

    refused = 0

    def send_messages(self, email_messages):
        if not RefusingFirstBackend.refused:
            RefusingFirstBackend.refused += 1
            raise AnymailRecipientsRefused(f"Recipient {email_messages[0].to[0]} refused")
        return super().send_messages(email_messages)


# Erasure and export cover every table the app writes


@pytest.fixture
def prompted(emailed, shopper):
    """The same shopper also gave the address to a prompt (consent wording, voucher, keyed
    hash on the event) and an endpoint opted into personal data got the address."""
    from decimal import Decimal

    from django.core.cache import cache

    from oscar_recovery import outgoing_webhooks
    from oscar_recovery.constants import Incentive, PromptKind, WebhookEvent

    cache.clear()
    prompt = Prompt.objects.create(
        name="Exit",
        kind=PromptKind.EXIT_INTENT,
        is_active=True,
        headline="Before you go",
        cta_label="Send my code",
        consent_text="Email me about my basket and offers.",
        incentive=Incentive.PERCENTAGE,
        incentive_value=Decimal("10"),
    )
    response = shopper.post(
        "/recovery/prompts/capture/",
        {"prompt": prompt.pk, "variant": "A", "email": ADDRESS, "consent": True, "visit": "c" * 32},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    endpoint = WebhookEndpoint.objects.create(
        name="CRM",
        url="https://93.184.215.14/hook",
        secret="whsec_test_secret_0123456789",
        events=[WebhookEvent.CONTACT_CAPTURED],
        include_personal_data=True,
    )
    journey = CartJourney.objects.get(email__iexact=ADDRESS)
    outgoing_webhooks.emit(
        WebhookEvent.CONTACT_CAPTURED,
        lambda personal: outgoing_webhooks.events.journey_event_data(journey, personal),
        endpoints=[endpoint],
        publish=False,
    )
    return response.json()["voucher"]


def traces_of(email: str, *also: str) -> list[str]:
    """Every text or JSON value in every model of the app that holds the address, one of
    its keyed hashes, or one of ``also``: ``"<model>.<field>"`` per hit. The suppression
    hash is the one trace erasure keeps on purpose: on the suppression list, and as the
    address of the consent ledger's events (their proof of what was asked and answered)."""
    from django.apps import apps
    from django.db import models as db_models

    from oscar_recovery.contacts.addresses import email_sha256
    from oscar_recovery.privacy.suppression import all_hashes

    needles = [
        email.lower(),
        *all_hashes(email),
        email_sha256(email),
        *(value.lower() for value in also),
    ]
    hits = []
    for model in apps.get_app_config("oscar_recovery").get_models():
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(field, db_models.CharField | db_models.TextField | db_models.JSONField)
        ]
        for row in model.objects.all():
            for field in fields:
                value = field.value_from_object(row)
                text = (
                    json.dumps(value) if isinstance(field, db_models.JSONField) else value
                ) or ""
                if model is SuppressedAddress and field.name == "email_hash":
                    continue
                if model is ConsentEvent and field.name == "address" and text in all_hashes(email):
                    continue
                if any(needle in str(text).lower() for needle in needles):
                    hits.append(f"{model.__name__}.{field.name}")
    return hits


def test_export_covers_prompt_events_their_vouchers_and_webhook_payloads(prompted):
    data = privacy.export_email(ADDRESS)
    (submitted,) = [e for e in data["prompt_events"] if e["kind"] == "submitted"]
    assert submitted["data"]["consent"]["wording"] == "Email me about my basket and offers."
    assert submitted["voucher_code"] == prompted
    assert prompted in {v["code"] for v in data["vouchers"]}
    (delivery,) = data["webhook_deliveries"]
    assert delivery["payload"]["data"]["customer"]["email"] == STORED


def test_erase_leaves_no_trace_of_the_address_in_any_model(prompted):
    before = set(traces_of(ADDRESS, prompted))
    # The walk sees what it must: without these the test would prove nothing.
    assert {"CartJourney.email", "PromptEvent.data", "PromptEvent.voucher_code"} <= before
    assert {"WebhookDelivery.payload", "RecoveryMessage.to_email"} <= before
    result = privacy.erase_email(ADDRESS)
    assert traces_of(ADDRESS, prompted) == []
    assert result.prompt_events >= 1 and result.webhook_deliveries == 1
    assert not Voucher.objects.filter(code=prompted).exists()
    # Statistics keep their counts: the events stay, anonymised.
    assert PromptEvent.objects.filter(kind="submitted").count() == 1
    export = privacy.export_email(ADDRESS)
    assert export["prompt_events"] == export["webhook_deliveries"] == export["vouchers"] == []


def test_the_erased_address_is_not_given_its_old_prompt_voucher_again(prompted, shopper):
    privacy.erase_email(ADDRESS)
    prompt = Prompt.objects.get()
    response = shopper.post(
        "/recovery/prompts/capture/",
        {"prompt": prompt.pk, "variant": "A", "email": ADDRESS, "consent": True, "visit": "d" * 32},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["voucher"] != prompted


#: Where each model that holds a trace of the address shows in the export. A model of the
#: app that holds one and is missing here fails the test below: add it to the export.
EXPORTED = {
    "CartJourney": lambda data: data["journeys"],
    "CartJourneyEvent": lambda data: [e for j in data["journeys"] for e in j["events"]],
    "CampaignEnrolment": lambda data: [j["enrolment"] for j in data["journeys"] if j["enrolment"]],
    "RecoveryMessage": lambda data: data["messages"],
    "TrackingEvent": lambda data: [t for m in data["messages"] for t in m["tracking_events"]],
    "PromptEvent": lambda data: data["prompt_events"],
    "WebhookDelivery": lambda data: data["webhook_deliveries"],
    "WebhookAttempt": lambda data: [a for d in data["webhook_deliveries"] for a in d["attempts"]],
    "ConsentConfirmation": lambda data: data["consent_confirmations"],
    "ConsentEvent": lambda data: data["consent_events"],
    "Contact": lambda data: data["contacts"],
    "ContactIdentifier": lambda data: [i for c in data["contacts"] for i in c["identifiers"]],
    "AudienceMember": lambda data: data["audience_memberships"],
}


@pytest.fixture
def confirmed_and_answered(prompted, settings):
    """The address also got a double opt-in email, and the endpoint's answer echoed it; it
    gave advertising consent and is in a retargeting audience synced to a (fake) platform."""
    from oscar_recovery.audiences import sync
    from oscar_recovery.models import (
        Audience,
        ConsentConfirmation,
        Contact,
        Segment,
        SegmentMembership,
        WebhookAttempt,
        WebhookDelivery,
    )
    from oscar_recovery.privacy import ads_consent

    settings.OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES = {"meta": "fake", "google": "fake"}
    person = Contact.objects.filter(email=ADDRESS.lower()).first() or Contact.objects.create(
        email=ADDRESS.lower()
    )
    segment = Segment.objects.create(slug="privacy-audience", name="Privacy audience")
    SegmentMembership.objects.create(
        segment=segment, contact=person, entered_at=person.first_seen_at
    )
    ads_consent.record(ADDRESS, ads_consent.Decision("Ads?", "en", True), contact_id=person.pk)
    audience = Audience.objects.create(
        slug="privacy", name="Privacy", segment=segment, sync_meta=True
    )
    sync.sync_audience(audience)
    journey = CartJourney.objects.get(email__iexact=ADDRESS)
    ConsentConfirmation.objects.create(email_hash=email_hash(ADDRESS), journey=journey)
    WebhookAttempt.objects.create(
        delivery=WebhookDelivery.objects.get(),
        number=1,
        started_at=journey.created_at,
        duration_ms=12,
        status_code=200,
        outcome="success",
        response_body=f'{{"received": "{ADDRESS}"}}',
    )
    return prompted


def test_the_export_shows_every_model_that_holds_the_address(confirmed_and_answered):
    """The worst case for a data request is a record the shopper is never shown: every
    model with a trace of the address (in clear or as its keyed hash) has its rows in the
    export, double opt-in confirmations and the endpoints' answers included."""
    holding = {hit.split(".")[0] for hit in traces_of(ADDRESS, confirmed_and_answered)}
    holding.discard("SuppressedAddress")  # shown as "suppressed"; kept on erasure
    assert {"ConsentConfirmation", "WebhookAttempt", "AudienceMember"} <= holding
    data = privacy.export_email(ADDRESS)
    for model in holding:
        assert model in EXPORTED, f"{model} holds the address but is not in the export"
        assert EXPORTED[model](data), f"{model} rows are missing from the export"
    (confirmation,) = data["consent_confirmations"]
    assert confirmation["status"] == "queued" and "email_hash" not in confirmation
    (attempt,) = data["webhook_deliveries"][0]["attempts"]
    assert ADDRESS in attempt["response_body"]


def test_erasure_removes_the_confirmation_records_and_counts_them(confirmed_and_answered):
    from oscar_recovery.audiences import sync
    from oscar_recovery.audiences.platforms import fake
    from oscar_recovery.contacts.addresses import email_sha256
    from oscar_recovery.models import ConsentConfirmation

    result = privacy.erase_email(ADDRESS)
    assert result.consent_confirmations == 1
    assert not ConsentConfirmation.objects.exists()
    # Meta still lists the person: only the hash it needs for the removal is left, until
    # the next audience sync removes them there and forgets them here.
    assert result.audience_members == 2
    assert traces_of(ADDRESS, confirmed_and_answered) == ["AudienceMember.email_sha256"]
    fake.reset()
    sync.sync_all(force=True)
    assert [m.email_sha256 for c in fake.CALLS if c.kind == "remove" for m in c.members] == [
        email_sha256(ADDRESS)
    ]
    assert traces_of(ADDRESS, confirmed_and_answered) == []
    assert privacy.export_email(ADDRESS)["consent_confirmations"] == []
