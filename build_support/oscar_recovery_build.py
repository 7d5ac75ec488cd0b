"""The package's build backend: setuptools, with the translation catalogues compiled first.

Compiled catalogues (``.mo``) are generated files and never committed; every way of building
the package (wheel, sdist, editable install) compiles each ``oscar_recovery/locale/*/
LC_MESSAGES/*.po`` first, with Babel (a build requirement), so no gettext binary is needed
to install. ``scripts/messages compile`` runs the same step for a working tree.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (every other hook stays setuptools')

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "oscar_recovery" / "locale"


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


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    compile_catalogues()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    compile_catalogues()
    return _setuptools.build_sdist(sdist_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    compile_catalogues()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
