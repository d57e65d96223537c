"""The public transparency page: counts per month and the rules in plain words.

Counts only: nothing here names or identifies a volunteer or a moderator (no handles either).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict
from datetime import date, datetime

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncMonth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .. import consensus
from ..models import AuditEvent, Camera, Flag, Sighting, Vote
from ..services.evidence import consensus_params

MONTHS = 24
RULES_START = "What follows is written for the public transparency page."


def _months(today: date, count: int) -> list[date]:
    """The first day of this month and the count - 1 before it, newest first."""
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def _month(value: datetime | date) -> date:
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.date().replace(day=1)
    return value.replace(day=1)


def _per_month(qs: QuerySet, field: str, since: datetime, by: str | None = None) -> dict[date, dict[str, int]]:
    """{month: {group: count}} for rows whose `field` is on or after `since`."""
    rows = (
        qs.filter(**{f"{field}__gte": since})
        .annotate(month=TruncMonth(field))
        .values("month", *([by] if by else []))
        .annotate(n=Count("pk"))
        .order_by()
    )
    out: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        out[_month(row["month"])][row[by] if by else "all"] += row["n"]
    return out


def _inline(text: str) -> SafeString:
    """**bold** and *italic* of our own docstring; the text is escaped before any tag is added."""
    text = escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return mark_safe(re.sub(r"\*(\S(?:.*?\S)?)\*", r"<em>\1</em>", text))  # noqa: S308 (escaped above)


def rules_sections() -> list[dict[str, object]]:
    """The consensus package docstring, from its public part, as headed sections of HTML blocks."""
    doc = (consensus.__doc__ or "").split(RULES_START, 1)[-1]
    lines = doc.strip("\n").splitlines()
    sections: list[dict[str, object]] = []
    blocks: list[list[str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and lines[i + 1].startswith("===") and line.strip():
            blocks = []
            sections.append({"title": line.strip(), "blocks": blocks})
            i += 2
            continue
        if not line.strip():
            blocks.append([])
        elif sections:
            if not blocks:
                blocks.append([])
            blocks[-1].append(line)
        i += 1
    for section in sections:
        section["blocks"] = [_block(b) for b in section["blocks"] if b]
    return sections


def _block(lines: list[str]) -> SafeString:
    if lines[0].startswith("    "):
        return format_html("<pre>{}</pre>", "\n".join(line.strip() for line in lines))
    items: list[str] = []
    for line in lines:
        if re.match(r"^(\d+\.|\*) ", line):
            items.append(re.sub(r"^(\d+\.|\*) ", "", line))
        elif items:
            items[-1] += " " + line.strip()
    if items and re.match(r"^(\d+\.|\*) ", lines[0]):
        tag = "ol" if lines[0][0].isdigit() else "ul"
        return format_html("<{}>{}</{}>", tag, format_html_join("", "<li>{}</li>", ((_inline(i),) for i in items)), tag)
    return format_html("<p>{}</p>", _inline(" ".join(line.strip() for line in lines)))


def transparency(request: HttpRequest) -> HttpResponse:
    months = _months(timezone.localdate(), MONTHS)
    since = timezone.make_aware(datetime(months[-1].year, months[-1].month, 1))
    sightings = _per_month(Sighting.objects.all(), "submitted_at", since)
    votes = _per_month(Vote.objects.all(), "created_at", since, by="verdict")
    flags = _per_month(Flag.objects.all(), "created_at", since)
    # A person's actions (moderators) apart from the automatic ones (status recomputation, dedupe).
    moderation = _per_month(AuditEvent.objects.exclude(actor=None), "created_at", since, by="action")
    automatic = _per_month(AuditEvent.objects.filter(actor=None), "created_at", since, by="action")
    moderation_kinds = sorted({kind for counts in moderation.values() for kind in counts})
    automatic_kinds = sorted({kind for counts in automatic.values() for kind in counts})
    rows = [
        {
            "month": month,
            "sightings": sightings.get(month, {}).get("all", 0),
            "votes": [votes.get(month, {}).get(v, 0) for v in Vote.Verdict.values],
            "flags": flags.get(month, {}).get("all", 0),
            "moderation": [moderation.get(month, {}).get(k, 0) for k in moderation_kinds],
            "automatic": [automatic.get(month, {}).get(k, 0) for k in automatic_kinds],
        }
        for month in months
    ]
    by_status = dict(Camera.objects.live().values_list("status").annotate(n=Count("pk")).order_by())
    params = consensus_params()
    context = {
        "rows": rows,
        "verdicts": Vote.Verdict.choices,
        "moderation_kinds": moderation_kinds,
        "automatic_kinds": automatic_kinds,
        "statuses": [(label, by_status.get(value, 0)) for value, label in Camera.Status.choices],
        "params": params,
        "params_differ": asdict(params) != asdict(consensus.DEFAULT_PARAMS),
        "rules": rules_sections(),
    }
    return render(request, "mapapp/transparency.html", context)
