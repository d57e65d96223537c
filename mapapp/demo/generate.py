"""A fictional demo city, generated from a seed, so `make run` shows a lived-in map on day one.

Why fictional: third-party camera data (OpenStreetMap extracts, Amnesty's Decode Surveillance NYC
results) may not be committed here, and a demo must never pass for a survey of real streets. So
everything is made up -- the grid, the neighbourhood names ("Northgate", "Canal Row"), the
operators ("Northgate Deli", "City DOT") and five demo volunteers -- and is stored as such:
cameras with provenance "demo", neighbourhoods with is_demo=True, so pages can label them.

Where the numbers come from (plausible, not measured):

* Grid: Manhattan's avenues run ~29° east of true north, ~270 m apart; streets are ~80 m apart
  (20 blocks a mile). Avenues are 100 ft (30.5 m) between building lines, streets 60 ft (18.3 m);
  a wide crosstown street every 8 blocks is avenue-wide. So a corner shop's wall is ~18 m from
  the centre of its intersection, and a signal pole on the kerb corner ~12 m.
* Where cameras are: Decode Surveillance NYC had volunteers count cameras at intersections (in
  Street View images of the crossings), so a map in its spirit has them there. Each chosen
  intersection gets 1-4 cameras on its building or kerb corners; the commercial core (Lantern
  Square) has cameras at nearly every crossing, residential districts at about half.
* What they are: mostly businesses' domes and box cameras on walls over entrances and shop
  fronts; police PTZ domes and a few licence-plate readers (pointing along the avenue) on
  poles and signals, mostly at the wide crossings, where a rare gunshot detector hangs too; the
  city's traffic cameras on signal arms; transit cameras at station entrances; doorbells on
  residential streets. A direction is known when a volunteer could judge it: for half the box
  cameras, a quarter of the domes (the glass hides the lens), few PTZ cameras -- ~40% overall.
* Sightings: 1-3 per camera, by distinct volunteers (a few keen people map most). Phone GPS
  is good to ~5 m under open sky (GPS.gov) and worse between tall buildings, so positions carry
  an error of sigma = 5.7 m per axis (median miss 6.7 m), cut off at 4 sigma; phones report 4-15 m.
  Volunteers disagree now and then: 10% misjudge the camera type (dome or box is hard to tell),
  a quarter take an ALPR for an ordinary camera, a few pick "Not sure".

`generate_city` is pure (no ORM): the same seed gives the same city, and times are offsets
from the seeding day. `demo_seed` writes one city to the database.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from django.utils.text import slugify

from .. import geometry

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "camerawatch-demo"  # noqa: S105 -- a public, dev-only credential that seed_demo prints
DEMO_EMAIL_DOMAIN = "demo.invalid"  # RFC 2606: can never receive mail
VOLUNTEER_USERNAMES = tuple(f"demo_volunteer_{n}" for n in range(1, 6))
VOLUNTEER_WEIGHTS = (34, 26, 20, 12, 8)

AVENUE_SPACING_M, STREET_SPACING_M, GRID_BEARING_DEG = 270.0, 80.0, 29.0
AVENUES, STREETS = 8, 32  # 1.9 by 2.5 km of intersections, plus half a block all round
AVENUE_HALF_M, STREET_HALF_M, WIDE_STREET_HALF_M = 15.25, 9.15, 15.25  # centreline to building line
AVENUE_CURB_M, STREET_CURB_M, WIDE_STREET_CURB_M = 10.5, 4.6, 9.0  # centreline to kerb
GPS_SIGMA_M = 5.7
CAMPAIGN_DAYS = 180

# name, character; cut lines are chosen per seed in _layout().
HOODS = (("Canal Row", "mixed"), ("Old Ferry", "residential"))  # south band: west, east
HOODS += (("Tallow Market", "mixed"), ("Lantern Square", "core"), ("Copperline", "mixed"))  # middle band
HOODS += (("Northgate", "mixed"), ("Brindle Park", "residential"))  # north band
# Per character: chance an intersection has cameras at all, then weights of 1, 2, 3, 4 cameras.
DENSITY = {"core": (0.97, (8, 22, 35, 35)), "mixed": (0.85, (20, 35, 28, 17)), "residential": (0.6, (40, 35, 18, 7))}
ROLE_BASE = {"core": (82, 3), "mixed": (72, 12), "residential": (48, 38)}  # business, residential
SHOP_WORDS = ("Deli", "Pharmacy", "Hardware", "Laundromat", "Wine & Spirits", "Bakery", "Grocery", "Diner", "Florist")
SHOP_NAMES = ("Marlow", "Juniper", "Golden Pear", "Bluebell", "Halcyon", "Larkspur", "Red Kettle", "Twin Oaks")
NOTES = ("Above the door.", "On the corner of the building.", "Small sign says CCTV in operation.", "Hard to see.")

WALL_LIKE = {"wall", "building", "ceiling", "doorbell"}
HEIGHT_M = {"wall": (2.5, 4.5), "ceiling": (2.6, 3.6), "building": (6.0, 18.0), "doorbell": (1.2, 1.6)}
HEIGHT_M |= {"pole": (4.0, 7.0), "street_lamp": (5.0, 8.0), "traffic_signal": (4.5, 6.5)}
DIRECTION_KNOWN = {"fixed": 0.5, "dome": 0.25, "panning": 0.1, "unknown": 0.0}
# What a camera type is taken for when a volunteer gets it wrong (dome and box are confused most).
TYPE_CONFUSION = {"dome": {"fixed": 5, "panning": 2, "unknown": 3}, "fixed": {"dome": 5, "panning": 1, "unknown": 3}}
TYPE_CONFUSION |= {"panning": {"dome": 6, "fixed": 1, "unknown": 2}, "unknown": {"dome": 1, "fixed": 1}}
MOUNT_CONFUSION = {"wall": "building", "building": "wall", "ceiling": "wall", "pole": "street_lamp"}
MOUNT_CONFUSION |= {"street_lamp": "pole", "traffic_signal": "pole", "doorbell": "wall"}


@dataclass(frozen=True)
class DemoNeighbourhood:
    name: str
    slug: str
    character: str  # core, mixed or residential
    polygon: dict[str, Any]  # GeoJSON Polygon, [lon, lat], one closed counter-clockwise ring


@dataclass(frozen=True)
class DemoCamera:
    lat: float
    lon: float
    neighbourhood: int  # index into DemoCity.neighbourhoods
    attributes: dict[str, Any]  # every CameraAttributes field: the truth, stored as the consensus
    agreement: dict[str, dict[str, Any]]  # per vocabulary field: share agreeing, reports, label


@dataclass(frozen=True)
class DemoSighting:
    camera: int  # index into DemoCity.cameras
    volunteer: int  # index into DemoCity.volunteers
    lat: float
    lon: float
    accuracy_m: float
    attributes: dict[str, Any]
    observed_day: int  # UTC days before the seeding day: 2 or more, so never in the future
    observed_second: int  # seconds after that UTC midnight: daytime at the city's longitude
    submit_delay_s: int
    notes: str = ""


@dataclass(frozen=True)
class DemoCity:
    seed: int
    center: tuple[float, float]
    neighbourhoods: tuple[DemoNeighbourhood, ...]
    cameras: tuple[DemoCamera, ...]
    sightings: tuple[DemoSighting, ...]
    volunteers: tuple[str, ...] = VOLUNTEER_USERNAMES
    intersections: tuple[tuple[float, float], ...] = field(default=(), repr=False)  # (lat, lon) of every crossing


@dataclass(frozen=True)
class DemoSummary:
    neighbourhoods: int
    cameras: int
    sightings: int
    volunteers: int


class DemoAlreadySeeded(Exception):
    """Demo data is in the database already; seeding again would duplicate it."""


# --- The pure generator -----------------------------------------------------------------------


class _Grid:
    """Grid coordinates (u across the avenues, v along them, metres) to latitude and longitude.

    An equirectangular projection around the centre: over 2.5 km it is off by under 0.02%, and
    it is affine, so a straight edge in the grid is a straight edge in [lon, lat].
    """

    U_MIN, U_MAX = -AVENUE_SPACING_M / 2, (AVENUES - 0.5) * AVENUE_SPACING_M
    V_MIN, V_MAX = -STREET_SPACING_M / 2, (STREETS - 0.5) * STREET_SPACING_M

    def __init__(self, center: tuple[float, float]) -> None:
        self.lat0, self.lon0 = center
        self.m_per_deg_lat = math.pi * geometry.EARTH_RADIUS_M / 180
        self.m_per_deg_lon = self.m_per_deg_lat * math.cos(math.radians(self.lat0))
        self.sin, self.cos = math.sin(math.radians(GRID_BEARING_DEG)), math.cos(math.radians(GRID_BEARING_DEG))

    def latlon(self, u: float, v: float) -> tuple[float, float]:
        du, dv = u - (self.U_MIN + self.U_MAX) / 2, v - (self.V_MIN + self.V_MAX) / 2
        east, north = du * self.cos + dv * self.sin, -du * self.sin + dv * self.cos
        return round(self.lat0 + north / self.m_per_deg_lat, 7), round(self.lon0 + east / self.m_per_deg_lon, 7)

    def position(self, u: float, v: float) -> list[float]:
        lat, lon = self.latlon(u, v)
        return [lon, lat]


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _layout(rng: random.Random) -> list[tuple[float, float, float, float]]:
    """(u0, u1, v0, v1) per HOODS entry: three bands cut on streets, each cut on avenues."""
    g, a, s = _Grid, AVENUE_SPACING_M, STREET_SPACING_M
    s1, s2 = (10 + rng.randint(-1, 1)) * s, (21 + rng.randint(-1, 1)) * s
    south, north = (3 + rng.randint(0, 1)) * a, (4 + rng.randint(-1, 0)) * a
    west, east = 2 * a, (5 + rng.randint(0, 1)) * a
    return [
        (g.U_MIN, south, g.V_MIN, s1),
        (south, g.U_MAX, g.V_MIN, s1),
        (g.U_MIN, west, s1, s2),
        (west, east, s1, s2),
        (east, g.U_MAX, s1, s2),
        (g.U_MIN, north, s2, g.V_MAX),
        (north, g.U_MAX, s2, g.V_MAX),
    ]


def _hood_at(boxes: list[tuple[float, float, float, float]], u: float, v: float) -> int:
    return next(i for i, (u0, u1, v0, v1) in enumerate(boxes) if u0 <= u < u1 and v0 <= v < v1)


def _role_attributes(rng: random.Random, role: str, hood: str, wide: bool) -> dict[str, Any]:
    """The categorical attributes of one camera of a role (who runs it decides most of the rest)."""
    a: dict[str, Any] = {"surveillance_type": "camera", "surveillance": "public", "operator_type": role, "operator": ""}
    if role == "business":
        zone = _pick(rng, {"shop": 40, "entrance": 28, "building": 14, "bank": 9, "parking": 9})
        mount = _pick(rng, {"wall": 74, "ceiling": 12, "building": 14})
        a |= {"camera_type": _pick(rng, {"dome": 50, "fixed": 44, "panning": 6}), "camera_mount": mount, "zone": zone}
        a["surveillance"] = _pick(rng, {"public": 55, "outdoor": 30, "indoor": 15 if mount == "ceiling" else 0})
        if rng.random() < 0.35:
            a["operator"] = {"bank": f"{hood} Savings Bank", "parking": f"{hood} Garage"}.get(
                zone, f"{rng.choice((hood, hood, *SHOP_NAMES))} {rng.choice(SHOP_WORDS)}"
            )
    elif role == "police":
        kind = _pick(rng, {"camera": 78, "ALPR": 35 if wide else 6, "gunshot_detector": 4 if wide else 0})
        a |= {"surveillance_type": kind, "camera_type": _pick(rng, {"panning": 55, "dome": 30, "fixed": 15})}
        a |= {"camera_mount": _pick(rng, {"pole": 45, "street_lamp": 30, "traffic_signal": 25})}
        a |= {"zone": _pick(rng, {"town": 75, "traffic": 25}), "operator": "City Police Department"}
        if kind == "ALPR":
            a |= {"camera_type": "fixed", "camera_mount": rng.choice(("pole", "traffic_signal")), "zone": "traffic"}
        elif kind == "gunshot_detector":
            a |= {"camera_type": "unknown", "camera_mount": rng.choice(("building", "pole")), "zone": "town"}
        if rng.random() < 0.4:
            a["operator"] = ""
    elif role == "government":
        a |= {"camera_type": _pick(rng, {"fixed": 60, "panning": 40}), "zone": "traffic"}
        a |= {"camera_mount": _pick(rng, {"traffic_signal": 70, "pole": 30})}
        a["operator"] = "City DOT" if rng.random() < 0.7 else ""
    elif role == "transit":
        mount = _pick(rng, {"wall": 40, "ceiling": 40, "pole": 20})
        a |= {"camera_type": _pick(rng, {"dome": 70, "fixed": 30}), "camera_mount": mount}
        a |= {"zone": _pick(rng, {"entrance": 80, "other": 20}), "surveillance": rng.choice(("public", "indoor"))}
        a["operator"] = "Harbourline Transit" if rng.random() < 0.8 else ""
    else:  # residential: doorbells, and cameras over the doors of apartment blocks
        mount = _pick(rng, {"doorbell": 55, "wall": 45})
        a |= {"camera_mount": mount, "zone": _pick(rng, {"entrance": 75, "building": 25}), "surveillance": "outdoor"}
        a["camera_type"] = "fixed" if mount == "doorbell" else rng.choice(("dome", "fixed"))
        if mount == "wall" and rng.random() < 0.2:
            a["operator"] = f"{hood} Court Co-op"
    return a


def _place(rng: random.Random, a: dict[str, Any], wide: bool) -> tuple[float, float, float]:
    """(du, dv, facing) from the intersection: on a building corner or a kerb corner.

    `facing` is the bearing the camera naturally looks: out from its wall, or along a road.
    """
    su, sv = rng.choice((-1, 1)), rng.choice((-1, 1))
    street_half = WIDE_STREET_HALF_M if wide else STREET_HALF_M
    street_curb = WIDE_STREET_CURB_M if wide else STREET_CURB_M
    along = rng.uniform(8, 30) if a["camera_mount"] == "doorbell" else rng.uniform(0.5, 8)
    if a["camera_mount"] in WALL_LIKE:
        if a["camera_mount"] != "doorbell" and rng.random() < 0.5:  # on the avenue face, facing across it
            return su * (AVENUE_HALF_M + 0.3), sv * (street_half + along), 119.0 if su < 0 else 299.0
        return su * (AVENUE_HALF_M + along), sv * (street_half + 0.3), 29.0 if sv < 0 else 209.0
    out = rng.uniform(2, 20) if a["camera_mount"] == "street_lamp" else rng.uniform(0.3, 1.5)
    road = rng.choice((29.0, 209.0)) if a["surveillance_type"] == "ALPR" else rng.choice((29.0, 119.0, 209.0, 299.0))
    return su * (AVENUE_CURB_M + rng.uniform(0.3, 1.5)), sv * (street_curb + out), road


def _with_measures(rng: random.Random, a: dict[str, Any], facing: float) -> dict[str, Any]:
    if a["surveillance_type"] == "ALPR":
        known = 1.0
    else:
        known = 0.7 if a["camera_mount"] == "doorbell" else DIRECTION_KNOWN[a["camera_type"]]
    spread = 3 if a["surveillance_type"] == "ALPR" else 10 if a["camera_mount"] not in WALL_LIKE else 35
    direction = round(facing + rng.gauss(0, spread)) % 360 if rng.random() < known else None
    low, high = HEIGHT_M[a["camera_mount"]]
    height = round(rng.uniform(low, high) * 2) / 2 if rng.random() < 0.3 else None
    angle = float(rng.choice((5, 10, 15, 20, 30, 45))) if rng.random() < 0.15 else None
    return a | {"direction": direction, "height": height, "camera_angle": angle}


def _observe(rng: random.Random, truth: dict[str, Any]) -> dict[str, Any]:
    """What one volunteer reports about a camera: mostly right, sometimes not."""
    seen = dict(truth)
    if rng.random() < 0.10:
        seen["camera_type"] = _pick(rng, TYPE_CONFUSION[truth["camera_type"]])
    if rng.random() < 0.05:  # a neighbouring kind of mount, or "Not sure"
        seen["camera_mount"] = rng.choice((MOUNT_CONFUSION.get(truth["camera_mount"], "unknown"), "unknown"))
    if truth["surveillance_type"] == "ALPR" and rng.random() < 0.25:
        seen["surveillance_type"] = "camera"
    for name, share in (("zone", 0.06), ("operator_type", 0.06), ("surveillance", 0.05)):
        if rng.random() < share:
            seen[name] = "unknown"
    if truth["direction"] is not None:
        seen["direction"] = round(truth["direction"] + rng.gauss(0, 12)) % 360 if rng.random() < 0.7 else None
    seen["operator"] = truth["operator"] if rng.random() < 0.6 else ""
    if truth["height"] is not None:
        seen["height"] = max(0.5, round((truth["height"] + rng.gauss(0, 0.4)) * 2) / 2) if rng.random() < 0.5 else None
    if truth["camera_angle"] is not None:
        seen["camera_angle"] = truth["camera_angle"] if rng.random() < 0.5 else None
    return seen


def _gps_error(rng: random.Random) -> tuple[float, float]:
    while True:
        du, dv = rng.gauss(0, GPS_SIGMA_M), rng.gauss(0, GPS_SIGMA_M)
        if math.hypot(du, dv) <= 4 * GPS_SIGMA_M:
            return du, dv


def _distinct_volunteers(rng: random.Random, count: int) -> list[int]:
    pool = list(range(len(VOLUNTEER_WEIGHTS)))
    chosen = []
    for _ in range(count):
        pick = rng.choices(pool, weights=[VOLUNTEER_WEIGHTS[p] for p in pool])[0]
        pool.remove(pick)
        chosen.append(pick)
    return chosen


def generate_city(*, seed: int = 2026, center: tuple[float, float] = (40.7549, -73.9840)) -> DemoCity:
    """The demo city for a seed: always the same for the same seed and centre."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible on purpose; nothing here is secret
    grid = _Grid(center)
    boxes = _layout(rng)
    hoods = tuple(
        DemoNeighbourhood(
            name=name,
            slug=f"demo-{slugify(name)}",
            character=character,
            polygon={"type": "Polygon", "coordinates": [[grid.position(u, v) for u, v in _ring(box, boxes)]]},
        )
        for (name, character), box in zip(HOODS, boxes, strict=True)
    )
    wide_offset = rng.randrange(8)
    wide_streets = {j for j in range(STREETS) if j % 8 == wide_offset}
    core_middle = int((boxes[3][2] + boxes[3][3]) / 2 // STREET_SPACING_M)
    stations = {(k, j) for k in (1, 5) for j in wide_streets} | {(3, core_middle)}

    cameras: list[DemoCamera] = []
    sightings: list[DemoSighting] = []
    for k in range(AVENUES):
        for j in range(STREETS):
            u, v = k * AVENUE_SPACING_M, j * STREET_SPACING_M
            hood = hoods[_hood_at(boxes, u + 1, v + 1)]  # a crossing on a boundary counts as north-east
            chance, counts = DENSITY[hood.character]
            if rng.random() >= chance:
                continue
            wide = j in wide_streets
            business, residential = ROLE_BASE[hood.character]
            roles = {"business": business, "residential": residential, "police": 6 + 30 * wide}
            roles |= {"government": 4 + 20 * wide, "transit": 1 + 40 * ((k, j) in stations)}
            for _ in range(rng.choices((1, 2, 3, 4), weights=counts)[0]):
                attributes = _role_attributes(rng, _pick(rng, roles), hood.name, wide)
                du, dv, facing = _place(rng, attributes, wide)
                attributes = _with_measures(rng, attributes, facing)
                lat, lon = grid.latlon(u + du, v + dv)
                index = len(cameras)
                reports = _sightings(rng, grid, index, u + du, v + dv, attributes)
                sightings.extend(reports)
                cameras.append(
                    DemoCamera(
                        lat=lat,
                        lon=lon,
                        neighbourhood=_hood_at(boxes, u + du, v + dv),
                        attributes=attributes,
                        agreement=_agreement(attributes, reports),
                    )
                )
    intersections = tuple(
        grid.latlon(k * AVENUE_SPACING_M, j * STREET_SPACING_M) for k in range(AVENUES) for j in range(STREETS)
    )
    return DemoCity(seed, center, hoods, tuple(cameras), tuple(sightings), intersections=intersections)


def _ring(box: tuple[float, float, float, float], boxes: list) -> list[tuple[float, float]]:
    """The box's corners counter-clockwise (RFC 7946), plus any neighbour's corner on its edges.

    Sharing those vertices makes adjacent neighbourhoods meet exactly, with no hairline gap or
    overlap from rounding where one boundary ends on another (a T-junction).
    """
    u0, u1, v0, v1 = box
    corners = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
    others = {(u, v) for b in boxes for u in b[:2] for v in b[2:]} - set(corners)
    ring: list[tuple[float, float]] = []
    for (a, b), (c, d) in zip(corners, corners[1:] + corners[:1], strict=True):
        inner = [(u, v) for u, v in others if min(a, c) <= u <= max(a, c) and min(b, d) <= v <= max(b, d)]
        ring += [(a, b), *sorted(inner, key=lambda p: abs(p[0] - a) + abs(p[1] - b))]
    return [*ring, ring[0]]


def _sightings(
    rng: random.Random, grid: _Grid, camera: int, u: float, v: float, truth: dict[str, Any]
) -> list[DemoSighting]:
    volunteers = _distinct_volunteers(rng, rng.choices((1, 2, 3), weights=(45, 35, 20))[0])
    day = rng.randint(7, CAMPAIGN_DAYS)
    utc_offset_s = round(grid.lon0 / 15 * 3600)  # mean solar time: 09:00 in the city, not in London
    reports = []
    for volunteer in volunteers:
        eu, ev = _gps_error(rng)
        lat, lon = grid.latlon(u + eu, v + ev)
        reports.append(
            DemoSighting(
                camera=camera,
                volunteer=volunteer,
                lat=lat,
                lon=lon,
                accuracy_m=round(rng.uniform(4, 15), 1),
                attributes=_observe(rng, truth),
                observed_day=day,
                observed_second=rng.randint(9 * 3600, 19 * 3600 + 1800) - utc_offset_s,
                # Most submit on the spot; some upload later from home, at most 4 h later (with
                # day >= 2 and a 12 h offset at most, nothing is submitted in the future).
                submit_delay_s=rng.randint(5, 300) if rng.random() < 0.85 else rng.randint(600, 4 * 3600),
                notes=rng.choice(NOTES) if rng.random() < 0.08 else "",
            )
        )
        day = max(2, day - rng.randint(1, 40))
    return reports


def _agreement(truth: dict[str, Any], reports: list[DemoSighting]) -> dict[str, dict[str, Any]]:
    """Camera.agreement in the consensus core's shape: per attribute the share of reports agreeing
    with the value shown, how many reports gave one, and Amnesty's label (mapapp/consensus)."""
    fields = ("surveillance_type", "camera_type", "camera_mount", "surveillance", "zone", "operator_type")
    out: dict[str, dict[str, Any]] = {}
    for f in fields:
        share = round(sum(r.attributes[f] == truth[f] for r in reports) / len(reports), 2)
        label = "unanimous" if share == 1 else "majority" if share > 0.5 else "split"
        out[f] = {"share": share, "reports": len(reports), "label": label}
    return out
