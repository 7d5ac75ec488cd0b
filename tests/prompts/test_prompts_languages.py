"""Prompts in the shopper's language: the text the owner wrote for the page's
language, its lang/dir, the fallback to the default language, the wording recorded on
capture, the admin's side-by-side fields and the example prompts in every shipped language."""

import json
import re

import pytest
from django.test import Client
from django.utils import translation

from oscar_recovery.constants import Incentive, PromptEventKind, PromptKind
from oscar_recovery.models import Prompt, PromptEvent, PromptVariant
from oscar_recovery.prompts import targeting
from oscar_recovery.prompts.install import install_default_prompts
from tests.conftest import BROWSER_UA
from tests.prompts.test_prompts_admin import ADD_URL, form_data
from tests.prompts.test_prompts_endpoints import CAPTURE, capture, post
from tests.prompts.test_prompts_tag import make_prompt, template_of
from tests.support.prompt_helpers import render_tag, visitor_request

pytestmark = pytest.mark.django_db

ARABIC = {
    "headline": "قبل أن تغادر",
    "body": "اترك بريدك الإلكتروني.",
    "cta_label": "أرسل الرمز",
    "consent_text": "راسلوني بشأن سلتي.",
}


def arabic_prompt(**fields) -> Prompt:
    return make_prompt(
        consent_text="Email me about my basket.", translations={"ar": ARABIC}, **fields
    )


def test_an_arabic_page_shows_the_arabic_text_right_to_left(basket):
    prompt = arabic_prompt()
    with translation.override("ar"):
        markup = template_of(render_tag(visitor_request(basket=basket)), prompt.pk)
    assert 'lang="ar" dir="rtl"' in markup.split(">", 1)[0]  # the dialog itself
    assert f'<h2 id="orc-title-{prompt.pk}">قبل أن تغادر</h2>' in markup
    assert "<p>اترك بريدك الإلكتروني.</p>" in markup
    assert "راسلوني بشأن سلتي." in markup and '"orc-cta">أرسل الرمز</button>' in markup
    assert "Before you go" not in markup and "Email me" not in markup


def dialog_of(markup: str) -> str:
    return markup.split(">", 1)[0]


def test_a_prompt_half_translated_shows_whole_in_the_default_language(basket):
    """One language per prompt: an Arabic headline over English body, button and labels
    would be two languages at once; the prompt shows whole in English, left to right."""
    prompt = make_prompt(translations={"ar": {"headline": "قبل أن تغادر"}})
    with translation.override("ar"):
        markup = template_of(render_tag(visitor_request(basket=basket)), prompt.pk)
    assert 'lang="en-gb" dir="ltr"' in dialog_of(markup)
    assert f'<h2 id="orc-title-{prompt.pk}">Before you go</h2>' in markup
    assert "قبل أن تغادر" not in markup
    # The labels the app writes too, though it speaks Arabic.
    assert ">Email</label>" in markup and ">No thanks</button>" in markup
    assert 'aria-label="Close"' in markup


@pytest.mark.parametrize("language", ["en-gb", "ko", "de"])
def test_other_languages_and_the_default_see_the_default_text_and_labels(basket, language):
    """German: a language the shop offers but the owner wrote nothing in (Django and Oscar
    translate "Email" into German, this app does not): all English, labels included."""
    prompt = arabic_prompt()
    with translation.override(language):
        markup = template_of(render_tag(visitor_request(basket=basket)), prompt.pk)
    assert 'lang="en-gb" dir="ltr"' in dialog_of(markup)
    assert f'<h2 id="orc-title-{prompt.pk}">Before you go</h2>' in markup
    assert ">Email</label>" in markup and ">No thanks</button>" in markup


def test_a_language_the_app_does_not_speak_falls_back_whole_even_with_the_owners_text(basket):
    """The owner wrote German, but the app's own labels have no German: a German headline
    over an English "No thanks" is two languages again, so the prompt stays English."""
    german = {"headline": "Bevor Sie gehen", "body": "E-Mail hinterlassen.", "cta_label": "Los"}
    prompt = make_prompt(translations={"de": german})
    with translation.override("de"):
        markup = template_of(render_tag(visitor_request(basket=basket)), prompt.pk)
    assert 'lang="en-gb" dir="ltr"' in dialog_of(markup)
    assert "Bevor Sie gehen" not in markup and "Before you go" in markup


def test_the_endpoint_answers_in_the_language_the_prompt_was_shown_in():
    """The page was Korean, the prompt has no Korean text, so it showed in English: the
    thank-you and the consent record are English too."""
    prompt = arabic_prompt(incentive=Incentive.NONE)
    browser = Client(HTTP_USER_AGENT=BROWSER_UA, enforce_csrf_checks=True)
    response = post(browser, CAPTURE, {**capture(prompt), "language": "ko"})
    assert response.status_code == 200, response.content
    assert response.json()["message"] == "Thank you! We have saved your basket for you."
    submitted = PromptEvent.objects.get(kind=PromptEventKind.SUBMITTED)
    assert submitted.data["consent"]["language"] == "en-gb"


