"""Owner-written text per language: the fallback rules, the admin's side-by-side fields and
their round trip, and emails in the shopper's language."""

import re
from datetime import timedelta

import pytest
from django.utils import translation

from oscar_recovery.admin.forms import CampaignStepForm, StepVariantForm
from oscar_recovery.campaigns.translations import (
    content_languages,
    layered_text,
    text_for,
    translations_of,
    with_translations,
)
from oscar_recovery.campaigns.variants import content_for
from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage, StepVariant
from oscar_recovery.sending.content import compose, load_email_products, preview
from tests.support.journeys import add_to_basket, guest_gateway

pytestmark = pytest.mark.django_db


def step_with(**fields) -> CampaignStep:
    campaign = Campaign.objects.create(name=f"Campaign {Campaign.objects.count()}")
    values = {"campaign": campaign, "position": 1, "delay": timedelta(hours=1)}
    return CampaignStep.objects.create(**{**values, "subject": "Hello", **fields})


# -- fallback -------------------------------------------------------------------------------


def test_text_falls_back_from_the_language_to_its_base_then_to_the_default():
    step = CampaignStep(
        subject="Your basket",
        translations={"pt": {"subject": "O seu cesto"}, "pt-br": {"subject": "Seu carrinho"}},
    )
    assert text_for(step, "subject", "pt-br") == "Seu carrinho"
    assert text_for(step, "subject", "pt_BR") == "Seu carrinho"  # codes as Django spells them
    assert text_for(step, "subject", "pt-pt") == "O seu cesto"  # the base language
    assert text_for(step, "subject", "de") == "Your basket"
    assert text_for(step, "subject", "en-gb") == "Your basket"  # the default is the field


def test_empty_or_broken_translations_count_as_missing():
    step = CampaignStep(subject="Your basket", translations={"ar": {"subject": "  "}})
    assert text_for(step, "subject", "ar") == "Your basket"
    for broken in (None, [], {"ar": "text"}, {"ar": {"subject": 3}}):
        step.translations = broken
        assert text_for(step, "subject", "ar") == "Your basket"


def test_the_default_language_is_the_field_even_if_translations_name_it():
    step = CampaignStep(subject="Your basket", translations={"en-gb": {"subject": "Stale"}})
    assert text_for(step, "subject", "en-gb") == "Your basket"


def test_text_follows_the_active_language_by_default():
    step = CampaignStep(subject="Your basket", translations={"ar": {"subject": "سلتك"}})
    with translation.override("ar"):
        assert text_for(step, "subject") == "سلتك"
    with translation.override("de"):
        assert text_for(step, "subject") == "Your basket"


def test_a_variant_falls_back_to_its_parent_in_the_language_before_other_languages():
    step = CampaignStep(subject="Hello", translations={"ar": {"subject": "مرحبا"}})
    variant = StepVariant(label="B", subject="Hi there", translations={"fa": {"subject": "سلام"}})
    assert layered_text(variant, step, "subject", "fa") == ("سلام", "fa")
    assert layered_text(variant, step, "subject", "ar") == ("مرحبا", "ar")
    assert layered_text(variant, step, "subject", "ko") == ("Hi there", "en-gb")
    variant.subject = ""
    assert layered_text(variant, step, "subject", "ko") == ("Hello", "en-gb")


def test_content_languages_are_the_shops_less_the_default(settings):
    settings.LANGUAGES = [("en-gb", "English"), ("ar", "Arabic"), ("pt-BR", "Português")]
    assert content_languages() == [("ar", "Arabic"), ("pt-br", "Português")]


def test_installed_texts_come_in_every_shipped_language(settings):
    fields, translations = translations_of({"subject": "Still thinking it over?"})
    assert fields == {"subject": "Still thinking it over?"}
    assert set(translations) == {"ar", "fa", "ko", "ro"}  # en is the default (en-gb)
    assert translations["ar"]["subject"] != "Still thinking it over?"
    settings.LANGUAGE_CODE = "ar"
    fields, translations = translations_of({"subject": "Still thinking it over?"})
    assert fields["subject"] == translations["fa"]["subject"] or fields["subject"] != (
        "Still thinking it over?"
    )
    assert translations["en"] == {"subject": "Still thinking it over?"}
    assert "ar" not in translations


# -- admin forms ----------------------------------------------------------------------------


def step_form_data(step, **changes) -> dict:
    data = {
        "campaign": step.campaign_id,
        "position": 1,
        "delay": "01:00:00",
        "subject": "Hello",
        "preheader": "",
        "body_html": "",
        "body_text": "",
        "incentive": "none",
        "incentive_value": "",
        "incentive_valid_for": "7 00:00:00",
    }
    data.update(changes)
    return data


