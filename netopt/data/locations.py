"""Places given by a `location` cell instead of coordinates: 'City, ST', a 5-digit ZIP code,
or (hubs) an IATA airport code, resolved offline (GeoNames extract, ZIP table, airport table).

A row whose coordinates are blank is placed at its location; a blank `state` is taken from
it. Every resolved place is kept (`Placed.places`) so `netopt data describe --locations` can
show what each name became.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from geopy.location import Location

from .geography import Gazetteer, GeocodeError, haversine_km
from .problems import Problem
from .schema import TABLES
from .tables import RawTable

#: an IATA code as written: three capital letters. GeoNames lists some codes as alternate
#: city names ('ORD' is Ord, NE), so outside hubs a code is refused rather than guessed
_IATA = re.compile(r"^\s*([A-Z]{3})\s*$")

#: how far a location may lie from the coordinates or site also given before it is pointed
#: out (a metro area; a ZIP centroid or an airport lies well within it)
AGREE_KM = 50.0

PLACE_COLUMNS = ["table", "row", "id", "location", "place", "state", "latitude", "longitude",
                 "used"]


@dataclass
class Placed:
    """What placing by location did: the places resolved, rows whose location failed (their
    blank coordinates are not reported again) and the problems found."""

    places: pd.DataFrame
    failed: set[tuple[str, int]] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


@functools.lru_cache(maxsize=1)
def _airports() -> dict[str, dict]:
    """IATA code -> airport record, from the `airportsdata` package's bundled table."""
    import airportsdata

    return airportsdata.load("IATA")


def airport_location(code: str, gazetteer: Gazetteer) -> Location:
    """An airport's reference point by IATA code; state from its US subdivision."""
    key = code.strip().upper()
    airport = _airports().get(key)
    if airport is None:
        near = sorted(c for c, a in _airports().items()
                      if c[:2] == key[:2] and a.get("country") == "US")
        raise GeocodeError(code, [f"{c} ({_airports()[c]['city']})" for c in near[:5]])
    state = gazetteer.state_code(airport["subd"]) if airport.get("country") == "US" else None
    raw = {"name": airport["name"], "state": state or "", "latitude": float(airport["lat"]),
           "longitude": float(airport["lon"])}
    return Location(f"{airport['name']} ({key})", (raw["latitude"], raw["longitude"]), raw)


def resolve(query: str, table: str, gazetteer: Gazetteer) -> Location:
    """One location cell: an airport code for hubs, else a ZIP code or 'City, ST'."""
    if _IATA.match(query):
        if table == "hubs":
            return airport_location(query, gazetteer)
        raise GeocodeError(query)
    return gazetteer.lookup(query)