def test_a_variant_in_arabic_and_the_cached_prompts_carry_translations():
    prompt = arabic_prompt()
    variant = PromptVariant.objects.create(
        prompt=prompt,
        label="B",
        weight=50,
        headline="Wait!",
        translations={"ar": {"headline": "انتظر!"}},
    )
    cached = targeting.active_prompts()[0]
    assert cached.translations == {"ar": ARABIC}
    assert cached.variant_list[0].translations == {"ar": {"headline": "انتظر!"}}
    with translation.override("ar"):
        assert targeting.content_for(cached, cached.variant_list[0]).headline == "انتظر!"
        assert targeting.content_for(cached, None).cta_label == "أرسل الرمز"
    assert targeting.content_for(prompt, variant, "ko").headline == "Wait!"


def test_the_consent_wording_recorded_is_the_language_the_shopper_was_shown():
    prompt = arabic_prompt(incentive=Incentive.NONE)
    browser = Client(HTTP_USER_AGENT=BROWSER_UA, enforce_csrf_checks=True)
    response = post(browser, CAPTURE, capture(prompt), HTTP_ACCEPT_LANGUAGE="ar")
    assert response.status_code == 200, response.content
    submitted = PromptEvent.objects.get(kind=PromptEventKind.SUBMITTED)
    assert submitted.data["consent"]["wording"] == "راسلوني بشأن سلتي."


@pytest.mark.parametrize(
    ("sent", "wording"),
    [
        ("ar", "راسلوني بشأن سلتي."),
        # Not one of the shop's languages, or not a language at all: the request's own.
        ("xx", "Email me about my basket."),
        (["ar"], "Email me about my basket."),
        ("ar" * 50, "Email me about my basket."),
    ],
)
def test_the_page_language_the_script_sends_decides_the_wording_recorded(sent, wording):
    # The endpoint has no language prefix, and this browser asks for English: the page
    # that showed the prompt was Arabic, and its script says so.
    prompt = arabic_prompt(incentive=Incentive.NONE)
    browser = Client(HTTP_USER_AGENT=BROWSER_UA, enforce_csrf_checks=True)
    response = post(
        browser, CAPTURE, {**capture(prompt), "language": sent}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200, response.content
    submitted = PromptEvent.objects.get(kind=PromptEventKind.SUBMITTED)
    assert submitted.data["consent"]["wording"] == wording


def test_the_page_tells_its_script_the_language_it_was_shown_in(basket):
    arabic_prompt()
    with translation.override("ar"):
        html = render_tag(visitor_request(basket=basket))
    config = json.loads(re.search(r'id="oscar-recovery-config"[^>]*>(.*?)</script>', html, re.S)[1])
    assert config["language"] == "ar"


def test_the_admin_edits_each_language_beside_the_default(admin_client):
    page = admin_client.get(ADD_URL).content.decode()
    # Django 6 adds classes before the field's (form-row flex-container form-multiline).
    row = page[re.search(r'class="form-row[^"]*\bfield-headline\b', page).start() :]
    row = row[: row.index('class="form-row', 10)]
    assert (
        'name="headline"' in row and 'name="headline__ar"' in row and 'name="headline__ro"' in row
    )
    assert 'name="translations"' not in page  # edited through the fields, not as JSON

    data = form_data(
        **{"headline__ar": "قبل أن تغادر", "cta_label__fa": "ارسال", "thank_you__ko": "감사합니다"},
        **{
            "variants-TOTAL_FORMS": 1,
            "variants-0-label": "B",
            "variants-0-headline": "Wait!",
            "variants-0-headline__ar": "انتظر!",
            "variants-0-weight": 50,
        },
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["adminform"].errors
    prompt = Prompt.objects.get()
    assert prompt.translations == {
        "ar": {"headline": "قبل أن تغادر"},
        "fa": {"cta_label": "ارسال"},
        "ko": {"thank_you": "감사합니다"},
    }
    assert prompt.variants.get().translations == {"ar": {"headline": "انتظر!"}}


def test_the_example_prompts_come_in_every_shipped_language():
    for prompt in install_default_prompts():
        assert set(prompt.translations) == {"ar", "fa", "ko", "ro"}, prompt.name
        for values in prompt.translations.values():
            assert values["headline"] != prompt.headline
            assert values["cta_label"] != prompt.cta_label
            if prompt.consent_text:
                assert values["consent_text"] != prompt.consent_text
    exit_prompt = Prompt.objects.get(kind=PromptKind.EXIT_INTENT, incentive=Incentive.FREE_SHIPPING)
    assert exit_prompt.translations["ar"]["headline"] == "قبل أن تغادر: شحن مجاني لهذا الطلب"
