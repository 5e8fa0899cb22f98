"""A solved network evaluated in another model: its design held, everything else re-solved.

A network designed on aggregated demand points is priced on the geography it was built from.
What it really costs shows when the same sites, onboardings, equipment, hubs and partners
serve the patients where they live: load the network from its result folder, build the other
model (the fine geography of `zones.gazetteer_extract`, say), hold the design and solve the
rest (assignments, flows, ordering options). Against that model's own optimum the difference
is the price of aggregation. The N-1 analysis (`resilience.py`) holds a network the same way.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import pyomo.environ as pyo

from ..data.case import Case
from ..data.problems import InputError, Problem
from ..data.tables import display_path
from ..model.build import build_model
from ..model.common import group
from ..model.prepare import Prepared, over_offers, prepare
from ..results.tables import Results, extract
from ..solver.diagnose import NoNetworkInTime
from ..solver.highs import held_settings, solve_model
from ..solver.network_start import StartNetwork

log = logging.getLogger(__name__)


def _truthy(v: object) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class ChosenNetwork:
    """The design decisions of a result: what is active, onboarded, equipped and offered."""

    sites: frozenset[str]
    onboarded: frozenset[tuple[str, str]]  # (site, therapeutic area)
    equipped: frozenset[tuple[str, str]]  # (site, temperature class)
    offered: frozenset[tuple[str, str]]  # (site, product)
    hubs: frozenset[str]
    partners: frozenset[str]


def site_pairs(sites: pd.DataFrame, col: str) -> frozenset[tuple[str, str]]:
    """(site, item) for each item of an active site's `;`-joined `col` of sites.csv
    (products_offered, onboarded_areas, equipped_classes); none where the column is absent."""
    if col not in sites.columns:
        return frozenset()
    active = sites[sites["active"].map(_truthy)]
    cells = active[col].astype(object).fillna("")
    return frozenset((str(sid), v) for sid, cell in zip(active["site_id"], cells, strict=True)
                     for v in str(cell).split(";") if v)


def chosen_network(result: Results) -> ChosenNetwork:
    """The network of a result's sites, hubs and partners tables (a folder read back works)."""
    sites = result.sites
    active = sites[sites["active"].map(_truthy)]
    hubs, partners = result.hubs, result.partners
    return ChosenNetwork(
        sites=frozenset(active["site_id"]), onboarded=site_pairs(sites, "onboarded_areas"),
        equipped=site_pairs(sites, "equipped_classes"),
        offered=site_pairs(sites, "products_offered"),
        hubs=frozenset(hubs.loc[hubs["active"].map(_truthy), "hub_id"]),
        partners=frozenset(partners.loc[partners["active"].map(_truthy), "partner_id"]))


def check_network(case: Case, result: Results, chosen: ChosenNetwork, why: str) -> None:
    """Every active facility must exist in the case; InputError naming each one otherwise,
    at its row of the result's table (the result is what does not fit the model)."""
    problems = []
    model = display_path(case.model_path) if case.model_path else case.name
    for kind, ids, known in (("site", chosen.sites, set(case.sites["site_id"])),
                             ("hub", chosen.hubs, set(case.hubs["hub_id"])),
                             ("partner", chosen.partners, set(case.partners["partner_id"]))):
        missing = sorted(ids - known)
        if not missing:
            continue
        rows = {str(v): i + 2 for i, v in enumerate(getattr(result, f"{kind}s")[f"{kind}_id"])}
        file = (display_path(result.folder / f"{kind}s.csv") if result.folder is not None
                else f"the network's {kind}s")
        for i in missing:
            problems.append(Problem(file, rows.get(i), f"{kind}_id",
                                    f"active {kind} {i} is not in the dataset of {model}: "
                                    f"{why}", i))
    if problems:
        raise InputError(problems)


def fix_network(m: pyo.ConcreteModel, chosen: ChosenNetwork) -> None:
    """Fix the model's design to the chosen network. A site may stop offering a product
    (it is left free to drop an offer nobody uses), never start one: onboarding takes months."""
    for s in m.S:
        m.y[s].fix(1 if s in chosen.sites else 0)
    for s, a in m.SA:
        m.o[s, a].fix(1 if (s, a) in chosen.onboarded else 0)
    for s, t in m.ST:
        m.e[s, t].fix(1 if (s, t) in chosen.equipped else 0)
    for s, k in m.SK:
        if (s, k) not in chosen.offered:
            m.w[s, k].fix(0)
    for h in m.H:
        m.g[h].fix(1 if h in chosen.hubs else 0)
    for p in m.Pa:
        m.a[p].fix(1 if p in chosen.partners else 0)


#: patients a year a site-product's volume may lie outside its segment's ends by, and still
#: be held in it (finance.csv rounds nothing; the solve's tolerances do)
SEGMENT_TOLERANCE = 1e-6


