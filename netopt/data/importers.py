"""Benchmark importers: OR-Library instances as ordinary netopt datasets and model files.

An imported instance goes through the real pipeline (load -> validate -> prepare -> build ->
solve), so reproducing a published optimum tests the whole tool, not a side model. Every
table other than zones, sites and assignment costs is *neutral*: zero costs, ample capacity,
one product whose patients equal the instance's demand, so the netopt objective is exactly
site_fixed + patient_travel (the explicit assignment costs are booked under patient_travel).

Files are written deterministically (sorted ids, shortest round-trip floats, "\\n" line
ends) so the same input gives byte-identical output.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import yaml

from .schema import PRODUCTS, SITES, TRANSPORT

#: published optima (OR-Library capacitated facility location, splitting allowed); capa is
#: for every capacity = 8000
PUBLISHED_CAP: dict[str, float] = {
    "cap41": 1040444.375,
    "cap42": 1098000.450,
    "cap43": 1153000.450,
    "cap44": 1235500.450,
    "cap51": 1025208.225,
    "cap61": 932615.750,
    "cap62": 977799.400,
    "cap63": 1014062.050,
    "cap64": 1045650.250,
    "cap71": 932615.750,
    "cap72": 977799.400,
    "cap73": 1010641.450,
    "cap74": 1034976.975,
    "capa": 19240822.449,
}
#: capacity the published capa optimum assumes (the file holds the word "capacity")
CAPA_CAPACITY = 8000.0

#: published p-median optima
PUBLISHED_PMED: dict[str, float] = {
    "pmed1": 5819, "pmed2": 4093, "pmed3": 4250, "pmed4": 3034, "pmed5": 1355,
    "pmed6": 7824, "pmed7": 5631, "pmed8": 4445, "pmed9": 2734, "pmed10": 1255,
}

PRODUCT = "P1"
AREA = "benchmark"
TEMPERATURE = "refrigerated"
STATE = "XX"  # any non-blank text ("NA" would read as blank)
#: "huge" limits that never reach the model as coefficients (checked in prepare, or skipped):
#: the largest values the schema accepts, so an imported dataset validates
HUGE_HOURS = float(PRODUCTS.column("shelf_life_hours").max)
HUGE_KM = float(PRODUCTS.column("max_patient_travel_km").max)
HUGE_ROUTE_KM = float(TRANSPORT.column("max_km").max)
HUGE_PRICE = float(SITES.column("price_ceiling_usd_per_dose").max)
HUGE_CHAIR_HOURS = float(SITES.column("chair_hours_per_year").max)
MODEL_FILE = "model.yaml"


# ---------------------------------------------------------------- tokenising


class _Tokens:
    """Whitespace-separated numbers with positions, so errors name what was expected."""

    def __init__(self, file: Path) -> None:
        self.file = Path(file)
        try:
            text = self.file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError(f"{self.file}: file not found") from None
        except IsADirectoryError:
            raise ValueError(f"{self.file}: is a directory, expected an instance file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{self.file}: cannot read: {exc}") from None
        self.items = text.split()
        self.pos = 0
        if not self.items:
            raise ValueError(f"{self.file}: file is empty")

    def word(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise ValueError(f"{self.file}: file is truncated: expected {what} "
                             f"(token {self.pos + 1}) but the file ends")
        token = self.items[self.pos]
        self.pos += 1
        return token

    def number(self, what: str) -> float:
        token = self.word(what)
        try:
            value = float(token)
        except ValueError:
            raise ValueError(f"{self.file}: token {self.pos} {token!r} is not a number "
                             f"(expected {what})") from None
        if not math.isfinite(value):
            raise ValueError(f"{self.file}: token {self.pos} {token!r} is not a finite "
                             f"number (expected {what})")
        if value < 0:
            raise ValueError(f"{self.file}: token {self.pos} {token!r} is negative "
                             f"(expected {what} >= 0)")
        return value

    def integer(self, what: str, minimum: int = 1) -> int:
        value = self.number(what)
        if value != int(value) or value < minimum:
            raise ValueError(f"{self.file}: token {self.pos} {self.items[self.pos - 1]!r}: "
                             f"expected {what} as a whole number >= {minimum}")
        return int(value)

    def done(self) -> None:
        extra = len(self.items) - self.pos
        if extra:
            raise ValueError(f"{self.file}: {extra} unexpected token(s) after the last "
                             f"expected value (from token {self.pos + 1}: "
                             f"{self.items[self.pos]!r})")


# ---------------------------------------------------------------- parsers


def parse_orlib_cap(file: Path, capacity: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(capacities s[m], fixed costs f[m], demands d[n], costs c[m, n]) of an OR-Library
    capacitated instance. `capacity` overrides every facility's capacity; it is required when
    the file holds the word "capacity" instead of numbers (capa, capb, capc)."""
    tok = _Tokens(file)
    m = tok.integer("the number of facilities m")
    n = tok.integer("the number of customers n")
    caps = np.empty(m)
    fixed = np.empty(m)
    symbolic = False
    for i in range(m):
        what = f"facility {i + 1}'s capacity"
        if tok.pos < len(tok.items) and tok.items[tok.pos].lower() == "capacity":
            tok.word(what)
            symbolic = True
            caps[i] = np.nan
        else:
            caps[i] = tok.number(what)
        fixed[i] = tok.number(f"facility {i + 1}'s fixed cost")
    if capacity is not None:
        if not math.isfinite(capacity) or capacity < 0:
            raise ValueError(f"capacity must be a finite number >= 0, got {capacity!r}")
        caps[:] = float(capacity)
    elif symbolic:
        raise ValueError(f"{tok.file}: the file gives capacities as the word 'capacity' "
                         "(capa/capb/capc style): pass a capacity (e.g. capacity=8000, "
                         "CLI --capacity 8000)")
    demand = np.empty(n)
    cost = np.empty((m, n))
    for j in range(n):
        demand[j] = tok.number(f"customer {j + 1}'s demand")
        for i in range(m):
            cost[i, j] = tok.number(f"customer {j + 1}'s cost from facility {i + 1}")
    tok.done()
    return caps, fixed, demand, cost


