import pytest

from oscar_recovery.audiences.platforms import fake


@pytest.fixture(autouse=True)
def fake_platforms(settings):
    """Both platforms are the fake one; its calls are forgotten between tests."""
    settings.OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES = {"meta": "fake", "google": "fake"}
    fake.reset()
    yield fake
    fake.reset()
