"""Every translation catalogue passes ``msgfmt --check-format``: a translation whose
placeholders differ from its source's would raise or print the wrong value in the shopper's
language. msgfmt is GNU gettext's (Debian's ``gettext`` package, which ``scripts/test``
installs); without it the test is skipped with the reason, or fails under ``CI=true``.

A ``%`` that is no placeholder ("10% off") is marked ``# xgettext:no-python-format`` in the
source, so ``makemessages`` flags its entry ``no-python-format`` and msgfmt leaves it alone.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[1] / "oscar_recovery" / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))


@pytest.fixture(scope="module")
def msgfmt() -> str:
    found = shutil.which("msgfmt")
    if found:
        return found
    reason = "msgfmt is missing (apt-get install gettext)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def check_format(msgfmt: str, catalogue: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [msgfmt, "--check-format", "--output-file", os.devnull, str(catalogue)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_shipped_language_has_a_catalogue():
    assert {path.parts[-3] for path in CATALOGUES} >= {"ar", "fa", "ko", "ro"}


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda path: path.parts[-3])
def test_the_catalogue_passes_msgfmt_check_format(msgfmt, catalogue):
    run = check_format(msgfmt, catalogue)
    assert run.returncode == 0, run.stderr


def test_the_check_catches_a_placeholder_the_translation_lost(msgfmt, tmp_path):
    broken = tmp_path / "django.po"
    broken.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        "#, python-format\n"
        'msgid "%(count)s baskets"\nmsgstr "paniers"\n',
        encoding="utf-8",
    )
    run = check_format(msgfmt, broken)
    assert run.returncode != 0
    assert "format" in run.stderr
