"""Tidy result tables from a solved model, and KPIs as pure functions of those tables.

Extraction reads variable values once into numpy arrays; KPI functions only see DataFrames,
so they are tested without a solver.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ..data.case import inputs_fingerprint
from ..data.geography import haversine_km
from ..inventory.ordering import COST_PARTS
from ..model.calendar import offer_ready
from ..model.common import MONEY
from ..model.policy import kol_cover_sets, kol_min_patients
from ..model.prepare import CADENCE_COLUMNS as CADENCE
from ..model.prepare import LEG_COLUMNS, STOCK_CADENCE_COLUMNS, Prepared, cadence_columns
from ..solver.highs import SolveInfo
from ..solver.network_start import StartNetwork
from .finance import finance_summary, policies_table
from .folder import Run, results_folder

if TYPE_CHECKING:
    from ..model.calendar import TimelinePlan

TOL = 1e-6
#: objective terms that price patients not served: lost margin, a planning device, not cash
UNSERVED_TERMS = ("unserved_penalty", "elastic_unserved")
#: objective terms that are not network cost: revenue and cost of goods (margin objective)
REVENUE_TERMS = ("revenue", "cogs")
#: the ordering-and-inventory term, which finance.csv splits into its parts
ORDERING_TERM = "ordering_and_inventory"
#: the pooled depot stock term: finance.csv's depot rows split it into the same parts
DEPOT_TERM = "depot_stock"
#: the stock terms finance.csv's parts add up to (with the tabulation difference)
STOCK_TERMS = (ORDERING_TERM, DEPOT_TERM)
#: the parts `ordering_breakdown` splits that term into (they add up to it)
ORDERING_PART_KEYS = (*COST_PARTS, "tabulation")
TABLE_NAMES = ("sites", "hubs", "partners", "assignments", "shipments", "unserved", "costs",
               "kpis", "zones", "plants", "kols", "products", "site_products", "finance")
#: tables only some runs have (multi-period launch timeline); written and read when present
OPTIONAL_TABLES = ("timeline_sites", "timeline_periods", "timeline_products")


@dataclass
class Results:
    """Result tables of one solve plus its SolveInfo and summary."""

    tables: dict[str, pd.DataFrame]
    info: SolveInfo
    summary: dict = field(default_factory=dict)
    #: the solved design decisions, to start a similar model from (see solver.network_start)
    network: StartNetwork | None = None
    #: the folder the tables were read from (None for a result in memory): messages about
    #: a row of them name its file
    folder: Path | None = None

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def write(self, out: Path) -> list[Path]:
        """Write every table as CSV and summary.json as one run (see results/folder.py:
        staged beside `out`, moved into place, listed in the manifest); return the paths."""
        with results_folder(Path(out), self.run("Result.write")) as staging:
            paths = []
            for name in (*TABLE_NAMES, *(n for n in OPTIONAL_TABLES if n in self.tables)):
                path = staging.dir / f"{name}.csv"
                self.tables[name].to_csv(path, index=False, lineterminator="\n")
                paths.append(path)
            path = staging.dir / "summary.json"
            path.write_text(json.dumps(self.summary, indent=2, default=_json) + "\n")
            paths.append(path)
        return staging.final(paths)

    def run(self, command: str) -> Run:
        """The manifest's record of a run that writes this result."""
        return Run(command, model=self.summary.get("model"),
                   model_file=self.summary.get("model_file"))

    @classmethod
    def read(cls, folder: Path) -> Results:
        """Load saved result tables (for `netopt report` without re-solving)."""
        folder = Path(folder)
        summary = read_summary(folder / "summary.json")
        tables = {}
        for name in (*TABLE_NAMES, *OPTIONAL_TABLES):
            path = folder / f"{name}.csv"
            if path.exists():
                tables[name] = pd.read_csv(path, keep_default_na=False, na_values=[""])
        # in the model's units (k$), as a fresh solve's info is; summary.json holds USD
        objective, bound = (None if summary.get(k) is None else summary[k] / MONEY
                            for k in ("objective", "bound"))
        info = SolveInfo(status=summary["status"], termination=summary["termination"],
                         objective=objective, bound=bound,
                         gap=summary.get("gap"), solve_seconds=summary.get("solve_seconds", 0.0),
                         build_seconds=summary.get("build_seconds", 0.0),
                         method=summary.get("method", "milp"),
                         solver=summary.get("solver", "highs"),
                         solver_version=summary.get("solver_version", ""),
                         start=summary.get("start", "none"),
                         stages=[{"stage": st["stage"], "seconds": st["seconds"],
                                  "stopped": st["stopped"], "objective": None
                                  if st.get("objective_usd") is None
                                  else st["objective_usd"] / MONEY}
                                 for st in summary.get("stages") or []],
                         cores_not_free=summary.get("cores_not_free"))
        return cls(tables, info, summary, folder=folder)


