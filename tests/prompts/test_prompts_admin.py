"""Prompts in the Django admin (validated), their statistics, the system check, and the
example prompts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery.checks import check_prompts
from oscar_recovery.constants import Incentive, PromptEventKind, PromptKind, VisitorType
from oscar_recovery.models import CartJourney, Prompt, PromptEvent, PromptVariant
from oscar_recovery.prompts import service
from oscar_recovery.prompts.figures import prompt_statistics
from oscar_recovery.prompts.forms import PromptForm
from oscar_recovery.prompts.install import install_default_prompts
from oscar_recovery.reporting.statistics import two_proportion_z_test

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")

ADD_URL = "/admin/oscar_recovery/prompt/add/"


def form_data(**changes) -> dict:
    data = {
        "name": "Exit",
        "kind": PromptKind.EXIT_INTENT,
        "is_active": "on",
        "priority": 100,
        "headline": "Before you go",
        "body": "",
        "cta_label": "Send",
        "cta_url": "",
        "asks_email": "on",
        "consent_text": "",
        "thank_you": "",
        "incentive": Incentive.NONE,
        "incentive_value": "",
        "incentive_valid_for": "7 00:00:00",
        "visitor_type": VisitorType.ANY,
        "login_state": "any",
        "requires_basket": "on",
        "min_basket_value": "",
        "max_basket_value": "",
        "value_tier": "any",
        "device": "any",
        "include_pages": "",
        "exclude_pages": "",
        "quiet_days_after_dismissal": 7,
        "arm_after": 3000,
        "grace": 500,
        "delay_seconds": 15,
        "scroll_percent": "",
        "variants-TOTAL_FORMS": 0,
        "variants-INITIAL_FORMS": 0,
        "variants-MIN_NUM_FORMS": 0,
        "variants-MAX_NUM_FORMS": 1000,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def errors_of(**changes) -> dict:
    form = PromptForm(data=form_data(**changes))
    form.is_valid()
    return form.errors


def test_a_valid_prompt_saves_through_the_admin_with_a_variant(admin_client):
    data = form_data(
        incentive=Incentive.PERCENTAGE,
        incentive_value="10",
        **{
            "variants-TOTAL_FORMS": 1,
            "variants-0-label": "B",
            "variants-0-headline": "Wait!",
            "variants-0-weight": 50,
        },
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context and response.context["adminform"].errors
    prompt = Prompt.objects.get()
    assert prompt.incentive_value == Decimal("10")
    assert prompt.variants.get().label == "B"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"incentive": Incentive.PERCENTAGE, "incentive_value": ""}, "incentive_value"),
        ({"incentive": Incentive.PERCENTAGE, "incentive_value": "120"}, "incentive_value"),
        ({"incentive": Incentive.FIXED, "incentive_value": "-1"}, "incentive_value"),
        ({"incentive": Incentive.FREE_SHIPPING, "asks_email": None}, "incentive"),
        (
            {"incentive": Incentive.FREE_SHIPPING, "kind": PromptKind.GUEST_CHECKOUT},
            "incentive",
        ),
        ({"min_basket_value": "50", "max_basket_value": "20"}, "max_basket_value"),
        ({"consent_required": "on"}, "consent_text"),
        ({"kind": PromptKind.EMAIL_CAPTURE, "delay_seconds": ""}, "delay_seconds"),
        ({"include_pages": "/ok/*\nnot a pattern"}, "include_pages"),
        ({"exclude_pages": "<script>"}, "exclude_pages"),
        ({"cta_url": "javascript:alert(1)"}, "cta_url"),
        ({"cta_url": "//evil.example"}, "cta_url"),
        ({"scroll_percent": "120"}, "scroll_percent"),
    ],
)
def test_what_would_misbehave_is_a_form_error(changes, field):
    assert field in errors_of(**changes)


def test_dates_must_be_in_order():
    errors = errors_of(starts_at="2030-01-02 10:00", ends_at="2030-01-01 10:00")
    assert "ends_at" in errors


def test_good_patterns_and_links_pass():
    assert not errors_of(
        include_pages="/catalogue/*\ncatalogue:detail\ncheckout:*", cta_url="/offers/"
    )


def test_variants_need_distinct_labels_not_a_and_at_most_100_percent(admin_client):
    data = form_data(
        **{
            "variants-TOTAL_FORMS": 3,
            "variants-0-label": "A",
            "variants-0-weight": 10,
            "variants-1-label": "B",
            "variants-1-weight": 60,
            "variants-2-label": "b",
            "variants-2-weight": 50,
        }
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    text = response.content.decode()
    assert "is the prompt itself" in text
    assert "Another variant already has this label" in text
    assert not Prompt.objects.exists()


def test_variant_weights_above_100_are_refused_and_100_accepted(admin_client):
    variants = {
        "variants-TOTAL_FORMS": 2,
        "variants-0-label": "B",
        "variants-0-weight": 60,
        "variants-1-label": "C",
        "variants-1-weight": 41,
    }
    response = admin_client.post(ADD_URL, form_data(**variants))
    assert response.status_code == 200
    (formset,) = [inline.formset for inline in response.context["inline_admin_formsets"]]
    assert [error.code for error in formset.non_form_errors().as_data()] == ["over_100"]
    assert "101 % of visitors" in formset.non_form_errors()[0]
    assert not Prompt.objects.exists()
    response = admin_client.post(ADD_URL, form_data(**{**variants, "variants-1-weight": 40}))
    assert response.status_code == 302
    assert sorted(PromptVariant.objects.values_list("label", flat=True)) == ["B", "C"]


def test_the_change_page_shows_statistics_per_variant(admin_client):
    prompt = Prompt.objects.create(
        name="Exit", kind=PromptKind.EXIT_INTENT, headline="H", cta_label="C"
    )
    PromptVariant.objects.create(prompt=prompt, label="B", weight=50)
    for variant, kind, count in [
        ("A", PromptEventKind.SHOWN, 4),
        ("A", PromptEventKind.SUBMITTED, 1),
        ("B", PromptEventKind.SHOWN, 2),
        ("B", PromptEventKind.CONVERTED, 1),
    ]:
        for __ in range(count):
            PromptEvent.objects.create(prompt=prompt, variant=variant, kind=kind)
    stats = {row.label: row for row in prompt_statistics(prompt)}
    assert stats["A"].shown == 4 and stats["A"].submit_rate == 0.25
    assert stats["B"].conversion_rate == 0.5 and stats["B"].p_value is None  # too few
    response = admin_client.get(f"/admin/oscar_recovery/prompt/{prompt.pk}/change/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "<td>25.0%</td>" in text and "<td>50.0%</td>" in text


def test_a_variant_shown_to_enough_visitors_gets_a_p_value():
    # Control 5 of 100 ordered, B 20 of 100: pooled p = 0.125, se = sqrt(0.125 * 0.875 *
    # 0.02) = 0.046771, z = 0.15 / 0.046771 = 3.2071, p = erfc(3.2071 / sqrt 2) = 0.00134.
    prompt = Prompt.objects.create(
        name="Exit", kind=PromptKind.EXIT_INTENT, headline="H", cta_label="C"
    )
    PromptVariant.objects.create(prompt=prompt, label="B", weight=50)
    events = []
    for variant, converted in (("A", 5), ("B", 20)):
        events += [PromptEvent(prompt=prompt, variant=variant, kind="shown") for _ in range(100)]
        events += [
            PromptEvent(prompt=prompt, variant=variant, kind="converted") for _ in range(converted)
        ]
    PromptEvent.objects.bulk_create(events)
    stats = {row.label: row for row in prompt_statistics(prompt)}
    assert stats["A"].p_value is None  # the control itself
    assert stats["B"].p_value == pytest.approx(0.00134, abs=1e-5)


def two_proportion_p_value(x1, n1, x2, n2):
    """The p-value the prompt figures show: the one z-test of reporting.statistics."""
    test = two_proportion_z_test(x1, n1, x2, n2)
    return None if test is None else test.p_value


def test_the_z_test():
    assert two_proportion_p_value(50, 1000, 50, 1000) == pytest.approx(1.0)
    assert two_proportion_p_value(80, 1000, 50, 1000) == pytest.approx(0.0057, abs=0.001)
    assert two_proportion_p_value(0, 0, 1, 10) is None


def test_prompt_events_are_read_only_in_the_admin(admin_client):
    response = admin_client.get("/admin/oscar_recovery/promptevent/add/")
    assert response.status_code == 403


# -- system check -------------------------------------------------------------------------


def test_the_check_warns_when_guest_checkout_is_off():
    assert check_prompts(None) == []
    with override_settings(OSCAR_ALLOW_ANON_CHECKOUT=False):
        (warning,) = check_prompts(None)
    assert warning.id == "oscar_recovery.W051"
    assert "OSCAR_ALLOW_ANON_CHECKOUT" in warning.msg


# -- example prompts ----------------------------------------------------------------------


def test_the_example_prompts_install_once_and_activate_on_request():
    call_command("recovery_install_prompts")
    assert Prompt.objects.count() == 5 and not Prompt.objects.filter(is_active=True).exists()
    new = Prompt.objects.get(kind=PromptKind.EXIT_INTENT, visitor_type=VisitorType.NEW)
    returning = Prompt.objects.get(kind=PromptKind.EXIT_INTENT, visitor_type=VisitorType.RETURNING)
    assert new.incentive == Incentive.FREE_SHIPPING
    assert (returning.incentive, returning.incentive_value) == (Incentive.PERCENTAGE, Decimal("10"))
    new.headline = "Edited"
    new.save()
    install_default_prompts(activate=True)
    new.refresh_from_db()
    assert new.headline == "Edited" and new.is_active
    assert Prompt.objects.count() == 5
    capture = Prompt.objects.get(kind=PromptKind.EMAIL_CAPTURE)
    assert not capture.is_active  # a second dialog is the owner's choice
    for prompt in Prompt.objects.all():
        data = {
            **form_data(),
            **{
                f.name: getattr(prompt, f.name)
                for f in Prompt._meta.concrete_fields
                if f.name in PromptForm.base_fields
            },
        }
        data = {k: ("on" if v is True else v) for k, v in data.items() if v not in (None, False)}
        data["incentive_valid_for"] = "7 00:00:00"
        form = PromptForm(data=data, instance=prompt)
        assert form.is_valid(), (prompt.name, form.errors)


def test_the_example_texts_are_in_the_shops_language():
    with override_settings(LANGUAGE_CODE="de"):
        install_default_prompts()
    # No German catalogue ships yet: the English text is kept rather than nothing.
    assert Prompt.objects.get(name="Guest checkout").headline == "No account needed"


# -- conversions --------------------------------------------------------------------------


def test_a_conversion_counts_once_per_prompt_and_order(product):
    from oscar.test import factories

    prompt = Prompt.objects.create(
        name="Exit", kind=PromptKind.EXIT_INTENT, headline="H", cta_label="C"
    )
    journey = CartJourney.objects.create(visitor_id="v" * 32)
    PromptEvent.objects.create(
        prompt=prompt, variant="B", kind=PromptEventKind.SHOWN, visitor_id="v" * 32
    )
    order = factories.create_order()
    assert len(service.record_conversion(journey, order)) == 1
    assert service.record_conversion(journey, order) == []
    assert PromptEvent.objects.get(kind=PromptEventKind.CONVERTED).variant == "B"


def test_a_prompt_shown_before_the_window_does_not_convert(product):
    from oscar.test import factories

    prompt = Prompt.objects.create(
        name="Exit", kind=PromptKind.EXIT_INTENT, headline="H", cta_label="C"
    )
    journey = CartJourney.objects.create(visitor_id="v" * 32)
    PromptEvent.objects.create(
        prompt=prompt,
        kind=PromptEventKind.SHOWN,
        visitor_id="v" * 32,
        created_at=timezone.now() - timedelta(days=30),
    )
    assert service.record_conversion(journey, factories.create_order()) == []


def test_a_captured_journey_converts_even_without_the_visitor_cookie(product):
    from oscar.test import factories

    prompt = Prompt.objects.create(
        name="Exit", kind=PromptKind.EXIT_INTENT, headline="H", cta_label="C"
    )
    journey = CartJourney.objects.create(visitor_id="")
    PromptEvent.objects.create(prompt=prompt, kind=PromptEventKind.SUBMITTED, journey=journey)
    assert len(service.record_conversion(journey, factories.create_order())) == 1


def test_the_list_shows_each_prompts_results_in_one_query(
    admin_client, django_assert_max_num_queries
):
    for n in range(3):
        prompt = Prompt.objects.create(
            name=f"P{n}", kind=PromptKind.EXIT_INTENT, headline="H", cta_label="C"
        )
        for kind in (PromptEventKind.SHOWN, PromptEventKind.SHOWN, PromptEventKind.SUBMITTED):
            PromptEvent.objects.create(prompt=prompt, kind=kind)
    response = admin_client.get("/admin/oscar_recovery/prompt/")
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert [(p.shown_count, p.submitted_count, p.converted_count) for p in rows] == [(2, 1, 0)] * 3


# -- the live preview ------------------------------------------------------------------------

PREVIEW_URL = "/admin/oscar_recovery/prompt/preview/"


def test_the_live_preview_renders_the_unsaved_form_with_the_shops_stylesheet(admin_client):
    response = admin_client.post(
        PREVIEW_URL, form_data(headline="Wait <b>a sec</b>", body="First.\n\nSecond.")
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "oscar_recovery/prompts.css" in html
    assert '<dialog open class="orc-dialog"' in html  # a modal prompt, shown open
    assert "Wait &lt;b&gt;a sec&lt;/b&gt;" in html  # escaped, as on the shop
    assert "<p>First.</p><p>Second.</p>" in html
    assert 'type="email"' in html  # it asks for an email
    assert "<script" not in html
    assert response["Content-Security-Policy"].startswith("sandbox allow-same-origin;")
    assert not Prompt.objects.exists()  # nothing saved


def test_the_live_preview_of_a_saved_prompt_shows_the_edits_not_the_saved_text(admin_client):
    prompt = Prompt.objects.create(
        name="Banner", kind=PromptKind.RETURNING_BANNER, headline="Saved", cta_label="Go"
    )
    data = form_data(kind=PromptKind.RETURNING_BANNER, headline="Edited", asks_email=None)

    response = admin_client.post(f"/admin/oscar_recovery/prompt/{prompt.pk}/preview/", data)

    html = response.content.decode()
    assert 'class="orc-banner' in html and "Edited" in html and "Saved" not in html
    prompt.refresh_from_db()
    assert prompt.headline == "Saved"


def test_the_change_page_has_the_live_preview_frame_and_its_script(admin_client):
    prompt = Prompt.objects.create(name="Exit", kind=PromptKind.EXIT_INTENT, headline="Hi")

    html = admin_client.get(f"/admin/oscar_recovery/prompt/{prompt.pk}/change/").content.decode()

    assert f'data-preview-url="/admin/oscar_recovery/prompt/{prompt.pk}/preview/"' in html
    assert "oscar_recovery/admin/previews.js" in html


def test_the_live_preview_needs_change_permission_and_a_post(client, admin_client):
    from tests.support.dashboard_scenario import recovery_staff

    prompt = Prompt.objects.create(name="Exit", kind=PromptKind.EXIT_INTENT, headline="Hi")
    url = f"/admin/oscar_recovery/prompt/{prompt.pk}/preview/"
    client.force_login(recovery_staff("view_prompt"))

    assert client.post(url, form_data()).status_code == 403
    assert client.post(PREVIEW_URL, form_data()).status_code == 403  # no add permission
    assert admin_client.get(url).status_code == 405
    client.logout()
    assert client.post(url, form_data()).status_code == 302  # to the login page