def test_the_step_form_has_a_field_per_language_and_saves_them_into_translations():
    step = step_with(translations={"xx": {"subject": "kept: a language no longer offered"}})
    form_class = with_translations(CampaignStepForm)
    assert {"subject__ar", "subject__fa", "body_html__ko", "preheader__ro"} <= set(
        form_class.base_fields
    )
    assert "subject__en-gb" not in form_class.base_fields
    widget = form_class.base_fields["subject__ar"].widget
    assert (widget.attrs["lang"], widget.attrs["dir"]) == ("ar", "rtl")

    form = form_class(
        data=step_form_data(step, **{"subject__ar": "مرحبا", "preheader__fa": "سلام"}),
        instance=step,
    )
    assert form.is_valid(), form.errors
    form.save()
    step.refresh_from_db()
    assert step.translations == {
        "xx": {"subject": "kept: a language no longer offered"},
        "ar": {"subject": "مرحبا"},
        "fa": {"preheader": "سلام"},
    }

    # The stored text is shown again; emptying a language drops it.
    form = form_class(instance=step)
    assert form["subject__ar"].value() == "مرحبا"
    form = form_class(data=step_form_data(step, **{"preheader__fa": "سلام"}), instance=step)
    assert form.is_valid(), form.errors
    form.save()
    step.refresh_from_db()
    assert "ar" not in step.translations and step.translations["fa"] == {"preheader": "سلام"}


@pytest.mark.parametrize("form", [CampaignStepForm, StepVariantForm])
def test_each_languages_template_must_compile_in_the_sandbox(form):
    step = step_with()
    data = {**step_form_data(step), "label": "B", "weight": 10, "step": step.pk}
    instance = step if form is CampaignStepForm else None
    assert with_translations(form)(data=data, instance=instance).is_valid()
    data["subject__ar"] = "{{ total|shout }}"
    bound = with_translations(form)(data=data, instance=instance)
    assert not bound.is_valid()
    assert "shout" in str(bound.errors["subject__ar"])


def test_the_admin_shows_the_languages_side_by_side_and_saves_them(admin_client):
    step = step_with()
    url = f"/admin/oscar_recovery/campaignstep/{step.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="subject__ar"' in page and 'dir="rtl"' in page
    # One row holds the default language and the others.
    # Django 6 adds classes before the field's (form-row flex-container form-multiline).
    row = page[re.search(r'class="form-row[^"]*\bfield-subject\b', page).start() :]
    row = row[: row.index('class="form-row', 10)]
    assert 'name="subject"' in row and 'name="subject__ar"' in row and 'name="subject__ko"' in row

    data = step_form_data(step, **{"subject__ar": "تركتَ شيئًا", "subject__ko": "장바구니"})
    data.update({f"variants-{k}": v for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].errors
    step.refresh_from_db()
    assert step.translations == {"ar": {"subject": "تركتَ شيئًا"}, "ko": {"subject": "장바구니"}}


# -- emails ---------------------------------------------------------------------------------


@pytest.fixture
def journey(shopper, product):
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    return CartJourney.objects.get()


def test_an_arabic_shopper_gets_the_arabic_subject_preheader_and_body(journey):
    step = step_with(
        subject="You left {{ lines.0.title }}",
        preheader="Your basket is saved",
        body_text="English body {{ restore_url }}",
        translations={
            "ar": {
                "subject": "تركتَ {{ lines.0.title }}",
                "preheader": "سلتك محفوظة",
                "body_text": "نص عربي {{ restore_url }}",
            }
        },
    )
    CartJourney.objects.filter(pk=journey.pk).update(language="ar")
    journey.refresh_from_db()
    message = RecoveryMessage.objects.create(journey=journey, step=step)

    email = compose(message, load_email_products(journey))

    assert email.subject == "تركتَ Winter coat"
    assert email.body.startswith("نص عربي http")
    assert "سلتك محفوظة" in email.alternatives[0][0]


def test_a_language_without_text_gets_the_default_and_a_variant_its_own(journey):
    step = step_with(subject="Hello", translations={"ar": {"subject": "مرحبا"}})
    variant = StepVariant.objects.create(
        step=step, label="B", weight=100, subject="Hi", translations={"ar": {"subject": "أهلا"}}
    )
    CartJourney.objects.filter(pk=journey.pk).update(language="ko")
    journey.refresh_from_db()
    assert (
        compose(
            RecoveryMessage.objects.create(journey=journey, step=step), load_email_products(journey)
        ).subject
        == "Hello"
    )
    assert content_for(step, variant, "ar").subject == "أهلا"
    assert content_for(step, variant, "ko").subject == "Hi"
    assert content_for(step, None).subject == "Hello"  # no language: the default's


def test_the_preview_renders_the_language_asked_for(journey):
    step = step_with(subject="Hello", translations={"fa": {"subject": "سلام"}})
    journey.language = "fa"
    assert preview(step, journey).subject == "سلام"


def test_the_admin_preview_in_arabic_shows_the_arabic_text(admin_client, journey):
    step = step_with(subject="Hello", translations={"ar": {"subject": "مرحبا يا {{ shop.name }}"}})
    url = f"/admin/oscar_recovery/campaignstep/{step.pk}/preview/"
    page = admin_client.get(url, {"language": "ar"}).content.decode()
    assert "مرحبا يا" in page
    assert "مرحبا يا" not in admin_client.get(url, {"language": "ko"}).content.decode()
