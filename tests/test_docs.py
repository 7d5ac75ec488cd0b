"""The documentation covers the code: every setting, system check, signal, Celery task and
management command appears in the generated reference, and no page names a tracker number.

The reference pages are generated at build time by ``docs/_ext/recovery_reference.py`` from
what ``docs/_ext/recovery_collect.py`` reads in the code; these tests find the same things
another way (a plain search of the source, or Django's and Celery's own registries) and
check that the collectors and the pages miss none. ``make docs`` then builds the pages with
warnings as errors.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from celery import current_app
from django.core.management import get_commands
from django.dispatch import Signal

from oscar_recovery import signals, tasks

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "oscar_recovery"
DOCS = ROOT / "docs"
SETTINGS_MODULES = ["oscar_recovery/app_settings.py", "oscar_recovery/prompts/app_settings.py"]


def _load_collect():
    spec = importlib.util.spec_from_file_location(
        "recovery_collect", DOCS / "_ext" / "recovery_collect.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("recovery_collect", module)
    spec.loader.exec_module(module)
    return module


collect = _load_collect()


def doc_pages() -> list[Path]:
    return sorted(
        p for p in DOCS.rglob("*") if p.suffix in (".md", ".rst") and "_build" not in p.parts
    )


def page(name: str) -> str:
    return (DOCS / name).read_text()


def prose(name: str) -> str:
    """A page's text with its line breaks folded, for phrases that wrap."""
    return " ".join(page(name).split())


@pytest.mark.parametrize("module", SETTINGS_MODULES)
def test_every_setting_is_in_the_reference(module):
    source = (ROOT / module).read_text()
    prefix = re.search(r'^PREFIX = "(\w+)"', source, re.MULTILINE).group(1)
    read = {prefix + name for name in re.findall(r'self\._setting\(\s*"(\w+)"', source)}
    documented = collect.collect_settings(ROOT / module)
    assert len(read) > 5
    assert {s.name for s in documented} == read
    # Each with the meaning its docstring gives and the default the code uses.
    assert [s.name for s in documented if not s.doc.strip()] == []
    assert [s.name for s in documented if not s.default] == []
    assert f".. recovery-settings:: {module}" in page("reference/settings.rst")


def test_the_settings_reference_shows_the_code_defaults():
    settings = {s.name: s for s in collect.collect_settings(ROOT / SETTINGS_MODULES[0])}
    assert settings["OSCAR_RECOVERY_ABANDON_AFTER"].default == "timedelta(minutes=30)"
    assert settings["OSCAR_RECOVERY_TASK_MODE"].default == '"auto"'
    assert "OSCAR_RECOVERY_LAWFUL_BASIS_IS_SET" not in settings  # derived, not a setting


def test_every_system_check_is_in_the_reference():
    sources = (PACKAGE / "checks.py").read_text() + (PACKAGE / "operations/doctor.py").read_text()
    ids = set(re.findall(r"oscar_recovery\.([CEWI]\d{3})\b", sources))
    ids |= set(re.findall(r'"([CEWI]\d{3})"', sources))  # an id chosen at run time
    documented = collect.collect_checks(PACKAGE / "checks.py", PACKAGE / "operations/doctor.py")
    assert {c.id.removeprefix("oscar_recovery.") for c in documented} >= ids
    assert {"E030", "W030", "I001", "W131"} <= ids
    assert [c.id for c in documented if not c.message] == []
    assert ".. recovery-checks::" in page("reference/checks.rst")


def test_every_signal_is_in_the_reference():
    defined = {name for name, value in vars(signals).items() if isinstance(value, Signal)}
    documented = collect.collect_signals(PACKAGE / "signals.py")
    assert {s.name for s in documented} == defined
    assert [s.name for s in documented if not s.doc or not s.args] == []
    assert ".. recovery-signals::" in page("reference/signals.rst")


def test_every_celery_task_is_in_the_reference():
    assert tasks  # importing the module registers its shared tasks
    registered = {name for name in current_app.tasks if name.startswith("oscar_recovery.")}
    documented = collect.collect_tasks(PACKAGE / "tasks.py")
    assert {t.name for t in documented} == registered
    assert [t.name for t in documented if not t.doc] == []
    assert ".. recovery-tasks::" in page("reference/tasks.rst")
    # Every periodic task is shown with its schedule.
    assert set(collect.beat_entries()) <= registered


