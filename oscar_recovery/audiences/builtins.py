"""The built-in recency audiences, each backed by a built-in segment.

Abandoners of the last 2, 7 and 14 days (the likelihood to buy falls the longer ago the
visit was), browsers who did not buy, and recent buyers (uploaded as an exclusion list, so
the shop stops paying to show ads to people who just bought). Installed with only the CSV
destination: the owner switches platforms on. Owners can back an audience with any segment.
"""

from __future__ import annotations

from oscar_recovery.models import Audience, Segment

#: slug, name, segment slug, leave out buyers of the last N days. The abandoner segments
#: already drop whoever ordered since their basket (the sweep refreshes them within
#: minutes of the order); a customer who bought last week and left a new basket yesterday
#: is a fair target, so no extra exclusion.
BUILTINS: tuple[tuple[str, str, str, int | None], ...] = (
    ("abandoned-2d", "Abandoned a basket in the last 2 days", "abandoned-basket-2d", None),
    ("abandoned-7d", "Abandoned a basket in the last 7 days", "abandoned-basket-7d", None),
    ("abandoned-14d", "Abandoned a basket in the last 14 days", "abandoned-basket-14d", None),
    ("browsed-not-bought", "Browsed without buying", "browsed-not-bought", None),
    ("recent-buyers-exclusion", "Bought in the last 30 days (exclusion)", "buyers-30d", None),
)


def install(audience_model=None, segment_model=None) -> int:
    """Create the built-in audiences that do not exist yet (by slug) and whose segment
    exists; the owner's changes to existing ones are kept. Returns how many were created.
    Takes the models from a migration's app registry, or the current ones."""
    audience_model = audience_model or Audience
    segment_model = segment_model or Segment
    existing = set(audience_model.objects.values_list("slug", flat=True))
    segments = dict(
        segment_model.objects.filter(slug__in=[b[2] for b in BUILTINS]).values_list("slug", "pk")
    )
    created = [
        audience_model(
            slug=slug, name=name, segment_id=segments[segment], exclude_buyers_days=exclude
        )
        for slug, name, segment, exclude in BUILTINS
        if slug not in existing and segment in segments
    ]
    audience_model.objects.bulk_create(created)
    return len(created)
