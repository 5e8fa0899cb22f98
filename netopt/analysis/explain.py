"""Why a site was, or was not, chosen: re-solve with the site's decision flipped.

A strategist asks "why not site X?" (or "why X?"). The answer is a counterfactual: the same
model with the site forced open (or closed, if the solution has it open), compared with the
solved network. By default the network is held except around the site: its nearest
NEIGHBOURS sites that can treat the same patients may open, close or change offers, and the
hubs and partners any of them could use may open; every assignment, flow and ordering option
is re-optimised, in the flipped network and in the solved one alike, both to optimality. The
difference is then the site's alone: a national solve stops 1-2 % from optimal, and a whole
re-solve of the flipped model (`redesign`) differs from the solved network by that search as
much as by the site (on the national default, Queens forced open moved San Jose patients
too). The cost difference split by term says what the decision
trades (fixed costs against patient travel, transport, partner fees...), the assignments
that move say who would be treated elsewhere, and the limits around the site (capacity,
chair hours, minimum volume, price ceiling, lanes within shelf life, hub and partner
capacity, facility counts, budget) say which of them bind. A site that cannot be chosen at
all is answered from the reasons `prepare` recorded, without a solve.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import pandas as pd
import pyomo.environ as pyo

from ..data.case import Case
from ..data.problems import InputError, Problem
from ..model.build import build_model
from ..model.policy import FIXED_TERMS
from ..model.prepare import Prepared, prepare
from ..results.tables import Results, extract, site_reasons
from ..solver.diagnose import requirement_reasons
from ..solver.highs import solve_model
from ..solver.info import SolveInfo
from ..solver.neighbourhoods import NEIGHBOURS, nearest_sites
from ..solver.network_start import StartNetwork
from ..solver.variants import exact, solve_variants
from .evaluate import chosen_network, fix_network, refuse_timeline, site_pairs

log = logging.getLogger(__name__)

TOL = 1e-6


@dataclass
class Explanation:
    """The counterfactual for one site (and product): what changes and what binds."""

    site_id: str
    product_id: str | None
    action: str  # "forced open", "forced closed", "cannot be chosen"
    baseline_cost_usd: float
    forced_cost_usd: float | None = None
    status: str = ""
    gap: float | None = None
    #: term, baseline_usd, forced_usd, difference_usd (largest change first)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: zone_id, zone_name, product_id, from_site, to_site, patients_per_year
    moves: pd.DataFrame = field(default_factory=pd.DataFrame)
    limits: list[str] = field(default_factory=list)
    #: the solved network's own cost (baseline_cost_usd is the held network re-optimised,
    #: or the same as this with `redesign`)
    solved_cost_usd: float | None = None
    #: held (the rest of the network held, both sides to optimality) or redesign
    method: str = "held"
    #: held: the sites re-chosen with the flipped one (`_neighbours`)
    neighbours: list[str] = field(default_factory=list)
    #: held: offers the held network, re-optimised, drops or adds against the solved one
    #: ("S045 cart_onc (2.0 patients/yr)"): its figures are the held network's
    held_changes: dict[str, list[str]] = field(default_factory=dict)

    def moves_around(self) -> pd.DataFrame:
        """The moves from or to the site or one of its neighbours. The others are knock-on
        effects (plant or hub capacity freed or taken) and routings of equal cost that the
        two solves break differently."""
        near = {self.site_id, *self.neighbours}
        m = self.moves
        if m.empty or self.method != "held":
            return m
        return m[m["from_site"].isin(near) | m["to_site"].isin(near)]

    @property
    def difference_usd(self) -> float | None:
        if self.forced_cost_usd is None:
            return None
        return self.forced_cost_usd - self.baseline_cost_usd


def _truthy(v: object) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def _split(cell: object) -> list[str]:
    return [v for v in str(cell if isinstance(cell, str) else "").split(";") if v]


def start_network_of(result: Results) -> StartNetwork:
    """The saved network's design decisions (sites, offers, onboarding, equipment, hubs,
    partners) as a start for a re-solve (ordering options are left to the solver)."""
    sites, hubs, partners = result.sites, result.hubs, result.partners
    y, w, o, e = {}, {}, {}, {}
    for r in sites.itertuples(index=False):
        y[r.site_id] = int(_truthy(r.active))
        for k in _split(r.products_offered):
            w[(r.site_id, k)] = 1
        for a in _split(r.onboarded_areas):
            o[(r.site_id, a)] = 1
        for t in _split(r.equipped_classes):
            e[(r.site_id, t)] = 1
    return {"y": y, "w": w, "o": o, "e": e,
            "g": {h: int(_truthy(v)) for h, v in zip(hubs["hub_id"], hubs["active"],
                                                    strict=True)},
            "a": {p: int(_truthy(v)) for p, v in zip(partners["partner_id"],
                                                    partners["active"], strict=True)}}


def _without_site(network: StartNetwork, site: str) -> StartNetwork:
    """The start with the site's own decisions left free (the forcing sets them)."""
    out: StartNetwork = {}
    for name, values in network.items():
        out[name] = {k: v for k, v in values.items()
                     if k != site and not (isinstance(k, tuple) and k[0] == site)}
    return out


