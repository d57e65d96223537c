"""The OpenStreetMap surveillance vocabulary, and how raw tag values map onto it.

Field values are OSM tag values (`camera:type=dome` is stored as "dome"), so imports and exports
speak the language every open camera map uses. Each vocabulary knows its OSM key, the one-line help
shown next to the form's select, and how to normalise a raw value from an import:

* a value of the vocabulary is kept ("clean");
* a known synonym or spelling variant is translated ("mapped"), e.g. `traffic_signals` (OSM's
  spelling) to `traffic_signal`, `street_light` to `street_lamp`, `ptz` to `panning`;
* a well-formed OSM value we do not list becomes "other" where the vocabulary has it ("mapped");
* anything else -- several values (`dome;fixed`), slashes (`wall/ceiling`), typos (`privat`),
  capitalised values (`Station`: OSM values are case-sensitive) -- becomes "unknown" and is
  counted as "dirty". The importer keeps the raw tags, so nothing is thrown away.

Directions follow the same idea: 0-359 degrees (360 is north, so 0). Compass letters (N, NE, ...,
NNW), which OSM's `direction` key explicitly permits and which lose nothing when translated, are
"mapped"; so is a field-of-view range `338-23`, to its middle (0). A list such as `70;240`
describes two cameras on one node, so it is left unknown and counted as dirty rather than
guessing one of them.

This module is pure: no Django, so importers, the dedupe core and tests can use it anywhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

CLEAN, MAPPED, DIRTY, MISSING = "clean", "mapped", "dirty", "missing"

# The OSM surveillance attributes a sighting and a camera share (models.CameraAttributes), in
# order. Defined here, a pure module, so the pure cores (consensus) use the same list.
ATTRIBUTE_FIELDS = (
    "surveillance_type",
    "camera_type",
    "camera_mount",
    "surveillance",
    "zone",
    "direction",
    "operator",
    "operator_type",
    "height",
    "camera_angle",
)


@dataclass(frozen=True)
class Term:
    value: str
    label: str
    help: str


@dataclass(frozen=True)
class Vocabulary:
    field: str
    osm_key: str
    label: str
    terms: tuple[Term, ...]
    default: str = "unknown"
    synonyms: dict[str, str] = field(default_factory=dict)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(t.value for t in self.terms)

    @property
    def choices(self) -> list[tuple[str, str]]:
        return [(t.value, t.label) for t in self.terms]

    @property
    def help(self) -> dict[str, str]:
        return {t.value: t.help for t in self.terms}

    def normalise(self, raw: object) -> tuple[str, str]:
        """Map one raw tag value to (value, outcome), outcome one of clean/mapped/dirty/missing."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return self.default, MISSING
        text = str(raw).strip()
        if text in self.values:
            return text, CLEAN
        key = text.lower().replace("-", "_").replace(" ", "_")
        if key in self.synonyms:
            return self.synonyms[key], MAPPED
        # A well-formed OSM value (lower-case word) that we do not list is still a real value.
        if "other" in self.values and _OSM_TOKEN.fullmatch(text):
            return "other", MAPPED
        return "unknown" if "unknown" in self.values else self.default, DIRTY


_OSM_TOKEN = re.compile(r"[a-z][a-z0-9_]*")

SURVEILLANCE_TYPE = Vocabulary(
    field="surveillance_type",
    osm_key="surveillance:type",
    label="What is it?",
    # OSM maps a man_made=surveillance node without surveillance:type as a camera by convention;
    # no "unknown" value exists in the OSM scheme for this key.
    default="camera",
    terms=(
        Term("camera", "Camera", "A CCTV or security camera of any kind."),
        Term(
            "ALPR",
            "Licence-plate reader (ALPR)",
            "Reads number plates; often a box camera on a pole with infrared lights.",
        ),
        Term("guard", "Guard", "A staffed post: a guard booth or security desk watching the area."),
        Term(
            "gunshot_detector",
            "Gunshot detector",
            "Acoustic sensors (e.g. ShotSpotter) mounted high on poles or roofs.",
        ),
    ),
    synonyms={"alpr": "ALPR", "anpr": "ALPR", "cctv": "camera", "webcam": "camera", "gunshot": "gunshot_detector"},
)

