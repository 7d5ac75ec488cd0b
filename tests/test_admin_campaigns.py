"""Campaign steps in the admin: templates are checked on save, the Preview page renders a
step for a real or sample basket and takes unsaved drafts, and test emails go only to the
staff member who asked for one."""

from datetime import timedelta

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from oscar.core.loading import get_model
from oscar.test.factories import UserFactory

from oscar_recovery.admin.forms import CampaignStepForm
from oscar_recovery.constants import Incentive
from oscar_recovery.models import Campaign, CampaignStep, RecoveryMessage, StepVariant
from tests.support.factories import make_journey

Voucher = get_model("voucher", "Voucher")

pytestmark = pytest.mark.django_db

FORBIDDEN = "{% load static %}<p>{{ shop.name }}</p>"


@pytest.fixture
def campaign():
    return Campaign.objects.create(name="Winter")


@pytest.fixture
def step(campaign, product):
    return CampaignStep.objects.create(
        campaign=campaign,
        position=1,
        delay=timedelta(hours=1),
        subject="Your {{ lines.0.title }} is waiting",
        preheader="Saved for you",
    )


@pytest.fixture
def journey(other_product):
    """A real journey whose basket holds only the hat, so it cannot be mistaken for the
    sample basket (which would hold every product)."""
    line = {"product_id": other_product.pk, "title": "Wool hat", "quantity": 2}
    return make_journey(
        quiet_for=timedelta(hours=3), lines=[line], email="shopper@example.com", language="de"
    )


