"""Public maps: field-of-view geometry (fov.py), our-origin assets (assets.py), page builders (render.py)."""
