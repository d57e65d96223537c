"""Field-of-view wedges: the pie slice of ground a camera watches, as open camera maps draw it.

Pure: plain numbers in, plain (lat, lon) tuples out; no Django, no geopy (geo.py is the one
module that imports it), so the map builders and tests can call it anywhere.

The model
---------
Sunders ("Surveillance under Surveillance", kamba4/sunders) and PanoptiCity draw a camera with
a known `direction` as a wedge: a circular sector centred on the camera, opening `angle` degrees
around the direction, as long as the distance at which the camera's optical axis meets the
ground. The defaults, used for whatever a camera does not tell us, are the issue's reading of
those maps:

* DEFAULT_ANGLE = 85°: the horizontal angle of view, in the range of the short fixed lenses most
  street CCTV carries.
* DEFAULT_HEIGHT = 5 m: a camera on a first-floor facade or a short pole.
* DEFAULT_TILT = 15° below the horizontal.

They are a drawing convention shared with those maps, not a measurement: a wedge says "roughly
this way, roughly this far", and the camera page says which values were stored.

Stored values win: `height` (OSM `height`, metres) and `camera_angle` (OSM `camera:angle`, the
tilt below the horizontal, 0 straight ahead to 90 straight down; OSM's newer `camera:tilt`
counts the other way, -90 down to 90 up). The reach is plain trigonometry on flat ground:

    reach = height / tan(tilt)          5 m at 15° → 18.66 m; 10 m at 45° → 10 m

Two limits keep that usable on a map:

* MAX_REACH_M = 50 caps near-horizontal tilts (at 0° the axis never meets the ground). With the
  default 85° lens, a 1080p image spans 1.83 × d metres at distance d, so beyond about 42 m it
  falls under the 25 px/m that EN 62676-4 (DORI) asks merely to *detect* a person. A wedge
  reaching further would claim more than the camera resolves, and would paint half a street on
  a neighbourhood map. A 5 m camera reaches the cap at tilts under 5.7°.
* MIN_REACH_M = 3 floors steep tilts (at 90° the axis meets the ground at the camera's foot, a
  zero-length wedge). A camera looking down still watches the ground around its foot, and 3 m
  stays visible (about 15 px) at street zoom.

A value outside its range is treated as missing (a non-finite or non-positive height, a
non-finite tilt) or clamped (a tilt below 0 looks up: the cap; above 90: the floor), so one bad
imported tag never breaks a map.

The geometry
------------
Each arc point is the destination from the camera at a bearing and the reach. The step's north
and east legs are measured in the WGS-84 ellipsoid's meridional and prime-vertical radii of
curvature at the camera (an equirectangular local projection, exact to first order), then taken
as one step on the unit sphere by the spherical "direct" formula. Over tens of metres this agrees
with the ellipsoidal geodesic (geographiclib, which geopy uses) to well under a millimetre at any
latitude; and unlike a plain equirectangular projection it never divides by cos(latitude), so a
camera at or near a pole gets a finite (if geographically odd) wedge rather than an error.

Longitudes are kept continuous with the camera's rather than wrapped into -180..180, so a wedge
on the antimeridian never jumps across the world; Leaflet draws 180.0002 where it belongs.
Coordinates are rounded to 7 decimals (about 1 cm): finer digits only fatten the map's JSON.
"""

from __future__ import annotations

import math

DEFAULT_ANGLE = 85.0  # horizontal angle of view, degrees
DEFAULT_HEIGHT = 5.0  # metres above the ground
DEFAULT_TILT = 15.0  # degrees below the horizontal (OSM camera:angle)
MAX_REACH_M = 50.0
MIN_REACH_M = 3.0
DEFAULT_STEPS = 16  # arc segments: smooth at street zoom, 19 points per wedge
PRECISION = 7  # decimal places of a coordinate, about 1 cm

# WGS-84
_A = 6_378_137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)

Point = tuple[float, float]


def _usable(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def reach_m(height: float | None = None, tilt: float | None = None) -> float:
    """How far from the camera, in metres, its optical axis meets flat ground, within the limits."""
    height = height if _usable(height) and height > 0 else DEFAULT_HEIGHT
    tilt = tilt if _usable(tilt) else DEFAULT_TILT
    tilt = min(max(tilt, 0.0), 90.0)
    if tilt == 0.0:
        return MAX_REACH_M
    return min(max(height / math.tan(math.radians(tilt)), MIN_REACH_M), MAX_REACH_M)


def _radii(lat_rad: float) -> tuple[float, float]:
    """The WGS-84 meridional and prime-vertical radii of curvature at a latitude, in metres."""
    w2 = 1 - _E2 * math.sin(lat_rad) ** 2
    return _A * (1 - _E2) / w2**1.5, _A / math.sqrt(w2)


def destination(lat: float, lon: float, bearing: float, distance_m: float) -> Point:
    """The point `distance_m` from (lat, lon) at `bearing` degrees clockwise from north."""
    phi, theta = math.radians(lat), math.radians(bearing)
    meridional, prime_vertical = _radii(phi)
    # The north and east legs in radians of their own radius, then one step on the unit sphere.
    north, east = distance_m * math.cos(theta) / meridional, distance_m * math.sin(theta) / prime_vertical
    delta, theta = math.hypot(north, east), math.atan2(east, north)
    sin_phi, cos_phi = math.sin(phi), math.cos(phi)
    sin_d, cos_d = math.sin(delta), math.cos(delta)
    # atan2 rather than asin: exact near the poles, where sin(lat2) is close to 1.
    z = sin_phi * cos_d + cos_phi * sin_d * math.cos(theta)
    x = cos_phi * cos_d - sin_phi * sin_d * math.cos(theta)
    y = sin_d * math.sin(theta)
    lat2 = math.atan2(z, math.hypot(x, y))
    dlon = math.atan2(y * cos_phi, cos_d - sin_phi * z)
    return math.degrees(lat2), lon + math.degrees(dlon)


def wedge(
    lat: float,
    lon: float,
    direction: float,
    *,
    angle: float | None = None,
    height: float | None = None,
    tilt: float | None = None,
    steps: int = DEFAULT_STEPS,
) -> list[Point]:
    """A closed ring [apex, arc..., apex] of (lat, lon): the arc runs clockwise from
    direction - angle/2 to direction + angle/2 at the reach, so 350° ± 42.5° spans 307.5° → 32.5°.

    An angle outside (0, 360] or missing is the default; 360 draws a full disc (a dome that looks
    everywhere) with the apex as a spoke. `steps` is the number of arc segments (at least 1).
    """
    if steps < 1:
        raise ValueError("a wedge needs at least one arc segment")
    if not all(math.isfinite(v) for v in (lat, lon, direction)):
        raise ValueError("a wedge needs a finite position and direction")
    angle = angle if _usable(angle) and 0 < angle <= 360 else DEFAULT_ANGLE
    distance = reach_m(height, tilt)
    start = (direction % 360.0) - angle / 2
    apex = (round(lat, PRECISION), round(lon, PRECISION))
    arc = []
    for i in range(steps + 1):
        point_lat, point_lon = destination(lat, lon, (start + angle * i / steps) % 360.0, distance)
        arc.append((round(point_lat, PRECISION), round(point_lon, PRECISION)))
    return [apex, *arc, apex]
