"""Template tags of oscar-recovery. ``{% load recovery %}{% recovery_prompts %}`` in the
shop's base template renders the on-site prompts this visitor is eligible for."""

from django import template
from django.utils.safestring import mark_safe

from ..prompts.render import render_prompts
from ..utils import never_raises

register = template.Library()


@register.simple_tag(takes_context=True)
def recovery_prompts(context) -> str:
    """The prompts for this visitor and page, or nothing. Never raises into the page: a
    failure is logged and the page renders without prompts."""
    request = context.get("request")
    if request is None:
        return ""
    # render_prompts returns template output, already escaped.
    return mark_safe(never_raises(render_prompts)(request) or "")