def _json(value: object) -> object:
    """summary.json's values json cannot write: numpy scalars, and the paths and sets a
    Python session's `with_changes` may hold (summary `changes`), as text and sorted lists,
    which mean the same change when read back."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(type(value))


def _values(var: pyo.Var) -> dict:
    return {k: (v.value or 0.0) for k, v in var.items()}


def _arr(var: pyo.Var, n: int) -> np.ndarray:
    vals = np.zeros(n)
    for k, v in var.items():
        vals[k] = v.value or 0.0
    return np.where(np.abs(vals) < TOL, 0.0, vals)


def extract(m: pyo.ConcreteModel, info: SolveInfo) -> Results:
    """Read the solution into tables. Call only when info.has_solution."""
    prep: Prepared = m.prep
    x = _arr(m.x, len(prep.pairs))
    f = _arr(m.f, len(prep.direct_lanes))
    q = _arr(m.q, len(prep.partner_links))
    r = _arr(m.r, len(prep.partner_supply))
    v = _arr(m.v, len(prep.inbound_lanes))
    y = {k: round(v) for k, v in _values(m.y).items()}
    w = {k: round(v) for k, v in _values(m.w).items()}
    o = {k: round(v) for k, v in _values(m.o).items()}
    e = {k: round(v) for k, v in _values(m.e).items()}
    g = {k: round(v) for k, v in _values(m.g).items()}
    a = {k: round(v) for k, v in _values(m.a).items()}

    too_few: dict = getattr(m, "ord_too_few", {})
    assignments = assignments_table(prep, x)
    shipments = shipments_table(prep, f, q, r, v, drawn_from_stock(m))
    tables = {
        "assignments": assignments,
        "shipments": shipments,
        "sites": sites_table(prep, y, w, o, e, assignments, shipments, too_few),
        "hubs": hubs_table(prep, g, shipments),
        "partners": partners_table(prep, a, shipments),
        "unserved": unserved_table(prep, m, too_few),
        "costs": costs_table(m),
    }
    tables["zones"] = zones_table(prep, tables["assignments"], tables["unserved"])
    expiring, elsewhere = expiring_by_plant(
        m, tables["shipments"], prep.plants["capacity_doses_per_year"].astype(float).to_dict())
    tables["plants"] = plants_table(prep, tables["shipments"], expiring,
                                    info.plant_capacity_values, elsewhere)
    tables["kols"] = kols_table(prep, tables["sites"], tables["assignments"])
    tables["products"] = products_table(prep, shipments)
    tables["site_products"] = prep.site_products.drop(columns=["max_patients"])
    tables["finance"] = policies_table(prep, m, f, q, shipments)
    tables["hubs"]["stock_shipping_usd_per_year"] = hub_stock_shipping(
        tables["hubs"], tables["finance"], shipments)
    for kind, key in (("hubs", "hub_id"), ("partners", "partner_id")):
        tables[kind]["depot_stock_usd_per_year"] = depot_stock_usd(
            tables[kind][key], tables["finance"], kind[:-1])
    tables["kpis"] = kpis_table(tables, prep, info)
    summary = summary_dict(tables, prep, info)
    return Results(tables, info, summary)


def products_table(prep: Prepared, shipments: pd.DataFrame) -> pd.DataFrame:
    """The product facts the run used, with the dose cadence as shipped: doses per shipment
    requested, the most a shipment can carry in time (a lane of no transit), and what the
    lanes in use kept (doses over shipments reaching sites) with the shipments a patient's
    year needs on them. Without deliveries, the no-transit figures."""
    p = prep.products
    out = p.reset_index()[[
        "product_id", "name", "modality", "therapeutic_area", "temperature_class",
        "doses_per_patient", "dose_interval_days", "price_usd_per_dose", "cogs_usd_per_dose",
        "shelf_life_hours", "handling_buffer_hours", "max_patient_travel_km",
        "penalty_usd_per_patient", "doses_per_shipment", "doses_per_shipment_max"]]
    out = out.rename(columns={"doses_per_shipment": "doses_per_shipment_requested"})
    to_sites = shipments[shipments["leg"].isin(("direct", "partner_delivery"))] \
        if len(shipments) else shipments
    sums = to_sites.groupby("product_id")[["doses_per_year", "shipments_per_year"]].sum() \
        if len(to_sites) else pd.DataFrame(columns=["doses_per_year", "shipments_per_year"])
    sums = sums[sums["shipments_per_year"] > TOL]
    kept = (sums["doses_per_year"] / sums["shipments_per_year"]).astype(float)
    per_patient = (sums["shipments_per_year"] * p["doses_per_patient"].reindex(sums.index)
                   / sums["doses_per_year"]).astype(float)
    ids = out["product_id"]
    out["doses_per_shipment_kept"] = ids.map(kept).fillna(
        out["doses_per_shipment_max"]).to_numpy(float)
    out["shipments_per_patient_year"] = ids.map(per_patient).fillna(
        ids.map(p["shipments_per_patient"])).to_numpy(float)
    return out


def assignments_table(prep: Prepared, x: np.ndarray) -> pd.DataFrame:
    """Patients per year by zone, site and product (demand points split back to zones)."""
    pairs = prep.pairs.assign(patients=x)
    pairs = pairs[pairs["patients"] > 0]
    columns = ["zone_id", "zone_name", "state", "site_id", "site_name", "product_id",
               "patients_per_year", "travel_km", "max_travel_km", "within_travel_target"]
    if pairs.empty:  # nobody treated (e.g. the only hub out in an N-1 re-solve)
        return pd.DataFrame({c: pd.Series(dtype=bool if c == "within_travel_target" else
                                          float if c in ("patients_per_year", "travel_km",
                                                         "max_travel_km") else object)
                             for c in columns})
    zp = prep.zone_point
    point_pop = prep.points["population"]
    merged = pairs.merge(zp, on="point_id")
    share = merged["population"] / merged["point_id"].map(point_pop).replace(0, np.nan)
    merged["patients"] = merged["patients"] * share.fillna(0)
    zones = prep.case.zones.set_index("zone_id")
    sites = prep.sites
    z = zones.loc[merged["zone_id"]]
    s = sites.loc[merged["site_id"]]
    km = haversine_km(z["latitude"].to_numpy(), z["longitude"].to_numpy(),
                      s["latitude"].to_numpy(), s["longitude"].to_numpy())
    reach = prep.products["max_patient_travel_km"]
    out = pd.DataFrame({
        "zone_id": merged["zone_id"].to_numpy(),
        "zone_name": z["name"].to_numpy(),
        "state": z["state"].to_numpy(),
        "site_id": merged["site_id"].to_numpy(),
        "site_name": s["name"].to_numpy(),
        "product_id": merged["product_id"].to_numpy(),
        "patients_per_year": merged["patients"].to_numpy(),
        "travel_km": np.round(km, 3),
        "max_travel_km": merged["product_id"].map(reach).to_numpy(),
        "within_travel_target": km <= prep.case.config.service.within_km,
    })
    out = out[out["patients_per_year"] > TOL]
    return out.sort_values(["zone_id", "product_id", "site_id"], ignore_index=True)


def drawn_from_stock(m: pyo.ConcreteModel) -> tuple[np.ndarray, np.ndarray]:
    """Which direct lanes and partner links carry doses drawn from a depot's pooled stock:
    the lanes of a (site, product, hub) with doses from the hub's stock, the deliveries of a
    site-product whose partner option is stock (they flow only from a held stock)."""
    prep: Prepared = m.prep
    direct = np.zeros(len(prep.direct_lanes), dtype=bool)
    for key, v in getattr(m, "fh", {}).items():
        if (v.value or 0.0) > TOL:
            direct[m.lanes_of_held[key]] = True
    stock = getattr(m, "partner_stock_sk", set())
    links = prep.partner_links
    return direct, np.array([sk in stock for sk in zip(
        links["site_id"], links["product_id"], strict=True)], dtype=bool)


def read_summary(path: Path) -> dict:
    """A solve's summary.json; ValueError naming the file when it is not valid JSON or not a
    solve's summary (no status and termination)."""
    try:
        summary = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(summary, dict) or not {"status", "termination"} <= set(summary):
        raise ValueError(f"{path}: not the summary of a netopt solve (no status and "
                         "termination)")
    return summary


def _aged(frame: pd.DataFrame, from_stock: np.ndarray | None) -> pd.DataFrame:
    """`frame` (lanes or links) with the dose cadence of doses drawn from a depot's stock
    (STOCK_CADENCE_COLUMNS, after their age there) where `from_stock` says so."""
    flags = np.zeros(len(frame), dtype=bool) if from_stock is None else from_stock
    out = frame.assign(from_depot_stock=flags, lane_shipments_per_dose=frame[
        "shipments_per_dose"])
    for aged, column in zip(STOCK_CADENCE_COLUMNS, CADENCE, strict=True):
        if aged in out:
            out[column] = np.where(flags, out[aged], out[column])
    return out