def parse_orlib_pmed(file: Path) -> tuple[int, int, dict[tuple[int, int], float]]:
    """(n vertices, p, {(i, j): cost} with i < j, 0-based). The LAST occurrence of an edge
    holds, as in the computation of the published optima."""
    tok = _Tokens(file)
    n = tok.integer("the number of vertices")
    n_edges = tok.integer("the number of edges", minimum=0)
    p = tok.integer("p (facilities to open)")
    if p > n:
        raise ValueError(f"{tok.file}: p = {p} exceeds the number of vertices {n}")
    edges: dict[tuple[int, int], float] = {}
    for e in range(n_edges):
        a = tok.integer(f"edge {e + 1}'s first vertex")
        b = tok.integer(f"edge {e + 1}'s second vertex")
        w = tok.number(f"edge {e + 1}'s cost")
        for v in (a, b):
            if v > n:
                raise ValueError(f"{tok.file}: edge {e + 1} names vertex {v} but the graph "
                                 f"has {n} vertices")
        if a != b:
            edges[(min(a, b) - 1, max(a, b) - 1)] = w
    tok.done()
    return n, p, edges


def shortest_paths(n: int, edges: dict[tuple[int, int], float]) -> np.ndarray:
    """All-pairs shortest path lengths of an undirected graph (inf where unreachable).

    Uses scipy's Dijkstra when scipy is installed, else a numpy Floyd-Warshall vectorised over
    k (O(n^3), about a second at n = 900). Both are exact for integer weights."""
    d = np.full((n, n), np.inf)
    np.fill_diagonal(d, 0.0)
    for (a, b), w in sorted(edges.items()):
        d[a, b] = d[b, a] = w
    try:
        from scipy.sparse.csgraph import shortest_path
    except ImportError:
        for k in range(n):
            np.minimum(d, d[:, k, None] + d[None, k, :], out=d)
        return d
    graph = np.where(np.isfinite(d), d, 0.0)
    # csgraph reads 0 as "no edge": a zero-cost edge is nudged to the tiniest positive weight
    zero = np.isfinite(d) & (d == 0)
    np.fill_diagonal(zero, False)
    graph[zero] = np.finfo(float).tiny
    out = shortest_path(graph, method="D", directed=False)
    return np.where(out < 1e-300, 0.0, out)


