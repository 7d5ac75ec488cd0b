"""The outbox: every email the sandbox sent, readable in the browser.

Open to anyone, without login: this is a local demo, and seeing the emails a shopper gets is
the point. Never mount these views in a real shop.
"""

import re

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views import View
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.generic import DetailView, ListView

from .models import OutboxMessage


class OutboxListView(ListView):
    model = OutboxMessage
    paginate_by = 50
    template_name = "sandbox_demo/outbox_list.html"
    context_object_name = "outbox_messages"


class OutboxDetailView(DetailView):
    model = OutboxMessage
    template_name = "sandbox_demo/outbox_detail.html"
    context_object_name = "outbox_message"


#: The policy of the email's own page: the email's inline styles and its images (the shop's,
#: or any host's, as in a mail client), and nothing that runs: no script, no form, no plugin.
EMAIL_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline' http: https:",
        "img-src http: https: data:",
        "font-src http: https: data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    ]
)


class OutboxHTMLView(View):
    """The HTML part alone, as a mail client shows it, for the detail page's frame. It gets
    a policy of its own (the shop's strict one would strip the email's styles and images),
    which still lets nothing run; the frame's ``sandbox`` attribute forbids scripts too."""

    @xframe_options_sameorigin
    def get(self, request, pk: int) -> HttpResponse:
        message = get_object_or_404(OutboxMessage, pk=pk)
        response = HttpResponse(_links_open_new_tab(message.html), content_type="text/html")
        response["Content-Security-Policy"] = EMAIL_POLICY
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _links_open_new_tab(html: str) -> str:
    # Links followed inside the sandboxed iframe would open the shop within the preview,
    # cut off from its cookies; send them to a tab of their own instead.
    if not html:
        return html
    base = '<base target="_blank">'
    with_base, found = re.subn(r"(<head\b[^>]*>)", r"\1" + base, html, count=1, flags=re.I)
    return with_base if found else base + html
