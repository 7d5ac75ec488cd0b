"""Real-browser tests: Debian's headless Chromium driven by Playwright's Python package.

Playwright is only the driver here: it launches the system's ``chromium`` (never a browser it
downloads). Without Chromium or Playwright the tests are skipped with the reason; with
``CI=true`` they fail instead, so a CI machine cannot pass without running them.
"""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop running in the test thread; the tests still
# talk to the database synchronously, as Django's own live-server tests do.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = (
    os.environ.get("OSCAR_RECOVERY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
STATIC = Path(__file__).resolve().parents[2] / "oscar_recovery" / "static"
# A desktop Chrome: the shop treats "HeadlessChrome" as a bot, and bots are never prompted.
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
# What the prompts must work under: nothing inline, nothing from elsewhere.
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"


def browser_missing() -> str:
    """Why the browser tests cannot run here, or '' when they can."""
    reasons = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reasons.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reasons.append("the playwright package is missing (pip install -e '.[test]')")
    return "; ".join(reasons)


def pytest_collection_modifyitems(config, items):
    missing = browser_missing()
    if not missing or os.environ.get("CI") == "true":
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {missing}"))


class PageProblems:
    """Console errors, uncaught exceptions and CSP violations seen by one page."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        # Init scripts are injected by the driver, so the page's CSP does not apply to them.
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample));"
        )


@pytest.fixture
def make_page(chromium):
    """Opens fresh browser tabs (each in its own context, options as for ``new_context``);
    the test fails if any of them logged an error, an uncaught exception or a CSP violation."""
    opened = []

    def make(**context_options):
        context = chromium.new_context(user_agent=DESKTOP_UA, **context_options)
        page = context.new_page()
        # A hang guard for each wait, not a speed: a busy machine may take seconds.
        page.set_default_timeout(30_000)
        opened.append((context, PageProblems(page)))
        return page

    # Chrome logs every 4xx response; a test that provokes one on purpose lists it here.
    make.expected_errors = []
    yield make
    for context, _ in opened:
        context.close()
    errors = [error for _, problems in opened for error in problems.errors]
    assert [e for e in errors if not any(x in e for x in make.expected_errors)] == []


def pause_clock(page) -> None:
    """From now on, in every document ``page`` loads, the page's clock (``Date``, timers)
    stands still but when the test moves it, ``page.clock.run_for(ms)`` firing what falls
    due: a prompt's arming delay, grace period or typing pause is then passed or not by the
    test's own count, never by how long a busy machine took between two steps."""
    import datetime

    start = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
    page.clock.install(time=start)
    page.clock.pause_at(start + datetime.timedelta(seconds=1))


SANDBOX_BASE = Path(__file__).resolve().parents[2] / "sandbox" / "templates" / "oscar" / "base.html"


@pytest.fixture
def sandbox_base_template(settings):
    """Oscar's pages with the sandbox's base template, whose one inline script carries the
    CSP nonce: what a shop with a strict Content-Security-Policy has to do."""
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [
        {
            **engine,
            "APP_DIRS": False,
            "OPTIONS": {
                **engine["OPTIONS"],
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {"oscar/base.html": SANDBOX_BASE.read_text()},
                    ),
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }
    ]
