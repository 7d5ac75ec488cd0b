"""Segments of contacts: built in and owner-defined, each one SQL predicate, kept up to date
by the sweep set-based and incrementally.

* :mod:`.definition`: the condition language (fields, operators), validation, compilation;
* :mod:`.shared`: the audience definitions segments share with request-time targeting
  (value tiers, new/returning customers and visitors);
* :mod:`.builtins`: the built-in segments, their rules and default numbers;
* :mod:`.refresh`: membership upkeep (entries and exits), incremental or rebuilt.
"""

from __future__ import annotations

from django.db.models import QuerySet

from oscar_recovery.models import Contact, Segment


def members(segment: Segment) -> QuerySet:
    """The contacts in ``segment`` now (its open memberships), as a ``Contact`` queryset."""
    return Contact.objects.filter(
        segment_memberships__segment=segment, segment_memberships__exited_at__isnull=True
    )
