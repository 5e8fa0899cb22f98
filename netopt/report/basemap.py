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
from pathlib import Path
from typing import NamedTuple

import numpy as np

BOUNDARY_FILE = "cb_2016_us_state_500k"
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


def _boundary_path() -> Path | None:
    try:
        import _plotly_geo
    except ModuleNotFoundError:
        return None
    path = Path(_plotly_geo.__file__).parent / "package_data" / f"{BOUNDARY_FILE}.shp"
    return path if path.is_file() else None


def basemap_source() -> str:
    """Where the outlines come from, for the map's attribution and `netopt doctor`."""
    if _boundary_path() is None:
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
    path = _boundary_path()
    if path is None:
        return ()
    try:
        import shapefile
    except ModuleNotFoundError:
        return ()
    out = []
    with shapefile.Reader(str(path.with_suffix(""))) as reader:
        names = [f[0] for f in reader.fields[1:]]
        for sr in reader.iterShapeRecords():
            rec = dict(zip(names, sr.record, strict=True))
            code = str(rec.get("STUSPS", ""))
            if code in SKIP_STATES:
                continue
            rings = _state_rings(sr.shape, code, tolerance_deg, min_area_deg2, digits)
            if rings:
                out.append((code, str(rec.get("NAME", code)), rings))
    return tuple(sorted(out))


def _state_rings(shape: object, code: str, tolerance: float, min_area: float,
                 digits: int) -> tuple:
    """The simplified rings (lat, lon) of one shapefile polygon."""
    pts = np.asarray(shape.points, dtype=float)  # type: ignore[attr-defined]
    if not len(pts):
        return ()
    parts = [*shape.parts, len(pts)]  # type: ignore[attr-defined]
    rings = []
    for a, b in zip(parts[:-1], parts[1:], strict=True):
        ring = pts[a:b].copy()
        if code == "AK":  # the Aleutians west of 180: keep Alaska in one piece
            ring[ring[:, 0] > 0, 0] -= 360.0
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
