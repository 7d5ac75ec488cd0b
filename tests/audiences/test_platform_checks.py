"""The system checks of the audience platforms' settings: a malformed setting is an error at
start-up, a setting without its SDK a warning; neither quotes a value."""

from __future__ import annotations

from django.test import override_settings
from django.utils import translation

from oscar_recovery import checks
from tests.support.sdk import require

META = {"access_token": "EAAB-secret", "ad_account_id": "act_1234", "app_secret": "shh"}
GOOGLE = {
    "developer_token": "dev-secret",
    "json_key_file_path": "/etc/shop/google-key.json",
    "customer_id": "1234567890",
}


def problems() -> dict[str, str]:
    return {p.id: f"{p.msg} {p.hint or ''}" for p in checks.check_audience_platform_settings(None)}


@override_settings(OSCAR_RECOVERY_META={}, OSCAR_RECOVERY_GOOGLE_ADS={})
def test_nothing_configured_is_nothing_to_say():
    assert problems() == {}


@override_settings(OSCAR_RECOVERY_META=META, OSCAR_RECOVERY_GOOGLE_ADS=GOOGLE)
def test_well_formed_settings_with_their_sdks_pass():
    require("facebook_business", "meta")
    require("google.ads.googleads", "google")
    assert problems() == {}


@override_settings(
    OSCAR_RECOVERY_META={**META, "ad_account_id": "my account", "token": "EAAB-other"},
    OSCAR_RECOVERY_GOOGLE_ADS={**GOOGLE, "customer_id": "123", "json_key_file_path": ""},
)
def test_malformed_settings_are_errors_that_name_keys_not_values():
    found = problems()
    assert set(found) == {"oscar_recovery.E701", "oscar_recovery.E702"}
    assert "'ad_account_id'" in found["oscar_recovery.E701"]
    assert "unknown keys: 'token'" in found["oscar_recovery.E701"]
    assert "ten-digit customer id" in found["oscar_recovery.E702"]
    assert "OAuth credentials" in found["oscar_recovery.E702"]
    text = " ".join(found.values())
    assert "EAAB" not in text and "my account" not in text and "dev-secret" not in text


@override_settings(OSCAR_RECOVERY_META=META, OSCAR_RECOVERY_GOOGLE_ADS=GOOGLE)
def test_a_setting_without_its_sdk_is_a_warning_naming_the_extra(monkeypatch):
    monkeypatch.setattr(checks, "_importable", lambda module: False)
    found = problems()
    assert set(found) == {"oscar_recovery.W701", "oscar_recovery.W702"}
    assert "facebook-business" in found["oscar_recovery.W701"]
    assert "oscar-recovery[meta]" in found["oscar_recovery.W701"]
    assert "oscar-recovery[google]" in found["oscar_recovery.W702"]


@override_settings(OSCAR_RECOVERY_META="EAAB-a-token-pasted-as-the-setting")
def test_a_setting_that_is_not_a_dict_is_an_error():
    assert problems() == {
        "oscar_recovery.E701": "OSCAR_RECOVERY_META is malformed: "
        "OSCAR_RECOVERY_META must be a dict. "
    }


@override_settings(OSCAR_RECOVERY_META={"access_token": "EAAB-secret"})
def test_the_messages_are_translated():
    with translation.override("ro"):
        found = problems()
    assert found["oscar_recovery.E701"].startswith("OSCAR_RECOVERY_META este configurat greșit")
