"""The camera filters of the open-data API, as a django-filter FilterSet.

Every bad value is a 400 naming the parameter and what it should look like, and so is a parameter
we do not know (see `check_known_params`): a researcher who types `camera_typ=dome` must not get
the whole unfiltered city back and publish numbers about domes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.exceptions import ValidationError

from mapapp import vocab
from mapapp.exports import since
from mapapp.geometry import BadBBox, parse_bbox
from mapapp.models import Camera, Neighbourhood

PUBLIC_STATUSES = tuple(s for s in Camera.Status.values if s != Camera.Status.REMOVED)


class BBoxField(forms.CharField):
    """`minlon,minlat,maxlon,maxlat` in degrees (west,south,east,north), as the map pages take it."""

    def clean(self, value: str | None) -> tuple[float, float, float, float] | None:
        value = super().clean(value)
        if not value:
            return None
        try:
            return parse_bbox(value)
        except BadBBox as exc:
            # The client's text goes in as a parameter, never into the template: django-filter
            # %-formats the message, and a % in the query would otherwise be a 500.
            raise forms.ValidationError(
                "%(problem)s. Give bbox=minlon,minlat,maxlon,maxlat.", params={"problem": str(exc)}
            ) from None


class SinceField(forms.CharField):
    """An ISO date (2024-05-17) or date-time (2024-05-17T10:00:00Z); a time only picks its day."""

    def clean(self, value: str | None) -> date | None:
        value = super().clean(value)
        if not value:
            return None
        try:
            parsed = parse_datetime(value) or parse_date(value)
        except ValueError:  # well-formed but impossible, e.g. 2024-02-30
            parsed = None
        if parsed is None:
            raise forms.ValidationError(
                "%(value)r is not a date. Give an ISO date such as 2024-05-17 (or a date-time such as "
                "2024-05-17T10:00:00Z; only its day counts).",
                params={"value": value},
            )
        if isinstance(parsed, datetime) and timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
        return parsed


class NeighbourhoodField(forms.SlugField):
    """A neighbourhood's slug, cleaned to its id (one indexed look-up).

    Not ModelChoiceFilter: django-filter deep-copies every filter for every request, and copying
    that filter's QuerySet was most of a page's filtering time.
    """

    def clean(self, value: str | None) -> int | None:
        value = super().clean(value)
        if not value:
            return None
        pk = Neighbourhood.objects.filter(slug=value).values_list("pk", flat=True).first()
        if pk is None:
            raise forms.ValidationError("No neighbourhood has this slug; see /api/v1/neighbourhoods/ for them.")
        return pk


class NeighbourhoodFilter(django_filters.Filter):
    field_class = NeighbourhoodField

    def filter(self, qs: QuerySet[Camera], value: int | None) -> QuerySet[Camera]:
        # By id, not slug: camera_nbhd_status_idx serves it without a join.
        return qs if value is None else qs.filter(neighbourhood_id=value)


class BBoxFilter(django_filters.Filter):
    field_class = BBoxField

    def filter(self, qs: QuerySet[Camera], value: tuple[float, float, float, float] | None) -> QuerySet[Camera]:
        return qs if value is None else qs.in_bbox(*value)


class UpdatedSinceFilter(django_filters.Filter):
    """Cameras whose public `updated` day is on or after the given day.

    A date-time counts as its day: comparing to the second would let a client bisect the exact
    moment of a volunteer's vote out of the filter (mapapp/exports/__init__.py).
    """

    field_class = SinceField

    def filter(self, qs: QuerySet[Camera], value: date | None) -> QuerySet[Camera]:
        return qs if value is None else qs.filter(updated_at__gte=since(value))


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """One value or several separated by commas (`status=verified,disputed`)."""


def _choices(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


def _vocab_filter(v: vocab.Vocabulary) -> ChoiceInFilter:
    return ChoiceInFilter(
        field_name=v.field,
        choices=_choices(v.values),
        help_text=f"OSM {v.osm_key}: {', '.join(v.values)}; several separated by commas.",
        error_messages={"invalid_choice": f"%(value)s is not a {v.field}; choose from {', '.join(v.values)}."},
    )


class CameraFilter(django_filters.FilterSet):
    bbox = BBoxFilter(help_text="minlon,minlat,maxlon,maxlat in degrees (WGS 84).")
    neighbourhood = NeighbourhoodFilter(help_text="A neighbourhood's slug (see /api/v1/neighbourhoods/).")
    status = ChoiceInFilter(
        choices=_choices(PUBLIC_STATUSES),
        help_text=f"{', '.join(PUBLIC_STATUSES)}; several separated by commas.",
        error_messages={
            "invalid_choice": f"%(value)s is not a public status; choose from {', '.join(PUBLIC_STATUSES)}."
        },
    )
    surveillance_type = _vocab_filter(vocab.SURVEILLANCE_TYPE)
    camera_type = _vocab_filter(vocab.CAMERA_TYPE)
    camera_mount = _vocab_filter(vocab.CAMERA_MOUNT)
    operator_type = _vocab_filter(vocab.OPERATOR_TYPE)
    zone = _vocab_filter(vocab.ZONE)
    updated_since = UpdatedSinceFilter(help_text="ISO date; cameras whose public data changed on or after that day.")
    min_confirmations = IntegerFilter(
        field_name="confirmations",
        lookup_expr="gte",
        min_value=0,
        help_text="Cameras that at least this many volunteers besides the reporter confirmed.",
        error_messages={
            "invalid": "min_confirmations must be a whole number of 0 or more.",
            "min_value": "min_confirmations must be a whole number of 0 or more.",
        },
    )

    class Meta:
        model = Camera
        fields: list[str] = []

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None:
            # Only the filters the query names. django-filter deep-copies every filter, then every
            # form field, on each request; for ten filters that was a millisecond per page.
            self.base_filters = {name: f for name, f in self.base_filters.items() if name in data}
        super().__init__(data, *args, **kwargs)


def check_known_params(params: Iterable[str], known: Iterable[str]) -> None:
    unknown = sorted(set(params) - set(known))
    if unknown:
        allowed = ", ".join(sorted(known))
        raise ValidationError({name: [f"Unknown parameter; this endpoint takes {allowed}."] for name in unknown})
