"""Every import path, task name, signal and file the documentation names exists. Read from
the README and every page of ``docs/`` themselves, so a newly documented path is tested too,
and a module that moves without its documented path kept (a re-export) fails here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from celery import current_app
from django.dispatch import Signal
from django.urls import include

import oscar_recovery
from oscar_recovery import signals, tasks

ROOT = Path(__file__).resolve().parent.parent
DOC_PAGES = [
    ROOT / "README.md",
    *sorted(
        path
        for path in (ROOT / "docs").rglob("*")
        if path.suffix in (".md", ".rst") and "_build" not in path.parts
    ),
]
#: Everything the documentation says, README first.
DOCUMENTATION = "\n".join(path.read_text() for path in DOC_PAGES)
PACKAGE = Path(oscar_recovery.__file__).parent

DOTTED = re.compile(r"\boscar_recovery(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
FROM_IMPORT = re.compile(r"^\s*from (oscar_recovery[\w.]*) import ([\w, ]+)$", re.MULTILINE)
CHECK_ID = re.compile(r"^oscar_recovery\.[EWI]\d{3}$")
PERMISSION = re.compile(r"^oscar_recovery\.(?:add|change|delete|view)_(\w+)$")
FILE_PATH = re.compile(r"`(oscar_recovery/[\w/.-]+\.(?:py|html|txt|js|css))`")


def task_names() -> set[str]:
    assert tasks  # importing the module registers its shared tasks
    return {name for name in current_app.tasks if name.startswith("oscar_recovery.")}


def resolve(path: str):
    """Import the longest module prefix of ``path``, then get the rest as attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not module.startswith(exc.name or ""):
                raise  # the module exists but imports something missing
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def documented_paths() -> list[str]:
    found = set(DOTTED.findall(DOCUMENTATION))
    for module, names in FROM_IMPORT.findall(DOCUMENTATION):
        found |= {f"{module}.{name.strip()}" for name in names.split(",") if name.strip()}
    return sorted(found)


def test_the_documentation_is_read():
    # The parser finds what the documentation is known to name, so the tests below are not
    # vacuous.
    paths = documented_paths()
    for path in (
        "oscar_recovery.urls",
        "oscar_recovery.webhooks",
        "oscar_recovery.capture.capture_email",
        "oscar_recovery.outgoing_webhooks.verify_signature",
        "oscar_recovery.outgoing_webhooks.InvalidSignature",
        "oscar_recovery.dashboard.navigation.RECOVERY_NAVIGATION",
        "oscar_recovery.schedules.BEAT_SCHEDULE",
        "oscar_recovery.send_messages",
        "oscar_recovery.signals.journeys_abandoned",
        "oscar_recovery.privacy.consent.record_refusal",
    ):
        assert path in paths
    assert len(DOC_PAGES) > 20


@pytest.mark.parametrize("path", documented_paths())
def test_every_documented_path_exists(path):
    if CHECK_ID.match(path):
        # Defined by the system checks, or by the doctor's table of checks.
        sources = [PACKAGE / "checks.py", PACKAGE / "operations" / "doctor.py"]
        assert any(
            f'"{path}"' in source.read_text() or f'"{path[15:]}"' in source.read_text()
            for source in sources
        )
    elif PERMISSION.match(path):
        # A permission (app label and codename), as the dashboard section names them.
        from django.apps import apps

        model_names = {
            m._meta.model_name for m in apps.get_app_config("oscar_recovery").get_models()
        }
        assert PERMISSION.match(path).group(1) in model_names
    elif path in task_names():
        pass  # a Celery task name, registered under its explicit name
    else:
        assert resolve(path) is not None


@pytest.mark.parametrize(
    "path",
    [
        # Named in prose (a module named once, a function beside it).
        "oscar_recovery.privacy.erase_email",
        "oscar_recovery.privacy.export_email",
        "oscar_recovery.reports.prompt_rows",
        "oscar_recovery.stats.sample_size_per_arm",
        "oscar_recovery.consent.record_consent",
        "oscar_recovery.recommendations.recommend",
        "oscar_recovery.models.CartJourney",
        "oscar_recovery.adapter.RecoveryAdapter",
        "oscar_recovery.dashboard.apps.RecoveryDashboardConfig",
    ],
)
def test_paths_named_in_prose_exist(path):
    assert resolve(path) is not None


def test_every_celery_task_the_documentation_names_is_registered():
    named = {path for path in documented_paths() if path.count(".") == 1}
    modules = {path for path in named if (PACKAGE / f"{path.split('.')[1]}.py").exists()}
    modules |= {path for path in named if (PACKAGE / path.split(".")[1]).is_dir()}
    checks = {path for path in named if CHECK_ID.match(path) or PERMISSION.match(path)}
    dunders = {path for path in named if path.split(".")[1].startswith("__")}  # __version__
    missing = named - modules - checks - dunders - task_names()
    assert missing == set()
    assert "oscar_recovery.deliver_webhook" in task_names()


def test_the_documented_urlconfs_can_be_included():
    for urlconf in ("oscar_recovery.urls", "oscar_recovery.webhooks"):
        patterns = include(urlconf)[0].urlpatterns
        assert list(patterns)


def test_every_documented_signal_exists():
    names = {path.rsplit(".", 1)[1] for path in documented_paths() if ".signals." in path}
    assert "journeys_abandoned" in names
    for name in names:
        assert isinstance(getattr(signals, name), Signal), name


@pytest.mark.parametrize("path", sorted(set(FILE_PATH.findall(DOCUMENTATION))))
def test_every_documented_file_exists(path):
    relative = Path(path).relative_to("oscar_recovery")
    candidates = [PACKAGE / relative, PACKAGE / "templates" / path, PACKAGE / "static" / path]
    assert any(candidate.exists() for candidate in candidates), path
