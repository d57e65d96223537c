"""Folium maps that load every script and stylesheet from our own origin.

Folium's defaults pull Leaflet, jQuery, Bootstrap and Font Awesome from four CDNs; a resident
browsing a surveillance map must not be announced to them. `local_map` replaces those lists on
the instance (folium's `add_js_link` would edit the class-wide list in place, leaking into every
other map) with the copies `make assets` installs from npm into static/vendor/. Nothing else in
our maps needs jQuery or Bootstrap: popups, tooltips and the legend are built by our own script.
"""

from __future__ import annotations

import hashlib
from html import escape

import folium
from django.conf import settings
from django.templatetags.static import static

LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"
CLUSTER_JS = "vendor/leaflet.markercluster/leaflet.markercluster.js"
CLUSTER_CSS = (
    "vendor/leaflet.markercluster/MarkerCluster.css",
    "vendor/leaflet.markercluster/MarkerCluster.Default.css",
)
HEAT_JS = "vendor/leaflet.heat/leaflet-heat.js"
MAP_JS = "js/cameramap.js"
MAP_CSS = "css/cameramap.css"


def asset_urls() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(scripts, stylesheets) as folium's (name, url) pairs, all on our origin."""
    js = [("leaflet", LEAFLET_JS), ("markercluster", CLUSTER_JS), ("heat", HEAT_JS), ("cameramap", MAP_JS)]
    css = [("leaflet_css", LEAFLET_CSS), *((f"cluster_css_{i}", p) for i, p in enumerate(CLUSTER_CSS))]
    css.append(("cameramap_css", MAP_CSS))
    return [(n, static(p)) for n, p in js], [(n, static(p)) for n, p in css]


def assets_version() -> str:
    """Changes whenever an asset URL does (a deploy with new hashed files), so cached maps are rebuilt."""
    js, css = asset_urls()
    return hashlib.sha256(repr((js, css)).encode()).hexdigest()[:12]


def local_map(**options: object) -> folium.Map:
    """A folium Map with our assets only, the configured tile server and its attribution."""
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, **options)
    m.default_js, m.default_css = asset_urls()
    folium.TileLayer(
        tiles=settings.TILE_URL,
        attr=escape(settings.TILE_ATTRIBUTION),
        name="Streets",
        max_zoom=19,
        control=False,
    ).add_to(m)
    return m