def _supplied_as_used(prep: Prepared, used: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Partner deliveries timed on the supply the solution uses: prepare times a link on the
    fastest supply to its partner (enough to know it fits), but the cheaper supply the
    network takes may be slower, leaving fewer doses a shipment. Each delivery gets the
    slowest supply lane in use for its pool, plus its own leg, and the cadence that leaves
    (doses drawn from a depot's stock keep their aged cadence)."""
    slowest = used.groupby(["partner_id", "product_id", "plant_key"])["hours"].max()
    supply = np.array([slowest.get(key, np.nan) for key in zip(
        links["partner_id"], links["product_id"], links["plant_key"], strict=True)], float)
    timed = ~np.isnan(supply)
    if not timed.any():
        return links
    hours = np.where(timed, supply + links["leg_hours"].to_numpy(float),
                     links["hours"].to_numpy(float))
    timed_cadence = cadence_columns(links, prep.products, pd.Series(hours, index=links.index))
    fresh = timed & ~links["from_depot_stock"].to_numpy(bool)
    return links.assign(hours=hours, **{
        column: np.where(fresh, timed_cadence[column], links[column]) for column in CADENCE})


def shipments_table(prep: Prepared, f: np.ndarray, q: np.ndarray, r: np.ndarray,
                    v: np.ndarray | None = None,
                    from_stock: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Doses per year per lane: direct (plant-hub-site), partner supply and partner delivery;
    and the starting material of autologous patients (site-hub-plant, one shipment per
    patient, 0 doses). Outbound rows of an autologous product carry the plant that received
    the cells and the vein-to-vein time through this lane. Rows whose doses are drawn from a
    depot's pooled stock (`from_stock`: flags per direct lane and per partner link) say so
    and ship at the aged cadence."""
    products = prep.products
    stock_lanes, stock_links = from_stock if from_stock is not None else (None, None)
    lanes = _aged(prep.direct_lanes, stock_lanes).assign(doses=f)
    lanes = lanes[lanes["doses"] > 0]
    direct = pd.DataFrame({
        "leg": "direct", "plant_id": lanes["plant_id"], "hub_id": lanes["hub_id"],
        "partner_id": "", "site_id": lanes["site_id"], "product_id": lanes["product_id"],
        "mode": lanes["mode"], "doses_per_year": lanes["doses"],
        "transit_hours": lanes["hours"], "cost_usd_per_shipment": lanes["cost_usd_per_shipment"],
        **{c: lanes[c] for c in (*LEG_COLUMNS, *CADENCE)},
        "from_depot_stock": lanes["from_depot_stock"],
        "lane_shipments_per_dose": lanes["lane_shipments_per_dose"],
    })
    sup = prep.partner_supply.assign(doses=r)
    sup = sup[sup["doses"] > 0]
    supply = pd.DataFrame({
        "leg": "partner_supply", "plant_id": sup["plant_id"], "hub_id": sup["hub_id"],
        "partner_id": sup["partner_id"], "site_id": "", "product_id": sup["product_id"],
        "mode": sup["last_leg_mode"], "doses_per_year": sup["doses"],
        "transit_hours": sup["hours"], "cost_usd_per_shipment": sup["cost_usd_per_shipment"],
        **{c: sup[c] for c in (*LEG_COLUMNS, *CADENCE)}, "from_depot_stock": False,
    })
    links = _supplied_as_used(prep, sup, _aged(prep.partner_links, stock_links).assign(doses=q))
    links = links[links["doses"] > 0]
    delivery = pd.DataFrame({
        "leg": "partner_delivery", "plant_id": links["plant_key"], "hub_id": "",
        "partner_id": links["partner_id"], "site_id": links["site_id"],
        "product_id": links["product_id"], "mode": links["mode"], "doses_per_year": links["doses"],
        "transit_hours": links["hours"], "cost_usd_per_shipment": links["cost_usd_per_shipment"],
        # one leg, partner -> site (no hub): the "last" leg
        "first_leg_mode": "", "first_leg_hours": np.nan, "first_leg_cost_usd": np.nan,
        "hub_wait_hours": 0.0, "last_leg_mode": links["mode"], "last_leg_hours": links["leg_hours"],
        "last_leg_cost_usd": links["cost_usd_per_shipment"],
        **{c: links[c] for c in CADENCE}, "from_depot_stock": links["from_depot_stock"],
    })
    inbound = _starting_material_rows(prep, v)
    parts = [df for df in (direct, supply, delivery) if len(df)]
    out = pd.concat(parts, ignore_index=True) if parts else direct.iloc[0:0]
    if len(out):
        out["temperature_class"] = out["product_id"].map(products["temperature_class"])
        # doses become shipments at the lane's cadence (what its shelf life left keeps)
        out["shipments_per_year"] = out["doses_per_year"] * out["shipments_per_dose"]
        out["transport_usd_per_year"] = _transport_usd(out)
        out["shelf_life_hours"] = out["product_id"].map(products["shelf_life_hours"])
        out["handling_buffer_hours"] = out["product_id"].map(products["handling_buffer_hours"])
    else:
        for c in ("temperature_class", "shipments_per_year", "transport_usd_per_year",
                  "shelf_life_hours", "handling_buffer_hours"):
            out[c] = pd.Series(dtype="float64" if c != "temperature_class" else "object")
    out = _cadence_report(out, products).drop(columns="lane_shipments_per_dose",
                                              errors="ignore")
    if len(inbound):
        inbound = inbound.assign(transport_usd_per_year=inbound["shipments_per_year"]
                                 * inbound["cost_usd_per_shipment"])
    out = pd.concat([out, inbound], ignore_index=True) if len(inbound) else out
    out["vein_to_vein_days"] = _vein_to_vein_days(prep, out, inbound)
    return out.sort_values(["leg", "site_id", "partner_id", "product_id", "plant_id", "hub_id"],
                           ignore_index=True)


def _transport_usd(out: pd.DataFrame) -> np.ndarray:
    """Transport a year per row, as the objective counts it: shipments x the route's cost,
    except that doses drawn from a hub's pooled stock pay the whole route at the lane's own
    cadence and only the hub -> site leg for the shipments their aged cadence adds
    (model/ordering.py, `_aged_deliveries`). A partner delivery costs 0 (in the partner's
    fee)."""
    doses = out["doses_per_year"].to_numpy(float)
    whole = out["shipments_per_year"].to_numpy(float) * out["cost_usd_per_shipment"].to_numpy(
        float)
    lane = out["lane_shipments_per_dose"].to_numpy(float) if "lane_shipments_per_dose" in out \
        else np.full(len(out), np.nan)
    aged = out["shipments_per_dose"].to_numpy(float)
    stocked = (out["leg"] == "direct").to_numpy() & out["from_depot_stock"].to_numpy(bool) \
        & ~np.isnan(lane)
    lane = np.where(stocked, lane, 0.0)
    split = doses * (lane * out["cost_usd_per_shipment"].to_numpy(float) + np.maximum(
        aged - lane, 0.0) * out["last_leg_cost_usd"].fillna(0.0).to_numpy(float))
    return np.where(stocked, split, whole)


def _cadence_report(out: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Requested against kept doses per shipment, and the shipments a patient's year needs
    on the lane (the lane's shipments per dose x doses per patient)."""
    dpp = out["product_id"].map(products["doses_per_patient"]).astype(float)
    out = out.assign(
        doses_per_shipment_requested=out["product_id"].map(
            products["doses_per_shipment"]).astype(float),
        shipments_per_patient_year=out["shipments_per_dose"].astype(float) * dpp)
    return out.drop(columns="shipments_per_dose")


def _starting_material_rows(prep: Prepared, v: np.ndarray | None) -> pd.DataFrame:
    """Inbound lanes in use: patients per year whose cells go site -> hub -> plant."""
    lanes = prep.inbound_lanes.assign(patients=0.0 if v is None else v)
    lanes = lanes[lanes["patients"] > 0]
    products = prep.products
    return pd.DataFrame({
        "leg": "starting_material", "plant_id": lanes["plant_id"], "hub_id": lanes["hub_id"],
        "partner_id": "", "site_id": lanes["site_id"], "product_id": lanes["product_id"],
        "mode": lanes["last_leg_mode"], "doses_per_year": 0.0,
        "transit_hours": lanes["hours"], "cost_usd_per_shipment": lanes["cost_usd_per_patient"],
        "temperature_class": np.where(lanes["needs_cryo"], "cryogenic", "fresh"),
        "shipments_per_year": lanes["patients"], "shipments_per_patient_year": 1.0,
        "shelf_life_hours": lanes["product_id"].map(products["starting_material_hours"]),
        "handling_buffer_hours": 0.0, **{c: lanes[c] for c in LEG_COLUMNS},
        "from_depot_stock": False,
    })


def _vein_to_vein_days(prep: Prepared, out: pd.DataFrame, inbound: pd.DataFrame) -> np.ndarray:
    """Outbound rows of an autologous product: the cells' inbound hours to that plant (mean
    over its inbound lanes in use) + the plant's turnaround + this lane's hours, in days."""
    result = np.full(len(out), np.nan)
    if not len(out):
        return result
    weights = inbound.assign(w=inbound["shipments_per_year"] * inbound["transit_hours"])
    key = ["site_id", "product_id", "plant_id"]
    sums = weights.groupby(key)[["w", "shipments_per_year"]].sum()
    hours_in = (sums["w"] / sums["shipments_per_year"]).to_dict()
    turnaround = prep.plants["turnaround_days"].to_dict()
    for i, (leg, s, k, pl, hours) in enumerate(zip(
            out["leg"], out["site_id"], out["product_id"], out["plant_id"],
            out["transit_hours"], strict=True)):
        if leg in ("direct", "partner_delivery") and (s, k, pl) in hours_in:
            result[i] = (hours_in[(s, k, pl)] + turnaround[pl] * 24 + hours) / 24
    return result


def sites_table(prep: Prepared, y: dict, w: dict, o: dict, e: dict,
                assignments: pd.DataFrame, shipments: pd.DataFrame,
                too_few: dict | None = None) -> pd.DataFrame:
    """One row per site of the dataset (excluded and never-eligible ones too); `too_few`:
    site-products whose every ordering option needs more patients than they reach, with
    why (model/ordering.py)."""
    all_sites = prep.case.sites.set_index("site_id").sort_index()
    patients = assignments.pivot_table(index="site_id", columns="product_id",
                                       values="patients_per_year", aggfunc="sum").fillna(0.0)
    chair = prep.products["chair_hours_per_patient"]
    rows = []
    links = shipments[shipments["leg"] == "partner_delivery"] if len(shipments) else shipments
    reasons = site_reasons(prep, too_few)
    for sid, s in all_sites.iterrows():
        active = bool(y.get(sid, 0))
        status = s["status"]
        if status == "excluded":
            decision = "excluded"
        elif status == "existing":
            decision = "kept" if active else "closed"
        else:
            decision = "opened" if active else "not chosen"
        offered = sorted(k for (ss, k), v in w.items() if ss == sid and v)
        onboarded = sorted(ar for (ss, ar), v in o.items() if ss == sid and v)
        equipped = sorted(t for (ss, t), v in e.items() if ss == sid and v)
        row_pat = patients.loc[sid] if sid in patients.index else pd.Series(dtype=float)
        total = float(row_pat.sum()) if len(row_pat) else 0.0
        hours = float(sum(row_pat.get(k, 0.0) * chair[k] for k in row_pat.index))
        partner_ids = sorted(set(links.loc[links["site_id"] == sid, "partner_id"])) \
            if len(links) else []
        rows.append({
            "site_id": sid, "name": s["name"], "state": s["state"],
            "latitude": s["latitude"], "longitude": s["longitude"], "status": status,
            "active": active, "decision": decision,
            "products_offered": ";".join(offered),
            "certified_areas": ";".join(s["certified_areas"]),
            "onboarded_areas": ";".join(onboarded),
            "temperature_classes_held": ";".join(s["temperature_classes"]),
            "equipped_classes": ";".join(equipped),
            "partners_linked": ";".join(partner_ids),
            "patients_per_year": total,
            **{f"patients_{k}": float(row_pat.get(k, 0.0)) for k in prep.product_ids},
            "capacity_patients_per_year": s["capacity_patients_per_year"],
            "utilisation": total / s["capacity_patients_per_year"]
            if s["capacity_patients_per_year"] > 0 else 0.0,
            "chair_hours_used": hours,
            "chair_hours_per_year": s["chair_hours_per_year"],
            "kol_count": s["kol_count"],
            "reason": reasons.get(sid, ""),
        })
    return pd.DataFrame(rows)


def site_reasons(prep: Prepared, too_few: dict | None = None) -> dict[str, str]:
    """Why a site could not be chosen (for every product, or for some): excluded, price
    ceiling, no lane within shelf life, no class and no partner, no patients within the
    product's reach (the reasons `prepare` recorded, in its words). Empty for a site that
    could offer every product: whether it was chosen is then the optimum's call (`netopt
    explain` says why)."""
    out: dict[str, str] = {}
    all_sites = prep.case.sites
    for sid in all_sites.loc[all_sites["status"] == "excluded", "site_id"]:
        out[sid] = "excluded (status excluded in sites.csv)"
    why: dict[str, list[str]] = {}
    for sid, k, reason in zip(prep.blocked["site_id"], prep.blocked["product_id"],
                              prep.blocked["reason"], strict=True):
        why.setdefault(sid, []).append(f"{k}: {reason}")
    for (sid, k), reason in sorted((too_few or {}).items()):
        why.setdefault(sid, []).append(f"{k}: {reason}")
    paired = prep.paired if prep.paired is not None else set(
        zip(prep.pairs["site_id"], prep.pairs["product_id"], strict=True))
    reach = prep.products["max_patient_travel_km"].to_dict()
    for sid, k in zip(prep.site_products["site_id"], prep.site_products["product_id"],
                      strict=True):
        if (sid, k) not in paired:
            why.setdefault(sid, []).append(
                f"{k}: beyond reach (no patients within its {reach[k]:g} km max travel, or "
                "nearer sites take them: aggregation.nearest_sites)")
    eligible = set(prep.site_products["site_id"])
    for sid, parts in why.items():
        if sid in out:
            continue
        usable = sid in eligible and any(
            (sid, k) in paired for k in prep.product_ids)
        head = "cannot offer " if usable else "cannot be chosen - "
        out[sid] = head + "; ".join(sorted(parts))
    return out


def hubs_table(prep: Prepared, g: dict, shipments: pd.DataFrame) -> pd.DataFrame:
    hubs = prep.case.hubs.set_index("hub_id").sort_index()
    by_hub = shipments.groupby("hub_id")["shipments_per_year"].sum() if len(shipments) \
        else pd.Series(dtype=float)
    out = pd.DataFrame({
        "hub_id": hubs.index, "name": hubs["name"].to_numpy(),
        "airport_code": hubs["airport_code"].to_numpy(),
        "latitude": hubs["latitude"].to_numpy(), "longitude": hubs["longitude"].to_numpy(),
        "status": hubs["status"].to_numpy(),
        "active": [bool(g.get(h, 0)) for h in hubs.index],
        "shipments_per_year": [float(by_hub.get(h, 0.0)) for h in hubs.index],
        "capacity_shipments_per_year": hubs["capacity_shipments_per_year"].to_numpy(),
    })
    out["utilisation"] = out["shipments_per_year"] / out["capacity_shipments_per_year"].where(
        out["capacity_shipments_per_year"] > 0)
    out["utilisation"] = out["utilisation"].fillna(0.0)
    through = shipments[shipments["hub_id"].astype(str) != ""] if len(shipments) else shipments
    lane_usd = through.groupby("hub_id")["transport_usd_per_year"].sum() if len(through) \
        else pd.Series(dtype=float)
    direct = through[through["leg"] == "direct"] if len(through) else through
    served = direct.groupby("hub_id")["site_id"].agg(lambda s: ";".join(sorted(set(s)))) \
        if len(direct) else pd.Series(dtype=object)
    supplied = through[through["leg"] == "partner_supply"] if len(through) else through
    fed = supplied.groupby("hub_id")["partner_id"].agg(lambda s: ";".join(sorted(set(s)))) \
        if len(supplied) else pd.Series(dtype=object)
    out["fixed_cost_usd_per_year"] = np.where(out["active"], hubs["annual_fixed_cost_usd"], 0.0)
    out["handling_cost_usd_per_year"] = out["shipments_per_year"].to_numpy() * hubs[
        "cost_usd_per_shipment"].to_numpy()
    out["transport_cost_usd_per_year"] = [float(lane_usd.get(h, 0.0)) for h in hubs.index]
    out["sites_served"] = [served.get(h, "") for h in hubs.index]
    out["partners_supplied"] = [fed.get(h, "") for h in hubs.index]
    return out


def hub_stock_shipping(hubs: pd.DataFrame, finance: pd.DataFrame,
                       shipments: pd.DataFrame) -> list[float]:
    """Per hub, what stock changes on its lanes: bulk replenishments less the per-patient
    shipping (transport and handling) they replace (finance.csv's
    `ordering_replenishment_usd` + `ordering_shipping_saved_usd`; usually negative). A
    site's own stock is shared among the hubs of its direct lanes by its doses through each;
    a hub depot's pooled stock is that hub's; a partner's stock (pooled, or held for one
    site) goes to the hubs of the partner's supply lanes by their doses. The lanes price
    every dose per patient; without this the hubs' costs summed to more than the network's
    (national: $146 M against $112 M)."""
    parts = ("ordering_replenishment_usd", "ordering_shipping_saved_usd")
    if finance is None or finance.empty or not set(parts) <= set(finance.columns) \
            or shipments.empty:
        return [0.0] * len(hubs)
    change = finance[parts[0]] + finance[parts[1]]
    legs = shipments[shipments["hub_id"].astype(str) != ""]

    def doses_by_hub(leg: str, by: str) -> dict[tuple, dict[str, float]]:
        """(legs[by], product) -> {hub: doses a year} of one kind of leg."""
        out: dict[tuple, dict[str, float]] = {}
        part = legs[legs["leg"] == leg]
        for (a, k, h), doses in part.groupby([by, "product_id", "hub_id"])[
                "doses_per_year"].sum().items():
            out.setdefault((a, k), {})[str(h)] = float(doses)
        return out

    direct, supply = doses_by_hub("direct", "site_id"), doses_by_hub("partner_supply",
                                                                     "partner_id")
    delivery = shipments[shipments["leg"] == "partner_delivery"]
    partners_of = delivery.groupby(["site_id", "product_id"])["partner_id"].agg(set).to_dict()
    usd: dict[str, float] = {}

    def share(through: dict[str, float], amount: float) -> None:
        total = sum(through.values())
        if total <= 0:
            return
        for hid, doses in through.items():
            usd[hid] = usd.get(hid, 0.0) + amount * doses / total

    for r, amount in zip(finance.itertuples(index=False), change, strict=True):
        if abs(amount) < 1e-9:
            continue
        k = r.product_id
        if r.row == "depot" and r.route == "hub":
            share({str(r.depot_id): 1.0}, float(amount))
        elif r.row == "site" and r.route == "direct":
            share(direct.get((r.site_id, k), {}), float(amount))
        else:  # a partner's stock: the hubs of its supply lanes
            partners = {r.depot_id} if r.row == "depot" else partners_of.get((r.site_id, k),
                                                                              set())
            through: dict[str, float] = {}
            for par in sorted(partners):  # in a fixed order, as every sum here
                for hid, doses in supply.get((par, k), {}).items():
                    through[hid] = through.get(hid, 0.0) + doses
            share(through, float(amount))
    return [usd.get(h, 0.0) for h in hubs["hub_id"]]


#: finance.csv's parts of a stock's cost that stay where the stock is: its shipping parts
#: (replenishments, the per-patient shipping saved) are the lanes', `hub_stock_shipping`
DEPOT_STOCK_PARTS = ("holding", "expiries", "capital_charge", "returns")


def depot_stock_usd(ids: pd.Series, finance: pd.DataFrame, route: str) -> list[float]:
    """Per hub (`route` "hub") or partner ("partner"), what the stock it pools for its sites
    costs a year where it lies: holding, expiries, the capital charge and returns
    (finance.csv's depot rows). A partner that holds stock is active for it; without this
    its yearly cost on the pages was its contract and fee alone."""
    columns = [f"ordering_{part}_usd" for part in DEPOT_STOCK_PARTS]
    if finance is None or finance.empty or not {"row", "route", "depot_id", *columns} <= set(
            finance.columns):
        return [0.0] * len(ids)
    rows = finance[(finance["row"] == "depot") & (finance["route"] == route)]
    usd = rows[columns].sum(axis=1).groupby(rows["depot_id"].astype(str)).sum()
    return [float(usd.get(str(i), 0.0)) for i in ids]


def partners_table(prep: Prepared, a: dict, shipments: pd.DataFrame) -> pd.DataFrame:
    partners = prep.case.partners.set_index("partner_id").sort_index()
    deliveries = shipments[shipments["leg"] == "partner_delivery"] if len(shipments) \
        else shipments
    doses = deliveries.groupby("partner_id")["doses_per_year"].sum() if len(deliveries) \
        else pd.Series(dtype=float)
    linked = deliveries.groupby("partner_id")["site_id"].agg(
        lambda s: ";".join(sorted(set(s)))) if len(deliveries) else pd.Series(dtype=object)
    out = pd.DataFrame({
        "partner_id": partners.index, "name": partners["name"].to_numpy(),
        "latitude": partners["latitude"].to_numpy(),
        "longitude": partners["longitude"].to_numpy(),
        "temperature_classes": [";".join(c) for c in partners["temperature_classes"]],
        "active": [bool(a.get(p, 0)) for p in partners.index],
        "doses_per_year": [float(doses.get(p, 0.0)) for p in partners.index],
        "sites_linked": [linked.get(p, "") for p in partners.index],
        "capacity_doses_per_year": partners["capacity_doses_per_year"].to_numpy(),
    })
    out["fixed_cost_usd_per_year"] = np.where(out["active"],
                                              partners["annual_fixed_cost_usd"], 0.0)
    out["handling_cost_usd_per_year"] = out["doses_per_year"].to_numpy() * partners[
        "cost_usd_per_dose"].to_numpy()
    return out


def unserved_table(prep: Prepared, m: pyo.ConcreteModel,
                   too_few: dict | None = None) -> pd.DataFrame:
    """Unserved patients per zone and product, with the reason where one is known (also
    where every site in reach is one `too_few` names: no ordering option at its volume)."""
    u = {k: v.value or 0.0 for k, v in m.u.items()}
    d = prep.demand.copy()
    d["unserved"] = [u.get((p, k), 0.0) for p, k in zip(d["point_id"], d["product_id"],
                                                      strict=True)]
    d = d[d["unserved"] > TOL]
    cols = ["zone_id", "zone_name", "state", "product_id", "patients_unserved", "reason"]
    if d.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "patients_unserved"
                                          else "object") for c in cols})
    reasons = {(p, k): r for p, k, r in zip(prep.no_option["point_id"],
                                            prep.no_option["product_id"],
                                            prep.no_option["reason"], strict=True)}
    if too_few:
        pairs = prep.pairs
        for (p, k), sites in pairs.groupby(["point_id", "product_id"])["site_id"]:
            if (p, k) not in reasons and all((s, k) in too_few for s in sites):
                first = sorted(sites)[0]
                reasons[(p, k)] = (f"{sites.nunique()} site(s) in reach, none with an "
                                   f"ordering option at its volume: {first}: "
                                   f"{too_few[(first, k)]}")
    # prepare records every point-product without a site in reach; in a network `netopt
    # evaluate` holds (`m.held_offers`: its model keeps the network's offers only), one with
    # no pair left lost its sites to the held network
    paired = set(zip(prep.pairs["point_id"], prep.pairs["product_id"], strict=True)) \
        if getattr(m, "held_offers", False) else None
    held = ("no site of the evaluated network offers it within reach: evaluate holds the "
            "network's offers (it may drop one, never add one; `netopt explain SITE --product "
            "K` prices adding one)")
    d["reason"] = [reasons.get((p, k), held if paired is not None and (p, k) not in paired else
                               "not served by this network: serving costs more than the "
                               "unserved penalty, or capacity is exhausted")
                   for p, k in zip(d["point_id"], d["product_id"], strict=True)]
    merged = d.merge(prep.zone_point, on="point_id")
    pop = merged["point_id"].map(prep.points["population"]).replace(0, np.nan)
    merged["patients_unserved"] = merged["unserved"] * (merged["population"] / pop).fillna(0)
    zones = prep.case.zones.set_index("zone_id")
    out = pd.DataFrame({
        "zone_id": merged["zone_id"].to_numpy(),
        "zone_name": zones.loc[merged["zone_id"], "name"].to_numpy(),
        "state": zones.loc[merged["zone_id"], "state"].to_numpy(),
        "product_id": merged["product_id"].to_numpy(),
        "patients_unserved": merged["patients_unserved"].to_numpy(),
        "reason": merged["reason"].to_numpy(),
    })
    out = out[out["patients_unserved"] > TOL]
    return out.sort_values(["zone_id", "product_id"], ignore_index=True)


