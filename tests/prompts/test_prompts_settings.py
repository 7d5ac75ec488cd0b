"""The prompts' own settings module: the shop's names, defaults, read lazily, one place."""

from datetime import timedelta

import pytest

from oscar_recovery import app_settings
from oscar_recovery.prompts import app_settings as prompt_settings

DEFAULTS = {
    "ENABLED": True,
    "CACHE_TIMEOUT": 300,
    "VISIT_GAP": timedelta(minutes=30),
    "TAB_REMINDER": True,
    "LIVE_CAPTURE": False,
    "EVENTS_RATE_LIMIT": (120, timedelta(hours=1)),
    "CAPTURE_RATE_LIMIT": (10, timedelta(hours=1)),
    "ATTRIBUTION_WINDOW": timedelta(days=7),
}


def _names() -> list[str]:
    return sorted(
        name
        for name, value in vars(prompt_settings.PromptSettings).items()
        if isinstance(value, property)
    )


def test_every_prompt_setting_has_its_documented_default():
    assert _names() == sorted(DEFAULTS)
    for name, default in DEFAULTS.items():
        assert getattr(prompt_settings, name) == default, name


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_each_setting_keeps_the_shops_name(name):
    # (That each is in the documentation's settings reference: tests/test_docs.py.)
    # The prompts' settings live in one place: the root settings no longer answer them.
    with pytest.raises(AttributeError):
        getattr(app_settings, f"PROMPTS_{name}")


def test_settings_are_read_lazily_under_the_shops_names(settings):
    settings.OSCAR_RECOVERY_PROMPTS_ENABLED = False
    settings.OSCAR_RECOVERY_PROMPTS_VISIT_GAP = 60
    settings.OSCAR_RECOVERY_PROMPTS_CAPTURE_RATE_LIMIT = (3, 120)
    assert prompt_settings.ENABLED is False
    assert timedelta(minutes=1) == prompt_settings.VISIT_GAP
    assert (3, timedelta(minutes=2)) == prompt_settings.CAPTURE_RATE_LIMIT