# ---------------------------------------------------------------- writers


def _num(x: float) -> str:
    """Shortest text that reads back as the same float; whole numbers without a fraction."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"cannot write non-finite number {x!r}")
    if x == int(x) and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_num(v) if isinstance(v, float | int | np.floating | np.integer)
                             and not isinstance(v, bool) else v for v in row])


def _ids(prefix: str, count: int, width: int) -> list[str]:
    width = max(width, len(str(count)))
    return [f"{prefix}{k + 1:0{width}d}" for k in range(count)]


def _write_dataset(out_dir: Path, zone_ids: list[str], population: np.ndarray,
                   site_ids: list[str], site_capacity: np.ndarray, fixed: np.ndarray,
                   cost: np.ndarray) -> None:
    """zones, sites, assignment costs and the neutral tables (one product, hub, plant...).
    cost[i, j] is the per-patient cost of serving zone j from site i (nan = no pair)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # ample but not astronomical: these capacities become big-M coefficients in the model
    ample = float(max(1.0, math.ceil(float(population.sum()))))
    _write_csv(out_dir / "zones.csv",
               ["zone_id", "name", "state", "latitude", "longitude", "population"],
               ([z, f"Customer {z}", STATE, 0, 0, float(p)]
                for z, p in zip(zone_ids, population, strict=True)))
    _write_csv(out_dir / "sites.csv",
               ["site_id", "name", "state", "latitude", "longitude", "status",
                "certified_areas", "temperature_classes", "capacity_patients_per_year",
                "chair_hours_per_year", "activation_cost_usd", "annual_fixed_cost_usd",
                "onboarding_cost_usd", "onboarding_days", "price_ceiling_usd_per_dose",
                "min_patients_per_year", "kol_count"],
               ([s, f"Facility {s}", STATE, 0, 0, "candidate", AREA, TEMPERATURE, float(c),
                 HUGE_CHAIR_HOURS, 0, float(f), 0, 0, HUGE_PRICE, 0, 0]
                for s, c, f in zip(site_ids, site_capacity, fixed, strict=True)))
    _write_csv(out_dir / "products.csv",
               ["product_id", "name", "modality", "therapeutic_area", "temperature_class",
                "doses_per_patient", "dose_interval_days", "treatment_weeks",
                "price_usd_per_dose", "cogs_usd_per_dose", "shelf_life_hours",
                "handling_buffer_hours", "incidence_per_100k", "max_patient_travel_km",
                "chair_hours_per_dose", "doses_per_shipment"],
               # incidence 100,000 per 100k: patients = population = the instance's demand
               [[PRODUCT, "OR-Library demand", "allogeneic", AREA, TEMPERATURE, 1, 0, 0, 0, 0,
                 HUGE_HOURS, 0, 100000, HUGE_KM, 0, 1]])
    _write_csv(out_dir / "hubs.csv",
               ["hub_id", "name", "operator", "airport_code", "latitude", "longitude",
                "temperature_classes", "capacity_shipments_per_year", "annual_fixed_cost_usd",
                "cost_usd_per_shipment", "order_cutoff_local", "status"],
               [["H1", "Neutral hub", "", "", 0, 0, TEMPERATURE, ample, 0, 0, "18:00",
                 "existing"]])
    _write_csv(out_dir / "plants.csv",
               ["plant_id", "name", "latitude", "longitude", "products",
                "capacity_doses_per_year", "turnaround_days"],
               [["L1", "Neutral plant", 0, 0, PRODUCT, ample, 0]])
    _write_csv(out_dir / "equipment.csv", ["temperature_class", "annual_cost_usd"],
               [[TEMPERATURE, 0]])
    _write_csv(out_dir / "transport.csv",
               ["mode", "speed_kmh", "fixed_hours", "cost_usd_per_shipment_km", "max_km",
                "circuity"],
               [["ground", 100, 0, 0, HUGE_ROUTE_KM, 1]])
    ii, jj = np.nonzero(np.isfinite(cost))
    order = np.lexsort((ii, jj))  # by zone, then site
    _write_csv(out_dir / "assignment_costs.csv",
               ["zone_id", "site_id", "product_id", "cost_usd_per_patient"],
               ([zone_ids[j], site_ids[i], PRODUCT, float(cost[i, j])]
                for i, j in zip(ii[order], jj[order], strict=True)))


