"""A Haystack engine for the sandbox's small catalogue.

Like Haystack's simple backend it needs no search server and keeps no index, but it also
applies filters and ordering. Oscar's catalogue and category pages filter every search (public,
standalone or parent, in these categories); the simple backend turns those filters into text
to look for, so with it the pages list no products at all.

Each search prepares every indexed object afresh: fine for a demo's few dozen products only.
"""

import operator
import re
from collections.abc import Callable
from typing import Any

from haystack import connections
from haystack.backends import BaseEngine, BaseSearchBackend, BaseSearchQuery, SearchNode
from haystack.constants import DJANGO_CT, DJANGO_ID, ID
from haystack.models import SearchResult
from haystack.utils import get_model_ct_tuple

_COMPARISONS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
# Words and "quoted phrases", each optionally excluded with a leading minus.
_TERM = re.compile(r'(-?)(?:"([^"]*)"|(\S+))')


class InMemorySearchBackend(BaseSearchBackend):
    # Nothing is stored, so there is nothing to update, remove or clear.
    def update(self, index, iterable, commit=True) -> None:
        pass

    def remove(self, obj_or_string, commit=True) -> None:
        pass

    def clear(self, models=None, commit=True) -> None:
        pass

    def more_like_this(self, model_instance, *args, **kwargs) -> dict:
        return {"results": [], "hits": 0}

    def search(
        self,
        query_string: SearchNode,
        start_offset: int = 0,
        end_offset: int | None = None,
        sort_by: list[str] | None = None,
        models: set | None = None,
        result_class: type[SearchResult] | None = None,
        **kwargs,
    ) -> dict:
        unified = connections[self.connection_alias].get_unified_index()
        matches = []
        for model in models or unified.get_indexed_models():
            index = unified.get_index(model)
            for obj in index.index_queryset(using=self.connection_alias):
                doc = index.full_prepare(obj)
                if _node_matches(query_string, doc, unified.document_field):
                    matches.append((obj, doc))
        for field in reversed(sort_by or []):  # sorts are stable: apply the last key first
            matches.sort(key=_sort_key_for(field.lstrip("-")), reverse=field.startswith("-"))

        results = []
        for obj, doc in matches[start_offset:end_offset]:
            app_label, model_name = get_model_ct_tuple(obj)
            stored = {k: v for k, v in doc.items() if k not in (ID, DJANGO_CT, DJANGO_ID)}
            result = (result_class or SearchResult)(app_label, model_name, obj.pk, 0, **stored)
            result._object = obj  # already loaded: spare a query per result
            results.append(result)
        return {"results": results, "hits": len(matches)}


class InMemorySearchQuery(BaseSearchQuery):
    def build_query(self) -> SearchNode:
        # No query language: the backend evaluates the filter tree itself.
        return self.query_filter


class InMemoryEngine(BaseEngine):
    backend = InMemorySearchBackend
    query = InMemorySearchQuery


def _node_matches(node: SearchNode, doc: dict, document_field: str) -> bool:
    outcomes = (
        _node_matches(child, doc, document_field)
        if isinstance(child, SearchNode)
        else _lookup_matches(*child, doc, document_field)
        for child in node.children
    )
    matched = any(outcomes) if node.connector == SearchNode.OR else all(outcomes)
    return matched != node.negated


def _lookup_matches(expression: str, value: Any, doc: dict, document_field: str) -> bool:
    field, __, lookup = expression.partition("__")
    wanted = getattr(value, "query_string", value)  # unwrap AutoQuery, Exact, Raw...
    if field in ("content", document_field):  # "content" is Haystack's name for the document
        return _text_matches(str(doc.get(document_field) or ""), str(wanted))
    actual = doc.get(field)
    candidates = actual if isinstance(actual, list) else [actual]
    if lookup == "in":
        return any(_same(a, w) for a in candidates for w in wanted)
    if lookup == "range":
        low, high = wanted
        return any(a is not None and low <= a <= high for a in candidates)
    if lookup in _COMPARISONS:
        return any(a is not None and _COMPARISONS[lookup](a, wanted) for a in candidates)
    if lookup == "contains":
        return any(str(wanted).lower() in str(a).lower() for a in candidates)
    if lookup == "startswith":
        return any(str(a).lower().startswith(str(wanted).lower()) for a in candidates)
    return any(_same(a, wanted) for a in candidates)  # content, exact


def _text_matches(text: str, query: str) -> bool:
    text = text.lower()
    for excluded, phrase, word in _TERM.findall(query):
        term = (phrase or word).lower()
        if term and (term in text) == bool(excluded):
            return False
    return True


def _same(actual: Any, wanted: Any) -> bool:
    # Filters arrive as text ("true", "2") while prepared values are typed (True, 2).
    return str(actual).lower() == str(wanted).lower()


def _sort_key_for(field: str) -> Callable[[tuple], tuple]:
    def key(match: tuple) -> tuple:
        value = match[1].get(field)
        # Missing values last (when ascending), text without regard to case.
        return (value is None, value.casefold() if isinstance(value, str) else value)

    return key