def _force(m: pyo.ConcreteModel, site: str, product: str | None, open_: bool) -> None:
    """Fix the flipped decision: the site (or its offer of the product) open or closed. A
    site forced open must offer some product (an open site treating nobody says nothing)."""
    offers = [k for s, k in m.SK if s == site and (product is None or k == product)]
    if not open_:
        if product is None:
            m.y[site].fix(0)
        for k in offers:
            m.w[site, k].fix(0)
        return
    m.y[site].fix(1)
    if product is not None:
        m.w[site, product].fix(1)
    else:
        m.explain_offers = pyo.Constraint(expr=pyo.quicksum(m.w[site, k] for k in offers) >= 1)


def _costs(base: pd.DataFrame, forced: pd.DataFrame) -> pd.DataFrame:
    b = base.set_index("term")["usd_per_year"]
    f = forced.set_index("term")["usd_per_year"]
    terms = [t for t in dict.fromkeys([*b.index, *f.index]) if t != "total"]
    out = pd.DataFrame({"term": terms,
                        "baseline_usd": [float(b.get(t, 0.0)) for t in terms],
                        "forced_usd": [float(f.get(t, 0.0)) for t in terms]})
    out["difference_usd"] = out["forced_usd"] - out["baseline_usd"]
    out = out[out["difference_usd"].abs() > 0.5]
    out = out.reindex(out["difference_usd"].abs().sort_values(ascending=False).index)
    total = pd.DataFrame([{"term": "total", "baseline_usd": float(b.get("total", 0.0)),
                           "forced_usd": float(f.get("total", 0.0)),
                           "difference_usd": float(f.get("total", 0.0) - b.get("total", 0.0))}])
    return pd.concat([out, total], ignore_index=True)


def moved_patients(base: pd.DataFrame, forced: pd.DataFrame) -> pd.DataFrame:
    """Patients per year whose site changes, per zone and product: the sites that lose them
    matched to the sites that gain them (unserved counts as the site "unserved")."""
    cols = ["zone_id", "zone_name", "product_id", "from_site", "to_site", "patients_per_year"]
    key = ["zone_id", "product_id", "site_id"]
    none = pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=key))
    a = base.groupby(key)["patients_per_year"].sum() if len(base) else none
    b = forced.groupby(key)["patients_per_year"].sum() if len(forced) else none
    diff = b.sub(a, fill_value=0.0)
    diff = diff[diff.abs() > 1e-4]
    names = dict(zip(pd.concat([base, forced])["zone_id"], pd.concat([base, forced])["zone_name"],
                     strict=True)) if len(base) or len(forced) else {}
    rows = []
    for (zone, k), grp in diff.groupby(level=[0, 1]):
        lose = [[s, -v] for (_, _, s), v in grp.items() if v < 0]
        gain = [[s, v] for (_, _, s), v in grp.items() if v > 0]
        lost_total = sum(v for _, v in lose)
        gain_total = sum(v for _, v in gain)
        if gain_total > lost_total + 1e-4:
            lose.append(["unserved", gain_total - lost_total])
        elif lost_total > gain_total + 1e-4:
            gain.append(["unserved", lost_total - gain_total])
        i = j = 0
        while i < len(lose) and j < len(gain):
            n = min(lose[i][1], gain[j][1])
            if n > 1e-4:
                rows.append((zone, names.get(zone, ""), k, lose[i][0], gain[j][0], n))
            lose[i][1] -= n
            gain[j][1] -= n
            if lose[i][1] <= 1e-9:
                i += 1
            if gain[j][1] <= 1e-9:
                j += 1
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["patients_per_year", "zone_id"], ascending=[False, True],
                           ignore_index=True)


