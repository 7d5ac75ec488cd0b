"""The outbox: every email the sandbox sent, readable in the browser.

Open to anyone, without login: this is a local demo, and seeing the emails a shopper gets is
the point. Never mount these views in a real shop.
"""

import re

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

    def get_context_data(self, **kwargs) -> dict:
        ctx = super().get_context_data(**kwargs)
        ctx["html_preview"] = _links_open_new_tab(self.object.html)
        return ctx


def _links_open_new_tab(html: str) -> str:
    # Links followed inside the sandboxed iframe would open the shop within the preview,
    # cut off from its cookies; send them to a tab of their own instead.
    if not html:
        return html
    base = '<base target="_blank">'
    with_base, found = re.subn(r"(<head\b[^>]*>)", r"\1" + base, html, count=1, flags=re.I)
    return with_base if found else base + html