def _write_model(out_dir: Path, name: str, description: str, sites: dict) -> Path:
    model = {
        "name": name,
        "description": description,
        "dataset": ".",
        "objective": "cost",
        "sites": {"existing": "closable", **sites},
        "service": {"allow_unserved": False, "patient_travel_usd_per_km": 0.0},
        "aggregation": {"cluster_km": 0.0, "nearest_sites": None},
        # the published formulation links every pair (x_ij <= y_i): force it on at any size
        "solver": {"time_limit": 3600.0, "mip_gap": 1e-9, "threads": 1, "seed": 0,
                   "strong_linking": True, "warm_start": False},
    }
    path = out_dir / MODEL_FILE
    path.write_text(yaml.safe_dump(model, sort_keys=False, default_flow_style=False),
                    encoding="utf-8")
    return path


# ---------------------------------------------------------------- importers


def import_orlib_cap(file: Path, out_dir: Path, capacity: float | None = None) -> Path:
    """Write an OR-Library capacitated facility-location instance as a dataset + model file
    in out_dir; return the model file. Customers become zones (population = demand),
    facilities candidate sites; the file's cost of serving ALL of customer j from i becomes a
    per-patient cost c_ij / d_j."""
    file, out_dir = Path(file), Path(out_dir)
    caps, fixed, demand, cost = parse_orlib_cap(file, capacity)
    m, n = cost.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        per_patient = np.where(demand[None, :] > 0, cost / demand[None, :], 0.0)
    # a customer without demand has no patients, so netopt books nothing for it; the
    # published model would still pay min_i c_ij for it (OR-Library files have none such)
    _write_dataset(out_dir, _ids("C", n, 4), demand, _ids("F", m, 3), caps, fixed,
                   per_patient)
    stem = file.stem
    note = f", every capacity {_num(capacity)}" if capacity is not None else ""
    return _write_model(out_dir, f"orlib-{stem}",
                        f"OR-Library capacitated facility location {stem} ({m} facilities x "
                        f"{n} customers{note})", {})


def import_orlib_pmed(file: Path, out_dir: Path) -> Path:
    """Write an OR-Library p-median instance as a dataset + model file; return the model
    file. Every vertex is a zone of demand 1 and a free candidate site; exactly p sites open;
    the cost of a pair is the shortest-path distance."""
    file, out_dir = Path(file), Path(out_dir)
    n, p, edges = parse_orlib_pmed(file)
    dist = shortest_paths(n, edges)
    _write_dataset(out_dir, _ids("C", n, 4), np.ones(n), _ids("F", n, 3), np.full(n, float(n)),
                   np.zeros(n), dist)
    stem = file.stem
    return _write_model(out_dir, f"orlib-{stem}",
                        f"OR-Library p-median {stem} ({n} vertices, p = {p})",
                        {"max_active": p, "min_active": p})


__all__ = [
    "CAPA_CAPACITY", "PUBLISHED_CAP", "PUBLISHED_PMED", "import_orlib_cap", "import_orlib_pmed",
    "parse_orlib_cap", "parse_orlib_pmed", "shortest_paths",
]