def _patients_at(result: Results, site: str) -> pd.Series:
    a = result.assignments
    return a[a["site_id"] == site].groupby("product_id")["patients_per_year"].sum() \
        if len(a) else pd.Series(dtype=float)


def _forced_offer(prep: Prepared, site: str, open_result: Results) -> str:
    """What forcing a site open asks of it: to offer some product (an open site treating
    nobody answers nothing), at least at its minimum volume."""
    sites = open_result.sites.set_index("site_id")
    offers = _split(sites.at[site, "products_offered"]) if site in sites.index else []
    need = float(prep.sites.at[site, "min_patients_per_year"])
    return ("forced open: it must offer at least one product"
            + (f", at its min_patients_per_year of {need:g} or more" if need > 0 else "")
            + f"; it offers {', '.join(offers) or 'none'}")


def _site_limits(prep: Prepared, site: str, product: str | None, open_result: Results | None
                 ) -> list[str]:
    """Capacity, chair hours, minimum volume and lanes of the site, with whether they bind
    in the solution where it is open."""
    out = []
    row = prep.sites.loc[site]
    if open_result is not None:
        got = _patients_at(open_result, site)
        total = float(got.sum())
        cap = float(row["capacity_patients_per_year"])
        out.append(f"capacity: {total:,.1f} of {cap:,.1f} patients/yr"
                   + (" - binds" if total >= cap - 1e-4 else ""))
        chair = prep.products["chair_hours_per_patient"]
        hours = float(sum(got.get(k, 0.0) * chair[k] for k in got.index))
        ch = float(row["chair_hours_per_year"])
        out.append(f"chair hours: {hours:,.0f} of {ch:,.0f}/yr"
                   + (" - binds" if hours >= ch - 1e-3 else ""))
        need = float(row["min_patients_per_year"])
        for k, n in got.items():
            if need > 0 and n <= need + 1e-4:
                out.append(f"minimum volume: {k} treats {n:,.1f} = the site's "
                           f"min_patients_per_year {need:g} - binds")
    sp = prep.site_products[prep.site_products["site_id"] == site]
    pairs = prep.pairs[prep.pairs["site_id"] == site]
    for r in sp.itertuples(index=False):
        if product is not None and r.product_id != product:
            continue
        budget = float(prep.products.at[r.product_id, "shelf_budget_hours"])
        lane = (f"lane {r.product_id}: fastest route {r.best_outbound_hours:.1f} h of a "
                f"{budget:g} h shelf budget ({budget - r.best_outbound_hours:.1f} h slack)")
        if not math.isnan(r.vein_to_vein_days):
            lane += f"; vein-to-vein {r.vein_to_vein_days:.1f} d"
        near = pairs[pairs["product_id"] == r.product_id]
        demand = prep.demand.set_index(["point_id", "product_id"])["patients"]
        reach = sum(float(demand.get((p, r.product_id), 0.0)) for p in near["point_id"])
        lane += (f"; {reach:,.1f} patients/yr live within its "
                 f"{prep.products.at[r.product_id, 'max_patient_travel_km']:g} km reach")
        lane += _aged_cadence(open_result, site, r.product_id)
        out.append(lane)
    return out


