"""The app as a project sees it: migrations, system checks, settings."""

import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from oscar_recovery import app_settings
from oscar_recovery.adapter import RecoveryAdapter
from oscar_recovery.checks import check_settings

pytestmark = pytest.mark.django_db


def test_migrations_match_the_models():
    call_command("makemigrations", "oscar_recovery", "--check", "--dry-run", stdout=StringIO())


def test_default_configuration_passes_the_system_checks():
    assert check_settings(None) == []


@pytest.mark.parametrize(
    ("overrides", "error_id"),
    [
        ({"OSCAR_RECOVERY_ADAPTER": "nowhere.Adapter"}, "oscar_recovery.E001"),
        ({"OSCAR_RECOVERY_ABANDON_AFTER": 0}, "oscar_recovery.E002"),
        ({"OSCAR_RECOVERY_EXPIRE_AFTER": timedelta(minutes=5)}, "oscar_recovery.E003"),
        ({"OSCAR_RECOVERY_POSTAL_ADDRESS": ""}, "oscar_recovery.W002"),
        ({"OSCAR_RECOVERY_SITE_URL": "shop.example"}, "oscar_recovery.E004"),
        ({"OSCAR_RECOVERY_SENDING_STALE_AFTER": 30}, "oscar_recovery.E005"),
    ],
)
def test_misconfiguration_is_reported(settings, overrides, error_id):
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert error_id in [problem.id for problem in check_settings(None)]


def test_settings_are_read_lazily_and_accept_seconds(settings):
    assert timedelta(minutes=30) == app_settings.ABANDON_AFTER
    settings.OSCAR_RECOVERY_ABANDON_AFTER = 600
    assert timedelta(minutes=10) == app_settings.ABANDON_AFTER


def test_a_custom_adapter_is_used(settings, shopper, product):
    from oscar_recovery.models import CartJourney
    from tests.support.journeys import add_to_basket

    settings.OSCAR_RECOVERY_ADAPTER = "tests.test_project.EveryoneIsABot"
    add_to_basket(shopper, product)
    assert CartJourney.objects.get().is_bot


class EveryoneIsABot(RecoveryAdapter):
    def is_bot(self, user_agent: str) -> bool:
        return True


def test_tracking_urls_without_a_webhook_secret_are_an_error_in_production(settings):
    from oscar_recovery.checks import check_esp_webhook_secret

    assert check_esp_webhook_secret(None) == []  # tests/urls.py mounts them, with a secret
    settings.ROOT_URLCONF = "tests.support.urls_anymail_direct"  # anymail's own, unguarded
    settings.ANYMAIL = {}
    settings.DEBUG = False
    assert [problem.id for problem in check_esp_webhook_secret(None)] == ["oscar_recovery.E030"]
    settings.DEBUG = True
    assert [problem.id for problem in check_esp_webhook_secret(None)] == ["oscar_recovery.W030"]
    settings.ANYMAIL_WEBHOOK_SECRET = "esp:secret"
    assert check_esp_webhook_secret(None) == []


def test_guarded_tracking_urls_without_a_secret_are_closed_and_said_so(settings):
    """oscar_recovery.webhooks answers 404 then: nothing is open (no E030), but no
    bounce arrives either, which the owner must hear (W031)."""
    from oscar_recovery.checks import check_esp_webhook_secret

    settings.ANYMAIL = {}
    settings.DEBUG = False
    assert [problem.id for problem in check_esp_webhook_secret(None)] == ["oscar_recovery.W031"]


def test_no_webhook_secret_is_needed_when_the_tracking_urls_are_not_mounted(settings):
    from oscar_recovery.checks import check_esp_webhook_secret

    settings.ANYMAIL = {}
    settings.DEBUG = False
    settings.ROOT_URLCONF = "oscar_recovery.urls"
    assert check_esp_webhook_secret(None) == []


def test_the_layout_map_names_every_package_and_root_module():
    """README "How the code is laid out" and the package docstring list the tree as it is."""
    import oscar_recovery

    root = Path(oscar_recovery.__file__).parent
    readme = (root.parent / "README.md").read_text()
    block = readme.split("## How the code is laid out", 1)[1].split("```", 2)[1]
    packages = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("__"))
    modules = sorted(p.stem for p in root.glob("*.py") if p.stem != "__init__")
    assert len(modules) + 1 <= 16, "the root stays small"
    for name in packages:
        assert f"{name}/" in block, name
    for name in modules:
        assert f"{name}.py" in block, name
        assert f"``{name}``" in oscar_recovery.__doc__, name
    for name in set(packages) - {"templates", "static", "locale", "migrations"}:
        assert f"``{name}/``" in oscar_recovery.__doc__, name
    named = set(re.findall(r"^  ([a-z_]+)/", block, re.MULTILINE))
    assert named <= set(packages), named - set(packages)


def test_the_readme_links_only_to_what_exists():
    """The README's links into the documentation (and its own headings) resolve."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    headings = re.findall(r"^#{2,4} (.+)$", readme, re.MULTILINE)
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    for link in re.findall(r"\]\(#([^)]+)\)", readme):
        assert link in anchors, link
    files = re.findall(r"\]\((?!#|https?:)([^)#]+)", readme)
    assert len(files) > 10
    for link in files:
        assert (root / link).exists(), link


def test_the_security_page_says_what_the_shop_must_configure():
    security = (Path(__file__).resolve().parents[1] / "docs/explanation/security.md").read_text()
    assert "OSCAR_RECOVERY_TRUSTED_PROXIES" in security and 'ANYMAIL["WEBHOOK_SECRET"]' in security