def preview_url(step, **params) -> str:
    url = reverse("admin:oscar_recovery_campaignstep_preview", args=[step.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def html_url(step, **params) -> str:
    url = reverse("admin:oscar_recovery_campaignstep_preview_html", args=[step.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def step_form(step, variants=(), **changes) -> dict:
    """The step change form as the admin posts it, with ``variants`` as new inline rows."""
    data = {
        "campaign": step.campaign_id,
        "position": step.position,
        "delay": "01:00:00",
        "subject": step.subject,
        "preheader": step.preheader,
        "body_html": step.body_html,
        "body_text": step.body_text,
        "incentive": step.incentive,
        "incentive_value": "",
        "incentive_valid_for": "7 00:00:00",
        "variants-TOTAL_FORMS": len(variants),
        "variants-INITIAL_FORMS": 0,
        "variants-MIN_NUM_FORMS": 0,
        "variants-MAX_NUM_FORMS": 1000,
    }
    for i, variant in enumerate(variants):
        row = {"subject": "", "preheader": "", "body_html": "", "body_text": "", **variant}
        data.update({f"variants-{i}-{name}": value for name, value in row.items()})
        data[f"variants-{i}-step"] = step.pk
    data.update(changes)
    return data


def draft(step, **changes) -> dict:
    data = {
        "subject": step.subject,
        "preheader": step.preheader,
        "body_html": step.body_html,
        "body_text": step.body_text,
        "action": "preview",
    }
    data.update(changes)
    return data


def change_url(step) -> str:
    return reverse("admin:oscar_recovery_campaignstep_change", args=[step.pk])


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# Validation on save


def test_a_valid_step_saves(admin_client, step):
    response = admin_client.post(change_url(step), step_form(step, body_text="Hi {{ total }}"))

    assert response.status_code == 302
    step.refresh_from_db()
    assert step.body_text == "Hi {{ total }}"


def test_a_forbidden_tag_is_rejected_on_the_field_and_nothing_is_saved(admin_client, step):
    response = admin_client.post(change_url(step), step_form(step, body_html=FORBIDDEN))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["body_html"]
    assert "load" in " ".join(errors["body_html"])
    step.refresh_from_db()
    assert step.body_html == ""


def test_a_forbidden_tag_in_a_variant_is_rejected(admin_client, step):
    variant = {"label": "B", "weight": 50, "subject": "{% load static %}Hi"}
    response = admin_client.post(change_url(step), step_form(step, [variant]))

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.forms[0].errors["subject"]
    assert not StepVariant.objects.exists()


def test_variant_weights_above_100_are_rejected(admin_client, step):
    variants = [{"label": "B", "weight": 60}, {"label": "C", "weight": 50}]
    response = admin_client.post(change_url(step), step_form(step, variants))

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert "110" in errors[0] and "100" in errors[0]
    assert not StepVariant.objects.exists()


def test_variant_weights_of_exactly_100_are_accepted(admin_client, step):
    variants = [{"label": "B", "weight": 60}, {"label": "C", "weight": 40}]
    response = admin_client.post(change_url(step), step_form(step, variants))

    assert response.status_code == 302
    assert sorted(StepVariant.objects.values_list("label", flat=True)) == ["B", "C"]


def test_label_a_is_reserved_for_the_control(admin_client, step):
    response = admin_client.post(change_url(step), step_form(step, [{"label": "A", "weight": 50}]))

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert "control" in " ".join(errors["label"])
    assert not StepVariant.objects.exists()


def test_variant_labels_must_differ(admin_client, step):
    variants = [{"label": "B", "weight": 20}, {"label": "b", "weight": 20}]
    response = admin_client.post(change_url(step), step_form(step, variants))

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.forms[1].errors["label"]
    assert not StepVariant.objects.exists()


def test_a_forbidden_tag_is_rejected_in_the_campaigns_step_rows(admin_client, step):
    prefix = "steps-0-"
    data = {
        "name": "Winter",
        "trigger": step.campaign.trigger,
        "priority": 100,
        "customer_type": step.campaign.customer_type,
        "value_tier": step.campaign.value_tier,
        "holdout_percent": 10,
        "steps-TOTAL_FORMS": 1,
        "steps-INITIAL_FORMS": 1,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        f"{prefix}id": step.pk,
        f"{prefix}campaign": step.campaign_id,
        f"{prefix}position": 1,
        f"{prefix}delay": "01:00:00",
        f"{prefix}subject": "{% debug %}",
        f"{prefix}preheader": "",
        f"{prefix}incentive": Incentive.NONE,
        f"{prefix}incentive_value": "",
    }
    url = reverse("admin:oscar_recovery_campaign_change", args=[step.campaign_id])

    response = admin_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert "debug" in " ".join(errors["subject"])
    step.refresh_from_db()
    assert step.subject == "Your {{ lines.0.title }} is waiting"


def test_the_change_page_links_the_preview_and_shows_the_default_templates(admin_client, step):
    html = admin_client.get(change_url(step)).content.decode()

    assert preview_url(step) in html
    assert "Default templates" in html
    assert "unsubscribe_url" in html  # the shipped default links to it


def test_the_campaign_page_links_each_steps_preview(admin_client, step):
    url = reverse("admin:oscar_recovery_campaign_change", args=[step.campaign_id])

    assert preview_url(step) in admin_client.get(url).content.decode()


# Preview


def test_preview_without_journeys_uses_a_sample_basket(admin_client, step):
    response = admin_client.get(preview_url(step))

    assert response.status_code == 200
    assert response.context["journey"].pk is None
    rendered = response.context["result"].email
    assert rendered.subject == "Your Winter coat is waiting"
    assert "Winter coat" in rendered.text
    assert "<iframe" in response.content.decode()


def test_preview_of_a_real_journey_shows_its_basket(admin_client, step, journey):
    response = admin_client.get(preview_url(step, journey=journey.pk))

    assert response.status_code == 200
    assert response.context["journey"] == journey
    text = response.context["result"].email.text
    assert "Wool hat" in text and "Winter coat" not in text


def test_preview_defaults_to_the_latest_journey_with_lines(admin_client, step, journey):
    make_journey(quiet_for=timedelta(hours=1), lines=[], num_lines=0)

    assert admin_client.get(preview_url(step)).context["journey"] == journey


def test_an_unknown_journey_is_reported_and_the_default_shown(admin_client, step):
    response = admin_client.get(preview_url(step, journey=999999))

    assert response.status_code == 200
    assert "no journey #999999" in response.content.decode()
    assert response.context["result"].email is not None


def test_the_html_part_is_sandboxed_and_shows_the_basket(admin_client, step, journey):
    response = admin_client.get(html_url(step, journey=journey.pk))

    assert response.status_code == 200
    # Sandboxed: no script, form or popup (same origin only so the page can size the frame).
    assert response["Content-Security-Policy"] == "sandbox allow-same-origin"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "Wool hat" in response.content.decode()


def test_the_language_picker_overrides_the_journeys_language(admin_client, step, journey):
    html = admin_client.get(html_url(step, journey=journey.pk, language="ar")).content.decode()

    assert 'dir="rtl"' in html
    german = admin_client.get(html_url(step, journey=journey.pk)).content.decode()
    assert 'dir="rtl"' not in german


def test_the_variant_picker_previews_the_variants_subject(admin_client, step):
    StepVariant.objects.create(step=step, label="B", subject="Still want it?", weight=50)

    response = admin_client.get(preview_url(step, variant="B"))

    assert response.context["result"].email.subject == "Still want it?"


def test_a_draft_is_previewed_and_not_saved(admin_client, step):
    body = "Draft for {{ lines.0.title }}"
    response = admin_client.post(preview_url(step), draft(step, body_text=body))

    assert response.status_code == 200
    assert response.context["result"].email.text.strip() == "Draft for Winter coat"
    assert "Draft for Winter coat" in response.content.decode()
    step.refresh_from_db()
    assert step.body_text == ""
    assert not RecoveryMessage.objects.exists()


def test_a_drafts_frames_load_it_with_their_own_policy_not_the_admins(admin_client, step):
    """Before: the draft's frames were ``srcdoc`` frames, which inherit the admin page's
    Content-Security-Policy, so a strict one refused the email's inline styles."""
    body = '<p style="color: rgb(200, 0, 0)">Draft for {{ lines.0.title }}</p>'
    for action in ("preview", "send"):
        response = admin_client.post(preview_url(step), draft(step, body_html=body, action=action))

        page = response.content.decode()
        assert "srcdoc" not in page
        frame_url = html_url(step) + "?draft=1"
        assert page.count(f'src="{frame_url}"') == 2
        frame = admin_client.get(frame_url)
        assert frame["Content-Security-Policy"] == "sandbox allow-same-origin"
        assert 'style="color: rgb(200, 0, 0)">Draft for Winter coat' in frame.content.decode()


def test_a_draft_frame_of_another_step_shows_no_draft(admin_client, step):
    admin_client.post(preview_url(step), draft(step, body_text="Mine"))
    other = CampaignStep.objects.create(campaign=step.campaign, position=2, delay=step.delay)

    frame = admin_client.get(html_url(other) + "?draft=1").content.decode()
    assert "preview it again" in frame and "Winter coat" not in frame


def test_the_preview_page_shows_the_default_templates_its_help_text_names(admin_client, step):
    """Before: "copy the default from “Default templates” below", which only the change
    page had."""
    html = admin_client.get(preview_url(step)).content.decode()
    assert "Default templates" in html and 'id="default-templates"' in html
    assert "unsubscribe_url" in html
    assert "below" not in str(CampaignStepForm.base_fields["body_html"].help_text or "")


def test_a_broken_draft_shows_the_error_not_a_500(admin_client, step):
    response = admin_client.post(preview_url(step), draft(step, body_html=FORBIDDEN))

    assert response.status_code == 200
    assert response.context["result"].email is None
    assert response.context["draft"].errors["body_html"]
    # In place of the preview, not only next to the field.
    assert "{% load %} tag is not allowed" in response.context["result"].error


def test_a_saved_template_that_fails_to_render_shows_the_error(admin_client, step):
    # Compiles, so validation lets it through, but fails on the real context.
    CampaignStep.objects.filter(pk=step.pk).update(body_html="{% for a, b in lines %}{% endfor %}")

    page = admin_client.get(preview_url(step))
    html = admin_client.get(html_url(step))

    assert page.status_code == 200 and html.status_code == 200
    assert "could not be rendered" in page.context["result"].error
    assert "could not be rendered" in html.content.decode()
    assert html["Content-Security-Policy"] == "sandbox allow-same-origin"


def test_the_preview_needs_view_permission(client, step):
    client.force_login(UserFactory(is_staff=True))

    assert client.get(preview_url(step)).status_code == 403
    assert client.get(html_url(step)).status_code == 403


def test_view_only_staff_see_the_preview_but_cannot_post_drafts_or_send(client, step):
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True, email="viewer@example.com")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="oscar_recovery",
            codename__in=["view_campaignstep", "view_campaign"],
        )
    )
    client.force_login(user)
    assert client.get(preview_url(step)).status_code == 200
    assert client.post(preview_url(step), draft(step, body_text="x")).status_code == 403
    assert client.post(preview_url(step), draft(step, action="send")).status_code == 403
    changelist = reverse("admin:oscar_recovery_campaignstep_changelist")
    client.post(changelist, {"action": "send_test_emails", "_selected_action": [step.pk]})
    assert mail.outbox == []


# Test emails


def test_a_test_email_goes_to_the_staff_member_only(admin_client, admin_user, step, journey):
    CampaignStep.objects.filter(pk=step.pk).update(
        incentive=Incentive.PERCENTAGE, incentive_value=10
    )
    step.refresh_from_db()
    response = admin_client.post(preview_url(step, journey=journey.pk), draft(step, action="send"))

    assert response.status_code == 200
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [admin_user.email]
    assert journey.email not in email.to + email.cc + email.bcc
    assert email.subject == "[Test] Your Wool hat is waiting"
    assert "Wool hat" in email.body and "Wool hat" in email.alternatives[0][0]
    assert email.extra_headers["List-Unsubscribe"].startswith("<http")
    assert not RecoveryMessage.objects.exists()
    assert not Voucher.objects.exists()
    assert any(admin_user.email in text for text in message_texts(response))


def test_a_test_email_carries_the_headers_of_a_real_one(admin_client, step, journey, settings):
    settings.OSCAR_RECOVERY_SITE_URL = "https://shop.example"
    settings.OSCAR_RECOVERY_FROM_EMAIL = "Shop <basket@shop.example>"
    admin_client.post(preview_url(step, journey=journey.pk), draft(step, action="send"))

    (email,) = mail.outbox
    assert email.from_email == "Shop <basket@shop.example>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.extra_headers["List-Unsubscribe"].startswith("<https://shop.example/")
    assert email.extra_headers["Message-ID"].endswith("@shop.example>")
    assert email.tags == ["oscar-recovery-test"]


def test_a_staff_member_without_an_email_is_told_so(client, step):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, email=""))

    response = client.post(preview_url(step), draft(step, action="send"))

    assert response.status_code == 200
    assert mail.outbox == []
    assert any("no email address" in text for text in message_texts(response))


class FailingBackend(AnymailTestBackend):
    def send_messages(self, email_messages):
        raise AnymailAPIError("ESP says no")


def test_an_esp_error_is_reported_not_a_500(admin_client, step, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"

    response = admin_client.post(preview_url(step), draft(step, action="send"))

    assert response.status_code == 200
    assert any("ESP says no" in text for text in message_texts(response))


def test_the_admin_action_sends_one_test_email_per_step(admin_client, admin_user, step):
    second = CampaignStep.objects.create(
        campaign=step.campaign, position=2, delay=timedelta(days=1), subject="Second"
    )
    url = reverse("admin:oscar_recovery_campaignstep_changelist")

    response = admin_client.post(
        url, {"action": "send_test_emails", "_selected_action": [step.pk, second.pk]}
    )

    assert response.status_code == 302
    assert sorted(email.subject for email in mail.outbox) == [
        "[Test] Second",
        "[Test] Your Winter coat is waiting",
    ]
    assert all(email.to == [admin_user.email] for email in mail.outbox)
    assert not RecoveryMessage.objects.exists()
