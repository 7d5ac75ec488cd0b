"""The shape of the ``OSCAR_RECOVERY_META`` and ``OSCAR_RECOVERY_GOOGLE_ADS`` settings.

Used by the platforms when they are built and by the system checks at start-up; no SDK is
imported here, so the checks cost nothing when the extras are not installed. Every problem
names a key, never a value: the values are credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Keys of ``OSCAR_RECOVERY_META``.
META_REQUIRED = ("access_token", "ad_account_id")
META_OPTIONAL = ("app_secret", "app_id", "api_version", "timeout")

#: Keys of ``OSCAR_RECOVERY_GOOGLE_ADS`` this app reads itself; every other key is handed to
#: ``GoogleAdsClient.load_from_dict`` as the google-ads configuration.
GOOGLE_OWN_KEYS = ("customer_id", "api_version", "timeout")
GOOGLE_CLIENT_KEYS = (
    "developer_token",
    "client_id",
    "client_secret",
    "refresh_token",
    "json_key_file_path",
    "impersonated_email",
    "login_customer_id",
    "linked_customer_id",
    "endpoint",
    "http_proxy",
    "use_proto_plus",
    "use_cloud_org_for_api_access",
    "logging",
)

_ACCOUNT = re.compile(r"(act_)?\d+")
_CUSTOMER = re.compile(r"\d{3}-?\d{3}-?\d{4}")
_META_VERSION = re.compile(r"v\d+\.\d+")
_GOOGLE_VERSION = re.compile(r"v\d+")


def _filled(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key)
    return isinstance(value, str | int) and str(value).strip() != ""


def _timeout_problem(setting: str, config: Mapping[str, Any]) -> list[str]:
    if "timeout" not in config:
        return []
    try:
        if float(config["timeout"]) > 0:
            return []
    except (TypeError, ValueError):
        pass
    return [f"{setting}['timeout'] must be a positive number of seconds."]


def meta_problems(config: Any) -> list[str]:
    """What is wrong with an ``OSCAR_RECOVERY_META`` value (empty: Meta not configured)."""
    setting = "OSCAR_RECOVERY_META"
    if not config:
        return []
    if not isinstance(config, Mapping):
        return [f"{setting} must be a dict."]
    problems = [f"{setting} lacks {key!r}." for key in META_REQUIRED if not _filled(config, key)]
    unknown = sorted(set(config) - set(META_REQUIRED) - set(META_OPTIONAL))
    if unknown:
        problems.append(f"{setting} has unknown keys: {', '.join(map(repr, unknown))}.")
    if _filled(config, "ad_account_id") and not _ACCOUNT.fullmatch(str(config["ad_account_id"])):
        problems.append(f"{setting}['ad_account_id'] must be digits, with or without 'act_'.")
    if config.get("api_version") and not _META_VERSION.fullmatch(str(config["api_version"])):
        problems.append(f"{setting}['api_version'] must look like 'v26.0'.")
    for key in ("access_token", "app_secret", "app_id"):
        if config.get(key) is not None and not isinstance(config[key], str | int):
            problems.append(f"{setting}[{key!r}] must be a string.")
    return problems + _timeout_problem(setting, config)


def google_problems(config: Any) -> list[str]:
    """What is wrong with an ``OSCAR_RECOVERY_GOOGLE_ADS`` value (empty: Google not
    configured)."""
    setting = "OSCAR_RECOVERY_GOOGLE_ADS"
    if not config:
        return []
    if not isinstance(config, Mapping):
        return [f"{setting} must be a dict."]
    problems = [
        f"{setting} lacks {key!r}."
        for key in ("customer_id", "developer_token")
        if not _filled(config, key)
    ]
    oauth = ("client_id", "client_secret", "refresh_token")
    if not _filled(config, "json_key_file_path") and not all(_filled(config, k) for k in oauth):
        problems.append(
            f"{setting} needs OAuth credentials ('client_id', 'client_secret', "
            "'refresh_token') or a service account ('json_key_file_path')."
        )
    unknown = sorted(set(config) - set(GOOGLE_OWN_KEYS) - set(GOOGLE_CLIENT_KEYS))
    if unknown:
        problems.append(f"{setting} has unknown keys: {', '.join(map(repr, unknown))}.")
    for key in ("customer_id", "login_customer_id"):
        if _filled(config, key) and not _CUSTOMER.fullmatch(str(config[key])):
            problems.append(f"{setting}[{key!r}] must be a ten-digit customer id.")
    if config.get("api_version") and not _GOOGLE_VERSION.fullmatch(str(config["api_version"])):
        problems.append(f"{setting}['api_version'] must look like 'v26'.")
    return problems + _timeout_problem(setting, config)


def digits(value: Any) -> str:
    """A customer or account id without its dashes or ``act_`` prefix."""
    return re.sub(r"\D", "", str(value))
