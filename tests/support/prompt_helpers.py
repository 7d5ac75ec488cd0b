"""Helpers for the prompt tests: visitors' requests and cookies, built as a browser would
carry them."""

from __future__ import annotations

from datetime import datetime

import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import resolve
from oscar.core.loading import get_model

from oscar_recovery import app_settings
from oscar_recovery.capture.visitor import VISITOR_SALT
from oscar_recovery.prompts import state
from tests.conftest import BROWSER_UA

Basket = get_model("basket", "Basket")

TAG = Template("{% load recovery %}{% recovery_prompts %}")
VISITOR_ID = "a" * 32
VISIT_ID = "b" * 32


def visitor_cookie(first_seen: datetime, visitor_id: str = VISITOR_ID) -> dict[str, str]:
    """The visitor cookie as it was set at ``first_seen`` (its signature carries the date)."""
    with time_machine.travel(first_seen, tick=False):
        value = signing.get_cookie_signer(salt=VISITOR_SALT).sign(visitor_id)
    return {app_settings.VISITOR_COOKIE_NAME: value}


def visit_cookie(started: datetime, visit_id: str = VISIT_ID) -> dict[str, str]:
    with time_machine.travel(started, tick=False):
        value = signing.get_cookie_signer(salt=state._VISIT_SALT).sign(visit_id)
    return {state.VISIT_COOKIE: value}


def caps_cookie(caps: state.Caps) -> dict[str, str]:
    return {
        state.CAPS_COOKIE: signing.get_cookie_signer(salt=state._CAPS_SALT).sign(caps.as_json())
    }


def visitor_request(
    path: str = "/",
    *,
    user=None,
    basket=None,
    cookies: dict[str, str] | None = None,
    user_agent: str = BROWSER_UA,
):
    """A request as the shop's middleware hands it to a page: user, basket, resolved URL."""
    request = RequestFactory(HTTP_USER_AGENT=user_agent).get(path)
    request.COOKIES.update(cookies or {})
    request.user = user or AnonymousUser()
    request.basket = basket if basket is not None else Basket()
    request.resolver_match = resolve(path)
    return request


def render_tag(request) -> str:
    return TAG.render(Context({"request": request}))
