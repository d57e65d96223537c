"""Keyset ("cursor") pagination over public camera rows, forward only.

Why not DRF's CursorPagination: it keys on one ordering field and falls back to an offset among
equal values, so ordering by a field with many ties (confirmations: most cameras have 0) turns
into offset paging, which skips and repeats rows while volunteers add cameras between page
fetches. It also works on model instances, and the API pages plain value tuples. Here the cursor
is the last row's (sort value, id), and the next page is the rows strictly after it in
(sort value, id) order: a unique, total order, so a walk sees every row that existed when it
started exactly once, however many rows are inserted meanwhile. New rows show up if they sort
after the cursor. There is no COUNT query.

The sort values are the public (cut) values: the cursor is readable base64 JSON, and it must say
no more than the rows do. The id order is the primary key's index; the others sort the filtered
rows (fine for a bbox or a neighbourhood, slower over a whole big city; use id for full walks).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from mapapp.exports import public_value

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class Ordering:
    column: str | None  # a public column to sort by before the id; None sorts by id alone
    descending: bool
    parse: Any = int  # the cursor's sort value (JSON) back to what the column compares with


ORDERINGS: dict[str, Ordering] = {
    "id": Ordering(None, False),
    "-id": Ordering(None, True),
    "confirmations": Ordering("confirmations", False),
    "-confirmations": Ordering("confirmations", True),
    "updated": Ordering("updated", False, date.fromisoformat),
    "-updated": Ordering("updated", True, date.fromisoformat),
    "first_seen": Ordering("first_seen", False, date.fromisoformat),
    "-first_seen": Ordering("first_seen", True, date.fromisoformat),
}
DEFAULT_ORDERING = "id"
SORT_KEY = "sort_key"


@dataclass(frozen=True)
class Cursor:
    ordering: str
    value: Any
    id: int

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, date) else self.value
        return base64.urlsafe_b64encode(orjson.dumps([self.ordering, value, self.id])).decode().rstrip("=")


BAD_CURSOR = "This cursor is not one the API gave out; start again without it, then follow the `next` links."


def decode_cursor(raw: str, ordering: str) -> Cursor:
    try:
        name, value, pk = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        spec = ORDERINGS[name]
        value = None if spec.column is None else spec.parse(value)
        if type(pk) is not int:
            raise TypeError(pk)
    except (ValueError, TypeError, KeyError, binascii.Error, orjson.JSONDecodeError):
        raise ValidationError({"cursor": [BAD_CURSOR]}) from None
    if name != ordering:
        raise ValidationError(
            {"cursor": [f"This cursor belongs to ordering={name}; keep that ordering while you follow `next` links."]}
        )
    return Cursor(name, value, pk)


def page_params(params: Any) -> tuple[str, int, Cursor | None]:
    """(ordering, page size, cursor) from the query string, each checked with a clear 400."""
    errors: dict[str, list[str]] = {}
    ordering = params.get("ordering") or DEFAULT_ORDERING
    if ordering not in ORDERINGS:
        errors["ordering"] = [f"Order by one of: {', '.join(ORDERINGS)}."]
    raw_size = params.get("page_size") or str(DEFAULT_PAGE_SIZE)
    size = int(raw_size) if raw_size.isdecimal() else 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        errors["page_size"] = [
            f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}. For everything at once, use "
            "/api/v1/cameras/export/ (streamed) or the nightly bulk files."
        ]
    if errors:
        raise ValidationError(errors)
    raw_cursor = params.get("cursor")
    return ordering, size, decode_cursor(raw_cursor, ordering) if raw_cursor else None


def ordered(cameras: QuerySet, ordering: str, cursor: Cursor | None) -> QuerySet:
    """The cameras in (sort value, id) order, starting strictly after the cursor."""
    spec = ORDERINGS[ordering]
    after = "lt" if spec.descending else "gt"
    sign = "-" if spec.descending else ""
    if spec.column is None:
        if cursor is not None:
            cameras = cameras.filter(**{f"id__{after}": cursor.id})
        return cameras.order_by(f"{sign}id")
    # Ties go by ascending id in both directions (most-confirmed first, oldest camera first).
    cameras = cameras.alias(**{SORT_KEY: public_value(spec.column)})
    if cursor is not None:
        cameras = cameras.filter(
            Q(**{f"{SORT_KEY}__{after}": cursor.value}) | Q(**{SORT_KEY: cursor.value, "id__gt": cursor.id})
        )
    return cameras.order_by(f"{sign}{SORT_KEY}", "id")


def next_cursor(rows: list[tuple[Any, ...]], size: int, ordering: str, columns: tuple[str, ...]) -> Cursor | None:
    """The cursor after the page, or None on the last page. `rows` holds up to size + 1 rows."""
    if len(rows) <= size:
        return None
    last = rows[size - 1]
    spec = ORDERINGS[ordering]
    value = None if spec.column is None else last[columns.index(spec.column)]
    return Cursor(ordering, value, last[columns.index("id")])