def _aged_cadence(result: Results | None, site: str, product: str) -> str:
    """'; doses drawn from H01's stock have aged there: 1 dose a shipment, not 2' where the
    site draws the product from a depot's stock: the fresh lane above is not what limits
    such a delivery, the doses' age at the depot is (concepts, pooled depot stock)."""
    ships = getattr(result, "tables", {}).get("shipments") if result is not None else None
    if ships is None or not {"from_depot_stock", "doses_per_shipment", "site_id",
                             "product_id"} <= set(ships.columns):
        return ""
    aged = ships[(ships["site_id"] == site) & (ships["product_id"] == product)
                 & ships["from_depot_stock"].astype(bool)]
    if aged.empty:
        return ""
    r = aged.iloc[0]
    depot = r["hub_id"] if isinstance(r["hub_id"], str) and r["hub_id"] else r["partner_id"]
    got = float(r["doses_per_shipment"])
    asked = float(r.get("doses_per_shipment_requested", got))
    if got >= asked:  # their age costs no shipments here
        return f"; doses drawn from {depot}'s stock, {got:g} a shipment"
    return (f"; doses drawn from {depot}'s stock have aged there: {got:g} dose(s) a shipment, "
            f"not the {asked:g} asked")


def _network_limits(prep: Prepared, result: Results, site: str) -> list[str]:
    """Hubs and partners serving the site near capacity, facility counts and the budget."""
    out = []
    ships = result.shipments
    if len(ships):
        mine = ships[ships["site_id"] == site]
        for h in sorted(set(mine["hub_id"].dropna()) - {""}):
            r = result.hubs.set_index("hub_id").loc[h]
            use = float(r["utilisation"])
            out.append(f"hub {h}: {use:.0%} of its shipment capacity"
                       + (" - binds" if use >= 1 - 1e-4 else ""))
        for p in sorted(set(mine.get("partner_id", pd.Series(dtype=object)).dropna()) - {""}):
            r = result.partners.set_index("partner_id").loc[p]
            cap = float(r["capacity_doses_per_year"])
            use = float(r["doses_per_year"]) / cap if cap > 0 else 0.0
            out.append(f"partner {p}: {use:.0%} of its dose capacity"
                       + (" - binds" if use >= 1 - 1e-4 else ""))
    cfg = prep.case.config
    status = prep.sites.at[site, "status"] if site in prep.sites.index else ""
    if (status == "existing" and cfg.sites.existing == "locked") or site in cfg.sites.lock_open:
        out.append("locked open (sites.existing: locked, or sites.lock_open): the solve could "
                   "not close it; the forced-closed re-solve shows what closing would change")
    n_active = int(result.sites["active"].map(_truthy).sum())
    if cfg.sites.max_active is not None:
        out.append(f"sites.max_active {cfg.sites.max_active}: {n_active} active"
                   + (" - binds" if n_active >= cfg.sites.max_active else ""))
    if cfg.budget_fixed_usd is not None:
        fixed = _fixed_costs(result)
        budget = float(cfg.budget_fixed_usd)
        out.append(f"budget_fixed_usd ${budget:,.0f}: fixed costs ${fixed:,.0f} a year"
                   + (" - binds" if fixed >= budget - max(1.0, 1e-6 * budget) else ""))
    return out


def _fixed_costs(result: Results) -> float:
    """The annual fixed costs the budget caps (FIXED_TERMS of the costs table), so a budget
    that binds is said to, as sites.max_active is."""
    costs = result.costs.set_index("term")["usd_per_year"]
    return float(sum(float(costs.get(t, 0.0)) for t in FIXED_TERMS))