CAMERA_TYPE = Vocabulary(
    field="camera_type",
    osm_key="camera:type",
    label="Camera type",
    terms=(
        Term("fixed", "Fixed", "Points one way; box or 'bullet' shaped."),
        Term("dome", "Dome", "A half-sphere of dark glass; you cannot see where it points."),
        Term("panning", "Panning (PTZ)", "Can turn and zoom by remote control; usually a larger dome or on a motor."),
        Term("unknown", "Not sure", "Choose this rather than guess."),
    ),
    synonyms={
        "bullet": "fixed",
        "box": "fixed",
        "turret": "dome",
        "eyeball": "dome",
        "360": "dome",
        "fisheye": "dome",
        "ptz": "panning",
        "pan_tilt_zoom": "panning",
    },
)

CAMERA_MOUNT = Vocabulary(
    field="camera_mount",
    osm_key="camera:mount",
    label="Mounted on",
    terms=(
        Term("wall", "Wall", "Fixed to the side of a building or wall."),
        Term("pole", "Pole", "On its own pole or mast."),
        Term("ceiling", "Ceiling", "Under a roof, arcade or canopy, looking down."),
        Term("street_lamp", "Street lamp", "On a street-light column."),
        Term("traffic_signal", "Traffic signal", "On a traffic-light pole or its arm."),
        Term("building", "Building (roof or corner)", "On a roof edge or building corner, high up."),
        Term("doorbell", "Doorbell", "A doorbell camera at a front door."),
        Term("other", "Something else", "A fence, gantry, bus shelter or similar; say which in the notes."),
        Term("unknown", "Not sure", "Choose this rather than guess."),
    ),
    synonyms={
        "traffic_signals": "traffic_signal",
        "traffic_light": "traffic_signal",
        "street_light": "street_lamp",
        "streetlamp": "street_lamp",
        "lamp": "street_lamp",
        "mast": "pole",
        "roof": "building",
    },
)

SURVEILLANCE = Vocabulary(
    field="surveillance",
    osm_key="surveillance",
    label="What does it watch?",
    terms=(
        Term("public", "Public space", "Watches a street, square or park that anyone may use."),
        Term("outdoor", "Private outdoor area", "Watches private outdoor ground: a car park, yard or forecourt."),
        Term("indoor", "Indoors", "Inside a building, such as a station hall or shop."),
        Term("unknown", "Not sure", "Choose this rather than guess."),
    ),
)

ZONE = Vocabulary(
    field="zone",
    osm_key="surveillance:zone",
    label="Area watched",
    terms=(
        Term("town", "Town centre / street", "General street surveillance."),
        Term("traffic", "Traffic", "Roads and junctions: traffic or speed monitoring."),
        Term("parking", "Parking", "A car park or parking spaces."),
        Term("shop", "Shop", "A shop front, till area or sales floor."),
        Term("bank", "Bank or ATM", "A bank entrance, lobby or cash machine."),
        Term("building", "Building", "The outside of a building in general."),
        Term("entrance", "Entrance", "A door or gate, watching who comes and goes."),
        Term("other", "Something else", "Say which in the notes."),
        Term("unknown", "Not sure", "Choose this rather than guess."),
    ),
    synonyms={"atm": "bank", "street": "town", "parking_entrance": "parking", "gate": "entrance"},
)