def zones_table(prep: Prepared, assignments: pd.DataFrame,
                unserved: pd.DataFrame) -> pd.DataFrame:
    """Per zone: patients demanded, served, unserved and served beyond the travel target."""
    rates = prep.case.incidence_by_zone()[list(prep.products.index)]
    total_rate = pd.Series(rates.sum(axis=1).to_numpy(), index=prep.case.zones["zone_id"])
    zones = prep.case.zones.set_index("zone_id").sort_index()
    total_rate = total_rate.reindex(zones.index) / 1e5 * prep.case.config.demand_scale
    served = assignments.groupby("zone_id")["patients_per_year"].sum()
    beyond = assignments[~assignments["within_travel_target"].astype(bool)].groupby(
        "zone_id")["patients_per_year"].sum()
    lost = unserved.groupby("zone_id")["patients_unserved"].sum()
    return pd.DataFrame({
        "zone_id": zones.index, "name": zones["name"].to_numpy(),
        "state": zones["state"].to_numpy(), "latitude": zones["latitude"].to_numpy(),
        "longitude": zones["longitude"].to_numpy(),
        "population": zones["population"].to_numpy(),
        "patients_demand": (zones["population"] * total_rate).to_numpy(),
        "patients_served": served.reindex(zones.index, fill_value=0.0).to_numpy(),
        "patients_unserved": lost.reindex(zones.index, fill_value=0.0).to_numpy(),
        "patients_beyond_target": beyond.reindex(zones.index, fill_value=0.0).to_numpy(),
    })


