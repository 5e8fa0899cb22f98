"""Offline basemap: US state outlines (and with them the coastline) for the maps.

The outlines come from the US Census Bureau's 2016 cartographic boundary file
`cb_2016_us_state_500k` (public domain, a work of the US federal government), which the
`plotly-geo` package (MIT licence) ships inside its wheel. Nothing is downloaded at run time:
the shapefile is read from site-packages with `pyshp`, simplified (Douglas-Peucker) to a few
kilometres, small islands are dropped, and the result is cached for the process. Cartographic
boundary files are clipped to the shoreline, so the state polygons also draw the coast.

When either package is missing the maps still work without outlines (`state_outlines`
returns an empty list); `basemap_source()` says which data a map carries.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from typing import NamedTuple

import numpy as np

from ..data.boundaries import BOUNDARY_FILE, boundary_path, state_polygons

#: states and territories drawn: the 50 states, DC and Puerto Rico
SKIP_STATES = frozenset({"GU", "MP", "AS", "VI"})


class Region(NamedTuple):
    """A part of the US that sits apart from the lower 48 (drawn in an inset)."""

    code: str
    name: str
    south: float
    north: float
    west: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


#: boxes around Alaska (Aleutians shifted west of -180), Hawaii and Puerto Rico
REGIONS = (
    Region("AK", "Alaska", 50.5, 72.0, -190.0, -129.5),
    Region("HI", "Hawaii", 18.5, 22.6, -161.0, -154.5),
    Region("PR", "Puerto Rico", 17.8, 18.6, -67.4, -65.1),
)


def region_of(lat: float, lon: float) -> Region | None:
    """The inset region a point falls in (None: lower 48 or elsewhere)."""
    lon = lon - 360.0 if lon > 0 and lat > 50 else lon
    return next((r for r in REGIONS if r.contains(lat, lon)), None)


def basemap_source() -> str:
    """Where the outlines come from, for the map's attribution and `netopt doctor`."""
    if boundary_path() is None:
        return "no state outlines (install plotly-geo and pyshp)"
    try:
        version = metadata.version("plotly-geo")
    except metadata.PackageNotFoundError:  # pragma: no cover - vendored copies
        version = "unknown"
    return f"States: US Census Bureau {BOUNDARY_FILE} (public domain) via plotly-geo {version}"


def simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker: the fewest vertices that stay within `tolerance` of the line (same
    units as the points). Iterative, so long coastlines do not hit the recursion limit."""
    n = len(points)
    if n < 4:
        return points
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        inner = points[a + 1:b]
        start, chord = points[a], points[b] - points[a]
        length = float(np.hypot(*chord))
        rel = inner - start
        dist = (np.abs(chord[0] * rel[:, 1] - chord[1] * rel[:, 0]) / length if length > 0
                else np.hypot(rel[:, 0], rel[:, 1]))
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            keep[a + 1 + i] = True
            stack += [(a, a + 1 + i), (a + 1 + i, b)]
    return points[keep]


def _ring_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


@cache
def state_outlines(tolerance_deg: float = 0.03, min_area_deg2: float = 0.004,
                   digits: int = 2) -> tuple[tuple[str, str, tuple], ...]:
    """(state code, name, rings) per state; a ring is a tuple of (lat, lon) rounded to
    `digits`. Rings smaller than `min_area_deg2` (small islands) are dropped, except that a
    state keeps its largest ring. Empty when the boundary package is not installed."""
    out = []
    for code, name, rings in state_polygons():
        if code in SKIP_STATES:
            continue
        kept = _state_rings(rings, tolerance_deg, min_area_deg2, digits)
        if kept:
            out.append((code, name, kept))
    return tuple(sorted(out))


def _state_rings(raw: tuple[np.ndarray, ...], tolerance: float, min_area: float,
                 digits: int) -> tuple:
    """The simplified rings (lat, lon) of one state's polygon."""
    rings = []
    for ring in raw:
        small = simplify(ring, tolerance)
        if len(small) >= 4:
            rings.append((_ring_area(ring), small))
    if not rings:
        return ()
    rings.sort(key=lambda r: -r[0])
    kept = [rings[0][1]] + [r for area, r in rings[1:] if area >= min_area]
    return tuple(tuple((round(float(lat), digits), round(float(lon), digits))
                       for lon, lat in ring) for ring in kept)


__all__ = ["REGIONS", "Region", "basemap_source", "region_of", "simplify", "state_outlines"]
