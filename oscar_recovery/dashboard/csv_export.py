"""CSV downloads of the dashboard's tables."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.text import slugify

# Spreadsheets run cells starting with these as formulas (CSV injection, OWASP).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    name: str,
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    stream: bool = False,
    bom: bool = True,
) -> HttpResponse | StreamingHttpResponse:
    """A CSV attachment named after ``name``; ``stream`` for long lists (baskets); ``bom``
    off for files another program reads (an ad platform's upload would take the byte
    order mark for part of the first header)."""
    filename = f"{slugify(name) or 'export'}.csv"
    writer = csv.writer(_Echo())

    def lines():
        if bom:
            yield "\ufeff"  # so spreadsheet programs read UTF-8
        yield writer.writerow([str(title) for title in header])
        for row in rows:
            yield writer.writerow([cell(value) for value in row])

    response_class = StreamingHttpResponse if stream else HttpResponse
    content = lines() if stream else "".join(lines())
    response = response_class(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
