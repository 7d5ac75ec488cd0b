"""The dashboard's on-site prompts: the prompts table and the prompt events in a basket's
timeline, checked against events built here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from oscar_recovery.constants import PromptEventKind, PromptKind
from oscar_recovery.dashboard.timeline import journey_timeline, prompt_timeline
from oscar_recovery.models import Prompt, PromptEvent
from oscar_recovery.reporting.reports import Period, prompt_rows
from tests.support.dashboard_scenario import recovery_staff
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def make_prompt(name: str, priority: int = 100) -> Prompt:
    return Prompt.objects.create(
        name=name,
        kind=PromptKind.EXIT_INTENT,
        is_active=True,
        priority=priority,
        headline="Before you go",
        cta_label="Send my code",
    )


def events(prompt: Prompt, kind: str, count: int, *, at=DAY, **fields) -> None:
    for _ in range(count):
        PromptEvent.objects.create(prompt=prompt, kind=kind, created_at=at, **fields)


def test_the_prompts_table_counts_each_prompt_s_events_in_the_period():
    exit_new, exit_back = make_prompt("Exit: new", 200), make_prompt("Exit: returning", 100)
    events(exit_new, PromptEventKind.SHOWN, 10)
    events(exit_new, PromptEventKind.DISMISSED, 6)
    events(exit_new, PromptEventKind.SUBMITTED, 3)
    events(exit_new, PromptEventKind.CONVERTED, 1)
    events(exit_back, PromptEventKind.SHOWN, 4)
    # Outside the period: counted nowhere.
    events(exit_new, PromptEventKind.SHOWN, 5, at=DAY - timedelta(days=30))
    events(exit_back, PromptEventKind.SUBMITTED, 2, at=DAY + timedelta(days=30))
    make_prompt("Never shown")

    rows = prompt_rows(Period(date(2026, 3, 1), date(2026, 3, 31)))

    assert [row.label for row in rows] == ["Exit: new", "Exit: returning"]
    assert rows[0].figures == {
        "shown": 10,
        "dismissed": 6,
        "captured": 3,
        "capture_rate": 0.3,
        "recovered_orders": 1,
        "assisted_orders": 0,
    }
    assert rows[1]["shown"] == 4 and rows[1]["captured"] == 0 and rows[1]["capture_rate"] == 0


def test_a_prompt_that_never_asks_for_an_email_has_no_capture_rate():
    """Before: the guest-checkout help read "Capture rate 0.0 %" though it has no form."""
    help_prompt = Prompt.objects.create(
        name="Guest help", kind=PromptKind.GUEST_CHECKOUT, is_active=True, headline="No account?"
    )
    link_only = make_prompt("Exit: link")
    Prompt.objects.filter(pk=link_only.pk).update(asks_email=False)
    for prompt in (help_prompt, link_only):
        events(prompt, PromptEventKind.SHOWN, 5)

    rows = prompt_rows(Period(date(2026, 3, 1), date(2026, 3, 31)))

    assert {row.label: row["capture_rate"] for row in rows} == {
        "Guest help": None,
        "Exit: link": None,
    }


def test_a_basket_timeline_shows_its_prompt_events_and_its_browser_s():
    prompt = make_prompt("Exit: new")
    journey = make_journey(quiet_for=timedelta(hours=2), visitor_id="v" * 32)
    seen_at = journey.created_at + timedelta(minutes=1)
    events(prompt, PromptEventKind.SHOWN, 1, at=seen_at, visitor_id="v" * 32)
    events(
        prompt, PromptEventKind.SUBMITTED, 1, at=seen_at + timedelta(seconds=30), journey=journey
    )
    # Another browser, and the same browser before this journey began: not this basket's.
    events(prompt, PromptEventKind.SHOWN, 1, at=seen_at, visitor_id="w" * 32)
    events(
        prompt,
        PromptEventKind.DISMISSED,
        1,
        at=journey.created_at - timedelta(days=3),
        visitor_id="v" * 32,
    )

    entries = prompt_timeline(journey)

    assert [(entry.kind, entry.title) for entry in entries] == [
        ("prompt", "Exit: new: Shown"),
        ("prompt", "Exit: new: Email submitted"),
    ]
    assert [e for e in journey_timeline(journey) if e.kind == "prompt"] == entries


def test_the_campaigns_page_lists_prompts_for_staff():
    prompt = make_prompt("Exit: new")
    events(prompt, PromptEventKind.SHOWN, 2)
    client = Client()
    client.force_login(recovery_staff("view_campaign"))

    response = client.get(
        reverse("recovery_dashboard:recovery-campaigns"),
        {"start": "2026-03-01", "end": "2026-03-31"},
    )

    assert response.status_code == 200
    assert "Exit: new" in response.content.decode()
