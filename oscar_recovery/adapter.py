"""The customisation seam: point ``OSCAR_RECOVERY_ADAPTER`` at a subclass of
:class:`RecoveryAdapter` and override the methods you need."""

from __future__ import annotations

import uuid

from crawlerdetect import CrawlerDetect
from django.http import HttpRequest
from django.utils import translation
from django.utils.module_loading import import_string

from . import app_settings
from .constants import CheckoutStep

_crawler_detect = CrawlerDetect()


class RecoveryAdapter:
    def is_bot(self, user_agent: str) -> bool:
        """Whether a user agent belongs to a crawler or script. Bots are recorded but never
        contacted. An empty user agent counts as a bot: every browser sends one."""
        if not user_agent.strip():
            return True
        return bool(_crawler_detect.isCrawler(user_agent))

    def get_language(self, request: HttpRequest | None) -> str:
        """The shopper's language, used for everything we send them."""
        if request is not None and getattr(request, "LANGUAGE_CODE", None):
            return request.LANGUAGE_CODE
        return translation.get_language() or ""

    def new_visitor_id(self) -> str:
        return uuid.uuid4().hex

    def checkout_step_for_url(self, url_name: str) -> CheckoutStep | None:
        """Which checkout step a resolved URL name (``namespace:name``) represents."""
        slug = app_settings.CHECKOUT_STEPS.get(url_name)
        return CheckoutStep.from_slug(slug) if slug else None


def get_adapter() -> RecoveryAdapter:
    return import_string(app_settings.ADAPTER)()
