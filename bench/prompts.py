"""What the on-site prompts cost a shop: the script's and stylesheet's gzipped sizes, and the
queries and time ``{% recovery_prompts %}`` adds to a page, measured in one run.

    .venv/bin/python -m bench.prompts [--requests 200] [--rounds 4]

Queries: the same shop pages (the sandbox's base template, the default prompts switched on)
with the tag and with the tag's line removed, with an empty cache and a warm one. Time: the
tag's own rendering is timed inside each page request, so the ratio page / (page - tag) comes
from the same requests and the noise of a shared machine hits both sides alike. Pages: the
basket with one item (an exit-intent prompt is rendered) and a product page of a visitor
with an empty basket (nothing is eligible). Goals: the script <= 3 KB gzipped;
<= 1 extra query per page, none once the prompt list is cached.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "oscar_recovery" / "static" / "oscar_recovery"
BASE = ROOT / "sandbox" / "templates" / "oscar" / "base.html"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


def gzipped(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9))


def templates_setting(with_tag: bool, engine: dict) -> list[dict]:
    base = BASE.read_text()
    if not with_tag:
        assert "{% recovery_prompts %}" in base
        base = base.replace("{% recovery_prompts %}", "")
    options = {
        **engine["OPTIONS"],
        # Cached, as Django's default loaders are with DEBUG off.
        "loaders": [
            (
                "django.template.loaders.cached.Loader",
                [
                    ("django.template.loaders.locmem.Loader", {"oscar/base.html": base}),
                    "django.template.loaders.app_directories.Loader",
                ],
            )
        ],
    }
    return [{**engine, "APP_DIRS": False, "OPTIONS": options}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    print("Static files (bytes)        raw   gzip -9")
    for name in ("prompts.js", "prompts.css", "tab-alert.svg"):
        raw, packed = gzipped(STATIC / name)
        print(f"  {name:<22}{raw:>8}{packed:>10}")
    js = gzipped(STATIC / "prompts.js")[1]
    print(f"  prompts.js budget: {js} / 3072 bytes = {js / 3072:.2f}")
    print()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
        os.environ["BENCH_SQLITE"] = str(Path(tmp) / "bench.sqlite3")
        os.environ["OSCAR_RECOVERY_TEST_DB"] = "sqlite"
        measure_tag(args.requests)


def measure_tag(requests: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from oscar.test import factories

    from oscar_recovery.prompts.install import install_default_prompts
    from oscar_recovery.templatetags import recovery

    tag_seconds: list[float] = []
    render_prompts = recovery.render_prompts

    def timed_render_prompts(request):
        start = time.perf_counter()
        try:
            return render_prompts(request)
        finally:
            tag_seconds.append(time.perf_counter() - start)

    recovery.render_prompts = timed_render_prompts

    call_command("migrate", verbosity=0, run_syncdb=True)
    install_default_prompts(activate=True)
    product = factories.create_product(title="Winter coat", price="40.00", num_in_stock=10**6)
    engine = settings.TEMPLATES[0]

    shopper = Client(HTTP_USER_AGENT=UA)
    shopper.post(reverse("basket:add", kwargs={"pk": product.pk}), {"quantity": 1})
    browser = Client(HTTP_USER_AGENT=UA)  # empty basket: nothing eligible
    pages = {
        "basket, 1 item": (shopper, "/basket/"),
        "product, empty basket": (browser, product.get_absolute_url()),
    }

    def get(client, url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    queries: dict[tuple[str, bool, str], int] = {}
    for with_tag in (False, True):
        with override_settings(TEMPLATES=templates_setting(with_tag, engine)):
            for page, (client, url) in pages.items():
                get(client, url)  # everything else the page uses is loaded once...
                cache.clear()  # ...then the cache is emptied alike for both configurations
                with CaptureQueriesContext(connection) as cold:
                    response = get(client, url)
                with CaptureQueriesContext(connection) as warm:
                    get(client, url)
                queries[page, with_tag, "cold"] = len(cold)
                queries[page, with_tag, "warm"] = len(warm)
                if page.startswith("basket"):
                    assert (b"oscar-recovery-config" in response.content) is with_tag
    page_ms: dict[str, list[float]] = {page: [] for page in pages}
    tag_ms: dict[str, list[float]] = {page: [] for page in pages}
    with override_settings(TEMPLATES=templates_setting(True, engine)):
        for page, (client, url) in pages.items():
            get(client, url)  # warm caches
            for _ in range(requests):
                tag_seconds.clear()
                start = time.perf_counter()
                get(client, url)
                page_ms[page].append((time.perf_counter() - start) * 1000)
                tag_ms[page].append(sum(tag_seconds) * 1000)

    print(f"{{% recovery_prompts %}}: {requests} requests per page, warm cache")
    header = f"{'page':<24}{'queries without':>16}{'with (cold/warm)':>18}"
    print(f"{header}{'page ms':>10}{'tag ms':>9}{'ratio':>8}")
    for page in pages:
        q_without = queries[page, False, "warm"]
        q_with = f"+{queries[page, True, 'cold'] - queries[page, False, 'cold']}"
        q_with += f" / +{queries[page, True, 'warm'] - q_without}"
        # Per request: the page with the tag against the same page minus the tag's time.
        ratios = [p / (p - t) for p, t in zip(page_ms[page], tag_ms[page], strict=True)]
        print(
            f"{page:<24}{q_without:>16}{q_with:>18}"
            f"{statistics.median(page_ms[page]):>10.2f}{statistics.median(tag_ms[page]):>9.3f}"
            f"{statistics.median(ratios):>8.3f}"
        )


if __name__ == "__main__":
    main()
