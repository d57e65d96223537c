"""Per-attribute consensus: the winning value, how much of the (weighted) evidence agrees, a label.

Each volunteer is one voice per attribute (their latest known value, chosen by `lifecycle`);
this module only weighs the voices. Three kinds of attribute:

* Categories and free text (type, mount, zone, operator, ...): the weighted plurality. Ties go to
  the alphabetically first value, so the result never depends on arrival order. Operators are
  compared ignoring case and spacing ("City  Police" = "city police"); the most-weighted
  spelling is shown.
* Direction (0-359°): angles wrap, so 350° and 10° are 20° apart and average to 0°, not 180°.
  When every value lies within `direction_tolerance` (45°) of the weighted circular mean, the
  value is that mean and the label unanimous. Otherwise the value is the mean of the heaviest
  cluster (the values within 45° of one reported value), labelled majority when that cluster
  holds more than half the weight and split otherwise. A split direction is still the best
  guess; the label tells the map not to present it as fact.
* Height and camera angle: the weighted median, which one wild guess cannot drag, and the share
  of weight within tolerance of it (height: 20% or 0.5 m, whichever is more; angle: 15°).

Labels: unanimous when every known value agrees (also for a single value, so `n` says how many
spoke: the UI shows "1 report"), majority when the agreeing share is more than half, split
otherwise. "", "unknown" and None are not values and do not vote; nor does a weight of 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .params import DEFAULT_PARAMS, MAJORITY, NUMERIC_FIELDS, SPLIT, UNANIMOUS, Params

UNKNOWN_TEXT = frozenset({"", "unknown"})


@dataclass(frozen=True, slots=True)
class AttributeConsensus:
    value: object  # None when nobody knew; int degrees for direction, float for numbers
    share: float  # the agreeing weight over all known weight, 0.0 when nobody knew
    label: str | None  # unanimous / majority / split; None when nobody knew
    n: int  # how many voices knew a value


NOBODY_KNEW = AttributeConsensus(None, 0.0, None, 0)


def known_value(field: str, raw: object) -> object | None:
    """The comparable form of a raw value, or None when it says "I don't know" (or is garbage).

    Directions become floats in [0, 360) (360 is north, 0); heights and angles finite floats;
    anything else a stripped string.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if field == "direction" or field in NUMERIC_FIELDS:
        try:
            number = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        if not math.isfinite(number):
            return None
        return number % 360.0 if field == "direction" else number
    text = str(raw).strip()
    return None if text.casefold() in UNKNOWN_TEXT else text


def attribute_consensus(
    field: str, values: Iterable[tuple[object, float]], params: Params = DEFAULT_PARAMS
) -> AttributeConsensus:
    """Consensus over one attribute's (raw value, weight) voices; see the module docstring."""
    voices = [(v, float(w)) for raw, w in values if w > 0 and (v := known_value(field, raw)) is not None]
    if not voices:
        return NOBODY_KNEW
    if field == "direction":
        value, agree = _direction(voices, params.direction_tolerance)
    elif field in NUMERIC_FIELDS:
        value, agree = _numeric(field, voices, params)
    else:
        value, agree = _categorical(field, voices)
    if all(agree):
        return AttributeConsensus(value, 1.0, UNANIMOUS, len(voices))
    total = sum(w for _, w in voices)
    share = sum(w for (_, w), ok in zip(voices, agree, strict=True) if ok) / total
    return AttributeConsensus(value, share, MAJORITY if share > 0.5 else SPLIT, len(voices))


def _categorical(field: str, voices: Sequence[tuple[object, float]]) -> tuple[object, list[bool]]:
    key = _operator_key if field == "operator" else str
    tally: dict[str, float] = defaultdict(float)
    for v, w in voices:
        tally[key(v)] += w
    winner = min(tally, key=lambda k: (-tally[k], k))
    spellings: dict[str, float] = defaultdict(float)
    for v, w in voices:
        if key(v) == winner:
            spellings[str(v)] += w
    value = min(spellings, key=lambda s: (-spellings[s], s))
    return value, [key(v) == winner for v, _ in voices]


def _operator_key(value: object) -> str:
    return " ".join(str(value).split()).casefold()


def _numeric(field: str, voices: Sequence[tuple[object, float]], params: Params) -> tuple[float, list[bool]]:
    numbers = [(float(v), w) for v, w in voices]  # type: ignore[arg-type]
    median = weighted_median(numbers)
    if field == "height":
        tolerance = max(params.height_tolerance_m, params.height_tolerance * abs(median))
    else:
        tolerance = params.angle_tolerance
    return median, [abs(v - median) <= tolerance for v, _ in numbers]


def weighted_median(values: Sequence[tuple[float, float]]) -> float:
    """The lower weighted median of (value, weight) pairs: the first value reaching half the weight."""
    pairs = sorted(values)
    half = sum(w for _, w in pairs) / 2.0
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    return pairs[-1][0]


def _direction(voices: Sequence[tuple[object, float]], tolerance: float) -> tuple[int, list[bool]]:
    angles = [(float(v), w) for v, w in voices]  # type: ignore[arg-type]
    mean = circular_mean(angles)
    if mean is not None and all(angle_between(a, mean) <= tolerance for a, _ in angles):
        return round(mean) % 360, [True] * len(angles)
    best: tuple[float, float, list[bool]] | None = None  # (agreeing weight, mean, who agrees)
    for anchor in sorted({a for a, _ in angles}):
        group = [(a, w) for a, w in angles if angle_between(a, anchor) <= tolerance]
        # Angles within ±45° of one anchor span at most 90°, so their mean is always defined.
        centre = circular_mean(group)
        assert centre is not None
        agree = [angle_between(a, centre) <= tolerance for a, _ in angles]
        weight = sum(w for (_, w), ok in zip(angles, agree, strict=True) if ok)
        if best is None or weight > best[0] + 1e-12:
            best = (weight, centre, agree)
    assert best is not None
    return round(best[1]) % 360, best[2]


def circular_mean(angles: Sequence[tuple[float, float]]) -> float | None:
    """Weighted mean direction in [0, 360) of (degrees, weight); None when the values cancel out."""
    s = sum(w * math.sin(math.radians(a)) for a, w in angles)
    c = sum(w * math.cos(math.radians(a)) for a, w in angles)
    if math.hypot(s, c) <= 1e-9 * sum(w for _, w in angles):
        return None
    return math.degrees(math.atan2(s, c)) % 360.0


def angle_between(a: float, b: float) -> float:
    """The smaller angle between two directions, 0-180°."""
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)