def explain_site(case: Case, result: Results, site: str, product: str | None = None,
                 time_limit: float | None = None, redesign: bool = False) -> Explanation:
    """Flip `site` (or its offer of `product`) from `result`'s decision and compare costs,
    assignments and limits: in the solved network held (default), or in a whole re-solve
    started from it (`redesign`)."""
    refuse_timeline(case, "explain flips one site of the network")
    prep = prepare(case)
    all_sites = set(case.sites["site_id"])
    problems = []
    if site not in all_sites:
        problems.append(Problem("SITE_ID", None, "site_id",
                                f"unknown site {site!r}: not in the dataset's sites.csv", site))
    if product is not None and product not in prep.products.index:
        problems.append(Problem("--product", None, "product_id",
                                f"unknown product {product!r}: not a product of the model",
                                product))
    if problems:
        raise InputError(problems)
    base_cost = _total(result)
    sites = result.sites.set_index("site_id")
    is_open = bool(_truthy(sites.at[site, "active"])) if site in sites.index else False
    if is_open and site not in prep.sites.index:
        raise InputError([_excluded_now(site)])
    if product is not None and is_open:
        is_open = product in _split(sites.at[site, "products_offered"])
    paired = {k for s, k in zip(prep.pairs["site_id"], prep.pairs["product_id"], strict=True)
              if s == site}
    usable = paired if product is None else paired & {product}
    static = site_reasons(prep).get(site, "")
    if not is_open and not usable:
        why = static or f"cannot be chosen - {product}: not eligible at the site"
        return Explanation(site, product, "cannot be chosen", base_cost, limits=[why],
                           solved_cost_usd=base_cost)
    action = "forced closed" if is_open else "forced open"
    method = "redesign" if redesign else "held"
    m = build_model(prep)
    if is_open and (site not in m.S or (product is not None and (site, product) not in m.SK)):
        # active in the solved network, but the model as it is now cannot hold it (its data
        # changed since, or another case was given): nothing of it to flip
        raise InputError([_excluded_now(site, product, static or site_reasons(
            prep, getattr(m, "ord_too_few", {})).get(site, ""))])
    # with the model's own: every ordering option at the site needs more patients than reach it
    too_few = getattr(m, "ord_too_few", {})
    static = site_reasons(prep, too_few).get(site, "")
    if not is_open and all((site, k) in too_few for k in usable):  # nothing it could offer
        return Explanation(site, product, "cannot be chosen", base_cost, limits=[static],
                           solved_cost_usd=base_cost)
    if redesign:
        _force(m, site, product, open_=not is_open)
        start = _without_site(start_network_of(result), site)
        info = solve_model(m, case.config.solver, time_limit=time_limit, start_network=start)
        base = _Side(base_cost, result, None)
        flipped = _Side.of(m, info)
        around: list[str] = []
    else:
        around = _neighbours(m, site)
        base, flipped = _held(m, case, result, site, around, product, is_open, time_limit)
    if base.result is None or flipped.result is None:
        failed = base if base.result is None else flipped
        status = failed.info.status if failed.info is not None else "no_solution"
        what = "the solved network held" if failed is base else f"the site {action}"
        out_of_time = failed.info is not None and failed.info.out_of_time
        named = [] if out_of_time else _why_not(
            prep, case, result, site, around, product, is_open, redesign,
            "held" if failed is base else "flipped", time_limit)
        why = ("the time limit ended before any solution: raise --time-limit" if out_of_time
               else "; ".join(named) if named else
               "a hard requirement (KOL, service level, limits, budget) cannot be met that way")
        return Explanation(site, product, action, base.cost, status=status,
                           solved_cost_usd=base_cost, method=method,
                           limits=[f"no solution with {what} ({status}): {why}"])
    changes = _held_changes(result, base.result) if method == "held" else {}
    open_result = base.result if is_open else flipped.result
    limits = _site_limits(prep, site, product, open_result)
    if not is_open and product is None:  # the flip itself shapes the answer: say how
        limits.insert(0, _forced_offer(prep, site, open_result))
    limits += _network_limits(prep, open_result, site)
    if static:
        limits.append(f"not eligible: {static}")
    infos = [i for i in (base.info, flipped.info) if i is not None]
    gaps = [i.gap for i in infos if i.gap is not None]
    return Explanation(
        site, product, action, base.cost, forced_cost_usd=flipped.cost,
        status="optimal" if all(i.status == "optimal" for i in infos) else "feasible",
        gap=max(gaps) if gaps else None, costs=_costs(base.result.costs, flipped.result.costs),
        moves=moved_patients(base.result.assignments, flipped.result.assignments),
        limits=limits, solved_cost_usd=base_cost, method=method, neighbours=around,
        held_changes=changes)


