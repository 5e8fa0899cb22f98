"""US state boundaries, offline: which state a point lies in.

The polygons are the US Census Bureau's 2016 cartographic boundary file
`cb_2016_us_state_500k` (public domain), which the `plotly-geo` package ships inside its
wheel; `pyshp` reads it. Validation uses them to check a row's state against its
coordinates, and the maps draw them (simplified, in `report.basemap`). Nothing is downloaded:
without either package the check is skipped and the maps have no outlines.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

BOUNDARY_FILE = "cb_2016_us_state_500k"


def boundary_path() -> Path | None:
    """The shapefile inside plotly-geo's wheel, or None when it is not installed."""
    try:
        import _plotly_geo
    except ModuleNotFoundError:
        return None
    path = Path(_plotly_geo.__file__).parent / "package_data" / f"{BOUNDARY_FILE}.shp"
    return path if path.is_file() else None


@cache
def state_polygons() -> tuple[tuple[str, str, tuple[np.ndarray, ...]], ...]:
    """(state code, name, rings) per state and territory, each ring an (n, 2) array of
    (longitude, latitude) as the file has it; Alaska's Aleutians west of 180 degrees are
    moved to below -180 so the state stays in one piece. Empty when a package is missing."""
    path = boundary_path()
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
            pts = np.asarray(sr.shape.points, dtype=float)
            parts = [*sr.shape.parts, len(pts)]
            rings = []
            for a, b in zip(parts[:-1], parts[1:], strict=True):
                ring = pts[a:b].copy()
                if code == "AK":
                    ring[ring[:, 0] > 0, 0] -= 360.0
                rings.append(ring)
            out.append((code, str(rec.get("NAME", code)), tuple(rings)))
    return tuple(sorted(out, key=lambda s: s[0]))


@cache
def _rings_by_state() -> dict[str, tuple[np.ndarray, ...]]:
    return {code: rings for code, _, rings in state_polygons()}


def _inside(lon: np.ndarray, lat: np.ndarray, rings: tuple[np.ndarray, ...]) -> np.ndarray:
    """Even-odd rule over every ring of a state (holes included), points in chunks so the
    points x edges matrix stays small."""
    found = np.zeros(len(lon), dtype=bool)
    for ring in rings:
        x1, y1 = ring[:-1, 0], ring[:-1, 1]
        x2, y2 = ring[1:, 0], ring[1:, 1]
        box = ((lon >= ring[:, 0].min()) & (lon <= ring[:, 0].max())
               & (lat >= ring[:, 1].min()) & (lat <= ring[:, 1].max()))
        idx = np.flatnonzero(box)
        for start in range(0, len(idx), 256):
            part = idx[start:start + 256]
            px, py = lon[part, None], lat[part, None]
            spans = (y1 > py) != (y2 > py)
            with np.errstate(divide="ignore", invalid="ignore"):
                cross = px < (x2 - x1) * (py - y1) / (y2 - y1) + x1
            found[part] ^= (np.count_nonzero(spans & cross, axis=1) % 2).astype(bool)
    return found


def _points(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes as the polygons have them: east longitudes in Alaska's
    latitudes are its Aleutians, moved below -180 as `state_polygons` moves them."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    return lat, np.where((lon > 0) & (lat > 50), lon - 360.0, lon)


def states_at(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The code of the state each point lies in ('' offshore, abroad, or without the
    boundary file)."""
    lat, lon = _points(lat, lon)
    out = np.full(len(lat), "", dtype=object)
    for code, rings in _rings_by_state().items():
        todo = np.flatnonzero(out == "")
        if not len(todo):
            break
        hit = _inside(lon[todo], lat[todo], rings)
        out[todo[hit]] = code
    return out


def in_state(lat: np.ndarray, lon: np.ndarray, code: str) -> np.ndarray:
    """Whether each point lies in the given state (False for a code the file lacks)."""
    lat, lon = _points(lat, lon)
    rings = _rings_by_state().get(code)
    if rings is None:
        return np.zeros(len(lat), dtype=bool)
    return _inside(lon, lat, rings)


__all__ = ["BOUNDARY_FILE", "boundary_path", "in_state", "state_polygons", "states_at"]