def expiring_by_plant(m: pyo.ConcreteModel, shipments: pd.DataFrame,
                      capacity: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Plant -> doses a year it makes that expire in stock, as the model counts them against
    its capacity (flows.py `_expiring_by_plant`), and plant -> the part of them at stock
    points it ships no patient dose to. A stock point one plant supplies is that plant's; one
    several may supply is shared by the doses each ships to it, as a reader expects, unless
    that would overfill a plant the model's own split kept within its capacity. Then the
    model's split stands: a full plant's stock points have their expiring doses made by
    another plant whose lanes reach them (it would ship their safety stock), and the second
    figure says how many, so "100 % used" is not read as covering them."""
    out: dict[str, float] = {}
    shares: dict[tuple, dict[str, float]] = {}
    for line, plant in getattr(m, "expired_points", {}).values():
        if plant is not None:
            out[plant] = out.get(plant, 0.0) + float(pyo.value(line, exception=False) or 0.0)
    for (*key, plant), var in getattr(m, "expired_at", {}).items():
        shares.setdefault(tuple(key), {})[plant] = float(var.value or 0.0)
    model_split = dict(out)
    for split in shares.values():
        for plant, v in split.items():
            model_split[plant] = model_split.get(plant, 0.0) + v
    by_doses = dict(out)
    sent_to = {key: _doses_to_stock_point(shipments, key, set(split))
               for key, split in shares.items()}
    for key, split in shares.items():
        total = sum(split.values())
        sent = sent_to[key]
        if sum(sent.values()) <= 1e-9:
            sent = split
        weight = sum(sent.values()) or 1.0
        for plant in split:
            by_doses[plant] = by_doses.get(plant, 0.0) + total * sent.get(plant, 0.0) / weight
    doses = shipments[shipments["leg"].isin(["direct", "partner_supply"])].groupby(
        "plant_id")["doses_per_year"].sum() if len(shipments) else pd.Series(dtype=float)
    fits = all(float(doses.get(p, 0.0)) + v <= capacity.get(p, math.inf) * (1 + 1e-6) + 1e-6
               for p, v in by_doses.items())
    if fits:
        return by_doses, {}
    elsewhere: dict[str, float] = {}
    for key, split in shares.items():
        for plant, v in split.items():
            if v > 1e-9 and sent_to[key].get(plant, 0.0) <= 1e-9:
                elsewhere[plant] = elsewhere.get(plant, 0.0) + v
    return model_split, elsewhere


def _doses_to_stock_point(shipments: pd.DataFrame, key: tuple, plants: set[str]
                          ) -> dict[str, float]:
    """Doses a year each plant ships towards a stock point ("site", s, k) / ("hub", h, k) /
    ("partner", p, k) / ("site_partner", s, k): a partner's stock held for one site, supplied
    through the partners that deliver to it."""
    if not len(shipments):
        return {}
    kind, where, k = key
    t = shipments[shipments["product_id"] == k]
    if kind == "site":
        t = t[(t["leg"] == "direct") & (t["site_id"] == where)]
    elif kind == "site_partner":
        partners = set(t.loc[(t["leg"] == "partner_delivery") & (t["site_id"] == where),
                             "partner_id"])
        t = t[(t["leg"] == "partner_supply") & t["partner_id"].isin(partners)]
    elif kind == "hub":
        t = t[(t["leg"] == "direct") & (t["hub_id"] == where)]
    else:
        t = t[(t["leg"] == "partner_supply") & (t["partner_id"] == where)]
    sent = t[t["plant_id"].isin(plants)].groupby("plant_id")["doses_per_year"].sum()
    return {str(p): float(v) for p, v in sent.items()}


def plants_table(prep: Prepared, shipments: pd.DataFrame,
                 expiring: dict[str, float] | None = None,
                 capacity_values: dict[str, float] | None = None,
                 expiring_elsewhere: dict[str, float] | None = None) -> pd.DataFrame:
    """Per plant: doses released (direct lanes and partner supply), patients whose cells it
    received (autologous starting material), its utilisation and what one more dose of its
    capacity would save the network as chosen (solver/marginal.py; empty where the solve
    did not price it)."""
    plants = prep.plants
    released = shipments[shipments["leg"].isin(["direct", "partner_supply"])] \
        if len(shipments) else shipments
    doses = released.groupby("plant_id")["doses_per_year"].sum() if len(released) \
        else pd.Series(dtype=float)
    cells = shipments[shipments["leg"] == "starting_material"] if len(shipments) else shipments
    received = cells.groupby("plant_id")["shipments_per_year"].sum() if len(cells) \
        else pd.Series(dtype=float)
    out = pd.DataFrame({
        "plant_id": plants.index, "name": plants["name"].to_numpy(),
        "latitude": plants["latitude"].to_numpy(), "longitude": plants["longitude"].to_numpy(),
        "products": [";".join(p) for p in plants["products"]],
        "doses_per_year": [float(doses.get(p, 0.0)) for p in plants.index],
        "capacity_doses_per_year": plants["capacity_doses_per_year"].to_numpy(),
        "patients_received_per_year": [float(received.get(p, 0.0)) for p in plants.index],
        "turnaround_days": plants["turnaround_days"].to_numpy(),
    })
    # doses that expire in stock were made too, and take the plant's capacity
    out["doses_expiring_in_stock_per_year"] = [max(0.0, float((expiring or {}).get(p, 0.0)))
                                               for p in plants.index]
    out["doses_expiring_elsewhere_per_year"] = [
        max(0.0, float((expiring_elsewhere or {}).get(p, 0.0))) for p in plants.index]
    cap = out["capacity_doses_per_year"].astype(float)
    made = out["doses_per_year"] + out["doses_expiring_in_stock_per_year"]
    out["utilisation"] = (made / cap.where(cap > 0)).fillna(0.0)
    values = capacity_values or {}
    out["capacity_value_usd_per_dose"] = [values[p] * MONEY if p in values else np.nan
                                          for p in plants.index]
    return out


def kols_table(prep: Prepared, sites: pd.DataFrame,
               assignments: pd.DataFrame) -> pd.DataFrame:
    """KOLs and what covers them: the nearest site of their cover set (their own site, or
    one within kols.within_km in proximity mode) that treats a product of their area at
    least at its KOL minimum (kols.min_patients, or the site's min_patients_per_year)."""
    kols = prep.case.kols.sort_values("kol_id")
    s = sites.set_index("site_id")
    treated = assignments.groupby(["site_id", "product_id"])["patients_per_year"].sum() \
        if len(assignments) else pd.Series(dtype=float)
    sets = kol_cover_sets(prep)
    by: list[tuple] = []
    for j in kols["kol_id"]:
        hit = next(((site, k, km, float(treated.get((site, k), 0.0)))
                    for site, k, km in sets.get(j, [])
                    if treated.get((site, k), 0.0) >= kol_min_patients(prep, site) - 1e-6
                    and treated.get((site, k), 0.0) > TOL), None)
        by.append(hit or ("", "", np.nan, 0.0))
    out = kols[["kol_id", "name", "therapeutic_area", "site_id", "weight"]].copy()
    out["latitude"] = [s.at[x, "latitude"] if x in s.index else np.nan for x in out["site_id"]]
    out["longitude"] = [s.at[x, "longitude"] if x in s.index else np.nan
                        for x in out["site_id"]]
    out["covered"] = [bool(b[0]) for b in by]
    out["covered_by_site"] = [b[0] for b in by]
    out["covered_by_product"] = [b[1] for b in by]
    out["covering_km"] = [b[2] for b in by]
    out["covering_patients_per_year"] = [b[3] for b in by]
    return out.reset_index(drop=True)


def costs_table(m: pyo.ConcreteModel) -> pd.DataFrame:
    rows = [{"term": name, "usd_per_year": float(pyo.value(expr)) * MONEY + 0.0}
            for name, expr in m.cost_terms.items()]
    out = pd.DataFrame(rows)
    total = pd.DataFrame([{"term": "total", "usd_per_year": out["usd_per_year"].sum()}])
    return pd.concat([out, total], ignore_index=True)


def is_penalty_term(term: str) -> bool:
    """True for objective terms that are modelling devices, not cash: the unserved penalty and
    the elastic slacks (`elastic_*`) that keep a too-tight model solvable."""
    return term in UNSERVED_TERMS or term.startswith("elastic_")


def cost_split(costs: pd.DataFrame) -> dict[str, float]:
    """The headline split of the objective, defined once for every page and sheet.

    network_cost_usd: cash per year of running the network (every cost term except penalties,
    revenue and cost of goods); unserved_penalty_usd: lost margin priced for patients not
    served; other_penalty_usd: elastic slacks; annual_cost_usd: the objective (model total).
    """
    rows = costs[costs["term"].astype(str) != "total"] if "term" in costs.columns else costs
    terms = dict(zip(rows.get("term", []), rows.get("usd_per_year", []), strict=True))
    network = sum(float(v) for t, v in terms.items()
                  if not is_penalty_term(str(t)) and t not in REVENUE_TERMS)
    unserved = sum(float(terms.get(t, 0.0)) for t in UNSERVED_TERMS)
    other = sum(float(v) for t, v in terms.items()
                if is_penalty_term(str(t)) and t not in UNSERVED_TERMS)
    return {"network_cost_usd": network + 0.0, "unserved_penalty_usd": unserved + 0.0,
            "other_penalty_usd": other + 0.0,
            "annual_cost_usd": float(sum(float(v) for v in terms.values()))}


def ordering_breakdown(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The stock cost terms (ordering and inventory at sites, plus pooled depot stock where
    the model has it) in their parts (USD/yr): replenishment, returns, holding, expiries and
    capital charge (costs), the per-patient shipping that stock saves (negative), and
    `tabulation` = the model's terms minus the exact parts (the model prices each option on a
    piecewise-linear table). finance.csv's site and depot rows both carry parts, so the
    parts add up to the two terms together, exactly."""
    costs = tables.get("costs", pd.DataFrame())
    term = 0.0
    if {"term", "usd_per_year"} <= set(costs.columns):
        hit = costs.loc[costs["term"].astype(str).isin(STOCK_TERMS), "usd_per_year"]
        term = float(hit.sum()) if len(hit) else 0.0
    fin = tables.get("finance", pd.DataFrame())
    out = {}
    for part in COST_PARTS:
        col = f"ordering_{part}_usd"
        out[part] = float(pd.to_numeric(fin[col], errors="coerce").fillna(0).sum()) \
            if col in fin.columns else 0.0
    out["tabulation"] = term - sum(out.values())
    out["total"] = term
    return out


def unserved_penalty_usd(costs: pd.DataFrame) -> float:
    """The unserved-penalty part of a costs table (see `cost_split`)."""
    return cost_split(costs)["unserved_penalty_usd"]


def network_cost_usd(costs: pd.DataFrame) -> float:
    """The headline network cost, cash per year (see `cost_split`): one definition for every
    page and sheet, so the headline is the same figure wherever it is shown."""
    return cost_split(costs)["network_cost_usd"]


def kpis_table(tables: dict[str, pd.DataFrame], prep: Prepared, info: SolveInfo) -> pd.DataFrame:
    """Headline KPIs, each a pure function of the result tables."""
    k = compute_kpis(tables, float(prep.demand["patients"].sum()))
    units = {"patients_demand": "patients/yr", "patients_served": "patients/yr",
             "patients_unserved": "patients/yr", "pct_served": "%",
             "pct_within_travel_target": "%", "sites_active": "sites",
             "sites_opened": "sites", "hubs_active": "hubs", "partners_active": "partners",
             "sites_with_partner": "sites", "sites_onboarded": "sites",
             "annual_cost_usd": "USD/yr", "network_cost_usd": "USD/yr",
             "unserved_penalty_usd": "USD/yr", "other_penalty_usd": "USD/yr",
             "mean_travel_km": "km", "sites_stocking": "sites",
             "expired_doses_per_year": "doses/yr", "manufacturer_writeoff_usd": "USD/yr",
             "inventory_value_usd": "USD", "working_capital_manufacturer_usd": "USD",
             "working_capital_distributor_usd": "USD", "working_capital_site_usd": "USD"}
    return pd.DataFrame([{"kpi": n, "value": v, "unit": units.get(n, "")} for n, v in k.items()])


def compute_kpis(tables: dict[str, pd.DataFrame], demand: float) -> dict[str, float]:
    a = tables["assignments"]
    served = float(a["patients_per_year"].sum())
    within = float(a.loc[a["within_travel_target"], "patients_per_year"].sum())
    sites = tables["sites"]
    costs = tables["costs"].set_index("term")["usd_per_year"]
    return {
        "patients_demand": demand,
        "patients_served": served,
        "patients_unserved": float(tables["unserved"]["patients_unserved"].sum()),
        "pct_served": 100 * served / demand if demand else 0.0,
        "pct_within_travel_target": 100 * within / served if served else 0.0,
        "sites_active": int(sites["active"].sum()),
        "sites_opened": int((sites["decision"] == "opened").sum()),
        "hubs_active": int(tables["hubs"]["active"].sum()),
        "partners_active": int(tables["partners"]["active"].sum()),
        "sites_with_partner": int((sites["partners_linked"] != "").sum()),
        "sites_onboarded": int(sites["onboarded_areas"].str.len().gt(0).sum()),
        "annual_cost_usd": float(costs.get("total", 0.0)),
        **{k: v for k, v in cost_split(tables["costs"]).items() if k != "annual_cost_usd"},
        "mean_travel_km": float(np.average(a["travel_km"], weights=a["patients_per_year"]))
        if served else 0.0,
        **finance_summary(tables.get("finance")),
    }


def summary_dict(tables: dict[str, pd.DataFrame], prep: Prepared, info: SolveInfo) -> dict:
    k = compute_kpis(tables, float(prep.demand["patients"].sum()))
    return {
        "model": prep.case.name,
        "status": info.status, "termination": info.termination,
        "solver": info.solver, "solver_version": info.solver_version,
        "objective_usd": None if info.objective is None else info.objective * MONEY,
        "bound_usd": None if info.bound is None else info.bound * MONEY,
        "objective": None if info.objective is None else info.objective * MONEY,
        "bound": None if info.bound is None else info.bound * MONEY,
        "gap": info.gap,
        "method": info.method,
        "build_seconds": round(info.build_seconds, 3),
        "solve_seconds": round(info.solve_seconds, 3),
        "n_variables": info.n_variables, "n_binaries": info.n_binaries,
        "n_constraints": info.n_constraints, "start": info.start,
        "stages": [{"stage": st["stage"], "seconds": st["seconds"], "stopped": st["stopped"],
                    "objective_usd": None if st["objective"] is None
                    else st["objective"] * MONEY} for st in info.stages],
        # null where no stage was recorded (other solvers): unknown, not "none"
        "stopped_by_clock": info.stopped_by_clock if info.stages else None,
        "cores_not_free": info.cores_not_free,
        "network_cost_usd": k["network_cost_usd"],
        "unserved_penalty_usd": k["unserved_penalty_usd"],
        "other_penalty_usd": k["other_penalty_usd"],
        "patients_demand": k["patients_demand"], "patients_served": k["patients_served"],
        "patients_unserved": k["patients_unserved"],
        "pct_within_travel_target": k["pct_within_travel_target"],
        "sites_active": k["sites_active"], "hubs_active": k["hubs_active"],
        "partners_active": k["partners_active"],
        "sites_stocking": k["sites_stocking"],
        "expired_doses_per_year": k["expired_doses_per_year"],
        "manufacturer_writeoff_usd": k["manufacturer_writeoff_usd"],
        "demand_points": len(prep.points),
        "aggregation_error_km": round(prep.aggregation_error_km, 3),
        "objective_sense": prep.case.config.objective,
        "settings": prep.case.config.model_dump(mode="json", exclude={"edits"}),
        "model_file": str(prep.case.model_path) if prep.case.model_path else None,
        "inputs_sha256": inputs_fingerprint(prep.case),
    }


# ---------------------------------------------------------------- launch timeline


def extract_timeline(m: pyo.ConcreteModel, info: SolveInfo) -> Results:
    """Results of a multi-period model: the ordinary tables describe the LAST period (the
    network at the end of the roll-out), plus timeline_sites / timeline_periods /
    timeline_products and a `timeline` entry in the summary. Flows in the timeline tables
    are amounts within each period (annual rate x period length), not annual rates."""
    plan = m.plan
    blocks = [m.period[j] for j in m.B]
    result = extract(blocks[-1], info)
    per_block = [_block_figures(b) for b in blocks]
    periods = timeline_periods_table(plan, per_block)
    tables = result.tables
    tables["timeline_periods"] = periods
    tables["timeline_sites"] = timeline_sites_table(plan, blocks)
    tables["timeline_products"] = timeline_products_table(plan, per_block)
    tables["timeline_products"]["unserved_reason"] = rollout_reasons(
        plan, blocks, tables["timeline_products"], tables["timeline_sites"],
        tables["unserved"])
    # the plan's cash NPV leaves the unserved penalty out (a modelling price, not money);
    # the objective is minus (npv - penalty_npv)
    npv = None if info.objective is None else float(periods["discounted_cash_flow_usd"].sum())
    penalty_npv = float((periods["penalty_usd"] * periods["discount_factor"]).sum())
    settings = plan.settings
    kpis = tables["kpis"]
    tables["kpis"] = pd.concat([kpis, pd.DataFrame([
        {"kpi": "npv_usd", "value": npv, "unit": "USD"},
        {"kpi": "penalty_npv_usd", "value": penalty_npv, "unit": "USD"},
        {"kpi": "timeline_patients_served", "value": float(periods["patients_served"].sum()),
         "unit": "patients"}])], ignore_index=True)
    result.summary["timeline"] = {
        "periods": settings.periods, "period_months": settings.period_months,
        "start": settings.start, "discount_rate": settings.discount_rate,
        "npv_usd": npv, "penalty_npv_usd": penalty_npv, "model_blocks": len(plan.groups),
        "patients_served": float(periods["patients_served"].sum()),
        "patients_unserved": float(periods["patients_unserved"].sum()),
        "last_period": plan.periods[-1].label,
    }
    return result


def _block_figures(b: pyo.Block) -> dict:
    """Annual rates of one block: patients by product, active facilities, cost terms (USD)."""
    prep: Prepared = b.prep
    x = _arr(b.x, len(prep.pairs))
    served = pd.Series(x).groupby(prep.pairs["product_id"].to_numpy()).sum() if len(x) \
        else pd.Series(dtype=float)
    u = pd.Series({k: v.value or 0.0 for k, v in b.u.items()}, dtype=float)
    unserved = u.groupby(level=1).sum() if len(u) else pd.Series(dtype=float)
    demand = prep.demand.groupby("product_id")["patients"].sum()
    terms = {name: float(pyo.value(expr)) * MONEY for name, expr in b.cost_terms.items()}
    return {
        "demand": demand.reindex(prep.product_ids, fill_value=0.0),
        "served": served.reindex(prep.product_ids, fill_value=0.0),
        "unserved": unserved.clip(lower=0.0).reindex(prep.product_ids, fill_value=0.0),
        "sites": int(sum(round(v.value or 0.0) for v in b.y.values())),
        "hubs": int(sum(round(v.value or 0.0) for v in b.g.values())),
        "partners": int(sum(round(v.value or 0.0) for v in b.a.values())),
        "revenue": 0.0 - terms.get("revenue", 0.0),
        "cost": sum(v for name, v in terms.items()
                    if name != "revenue" and not is_penalty_term(name)),
        "penalty": sum(v for name, v in terms.items() if is_penalty_term(name)),
    }


def timeline_periods_table(plan: TimelinePlan, per_block: list[dict]) -> pd.DataFrame:
    """One row per period: patients, active facilities and cash flow within the period.

    Cash flow is money: revenue less the network's cost terms (cost of goods included under
    the margin objective, one-off costs annualised as in costs.csv). The unserved penalty is
    the objective's price for patients left untreated, not a payment, so it has its own
    column: a ramp-up plan's 'cash flow' had been mostly that penalty."""
    margin = plan.prep.case.config.objective == "margin"
    rows = []
    for period in plan.periods:
        f = per_block[plan.block_of(period.index)]
        yrs = period.years
        revenue = f["revenue"] * yrs
        cost = f["cost"] * yrs
        cash = revenue - cost if margin else -cost
        penalty = f["penalty"] * yrs
        rows.append({
            "period": period.index, "label": period.label,
            "start_date": period.start.isoformat(), "years": yrs,
            "patients_demand": float(f["demand"].sum()) * yrs,
            "patients_served": float(f["served"].sum()) * yrs,
            "patients_unserved": float(f["unserved"].sum()) * yrs,
            "sites_active": f["sites"], "hubs_active": f["hubs"],
            "partners_active": f["partners"], "revenue_usd": revenue, "cost_usd": cost,
            "cash_flow_usd": cash,
            "penalty_usd": penalty, "discount_factor": period.discount_factor,
            "discounted_cash_flow_usd": cash * period.discount_factor,
        })
    return pd.DataFrame(rows)


def timeline_products_table(plan: TimelinePlan, per_block: list[dict]) -> pd.DataFrame:
    """Patients demanded, served and unserved per period and product (within the period)."""
    rows = []
    for period in plan.periods:
        f = per_block[plan.block_of(period.index)]
        for k in plan.prep.product_ids:
            rows.append({"period": period.index, "label": period.label, "product_id": k,
                         "patients_demand": float(f["demand"][k]) * period.years,
                         "patients_served": float(f["served"][k]) * period.years,
                         "patients_unserved": float(f["unserved"][k]) * period.years})
    return pd.DataFrame(rows)


def rollout_reasons(plan: TimelinePlan, blocks: list[pyo.Block], products: pd.DataFrame,
                    sites: pd.DataFrame, unserved: pd.DataFrame) -> list[str]:
    """Why patients go untreated in each period, per product: a planner's first question of
    a roll-out. Patients beyond the end network's own share of unserved wait for the sites
    that offer the product later, named with the period each can offer it from (its P&T
    committee and onboarding lead time) or, when it could earlier, 'by choice' (demand did
    not pay for it yet); the rest go unserved for the end network's main reason
    (unserved.csv)."""
    names = dict(zip(sites["site_id"], sites["name"], strict=True))
    ready = offer_ready(plan)  # the first period a site can offer a product

    labels = {p.index: p.label for p in plan.periods}
    first_offer: dict[tuple[str, str], int] = {}
    for period in plan.periods:
        for (s, k), v in blocks[plan.block_of(period.index)].w.items():
            if round(v.value or 0.0) and (s, k) not in first_offer:
                first_offer[(s, k)] = period.index
    main = {}
    if len(unserved) and {"product_id", "reason", "patients_unserved"} <= set(unserved.columns):
        by = unserved.groupby(["product_id", "reason"])["patients_unserved"].sum()
        for (k, reason), _ in by.sort_values(ascending=False).items():
            main.setdefault(k, str(reason))
    end = products[products["period"] == plan.periods[-1].index].set_index("product_id")
    out = []
    for p, k, demand, unserved_now in zip(products["period"], products["product_id"],
                                          products["patients_demand"],
                                          products["patients_unserved"], strict=True):
        if unserved_now <= 1e-6:
            out.append("")
            continue
        share = float(end.at[k, "patients_unserved"] / end.at[k, "patients_demand"]) \
            if k in end.index and end.at[k, "patients_demand"] > 0 else 0.0
        waiting = unserved_now - share * demand
        later = sorted((t, s) for (s, kk), t in first_offer.items() if kk == k and t > p)
        parts = []
        if waiting >= SHOWN_PATIENTS and later:
            shown = []
            for t, s in later[:3]:
                why = ("committee and onboarding lead time" if ready(s, k) >= t
                       else f"by choice, possible from {labels.get(ready(s, k), '')}")
                shown.append(f"{names.get(s, s)} (from {labels.get(t, t)}: {why})")
            more = f" and {len(later) - 3} more" if len(later) > 3 else ""
            parts.append(f"{fmt_patients(waiting)} wait for sites that offer it later: "
                         + ", ".join(shown) + more)
        rest = unserved_now - (waiting if parts else 0.0)
        if rest >= SHOWN_PATIENTS or not parts:
            reason = main.get(k, "the period's network leaves them untreated (the plan's "
                                 "end network treats every patient of this product)")
            parts.append(f"{fmt_patients(rest)} as at the plan's end: {reason}"
                         if parts else f"as at the plan's end: {reason}")
        out.append("; ".join(parts))
    return out


#: patients a reason's part must concern to be named (its count shows one decimal)
SHOWN_PATIENTS = 0.05


def fmt_patients(value: float) -> str:
    return f"{value:,.1f} patients"


def timeline_sites_table(plan: TimelinePlan, blocks: list[pyo.Block]) -> pd.DataFrame:
    """Every site of the dataset: the earliest period it can be active (0 for an existing
    site; for a candidate its next P&T meeting + onboarding_days), the first period it is
    active (blank if never), the products it offers at the end, and the first period it can
    be onboarded for a new therapeutic area (the same date, existing sites included). A
    period at or beyond the number of periods lies outside the horizon."""
    sites = plan.prep.case.sites.sort_values("site_id")
    first: dict[str, int] = {}
    for period in plan.periods:
        b = blocks[plan.block_of(period.index)]
        for s, v in b.y.items():
            if round(v.value or 0.0) and s not in first:
                first[s] = period.index
    last = blocks[-1]
    offered: dict[str, list[str]] = {}
    for (s, k), v in last.w.items():
        if round(v.value or 0.0):
            offered.setdefault(s, []).append(k)
    labels = {p.index: p.label for p in plan.periods}
    ids = sites["site_id"].tolist()
    return pd.DataFrame({
        "site_id": ids, "name": sites["name"].to_numpy(), "state": sites["state"].to_numpy(),
        "status": sites["status"].to_numpy(),
        "earliest_period": pd.array([0 if st == "existing" else plan.earliest.get(s, 0)
                                     for s, st in zip(ids, sites["status"], strict=True)],
                                    dtype="Int64"),
        "first_active_period": pd.array([first.get(s) for s in ids], dtype="Int64"),
        "first_active_label": [labels[first[s]] if s in first else "" for s in ids],
        "products_offered_end": [";".join(sorted(offered.get(s, []))) for s in ids],
        "onboarding_ready_period": pd.array([plan.earliest.get(s, 0) for s in ids],
                                            dtype="Int64"),
    })
