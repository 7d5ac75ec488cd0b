"""What ``{% recovery_prompts %}`` renders: the config the page script reads (as
``json_script`` data, never inline script) and one ``<template>`` of server-rendered,
translated, escaped markup per prompt."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext
from oscar.core.loading import get_model

from oscar_recovery.capture.history import viewed_from_cookie
from oscar_recovery.constants import PromptKind
from oscar_recovery.prompts import app_settings as prompt_settings
from oscar_recovery.prompts import service
from oscar_recovery.prompts import targeting as eligibility
from oscar_recovery.prompts.targeting import GATEWAY_URL_NAME, Decision, Visitor
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

Product = get_model("catalogue", "Product")

TEMPLATE = "oscar_recovery/prompts/prompts.html"
PREVIEW_TEMPLATE = "oscar_recovery/prompts/preview.html"
CONFIG_ID = "oscar-recovery-config"
#: The email field of Oscar's checkout gateway form.
GATEWAY_EMAIL_SELECTOR = "#id_username"
RECENT_PRODUCTS = 3


def template_id(prompt_id: int) -> str:
    return f"oscar-recovery-prompt-{prompt_id}"


def trigger_for(decision: Decision) -> dict:
    prompt = decision.prompt
    if prompt.kind == PromptKind.EXIT_INTENT:
        return {
            "armMs": prompt.arm_after,
            "graceMs": prompt.grace,
            "mobileScroll": prompt.mobile_scroll,
        }
    if prompt.kind == PromptKind.EMAIL_CAPTURE:
        trigger = {}
        if prompt.delay_seconds is not None:
            trigger["delayMs"] = prompt.delay_seconds * 1000
        if prompt.scroll_percent is not None:
            trigger["scrollPercent"] = prompt.scroll_percent
        return trigger
    if prompt.kind == PromptKind.GUEST_CHECKOUT:
        # The script finds the gateway form through its email field and acts on that form.
        return {"field": GATEWAY_EMAIL_SELECTOR}
    return {}


def tab_config(visitor: Visitor) -> dict | None:
    if not prompt_settings.TAB_REMINDER or not visitor.basket_items:
        return None
    count = visitor.basket_items
    title = ngettext(
        "(%(count)s) Your basket is waiting", "(%(count)s) Your basket is waiting", count
    ) % {"count": count}
    try:
        favicon = static("oscar_recovery/tab-alert.svg")
    except ValueError:  # not collected in a manifest storage: the title alone will do
        favicon = None
    return {"title": title, "favicon": favicon}


def live_capture_config(visitor: Visitor) -> dict | None:
    if (
        visitor.user is not None
        or visitor.view_name != GATEWAY_URL_NAME
        or not service.live_capture_allowed()
    ):
        return None
    return {
        "selector": GATEWAY_EMAIL_SELECTOR,
        "endpoint": reverse("oscar_recovery:prompt-capture"),
    }


def recent_products(visitor: Visitor) -> list:
    """Recently viewed products from Oscar's history cookie (one query), newest first."""
    # Twice as many ids as shown: some may be hidden or deleted products by now.
    ids = viewed_from_cookie(visitor.cookies, limit=RECENT_PRODUCTS * 2)
    if not ids:
        return []
    products = Product.objects.filter(pk__in=ids, is_public=True).in_bulk()
    return [products[pk] for pk in ids if pk in products][:RECENT_PRODUCTS]


def render_prompts(request: HttpRequest) -> str:
    """The tag's output; an empty string when nothing is for this visitor on this page."""
    if not prompt_settings.ENABLED:
        return ""
    visitor = Visitor(request)
    if visitor.is_bot:
        return ""
    decisions = eligibility.eligible_prompts(visitor)
    tab = tab_config(visitor)
    live = live_capture_config(visitor)
    if not decisions and tab is None and live is None:
        return ""
    basket_url = reverse("basket:summary")
    items = []
    for decision in decisions:
        prompt = decision.prompt
        item = {
            "prompt": prompt,
            "content": decision.content,
            "template_id": template_id(prompt.pk),
            "modal": prompt.is_modal,
            "asks_email": eligibility.asks_email(prompt),
            "cta_url": prompt.cta_url or basket_url,
            "paragraphs": [p for p in decision.content.body.split("\n\n") if p.strip()],
            "image_url": _image_url(prompt),
            # The revealed code's "apply" button posts to Oscar's basket voucher form.
            "has_basket": visitor.basket_items > 0,
        }
        if prompt.kind == PromptKind.RETURNING_BANNER:
            item["basket_items"] = visitor.basket_items
            if not visitor.basket_items:
                item["recent"] = recent_products(visitor)
                if not item["recent"]:
                    continue
        items.append(item)
    config = {
        "events": reverse("oscar_recovery:prompt-events"),
        "capture": reverse("oscar_recovery:prompt-capture"),
        "csrf": get_token(request),
        "visit": visitor.visit_id,
        # Sent back with each post: the endpoints answer, and record, in the page's language.
        "language": translation.get_language() or settings.LANGUAGE_CODE,
        "prompts": [
            {
                "id": item["prompt"].pk,
                "kind": item["prompt"].kind,
                "variant": item["content"].label,
                "template": item["template_id"],
                "trigger": trigger_for(Decision(item["prompt"], item["content"])),
            }
            for item in items
        ],
        "tab": tab,
        "liveCapture": live,
    }
    if not items and tab is None and live is None:
        return ""
    return get_template(TEMPLATE).render(
        {
            "config": config,
            "config_id": CONFIG_ID,
            "items": items,
            "csrf_token": config["csrf"],
        }
    )


def render_prompt_preview(prompt, *, language: str = "") -> str:
    """A whole page showing ``prompt`` (saved or not) as a shopper sees it: the same
    templates and ``prompts.css`` as :func:`render_prompts`, its control content, a dialog
    shown open; no script, no token, no eligibility check. For the admin's live preview,
    which shows it in a sandboxed frame."""
    from oscar_recovery.prompts.targeting import content_for

    content = content_for(prompt, None)
    item = {
        "prompt": prompt,
        "content": content,
        "modal": prompt.is_modal,
        "asks_email": eligibility.asks_email(prompt),
        "cta_url": prompt.cta_url or reverse("basket:summary"),
        "paragraphs": [p for p in (content.body or "").split("\n\n") if p.strip()],
        "image_url": _image_url(prompt) if prompt.pk else "",
    }
    html = get_template(PREVIEW_TEMPLATE).render(
        {
            "item": item,
            "csrf_token": "",
            "gateway_url": reverse(GATEWAY_URL_NAME),
            "language": language,
        }
    )
    # On the shop the script opens the dialog; here nothing runs, so it is shown open.
    return html.replace('<dialog class="orc-dialog"', '<dialog open class="orc-dialog"', 1)


def _image_url(prompt) -> str:
    if not prompt.image:
        return ""
    try:
        return prompt.image.url
    except Exception:  # a storage that cannot build the URL: no image rather than no prompt
        logger.warning("No URL for the image of prompt %s", prompt.pk, exc_info=True)
        return ""