def _blank(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(True, index=frame.index)
    return frame[column].astype(str).str.strip() == ""


def place_by_location(raw: dict[str, RawTable]) -> Placed:
    """Fill blank coordinates (and a blank state) from each table's `location` column."""
    out = Placed(pd.DataFrame(columns=PLACE_COLUMNS))
    rows: list[dict] = []
    gazetteer: Gazetteer | None = None
    for name, table in raw.items():
        frame = table.frame
        if "location" not in frame.columns or name not in TABLES:
            continue
        given = ~_blank(frame, "location")
        if not given.any():
            continue
        gazetteer = gazetteer or Gazetteer.default()
        key = TABLES[name].key
        for i in frame.index[given]:
            query = str(frame.at[i, "location"]).strip()
            row = int(i) + 2
            try:
                place = resolve(query, name, gazetteer)
            except GeocodeError as exc:
                out.problems.append(Problem(table.file, row, "location", _message(exc, name),
                                            query))
                out.failed.add((table.file, row))
                continue
            used = _apply(frame, i, place, table, row, out.problems)
            if not _IATA.match(query) and len(same := gazetteer.namesakes(query)) > 1:
                out.problems.append(Problem(
                    table.file, row, "location",
                    f"no state given: placed at {same[0]}, the most populous of "
                    f"{len(same)} places of that name ({', '.join(same[1:4])}"
                    f"{' ...' if len(same) > 4 else ''}); write 'City, ST' to choose",
                    query, severity="warning"))
            if name == "hubs" and _IATA.match(query) and "airport_code" in frame.columns \
                    and _blank(frame, "airport_code")[i]:
                frame.at[i, "airport_code"] = query.upper()
            rows.append({"table": name, "row": row,
                         "id": str(frame.at[i, key]) if key in frame.columns else "",
                         "location": query, "place": place.address,
                         "state": place.raw.get("state", ""),
                         "latitude": round(place.latitude, 5),
                         "longitude": round(place.longitude, 5), "used": used})
    if rows:
        out.places = pd.DataFrame(rows, columns=PLACE_COLUMNS)
    return out


def _message(exc: GeocodeError, table: str) -> str:
    text = str(exc)
    if _IATA.match(exc.query) and table != "hubs":
        text = (f"{exc.query!r} looks like an airport code: airport codes place hubs only; "
                "write 'City, ST' or a ZIP code")
    elif _IATA.match(exc.query):
        text = text.replace("unknown place", "unknown airport code")
    return text


def _apply(frame: pd.DataFrame, i: int, place: Location, table: RawTable, row: int,
           problems: list[Problem]) -> str:
    """Write the place into the row's blank cells; say which cells it filled. Coordinates
    given beside a location win, with a warning when the two disagree."""
    filled = []
    has_coords = {"latitude", "longitude"} <= set(frame.columns)
    if not has_coords or (_blank(frame, "latitude")[i] and _blank(frame, "longitude")[i]):
        if has_coords:
            frame.at[i, "latitude"] = f"{place.latitude:.5f}"
            frame.at[i, "longitude"] = f"{place.longitude:.5f}"
            filled.append("coordinates")
    else:
        problems += _disagreement(frame, i, place, table.file, row)
    state = str(place.raw.get("state") or "")
    if "state" in frame.columns and state:
        written = str(frame.at[i, "state"]).strip()
        if not written:
            frame.at[i, "state"] = state
            filled.append("state")
        elif written.upper() != state:
            problems.append(Problem(table.file, row, "state",
                                    f"location {place.address!r} is in {state}; the state "
                                    "given is used", written, severity="warning"))
    return " and ".join(filled) if filled else "nothing (the coordinates given are used)"


def _disagreement(frame: pd.DataFrame, i: int, place: Location, file: str,
                  row: int) -> list[Problem]:
    try:
        lat, lon = float(frame.at[i, "latitude"]), float(frame.at[i, "longitude"])
    except ValueError:
        return []  # a bad number is reported when the table is typed
    km = float(haversine_km(lat, lon, place.latitude, place.longitude))
    if not np.isfinite(km) or km <= AGREE_KM:
        return []
    return [Problem(file, row, "location",
                    f"the latitude and longitude given lie {km:,.0f} km from {place.address}; "
                    "the coordinates are used", str(frame.at[i, "location"]),
                    severity="warning")]


def drop_blank_repeats(problems: list[Problem], failed: set[tuple[str, int]]) -> list[Problem]:
    """A row whose location failed to resolve has blank coordinates (and state) because of
    it: one error for the location, not three."""
    return [p for p in problems
            if not ((p.file, p.row) in failed and p.column in ("latitude", "longitude", "state")
                    and p.message.startswith("required value is blank"))]


def affiliate_kols(tables: dict[str, pd.DataFrame], places: pd.DataFrame,
                   files: dict[str, str]) -> list[Problem]:
    """A KOL given by location and no site is affiliated with the nearest site to it (within
    AGREE_KM); a KOL whose site lies far from its location is pointed out."""
    kols, sites = tables.get("kols"), tables.get("sites")
    if kols is None or len(kols) == 0:
        return []
    problems = []
    at = {int(r.row): r for r in places[places["table"] == "kols"].itertuples()}
    index = {int(r.row): k for k, r in zip(places.index, places.itertuples(), strict=True)
             if r.table == "kols"}
    for i, (kol, site_id) in enumerate(zip(kols["kol_id"], kols["site_id"], strict=True)):
        place = at.get(i + 2)
        if place is None:
            if site_id == "":
                problems.append(Problem(files["kols"], i + 2, "site_id",
                                        f"KOL {kol} has no site_id and no location: give "
                                        "one"))
            continue
        if sites is None or len(sites) == 0:
            continue
        km = haversine_km(place.latitude, place.longitude, sites["latitude"].to_numpy(),
                          sites["longitude"].to_numpy())
        if site_id == "":
            j = int(np.argmin(km))
            if km[j] > AGREE_KM:
                problems.append(Problem(
                    files["kols"], i + 2, "location",
                    f"no site within {AGREE_KM:g} km of {place.place} (the nearest, "
                    f"{sites['site_id'].iloc[j]}, is {km[j]:,.0f} km away): give site_id",
                    place.location))
                continue
            kols.at[i, "site_id"] = sites["site_id"].iloc[j]
            places.at[index[i + 2], "used"] = (f"site {sites['site_id'].iloc[j]} (nearest, "
                                               f"{km[j]:,.0f} km)")
            continue
        places.at[index[i + 2], "used"] = f"checks site {site_id}"
        match = np.flatnonzero(sites["site_id"].to_numpy() == site_id)
        if match.size and km[match[0]] > AGREE_KM:
            problems.append(Problem(files["kols"], i + 2, "location",
                                    f"site {site_id} lies {km[match[0]]:,.0f} km from "
                                    f"{place.place}; the site_id is used", place.location,
                                    severity="warning"))
    return problems


__all__ = ["Placed", "affiliate_kols", "drop_blank_repeats", "place_by_location", "resolve"]
