"""What shoppers read next to a recovery discount (Oscar shows the offer's name in the
basket totals, the shipping discount and the order, the voucher's next to its code): the
owner's "name shown to shoppers" in the shopper's language, else what the incentive gives in
that language; never the prompt's or campaign's internal name, nor an internal id."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from oscar_recovery.constants import Incentive
from oscar_recovery.models import CartJourney, Prompt
from oscar_recovery.prompts.service import reveal_voucher
from oscar_recovery.sending.vouchers import ensure_offer, shopper_offer_name
from tests.conftest import BROWSER_UA
from tests.support.journeys import add_to_basket
from tests.test_voucher_story import abandoned, campaign, make_step  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

INTERNAL = "Exit intent: new visitors (free delivery)"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def exit_prompt(incentive=Incentive.FREE_SHIPPING, value=None, **fields) -> Prompt:
    return Prompt.objects.create(
        name=INTERNAL,
        kind="exit_intent",
        headline="Before you go",
        cta_label="Send",
        incentive=incentive,
        incentive_value=None if value is None else Decimal(value),
        **fields,
    )


def revealed_in(language: str, prompt: Prompt):
    journey = abandoned(language=language, email=f"{language}@example.com")
    return reveal_voucher(prompt, journey, timezone.now())


def test_a_romanian_shopper_reads_free_delivery_in_romanian_never_the_prompts_name():
    prompt = exit_prompt()
    voucher = revealed_in("ro", prompt)
    offer = voucher.offers.get()

    with translation.override("ro"):
        expected = translation.gettext("Free delivery")
    assert expected != "Free delivery"
    assert offer.name == expected
    assert voucher.name.startswith(f"{expected} · ")
    for name in (offer.name, voucher.name):
        assert INTERNAL not in name and "Recovery prompt" not in name and "#" not in name
    # Staff still see which prompt made it.
    assert INTERNAL in offer.description
    # An English shopper gets the English offer; the Romanian one stays Romanian.
    english = revealed_in("en-gb", prompt).offers.get()
    assert english.name == "Free delivery" and english != offer
    assert revealed_in("ro", prompt).offers.get() == offer


def test_the_owners_name_is_shown_in_each_language_it_was_written_in():
    prompt = exit_prompt(
        Incentive.PERCENTAGE,
        "10",
        incentive_name="Welcome back gift",
        translations={"ro": {"incentive_name": "Cadou de bun venit"}},
    )
    assert revealed_in("ro", prompt).offers.get().name == "Cadou de bun venit"
    assert revealed_in("en-gb", prompt).offers.get().name == "Welcome back gift"
    # Not written in Korean: what it gives, in Korean, rather than English in a Korean basket.
    with translation.override("ko"):
        korean = translation.gettext("%(percent)s%% off your order") % {"percent": "10"}
    assert shopper_offer_name(prompt, "ko") == korean
    assert revealed_in("ko", prompt).offers.get().name == korean


def test_a_renamed_incentive_gets_an_offer_under_the_new_name(campaign):  # noqa: F811
    step = make_step(campaign, Incentive.PERCENTAGE, "10")
    first = shopper_offer_name(step)
    step.incentive_name = "Spring thank-you"
    step.save()
    offer = ensure_offer(step)
    assert first == "10% off your order" and offer.name == "Spring thank-you"


def test_the_basket_totals_show_the_shoppers_name_for_a_10_percent_code(product):
    """Oscar's own basket page, in Romanian: the code's line reads "10 % reducere …", not
    the English name followed by the offer's internal id in brackets."""
    shopper = Client(HTTP_USER_AGENT=BROWSER_UA)
    shopper.post(reverse("set_language"), {"language": "ro"})
    add_to_basket(shopper, product)
    journey = CartJourney.objects.get()
    CartJourney.objects.filter(pk=journey.pk).update(language="ro")
    journey.refresh_from_db()
    voucher = reveal_voucher(exit_prompt(Incentive.PERCENTAGE, "10"), journey, timezone.now())
    shopper.post(reverse("basket:vouchers-add"), {"code": voucher.code})

    totals = shopper.get(reverse("basket:summary")).content.decode()

    with translation.override("ro"):
        expected = translation.gettext("%(percent)s%% off your order") % {"percent": "10"}
    assert f"{expected} · {voucher.code[-9:]} ({voucher.code})" in totals
    assert INTERNAL not in totals and "(#" not in totals


def test_the_owner_writes_the_name_per_language_in_the_admin(admin_client):
    from tests.prompts.test_prompts_admin import ADD_URL

    page = admin_client.get(ADD_URL).content.decode()
    assert 'name="incentive_name"' in page and 'name="incentive_name__ro"' in page
    step_page = admin_client.get(reverse("admin:oscar_recovery_campaignstep_add")).content
    assert b'name="incentive_name__ar"' in step_page


@pytest.mark.django_db(transaction=True)
def test_the_migration_adds_the_name_and_the_offers_by_language_to_existing_rows():
    """Additive: rows made before it get an empty name (what the incentive gives is shown)
    and no offers by language (the next voucher makes them); nothing else changes."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("oscar_recovery", "0023_dailystat_emailed")]
    after = [("oscar_recovery", "0024_incentive_name_shown_to_shoppers")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("oscar_recovery", "Prompt")
        made = old.objects.create(name="Old", kind="exit_intent", incentive=Incentive.FREE_SHIPPING)
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        # Back to the latest schema, later migrations included, for the tests after this.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    prompt = Prompt.objects.get(pk=made.pk)
    assert (prompt.incentive_name, prompt.language_offers) == ("", {})
    assert prompt.name == "Old" and prompt.incentive == Incentive.FREE_SHIPPING
    assert shopper_offer_name(prompt, "en-gb") == "Free delivery"
