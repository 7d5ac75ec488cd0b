"""Compile the translation catalogues: every ``oscar_recovery/locale/*/LC_MESSAGES/*.po`` to
its ``.mo``, with Babel. Used by the build backend and by ``scripts/messages compile``; needs
Babel only (no setuptools, no gettext binary)."""

from __future__ import annotations

from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "oscar_recovery" / "locale"


def compile_catalogues(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Write a ``.mo`` next to every ``.po`` under ``locale_dir``; returns the files written.

    Fuzzy entries are left out, as ``msgfmt`` does: a guess must not reach a shopper."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        written.append(mo_path)
    return written
