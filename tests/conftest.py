import os
import socket

import pytest
from django.test import Client
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test import factories

Country = get_model("address", "Country")

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


def service_reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


#: Fixtures through which a test reaches the test database (pytest-django's, and the live
#: server that serves pages from it); a test with none of them and no ``django_db`` mark
#: cannot touch the database (pytest-django blocks it).
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_setup",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def backend_independent(item) -> bool:
    """Whether the test proves the same on every database backend: it never touches the
    test database, or is marked ``backend_independent`` or ``browser`` (what a browser
    does with a page does not depend on the database behind it). Never the integration
    tier, which exists for PostgreSQL."""
    if "integration" in item.keywords:
        return False
    if item.get_closest_marker("backend_independent") or item.get_closest_marker("browser"):
        return True
    return not item.get_closest_marker("django_db") and not (
        DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def pytest_collection_modifyitems(config, items):
    """The integration tier needs PostgreSQL (the postgres envs) and Redis. Under CI=true a
    missing service fails the run instead of skipping.

    ``OSCAR_RECOVERY_BACKEND_INDEPENDENT=skip`` (tox sets it in the postgres envs) leaves out
    the backend-independent tests: the SQLite env of the same Django version runs them, so
    the matrix runs each once per Django version and only what depends on the database on
    both backends."""
    if os.environ.get("OSCAR_RECOVERY_BACKEND_INDEPENDENT", "run") == "skip":
        left_out = [item for item in items if backend_independent(item)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if not backend_independent(item)]
    on_postgres = os.environ.get("OSCAR_RECOVERY_TEST_DB") == "postgres"
    redis_up = service_reachable("127.0.0.1", 6379)
    for item in items:
        if "integration" not in item.keywords:
            continue
        if not on_postgres:
            item.add_marker(pytest.mark.skip(reason="integration tier runs in the postgres envs"))
        elif not redis_up and os.environ.get("CI") != "true":
            item.add_marker(pytest.mark.skip(reason="Redis is unreachable"))


@pytest.fixture(autouse=True)
def celery_eager(request):
    """Tasks run in the calling process, as in the sandbox, except in the integration tier
    where a real worker takes them from Redis."""
    from tests.support.celery_app import app

    if "integration" in request.keywords:
        yield app
        return
    app.set_current()
    app.conf.task_always_eager = True
    try:
        yield app
    finally:
        app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def followups_after_requests(request):
    """What capture leaves in the outbox after a shop request (its events, a consent's
    ledger entry, an order's attribution: :mod:`oscar_recovery.journeys.followups`) is done
    as soon as the request finishes, as a worker would a moment later. Tests of what a
    request itself costs mark themselves ``followups_later`` and call
    ``tests.support.outbox.run_followups`` when they choose."""
    if (
        "followups_later" in request.keywords
        or "integration" in request.keywords
        or not ({"db", "transactional_db", "live_server"} & set(request.fixturenames))
    ):
        yield
        return
    from django.core.signals import request_finished

    from tests.support.outbox import run_followups

    def after_request(**kwargs):
        run_followups()

    request_finished.connect(after_request, weak=False, dispatch_uid="tests.followups")
    try:
        yield
    finally:
        request_finished.disconnect(dispatch_uid="tests.followups")


@pytest.fixture
def shopper(db) -> Client:
    """A browser-like anonymous client (bots are recorded differently)."""
    return Client(HTTP_USER_AGENT=BROWSER_UA)


@pytest.fixture
def product(db):
    return factories.create_product(title="Winter coat", price="40.00", num_in_stock=10)


@pytest.fixture
def basket(product):
    """An open basket holding ``product`` (40.00), priced by Oscar's default strategy."""
    basket = get_model("basket", "Basket").objects.create()
    basket.strategy = Default()
    basket.add_product(product)
    return basket


@pytest.fixture
def other_product(db):
    return factories.create_product(title="Wool hat", price="12.50", num_in_stock=10)


@pytest.fixture
def country(db):
    return Country.objects.get_or_create(
        iso_3166_1_a2="GB", defaults={"name": "United Kingdom", "is_shipping_country": True}
    )[0]


@pytest.fixture
def customer(db):
    return factories.UserFactory(email="customer@example.com", password="secret-pass")


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium, shared by the browser tests and the integration tier's
    topology test (one Playwright per test run)."""
    from tests.browser.conftest import CHROMIUM, browser_missing

    missing = browser_missing()
    if missing:
        pytest.fail(f"CI=true and the browser tests cannot run: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_server(live_server):
    """pytest-django's live server, answering one request at a time on SQLite: its threads
    share the test run's one in-memory connection, which two requests at once (a page's
    frames loading side by side) misuse ("bad parameter or other API misuse")."""
    from django.db import connection

    if connection.vendor == "sqlite":
        import threading

        httpd = live_server.thread.httpd
        application, lock = httpd.get_app(), threading.Lock()

        def one_at_a_time(environ, start_response):
            with lock:
                return application(environ, start_response)

        httpd.set_app(one_at_a_time)
    return live_server