def ordering_start(m: pyo.ConcreteModel, network: Results) -> StartNetwork | None:
    """The network's ordering choice per site-product (finance.csv's policy, at the volume
    segment holding its patients), as a start for the held solve: that (option, segment)
    held at 1 and the site-product's others at 0, so the start's solve is the LP of the
    network's flows. The held MIP stops at its gap, so without it a network evaluated in its
    own model could come back dearer than its own solve said (the national default:
    +$88,150, 0.07 %); from it, never: the network's own values are feasible for that LP.
    In another model, where a site-product's patients no longer fit the segment, the start
    is not feasible and the solve goes on without it. None when the model has no ordering
    choice or the result no finance table."""
    finance = network.finance
    if not len(getattr(m, "ORD", [])) or finance is None or finance.empty:
        return None
    sites = finance[finance["row"] == "site"] if "row" in finance.columns else finance
    keys = list(zip(sites["site_id"].astype(str), sites["product_id"].astype(str),
                    strict=True))
    twice = {key for key, n in Counter(keys).items() if n > 1}  # no one choice to hold
    chosen = {key: (str(p), str(r), float(n)) for key, p, r, n in zip(
        keys, sites["policy"], sites["route"], sites["patients_per_year"], strict=True)
        if key not in twice}
    options = m.prep.ordering
    held: dict = {}
    for key, segs in group(list(m.ORD), lambda i: m.ord_sk[i]).items():
        if key not in chosen:
            continue
        policy, route, patients = chosen[key]
        fits = [i for i in segs if (str(options.at[i, "policy"]), str(options.at[i, "route"]))
                == (policy, route) and options.at[i, "lo_patients"] - SEGMENT_TOLERANCE
                <= patients <= options.at[i, "hi_patients"] + SEGMENT_TOLERANCE]
        if not fits:
            continue
        one = min(fits, key=lambda i: (options.at[i, "lo_patients"], i))
        held.update({i: int(i == one) for i in segs})
    return {m.z.name: held} if held else None


@dataclass
class Evaluation:
    """A network's cost in another model: the result of the held solve."""

    result: Results
    chosen: ChosenNetwork
    #: offers of the network the model has no pair, lane or option for (they cannot be used)
    unusable_offers: int = 0
    #: what of the network the model cannot hold, one line each (a facility excluded there)
    warnings: list[str] = field(default_factory=list)


def dropped_facilities(case: Case, m: pyo.ConcreteModel, chosen: ChosenNetwork) -> list[str]:
    """The network's active facilities the model has no decision for: excluded in it (status
    or an edit), or without a pair, lane or link there. They are held closed, so the cost
    is that of a smaller network: said, not left for the user to notice."""
    out = []
    for kind, ids, index, table, col in (
            ("site", chosen.sites, m.S, case.sites, "site_id"),
            ("hub", chosen.hubs, m.H, case.hubs, "hub_id"),
            ("partner", chosen.partners, m.Pa, case.partners, "partner_id")):
        excluded = set(table.loc[table["status"] == "excluded", col]) if len(table) else set()
        for i in sorted(ids - set(index)):
            why = ("is excluded there" if i in excluded else
                   "has no patients, lane or link there it could serve")
            out.append(f"active {kind} {i} of the network {why}: it is held closed")
    return out


def refuse_timeline(case: Case, what: str) -> None:
    """A launch timeline (`timeline.periods` > 1) opens sites period by period, so a held or
    flipped network of one steady-state year has no meaning there; say so rather than
    answer for the steady state under the timeline's name."""
    periods = case.config.timeline.periods
    if periods > 1:
        raise InputError([Problem(
            str(case.model_path or case.name), None, "timeline.periods",
            f"{what} in one steady-state year, but this model has a launch timeline of "
            f"{periods} periods. To ask it of the plan's end network, hold that network in "
            "a steady-state copy of the model (without `timeline:`): `netopt evaluate "
            "RESULT_DIR STEADY.yaml --out HELD`, then run this on HELD")])


def evaluate_network(case: Case, network: Results, time_limit: float | None = None,
                     prepared: Prepared | None = None, model: pyo.ConcreteModel | None = None,
                     tee: bool = False) -> Evaluation:
    """Solve `case` with the design of `network` held: sites, onboarding, equipment, hubs and
    partners as chosen (offers may only be dropped); assignments, flows and ordering options
    free. `prepared` / `model`: the case already prepared / built (a fresh, unsolved model),
    to skip that work. Raises InputError when an active facility is not in the case or when
    the held network cannot serve the case's hard requirements (service level, KOLs...)."""
    file = str(network.summary.get("model_file") or "network")
    refuse_timeline(case, "evaluate holds one network")
    chosen = chosen_network(network)
    check_network(case, network, chosen, "the network is evaluated only on its own facilities")
    # the network's offers only: the pairs of the others carry nothing with it held
    m = model if model is not None else build_model(
        over_offers(prepared or prepare(case), chosen.offered))
    unusable = len(chosen.offered - set(m.SK))
    dropped = dropped_facilities(case, m, chosen)
    fix_network(m, chosen)
    m.held_offers = True  # unserved.csv: a patient without a pair lost it to the held offers
    settings = held_settings(case.config.solver)
    info = solve_model(m, settings, tee=tee, time_limit=time_limit, capacity_values=True,
                       start_network=ordering_start(m, network),
                       start_name="ordering")
    if info.out_of_time:
        limit = settings.time_limit if time_limit is None else time_limit
        raise NoNetworkInTime.now([f"the network held in {case.name} was not solved within "
                                   f"{limit:g}s (its flows and ordering options); raise "
                                   "--time-limit"], info)
    if not info.has_solution:
        raise InputError([Problem(file, None, None,
                                  f"the network has no solution in {case.name} with its design "
                                  f"held ({info.status}): a hard requirement of that model "
                                  "(service level, KOLs, budget) is not met by it")])
    result = extract(m, info)
    result.summary["settings"]["solver"] = settings.model_dump(mode="json")
    result.summary["evaluated_network"] = file
    return Evaluation(result, chosen, unusable, dropped)


__all__ = ["ChosenNetwork", "Evaluation", "check_network", "chosen_network", "site_pairs",
           "dropped_facilities", "evaluate_network", "fix_network", "ordering_start",
           "refuse_timeline"]