def _held_changes(result: Results, held: Results) -> dict[str, list[str]]:
    """Offers the held network, re-optimised to optimality, drops or adds against the solved
    network (a solve stopped at its gap may keep an offer of two patients that costs more
    than it saves): said, since the site's figures are then the held network's."""
    patients = result.assignments.groupby(["site_id", "product_id"])["patients_per_year"].sum()
    was, now = (site_pairs(r.sites, "products_offered") for r in (result, held))
    out = {}
    if was - now:
        out["drops"] = [f"{s} {k} ({float(patients.get((s, k), 0.0)):,.1f} patients/yr as "
                        "solved)" for s, k in sorted(was - now)]
    if now - was:
        out["adds"] = [f"{s} {k}" for s, k in sorted(now - was)]
    return out


def _total(result: Results) -> float:
    """A result's total cost a year (its costs table's total row)."""
    return float(result.costs.set_index("term").at["total", "usd_per_year"])


@dataclass
class _Side:
    """One side of the comparison: its cost, its tables (None: no solution) and its solve
    (None: the solved network as it was read)."""

    cost: float
    result: Results | None
    info: SolveInfo | None

    @classmethod
    def of(cls, m: pyo.ConcreteModel, info: SolveInfo) -> _Side:
        """The solution loaded in `m` (extracted while it is loaded)."""
        if not info.has_solution:
            return cls(float("nan"), None, info)
        res = extract(m, info)
        return cls(_total(res), res, info)


def _held(m: pyo.ConcreteModel, case: Case, result: Results, site: str, around: list[str],
          product: str | None, is_open: bool, time_limit: float | None) -> tuple[_Side, _Side]:
    """The solved network held around the site, and the same with the site flipped; both to
    optimality, side by side (solver/variants.py; see `_held_bounds`)."""
    held, flip = _held_bounds(m, result, site, around, product, is_open)
    sides = {key: _Side.of(m, info) for key, info in solve_variants(
        m, exact(case.config.solver), {"held": held, "flipped": flip}, time_limit)}
    return sides["held"], sides["flipped"]


def _held_bounds(m: pyo.ConcreteModel, result: Results, site: str, around: list[str],
                 product: str | None, is_open: bool) -> tuple[list[tuple], list[tuple]]:
    """`m` fixed to the solved network, and the bounds of its two variants: held and
    flipped. The site's neighbours (`around`) are free in both: their activation, offers,
    onboarding and equipment; so are the hubs and partners their lanes, starting material
    and partner links use, where the solution left them closed. Everything else keeps its
    decisions; the site's own onboarding, equipment and offers are re-chosen in the flipped
    network. The model's own fixings (sites locked open, offers no option can serve) stay."""
    fixed_by_model = {id(v) for v in m.component_data_objects(pyo.Var) if v.fixed}
    fix_network(m, chosen_network(result))
    closed_facilities = [v for v in _facilities_of(m, [site, *around]) if not v.value]
    neighbour_sites = [v for s in around for v in (
        m.y[s], *(m.w[sk] for sk in m.SK if sk[0] == s),
        *(m.o[sa] for sa in m.SA if sa[0] == s), *(m.e[st] for st in m.ST if st[0] == s))]
    for v in (*closed_facilities, *neighbour_sites):
        if v.fixed and id(v) not in fixed_by_model:
            v.unfix()

    def free(vs: list) -> list[tuple]:
        """Re-chosen (bounds 0..1), except what the model itself fixed: an offer no ordering
        option can serve, a site locked open."""
        return [(v, 0.0, 1.0) for v in vs if id(v) not in fixed_by_model]

    # the site's own onboarding and equipment are re-chosen on both sides (a solve stopped
    # at its gap may hold some it does not need: the flip must not be credited with that)
    own = free([m.o[sa] for sa in m.SA if sa[0] == site] + [m.e[st] for st in m.ST
                                                            if st[0] == site])
    offers = {k: m.w[s, k] for s, k in m.SK if s == site}
    held, flip = list(own), list(own)
    if is_open and product is None:  # closed, a lock included: nothing of it stays
        flip = [(v, 0.0, 0.0) for v in [m.y[site], *(v for v, _, _ in own), *offers.values()]]
    elif is_open:  # its offer of the product closed; the site may close if nothing is left
        flip += [*free([m.y[site]]), (offers[product], 0.0, 0.0)]
    elif product is None:  # open, offering at least one product (an open site treating
        # nobody says nothing); the row holds in the solved network too (the site closed)
        flip += [(m.y[site], 1.0, 1.0), *free(list(offers.values()))]
        m.explain_offers = pyo.Constraint(expr=pyo.quicksum(offers.values()) >= m.y[site])
    else:
        flip += [(m.y[site], 1.0, 1.0), (offers[product], 1.0, 1.0)]
    return held, flip