def test_every_management_command_is_in_the_reference():
    ours = {name for name, app in get_commands().items() if app == "oscar_recovery"}
    documented = collect.collect_commands(PACKAGE / "management" / "commands")
    assert {c.name for c in documented} == ours
    assert [c.name for c in documented if not c.help] == []
    install = next(c for c in documented if c.name == "recovery_install_defaults")
    assert ["--activate"] in [a.names for a in install.arguments]
    assert ".. recovery-commands::" in page("reference/commands.rst")


def test_every_template_is_in_the_reference():
    shipped = {
        str(p.relative_to(PACKAGE / "templates"))
        for p in (PACKAGE / "templates").rglob("*")
        if p.is_file()
    }
    documented = collect.collect_templates(PACKAGE / "templates")
    assert {t.path for t in documented} == shipped
    base = next(t for t in documented if t.path == "oscar_recovery/dashboard/base.html")
    assert base.extends == "oscar/dashboard/layout.html" and "recovery_content" in base.blocks
    tags = collect.collect_template_tags(PACKAGE / "templatetags")
    names = {"recovery_prompts", "recovery_recommendations", "recovery_consent_field"}
    assert names <= {t.name for t in tags}
    assert [t.name for t in tags if not t.doc] == []


def test_every_page_is_in_a_table_of_contents():
    index = page("index.md")
    for path in doc_pages():
        name = str(path.relative_to(DOCS).with_suffix(""))
        if name in ("index",):
            continue
        assert re.search(rf"^{re.escape(name)}$", index, re.MULTILINE), name


TRACKER = re.compile(r"\bissues? #?\d|#\d+(?:\.\d+)?\b|\bstop \d", re.IGNORECASE)


@pytest.mark.parametrize(
    "path", [*doc_pages(), ROOT / "README.md", ROOT / "CHANGELOG.md"], ids=lambda p: p.name
)
def test_no_page_names_a_tracker_number(path):
    # Tracker numbers mean nothing to a reader: say what changed instead.
    assert TRACKER.findall(path.read_text()) == []


def test_the_readme_is_an_introduction_that_links_into_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make sandbox") < readme.index("## ")  # the two commands come first
    assert "make test" in readme.split("## ", 1)[0]
    assert len(readme.splitlines()) < 200
    for target in ("docs/tutorial.md", "docs/howto/install-cron.md", "docs/reference/settings.rst"):
        assert target in readme and (ROOT / target).exists(), target


def test_the_new_user_path_says_what_a_new_user_would_otherwise_guess():
    """What trying the install as a new user showed to be missing."""
    cron, celery = page("howto/install-cron.md"), page("howto/install-celery.md")
    # A crontab line that runs the sweep every minute, quietly.
    assert re.search(r"^\*\s+\*\s+\*\s+\*\s+\*\s+.*recovery_sweep -v0$", cron, re.MULTILINE)
    assert "OnCalendar=minutely" in cron  # a systemd timer example
    assert "10% holdout" in cron and "holdout" in page("tutorial.md")
    assert "OSCAR_SHOP_NAME" in cron
    assert "not published" in cron
    assert "[redis]" in celery and "app.autodiscover_tasks()" in celery
    assert "from .celery import app as celery_app" in celery
    tutorial = prose("tutorial.md")
    assert "about 3 to 4 minutes after you left" in tutorial
    assert "(30 minutes) before their current visit began" in tutorial  # returning visitors


def test_every_setting_the_documentation_names_exists():
    """A setting named in prose (not only through the ``{setting}`` role, which the build
    checks) is one the code reads, or an environment variable of the project's scripts."""
    settings = {
        s.name for module in SETTINGS_MODULES for s in collect.collect_settings(ROOT / module)
    }
    tooling = set()
    for path in [*ROOT.glob("scripts/*"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/**/*.py")]:
        if path.is_file():
            tooling |= set(re.findall(r"\bOSCAR_RECOVERY_[A-Z0-9_]+", path.read_text()))
    named = set()
    for path in [*doc_pages(), ROOT / "README.md"]:
        named |= set(re.findall(r"\bOSCAR_RECOVERY_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert "OSCAR_RECOVERY_ABANDON_AFTER" in named and "OSCAR_RECOVERY_PG_HOST" in named
    assert named - settings - tooling == set()
