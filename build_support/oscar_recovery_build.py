"""The package's build backend: setuptools, with the translation catalogues compiled first.

Compiled catalogues (``.mo``) are generated files and never committed; every way of building
the package (wheel, sdist, editable install) compiles each ``oscar_recovery/locale/*/
LC_MESSAGES/*.po`` first, with Babel (a build requirement), so no gettext binary is needed
to install. ``scripts/messages compile`` runs the same step for a working tree.
"""

from __future__ import annotations

from oscar_recovery_catalogues import compile_catalogues
from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (every other hook stays setuptools')


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    compile_catalogues()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    compile_catalogues()
    return _setuptools.build_sdist(sdist_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    compile_catalogues()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