def _why_not(prep: Prepared, case: Case, result: Results, site: str, around: list[str],
             product: str | None, is_open: bool, redesign: bool, side: str,
             time_limit: float | None) -> list[str]:
    """Why a side of the flip has no solution, in the words of an infeasible solve's
    diagnosis: the same side in the elastic model (every hard requirement with a penalised
    slack), its non-zero slacks named (`requirement_reasons`). Empty when it finds none."""
    m = build_model(prep, elastic=True)
    settings = exact(case.config.solver)
    if redesign:
        _force(m, site, product, open_=not is_open)
        info = solve_model(m, settings, time_limit=time_limit)
        return requirement_reasons(m, prep) if info.has_solution else []
    held, flip = _held_bounds(m, result, site, around, product, is_open)
    for _, info in solve_variants(m, settings, {side: held if side == "held" else flip},
                                  time_limit):
        return requirement_reasons(m, prep) if info.has_solution else []
    return []


def _excluded_now(site: str, product: str | None = None, why: str = "") -> Problem:
    """An active site (or offer) of the solved network that the model as it is now excludes
    (status `excluded`, an edit) or cannot hold (`why`: no product it may offer there): the
    model has no decision of it to flip."""
    what = f"site {site!r}" if product is None else f"site {site!r}'s offer of {product!r}"
    now = (f"the model as it is now has no decision for it ({why})" if why else
           "excluded in the model as it is now (status excluded, or an edit)")
    return Problem("SITE_ID", None, "site_id",
                   f"{what} is active in the solved network but {now}: solve again, then "
                   "explain", site)


def _neighbours(m: pyo.ConcreteModel, site: str) -> list[str]:
    """The sites re-chosen with the flipped one: the NEIGHBOURS nearest to `site` among those
    that share a demand point with it (for any product), who take its patients when it
    closes and give them up when it opens."""
    return nearest_sites(m, NEIGHBOURS, [site])[site]


def _facilities_of(m: pyo.ConcreteModel, sites: list[str]) -> list:
    """Hub and partner decisions the sites' lanes, starting material and partner links use,
    and the hubs that supply those partners."""
    lanes = m.prep.direct_lanes
    hubs = set(lanes.loc[lanes["site_id"].isin(sites), "hub_id"])
    hubs |= {h for (s, _), hs in getattr(m, "inbound_hubs_of", {}).items() if s in sites
             for h in hs}
    links, supply = m.prep.partner_links, m.prep.partner_supply
    partners = set(links.loc[links["site_id"].isin(sites), "partner_id"])
    hubs |= set(supply.loc[supply["partner_id"].isin(partners), "hub_id"])  # their supply
    return [m.g[h] for h in sorted(hubs) if h in m.g] + [m.a[p] for p in sorted(partners)
                                                         if p in m.a]


__all__ = ["Explanation", "explain_site", "moved_patients", "start_network_of"]