OPERATOR_TYPE = Vocabulary(
    field="operator_type",
    osm_key="operator:type",
    label="Operated by",
    terms=(
        Term("police", "Police", "Police-run, often signed or on police poles."),
        Term("government", "Government", "A city, state or public agency other than the police."),
        Term("transit", "Transit", "A transport operator: stations, buses, trams."),
        Term("business", "Business", "A shop, bank, office or other company."),
        Term("residential", "Residential", "A home or block of flats."),
        Term("unknown", "Not sure", "Choose this rather than guess."),
    ),
    synonyms={
        "public": "government",
        "municipal": "government",
        "public_transport": "transit",
        "private": "business",
        "commercial": "business",
        "community": "residential",
    },
)

VOCABULARIES: tuple[Vocabulary, ...] = (
    SURVEILLANCE_TYPE,
    CAMERA_TYPE,
    CAMERA_MOUNT,
    SURVEILLANCE,
    ZONE,
    OPERATOR_TYPE,
)
BY_FIELD: dict[str, Vocabulary] = {v.field: v for v in VOCABULARIES}

# --- Numbers ----------------------------------------------------------------------------------

COMPASS = {
    name: i * 22.5
    for i, name in enumerate(
        ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]
    )
}
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:°|deg|m|metres?|meters?)?\s*$", re.IGNORECASE)

HEIGHT_MIN_M = 0.1
HEIGHT_MAX_M = 300.0


def normalise_direction(raw: object) -> tuple[int | None, str]:
    """Degrees clockwise from north, 0-359, or None. See the module docstring for the rules."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, MISSING
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
        outcome = CLEAN
    else:
        text = str(raw).strip()
        if text.upper() in COMPASS:
            return round(COMPASS[text.upper()]) % 360, MAPPED
        if span := _RANGE.match(text):
            return _range_midpoint(float(span.group(1)), float(span.group(2)))
        match = _NUMBER.match(text)
        if not match:
            return None, DIRTY
        number = float(match.group(1))
        outcome = CLEAN if text == match.group(1) else MAPPED
    if not math.isfinite(number) or not 0 <= number <= 360:
        return None, DIRTY
    value = round(number) % 360
    return value, outcome if value == number else MAPPED


def _range_midpoint(start: float, end: float) -> tuple[int | None, str]:
    """A field of view given as "from-to" degrees, clockwise (338-23 spans north): its middle.

    Thousands of DeFlock ALPR nodes are mapped this way. A full circle (0-360) has no direction.
    """
    span = (end - start) % 360
    if start > 360 or end > 360 or span == 0:
        return None, DIRTY
    return round(start + span / 2) % 360, MAPPED


def normalise_measure(raw: object, *, low: float, high: float) -> tuple[float | None, str]:
    """A number with an optional unit ("3", "2.5 m", "15°") within [low, high], else None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, MISSING
    match = _NUMBER.match(str(raw))
    if not match:
        return None, DIRTY
    number = float(match.group(1))
    if not math.isfinite(number) or not low <= number <= high:
        return None, DIRTY
    return number, CLEAN if str(raw).strip() == match.group(1) else MAPPED


def normalise_height(raw: object) -> tuple[float | None, str]:
    """Mounting height in metres above ground. Above 300 m is a typo, not a camera."""
    return normalise_measure(raw, low=HEIGHT_MIN_M, high=HEIGHT_MAX_M)


def normalise_angle(raw: object) -> tuple[float | None, str]:
    """OSM `camera:angle`: tilt below the horizontal, 0 (level) to 90 (straight down).

    Values such as 180 or 360 in real data are fields of view entered in the wrong key; they are
    dirty, not tilts.
    """
    return normalise_measure(raw, low=0.0, high=90.0)


# The OSM key each attribute is read from (imports) and written to (exports): the first key is
# the one we write. Direction prefers the surveillance scheme's own key and falls back to the
# generic one, which DeFlock's ALPR nodes use.
TAG_KEYS: dict[str, tuple[str, ...]] = {
    **{v.field: (v.osm_key,) for v in VOCABULARIES},
    "direction": ("camera:direction", "direction"),
    "operator": ("operator",),
    "height": ("height",),
    "camera_angle": ("camera:angle",),
}
