"""The chosen network as the simulation sees it: lanes, patient flows, products and hubs.

Built from a `netopt solve` result folder (the decisions: who goes where, which lane carries
what) plus the model file's inputs (shelf life, turnaround, cut-offs, coordinates) that the
result tables do not repeat. Every problem with the folder is collected and raised once as an
InputError naming file, row and column, so the CLI exits 2 with a readable list.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...data.case import Case, inputs_changed, load_case
from ...data.geography import distance_matrix_km, haversine_km, transit
from ...data.problems import InputError, Problem
from ...data.tables import display_path
from ...model.prepare import CRYOPRESERVATION_HOURS, REFERENCE_CUTOFF_HOUR

#: US Census regions: the weather map groups hubs by the state they stand in
STATE_REGION: dict[str, str] = {
    **dict.fromkeys(("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"), "northeast"),
    **dict.fromkeys(("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"),
                    "midwest"),
    **dict.fromkeys(("DE", "FL", "GA", "MD", "NC", "SC", "VA", "DC", "WV", "AL", "KY", "MS",
                     "TN", "AR", "LA", "OK", "TX", "PR"), "south"),
    **dict.fromkeys(("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR",
                     "WA"), "west"),
}

#: result tables the simulation reads, with the columns it needs
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "assignments": ("zone_id", "site_id", "product_id", "patients_per_year"),
    "shipments": ("leg", "plant_id", "hub_id", "partner_id", "site_id", "product_id",
                  "doses_per_year", "transit_hours"),
    "hubs": ("hub_id", "active", "capacity_shipments_per_year", "shipments_per_year"),
    "site_products": ("site_id", "product_id", "inbound_hubs", "needs_cryo_at_site",
                      "vein_to_vein_days"),
}
NUMERIC_COLUMNS = {"patients_per_year", "doses_per_year", "transit_hours",
                   "capacity_shipments_per_year", "shipments_per_year"}


@dataclass
class SimNetwork:
    """Static inputs of every replication (tables sorted, so arrays built from them are
    deterministic).

    flows: zone x site x product patient rates that have a lane. lanes: one row per lane
    (plant -> hub -> site, or via a partner) with its share of the site-product's doses.
    inbound: autologous site-products' starting-material leg (the busiest, for the
    site-product tables). inbound_lanes: every starting-material lane the model used, with
    its share of the patients the site-product sends to that plant: each patient's cells take
    one of them, drawn by that share, so the hubs carry the cells as the model routed them.
    products: per-product parameters indexed by product_id. hubs: every hub of the result
    with region and wait.
    """

    result_dir: Path
    model_file: Path
    model_name: str
    flows: pd.DataFrame
    lanes: pd.DataFrame
    inbound: pd.DataFrame
    products: pd.DataFrame
    hubs: pd.DataFrame
    site_products: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    case: Case | None = None
    inbound_lanes: pd.DataFrame | None = None


def wait_hours(cutoff: object) -> float:
    """Planned wait at a hub for its departure wave, as `prepare` prices it (the lane's
    transit_hours already include it)."""
    hh, mm = (int(x) for x in str(cutoff).split(":"))
    return max(0.0, REFERENCE_CUTOFF_HOUR - (hh + mm / 60.0))


def _read_table(folder: Path, name: str, problems: list[Problem]) -> pd.DataFrame | None:
    path = folder / f"{name}.csv"
    shown = display_path(path)
    if not path.is_file():
        problems.append(Problem(shown, None, None, "missing result table (re-run `netopt solve`)"))
        return None
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        problems.append(Problem(shown, None, None, f"not a readable CSV table: {exc}"))
        return None
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in frame.columns]
    for col in missing:
        problems.append(Problem(shown, 1, col, "required column missing"))
    if missing:
        return None
    frame[list(REQUIRED_COLUMNS[name])] = frame[list(REQUIRED_COLUMNS[name])].fillna("")
    for col in REQUIRED_COLUMNS[name]:
        if col not in NUMERIC_COLUMNS:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values) | (values < 0)
        for i in np.flatnonzero(bad.to_numpy())[:5]:
            problems.append(Problem(shown, int(i) + 2, col, "expected a number >= 0",
                                    str(frame[col].iloc[i])))
        frame[col] = values.fillna(0.0)
    return frame


def _summary(folder: Path, problems: list[Problem]) -> dict | None:
    path = folder / "summary.json"
    shown = display_path(path)
    if not path.is_file():
        problems.append(Problem(shown, None, None,
                                "not a `netopt solve` result folder (no summary.json)"))
        return None
    try:
        summary = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, None, None, f"not valid JSON: {exc}"))
        return None
    if not isinstance(summary, dict):
        problems.append(Problem(shown, None, None, "expected a JSON object"))
        return None
    return summary


def load_network(result_dir: str | Path, model_file: str | Path | None = None,
                 case: Case | None = None) -> SimNetwork:
    """Read a result folder and its model file into a SimNetwork; InputError on any problem.
    `case`: the inputs already loaded (a Python session's case, `netopt.simulate`), read in
    place of a model file."""
    folder = Path(result_dir)
    problems: list[Problem] = []
    if not folder.is_dir():
        raise InputError([Problem(display_path(folder), None, None,
                                  "result folder not found (expected the --out folder of "
                                  "`netopt solve`)")])
    summary = _summary(folder, problems)
    tables = {name: _read_table(folder, name, problems) for name in REQUIRED_COLUMNS}
    model_path = _model_path(folder, summary, model_file, problems) if case is None else \
        Path(case.model_path or case.name)
    if problems:
        raise InputError(problems)
    assert summary is not None and model_path is not None  # else problems were raised
    read = {name: frame for name, frame in tables.items() if frame is not None}
    if case is None and model_file is None:
        from ..scenarios import case_of_result  # the changes a Python session made, again

        case = case_of_result(model_path, summary)
    elif case is None:
        case = load_case(model_path)
    return build_network(folder, model_path, case, read, summary)


def _model_path(folder: Path, summary: dict | None, model_file: str | Path | None,
                problems: list[Problem]) -> Path | None:
    if model_file is not None:
        path = Path(model_file)
        if not path.is_file():
            problems.append(Problem(display_path(path), None, None, "model file not found"))
            return None
        return path
    if summary is None:
        return None
    shown = display_path(folder / "summary.json")
    named = summary.get("model_file")
    if not isinstance(named, str) or not named:
        problems.append(Problem(shown, None, "model_file",
                                "names no model file; pass --model MODEL.yaml"))
        return None
    path = Path(named)
    if not path.is_file():
        problems.append(Problem(shown, None, "model_file",
                                "model file not found (moved?); pass --model MODEL.yaml", named))
        return None
    return path


def build_network(folder: Path, model_path: Path, case: Case,
                  tables: dict[str, pd.DataFrame], summary: dict) -> SimNetwork:
    """Join the result tables with the case's inputs; check every reference."""
    problems: list[Problem] = []
    warnings: list[str] = []
    if inputs_changed(summary, case):
        warnings.append(f"{display_path(model_path)} or its dataset differ from the inputs this "
                        "result was solved with: the simulation uses them as they are now")
    products = _products(_as_solved(folder, "products", case.products.set_index("product_id"),
                                    SOLVED_PRODUCT_COLUMNS, warnings))
    plants = _as_solved(folder, "plants", case.plants.set_index("plant_id"),
                        ("turnaround_days",), warnings)
    hubs = _hubs(case, tables["hubs"], folder, problems)
    sites = case.sites.set_index("site_id")
    _check_refs(folder, tables, products, plants, hubs, sites, problems)
    if problems:
        raise InputError(problems)

    lanes = _lanes(tables["shipments"], case, hubs, plants)
    flows = tables["assignments"][["zone_id", "site_id", "product_id", "patients_per_year"]]
    flows = flows[flows["patients_per_year"] > 0]
    flows = flows.sort_values(["site_id", "product_id", "zone_id"], ignore_index=True)
    routed = flows.set_index(["site_id", "product_id"]).index.isin(
        lanes.set_index(["site_id", "product_id"]).index)
    if (~routed).any():
        lost = flows.loc[~routed, "patients_per_year"].sum()
        warnings.append(f"{lost:.2f} patients/yr of assignments.csv have no lane in "
                        "shipments.csv and are not simulated")
        flows = flows[routed].reset_index(drop=True)
    sp = flows[["site_id", "product_id"]].drop_duplicates().reset_index(drop=True)
    lanes = lanes.merge(sp, on=["site_id", "product_id"])  # lanes nobody uses are dropped
    inbound = _inbound(sp, tables["site_products"], products, lanes, tables["shipments"], case,
                       hubs, plants)
    site_products = _site_product_table(flows, tables["shipments"])
    return SimNetwork(result_dir=folder, model_file=model_path,
                      model_name=str(summary.get("model") or case.name), flows=flows,
                      lanes=lanes, inbound=inbound, products=products, hubs=hubs,
                      site_products=site_products, warnings=warnings, case=case,
                      inbound_lanes=_inbound_lanes(sp, products, tables["shipments"], case,
                                                   hubs, plants))


def _as_solved(folder: Path, name: str, inputs: pd.DataFrame, columns: tuple[str, ...],
               warnings: list[str]) -> pd.DataFrame:
    """The model file's table with the values the solve used where the result folder has
    them: a dataset edited since the solve must not change the network being simulated."""
    path = folder / f"{name}.csv"
    try:
        solved = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return inputs
    key = inputs.index.name
    if key not in solved.columns:
        return inputs
    solved = solved.drop_duplicates(key, keep="last").set_index(key)
    out = inputs.copy()
    changed = []
    for col in columns:
        if col not in solved.columns or col not in out.columns:
            continue
        ids = out.index.intersection(solved.index)
        new = solved.loc[ids, col]
        numeric = out[col].dtype.kind in "fi"
        if numeric:
            new = pd.to_numeric(new, errors="coerce")
        new = new.dropna()
        old = out.loc[new.index, col]
        differs = ~np.isclose(old.astype(float), new.astype(float)) if numeric else \
            (old.astype(str) != new.astype(str)).to_numpy()
        changed += [f"{i}.{col}" for i in new.index[np.asarray(differs)]]
        out.loc[new.index, col] = new.astype(out[col].dtype)
    if changed:
        warnings.append(f"{display_path(path)} differs from the model's inputs ("
                        f"{', '.join(sorted(changed)[:6])}{', ...' if len(changed) > 6 else ''})"
                        ": simulating with the solved values")
    return out


SOLVED_PRODUCT_COLUMNS = ("modality", "temperature_class", "doses_per_patient",
                          "dose_interval_days", "cogs_usd_per_dose", "shelf_life_hours",
                          "handling_buffer_hours")


def _products(table: pd.DataFrame) -> pd.DataFrame:
    p = table.sort_index()
    out = pd.DataFrame(index=p.index)
    out["name"] = p["name"].astype(str)
    out["temperature_class"] = p["temperature_class"].astype(str)
    out["autologous"] = p["modality"].astype(str) == "autologous"
    out["doses_per_patient"] = np.maximum(1, np.rint(p["doses_per_patient"].astype(float))
                                          ).astype(int)
    out["dose_interval_days"] = p["dose_interval_days"].astype(float).fillna(0.0)
    out["shelf_budget_hours"] = (p["shelf_life_hours"].astype(float)
                                 - p["handling_buffer_hours"].astype(float))
    out["cogs_usd_per_dose"] = p["cogs_usd_per_dose"].astype(float)
    return out


def _hubs(case: Case, result_hubs: pd.DataFrame, folder: Path,
          problems: list[Problem]) -> pd.DataFrame:
    """Every hub of the result with its state (of the nearest zone: hubs carry no state
    column), weather region, planned wait and the model's shipment figures."""
    h = case.hubs.set_index("hub_id")
    r = result_hubs.drop_duplicates("hub_id", keep="last").set_index("hub_id").sort_index()
    unknown = [x for x in r.index if x not in h.index]
    for hid in unknown:
        problems.append(Problem(display_path(folder / "hubs.csv"), None, "hub_id",
                                "hub not in the model's hubs table", hid))
    r = r[r.index.isin(h.index)]
    h = h.loc[r.index]
    zones = case.zones
    if len(h) and len(zones):
        km = distance_matrix_km(h["latitude"], h["longitude"], zones["latitude"],
                                zones["longitude"])
        states = zones["state"].astype(str).to_numpy()[km.argmin(axis=1)]
    else:
        states = np.array([""] * len(h), dtype=object)
    return pd.DataFrame({
        "name": h["name"].astype(str),
        "state": states,
        "region": [STATE_REGION.get(s, "") for s in states],
        "latitude": h["latitude"].astype(float),
        "longitude": h["longitude"].astype(float),
        "active": [str(v).strip().lower() in ("true", "1", "yes") for v in r["active"]],
        "wait_hours": [wait_hours(c) for c in h["order_cutoff_local"]],
        "order_cutoff_local": h["order_cutoff_local"].astype(str),
        "capacity_shipments_per_year": r["capacity_shipments_per_year"].astype(float),
        "model_shipments_per_year": r["shipments_per_year"].astype(float),
    }, index=r.index.rename("hub_id"))


def _check_refs(folder: Path, tables: dict[str, pd.DataFrame], products: pd.DataFrame,
                plants: pd.DataFrame, hubs: pd.DataFrame, sites: pd.DataFrame,
                problems: list[Problem]) -> None:
    checks = (("assignments", "product_id", products.index),
              ("assignments", "site_id", sites.index),
              ("shipments", "product_id", products.index),
              ("shipments", "plant_id", plants.index),
              ("shipments", "hub_id", hubs.index),
              ("shipments", "site_id", sites.index))
    for name, col, known in checks:
        frame = tables[name]
        values = frame[col].astype(str)
        bad = (values != "") & ~values.isin(known)
        for i in np.flatnonzero(bad.to_numpy())[:5]:
            problems.append(Problem(display_path(folder / f"{name}.csv"), int(i) + 2, col,
                                    "not in the model's inputs (result folder and model "
                                    "file do not match?)", values.iloc[i]))


def _leg_hours(a: pd.DataFrame, b: pd.DataFrame, pairs: list[tuple[str, str]],
               transport: pd.DataFrame) -> list[float]:
    """Transit hours of (a_id, b_id) legs, priced like `prepare` prices them."""
    if not pairs:
        return []
    ai = a.loc[[p[0] for p in pairs]]
    bi = b.loc[[p[1] for p in pairs]]
    km = haversine_km(ai["latitude"].to_numpy(float), ai["longitude"].to_numpy(float),
                      bi["latitude"].to_numpy(float), bi["longitude"].to_numpy(float))
    return transit(np.atleast_1d(km), transport)["hours"].tolist()


def _lanes(shipments: pd.DataFrame, case: Case, hubs: pd.DataFrame,
           plants: pd.DataFrame) -> pd.DataFrame:
    """One row per lane reaching a site: direct legs as they are; partner deliveries
    through the hub (and plant) that supplies most of that partner's product (of the plant
    that received the patient's cells, for an autologous product)."""
    s = shipments[shipments["doses_per_year"] > 0]
    direct = s[s["leg"] == "direct"]
    supply = s[s["leg"] == "partner_supply"].sort_values(
        ["partner_id", "product_id", "doses_per_year", "hub_id", "plant_id"],
        ascending=[True, True, False, True, True])
    main_supply = supply.drop_duplicates(["partner_id", "product_id"]).set_index(
        ["partner_id", "product_id"])
    # the plant stays a column too: a delivery takes its plant from the row it picks
    of_plant = supply.drop_duplicates(["partner_id", "product_id", "plant_id"]).set_index(
        ["partner_id", "product_id", "plant_id"], drop=False)
    delivery = s[s["leg"] == "partner_delivery"].copy()
    chosen = [of_plant.loc[(p, k, pl)] if pl and (p, k, pl) in of_plant.index
              else main_supply.loc[(p, k)] if (p, k) in main_supply.index else None
              for p, k, pl in zip(delivery["partner_id"], delivery["product_id"],
                                  delivery["plant_id"], strict=True)]
    delivery["hub_id"] = [r["hub_id"] if r is not None else "" for r in chosen]
    delivery["plant_id"] = [r["plant_id"] if r is not None else "" for r in chosen]
    # the plant -> hub leg in the mode the model chose (results before #15: re-estimated)
    first = "first_leg_hours"
    delivery[first] = [r.get(first, np.nan) if r is not None else np.nan for r in chosen]
    lanes = pd.concat([direct, delivery], ignore_index=True)
    if first not in lanes.columns:
        lanes[first] = np.nan
    # shipments per dose as the model counted them on the lane (its dose cadence)
    lanes["shipments_per_dose"] = (pd.to_numeric(lanes["shipments_per_year"], errors="coerce")
                                   / lanes["doses_per_year"].astype(float)).fillna(1.0)
    lanes = lanes[["leg", "plant_id", "hub_id", "partner_id", "site_id", "product_id",
                   "doses_per_year", "shipments_per_dose", "transit_hours", first]].copy()
    lanes = lanes.sort_values(["site_id", "product_id", "leg", "plant_id", "hub_id",
                               "partner_id"], ignore_index=True)
    with_hub = (lanes["hub_id"] != "") & (lanes["plant_id"] != "")
    pairs = list(zip(lanes.loc[with_hub, "plant_id"], lanes.loc[with_hub, "hub_id"],
                     strict=True))
    to_hub = np.zeros(len(lanes))
    to_hub[with_hub.to_numpy()] = _leg_hours(plants, case.hubs.set_index("hub_id"), pairs,
                                             case.transport)
    told = pd.to_numeric(lanes.pop(first), errors="coerce").to_numpy(float)
    to_hub = np.where(with_hub.to_numpy() & np.isfinite(told), told, to_hub)
    wait = lanes["hub_id"].map(hubs["wait_hours"]).fillna(0.0).to_numpy(float)
    lanes["wait_hours"] = wait
    lanes["moving_hours"] = np.maximum(lanes["transit_hours"].to_numpy(float) - wait, 0.0)
    lanes["to_hub_hours"] = np.minimum(to_hub, lanes["moving_hours"].to_numpy())
    lanes["turnaround_days"] = lanes["plant_id"].map(plants["turnaround_days"]).fillna(0.0) \
        .astype(float)
    total = lanes.groupby(["site_id", "product_id"])["doses_per_year"].transform("sum")
    lanes["share"] = lanes["doses_per_year"] / total
    return lanes


def _planned_vein_to_vein(shipments: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(site, product) -> the vein-to-vein days of the lanes the model chose, weighted by
    their doses. site_products.csv's figure is the best over every plant that makes the
    product, which the network may not use (a full plant sends patients to a slower one):
    the simulation is measured against the plan, not against the best case."""
    if "vein_to_vein_days" not in shipments.columns or shipments.empty:
        return {}
    legs = shipments[shipments["leg"] != "starting_material"].assign(
        v2v=lambda f: pd.to_numeric(f["vein_to_vein_days"], errors="coerce"),
        doses=lambda f: pd.to_numeric(f["doses_per_year"], errors="coerce"))
    legs = legs[legs["v2v"].notna() & (legs["doses"] > 0)]
    out = {}
    for key, part in legs.groupby(["site_id", "product_id"], sort=True):
        out[(str(key[0]), str(key[1]))] = float(np.average(part["v2v"], weights=part["doses"]))
    return out


INBOUND_COLUMNS = ["site_id", "product_id", "hub_id", "plant_id", "pre_hours", "to_hub_hours",
                   "wait_hours", "moving_hours", "inbound_hours", "model_vein_to_vein_days"]


def _inbound(sp: pd.DataFrame, site_products: pd.DataFrame, products: pd.DataFrame,
             lanes: pd.DataFrame, shipments: pd.DataFrame, case: Case, hubs: pd.DataFrame,
             plants: pd.DataFrame) -> pd.DataFrame:
    """Starting material of autologous site-products: site -> hub -> plant, on the
    starting-material lane the model chose (the busiest when it split the site's patients),
    cryopreserved first when that lane says so."""
    info = site_products.drop_duplicates(["site_id", "product_id"], keep="last").set_index(
        ["site_id", "product_id"])
    cells = shipments[shipments["leg"] == "starting_material"]
    cells = cells.assign(n=pd.to_numeric(cells["shipments_per_year"], errors="coerce"))
    main_cells = cells.sort_values(["n", "plant_id", "hub_id"], ascending=[False, True, True],
                                   kind="stable").drop_duplicates(["site_id", "product_id"])
    main_cells = main_cells.set_index(["site_id", "product_id"])
    sites = case.sites.set_index("site_id")
    all_hubs = case.hubs.set_index("hub_id")
    planned = _planned_vein_to_vein(shipments)
    rows = []
    for sid, pid in zip(sp["site_id"], sp["product_id"], strict=True):
        row = dict.fromkeys(INBOUND_COLUMNS, 0.0) | {
            "site_id": sid, "product_id": pid, "hub_id": "", "plant_id": "",
            "model_vein_to_vein_days": math.nan}
        rec = info.loc[(sid, pid)] if (sid, pid) in info.index else None
        if products.at[pid, "autologous"] and (sid, pid) in planned:
            row["model_vein_to_vein_days"] = planned[(sid, pid)]
        elif products.at[pid, "autologous"] and rec is not None:
            # a result without per-lane figures: the site-product's best plant and lane
            v2v = pd.to_numeric(pd.Series([rec["vein_to_vein_days"]]), errors="coerce")
            row["model_vein_to_vein_days"] = float(v2v.iloc[0])
        if products.at[pid, "autologous"] and (sid, pid) in main_cells.index:
            lane = main_cells.loc[(sid, pid)]
            hub, plant = str(lane["hub_id"]), str(lane["plant_id"])
            if hub in hubs.index and plant in plants.index:
                pre = CRYOPRESERVATION_HOURS if lane["temperature_class"] == "cryogenic" \
                    else 0.0
                total = float(lane["transit_hours"])
                wait = float(hubs.at[hub, "wait_hours"])
                # the site -> hub leg in the mode the model chose
                first = pd.to_numeric(pd.Series([lane.get("first_leg_hours")]),
                                      errors="coerce").iloc[0]
                if not np.isfinite(first):
                    first = _leg_hours(sites, all_hubs, [(sid, hub)], case.transport)[0]
                row.update(hub_id=hub, plant_id=plant, pre_hours=pre, to_hub_hours=first,
                           wait_hours=wait, moving_hours=total - pre - wait,
                           inbound_hours=total)
        rows.append(row)
    return pd.DataFrame(rows, columns=INBOUND_COLUMNS)


INBOUND_LANE_COLUMNS = ["site_id", "product_id", "plant_id", "hub_id", "pre_hours",
                        "to_hub_hours", "wait_hours", "moving_hours", "inbound_hours", "share"]


def _inbound_lanes(sp: pd.DataFrame, products: pd.DataFrame, shipments: pd.DataFrame,
                   case: Case, hubs: pd.DataFrame, plants: pd.DataFrame) -> pd.DataFrame:
    """Every starting-material lane of the simulated autologous site-products, with its
    share of the site-product's patients sent to its plant. Where the model split a site's
    cells over two hubs (the nearer one full), the busiest lane alone would put them all
    through one hub, past the capacity the model respected."""
    cells = shipments[shipments["leg"] == "starting_material"]
    cells = cells.assign(n=pd.to_numeric(cells["shipments_per_year"], errors="coerce"))
    auto = {str(p) for p in products.index[products["autologous"].astype(bool)]}
    wanted = {(s, k) for s, k in zip(sp["site_id"], sp["product_id"], strict=True)
              if k in auto}
    keep = np.array([(s, k) in wanted for s, k in zip(cells["site_id"], cells["product_id"],
                                                       strict=True)], dtype=bool)
    cells = cells[keep & (cells["n"] > 0).to_numpy()
                  & cells["hub_id"].isin(hubs.index).to_numpy()
                  & cells["plant_id"].isin(plants.index).to_numpy()]
    rows = []
    sites = case.sites.set_index("site_id")
    all_hubs = case.hubs.set_index("hub_id")
    for lane in cells.sort_values(["site_id", "product_id", "plant_id", "hub_id"]
                                  ).itertuples(index=False):
        hub = str(lane.hub_id)
        pre = CRYOPRESERVATION_HOURS if lane.temperature_class == "cryogenic" else 0.0
        total = float(lane.transit_hours)
        wait = float(hubs.at[hub, "wait_hours"])
        first = pd.to_numeric(pd.Series([getattr(lane, "first_leg_hours", None)]),
                              errors="coerce").iloc[0]
        if not np.isfinite(first):
            first = _leg_hours(sites, all_hubs, [(lane.site_id, hub)], case.transport)[0]
        rows.append((lane.site_id, lane.product_id, str(lane.plant_id), hub, pre, first, wait,
                     total - pre - wait, total, float(lane.n)))
    out = pd.DataFrame(rows, columns=INBOUND_LANE_COLUMNS)
    out["share"] = out["share"] / out.groupby(["site_id", "product_id", "plant_id"])[
        "share"].transform("sum")
    return out


def _site_product_table(flows: pd.DataFrame, shipments: pd.DataFrame) -> pd.DataFrame:
    """The optimizer's figures per site and product, to set the simulation against."""
    patients = flows.groupby(["site_id", "product_id"])["patients_per_year"].sum()
    doses = shipments[shipments["leg"].isin(["direct", "partner_delivery"])].groupby(
        ["site_id", "product_id"])["doses_per_year"].sum()
    out = pd.DataFrame({"model_patients_per_year": patients})
    out["model_doses_per_year"] = doses.reindex(out.index).fillna(0.0)
    return out.reset_index()
