"""N-1 analysis of a chosen network: take out one active hub (or partner) at a time and
re-route on what is left.

The network the result chose is fixed - sites, their onboarding and equipment, hubs and
partners stay as decided (a site may stop offering a product, never start one: onboarding
takes months) - and the flows are re-solved without the facility. The baseline is the same
fixed model with nothing out, so every difference is the outage's alone: patients who can no
longer be treated, and the cost increase (including the unserved penalty of those patients;
the failed facility's fixed cost is still paid), split into the network's cash cost and the
unserved penalty.
Design rules (backup hubs, service level, KOLs, budget, the minimum numbers of active sites,
hubs and partners) are switched off for the re-solves:
an outage is something to measure, not a constraint the network can refuse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..data.case import Case
from ..data.problems import InputError, Problem
from ..model.build import build_model
from ..model.common import MONEY
from ..model.prepare import prepare
from ..results.tables import Results, extract, unserved_penalty_usd
from ..solver.diagnose import NoNetworkInTime
from ..solver.variants import exact, solve_variants
from .evaluate import check_network, chosen_network, fix_network

log = logging.getLogger(__name__)

COLUMNS = ["rank", "kind", "facility_id", "name", "status", "patients_unserved",
           "extra_patients_unserved", "cost_usd", "cost_increase_usd", "cost_increase_pct",
           "network_cost_increase_usd", "penalty_increase_usd", "network_cost_usd",
           "unserved_penalty_usd", "sites_using", "doses_per_year_through"]


@dataclass
class Resilience:
    """The ranked N-1 table and the fixed baseline it is measured against."""

    table: pd.DataFrame
    baseline_cost_usd: float
    baseline_unserved: float
    #: the baseline's unserved penalty (its network cost is baseline_cost_usd minus this)
    baseline_penalty_usd: float = 0.0


#: patients a year are reported (and ranked) to this many decimals
PATIENT_DECIMALS = 6
#: design rules, not operating limits: an outage is measured, not forbidden. The minimum
#: counts of active facilities are among them: a network with exactly `hubs.min_active` hubs
#: breaks that rule whenever one is out, and the re-solve must still say what the outage costs
DESIGN_RULES = ("backup_hub", "service_level", "kol_required", "kol_coverage", "budget",
                "min_sites", "min_hubs", "min_partners")


def n_minus_1(case: Case, result: Results, partners: bool = True,
              time_limit: float | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> Resilience:
    """Re-route the chosen network without each active hub (and partner), one at a time:
    each outage is its own re-solve, run side by side on the cores `solver.threads` allows."""
    chosen = chosen_network(result)
    prep = prepare(case)
    m = build_model(prep)
    check_network(case, chosen, str(result.summary.get("model_file") or "result"),
                  "re-solve before the N-1 analysis")
    fix_network(m, chosen)
    for name in DESIGN_RULES:
        component = getattr(m, name, None)
        if component is not None:
            component.deactivate()
    # the network is fixed, but ordering options and depot stock are still choices: solve
    # them to optimality, so the baseline is never above the solved network's own cost
    settings = exact(case.config.solver)
    outages = [("hub", h) for h in sorted(chosen.hubs)]
    if partners:
        outages += [("partner", p) for p in sorted(chosen.partners)]
    # the baseline (nothing out) and every outage, re-solved side by side
    # (solver/variants.py); each outcome is read while its solution is loaded
    variants = {None: [], **{o: [(m.g[o[1]] if o[0] == "hub" else m.a[o[1]], 0.0, 0.0)]
                            for o in outages}}
    outcome: dict = {}
    baseline = None
    for done, (key, info) in enumerate(solve_variants(m, settings, variants, time_limit),
                                           start=1):
        if progress:
            progress(f"{key[0]} {key[1]} out: done" if key else "baseline: done", done,
                     len(variants))
        if key is None:
            baseline = info
        if not info.has_solution:
            outcome[key] = (info.status, float("nan"), float("nan"), float("nan"))
            continue
        res = extract(m, info)
        outcome[key] = (info.status, info.objective * MONEY,
                        float(res.summary["patients_unserved"]),
                        unserved_penalty_usd(res.tables["costs"]))
    status0, cost0, unserved0, penalty0 = outcome[None]
    if baseline is not None and baseline.out_of_time:
        limit = settings.time_limit if time_limit is None else time_limit
        raise NoNetworkInTime.now([f"the chosen network, re-solved with its decisions fixed, "
                                   f"gave no solution within {limit:g}s; raise --time-limit"],
                                  baseline)
    if status0 not in ("optimal", "feasible"):
        raise InputError([Problem(str(result.summary.get("model_file")), None, None,
                                  f"the chosen network does not solve with its decisions fixed "
                                  f"({status0}); re-solve the model")])
    ship = result.shipments
    names = {**dict(zip(case.hubs["hub_id"], case.hubs["name"], strict=True)),
             **dict(zip(case.partners["partner_id"], case.partners["name"], strict=True))}
    fixed = {("hub", h): float(c) for h, c in zip(
        case.hubs["hub_id"], case.hubs["annual_fixed_cost_usd"], strict=True)}
    fixed.update({("partner", p): float(c) for p, c in zip(
        case.partners["partner_id"], case.partners["annual_fixed_cost_usd"], strict=True)})
    rows = []
    for kind, fid in outages:
        status, cost, unserved, penalty = outcome[(kind, fid)]
        cost += fixed[(kind, fid)]  # the contract is paid during an outage too
        col = "hub_id" if kind == "hub" else "partner_id"
        through = ship[ship[col].astype(str) == fid] if col in ship.columns else ship.iloc[0:0]
        rows.append({
            "kind": kind, "facility_id": fid, "name": names.get(fid, ""), "status": status,
            "patients_unserved": unserved, "extra_patients_unserved": unserved - unserved0,
            "cost_usd": cost, "cost_increase_usd": cost - cost0,
            "cost_increase_pct": 100 * (cost - cost0) / cost0 if cost0 else float("nan"),
            # the loss split: cash the network spends more, and the penalty of the patients
            # it can no longer treat (a planning device, not cash)
            "network_cost_increase_usd": (cost - penalty) - (cost0 - penalty0),
            "penalty_increase_usd": penalty - penalty0,
            "network_cost_usd": cost - penalty, "unserved_penalty_usd": penalty,
            "sites_using": int(through["site_id"].nunique()) if len(through) else 0,
            "doses_per_year_through": float(through["doses_per_year"].sum()),
        })
    if progress:
        progress("done", len(variants), len(variants))
    table = rank_outages(pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"]))
    return Resilience(table, cost0, unserved0, penalty0)


def rank_outages(table: pd.DataFrame) -> pd.DataFrame:
    """Rank outages by patients lost, then by cost increase. Patients a year are kept to a
    millionth: the LP's round-off (3e-14 on the national default) must not rank one outage
    above another that loses the same patients."""
    table = table.copy()
    for col in ("patients_unserved", "extra_patients_unserved"):
        table[col] = table[col].round(PATIENT_DECIMALS) + 0.0  # + 0.0: no "-0.0"
    table = table.sort_values(["extra_patients_unserved", "cost_increase_usd"],
                              ascending=False, ignore_index=True, kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


__all__ = ["Resilience", "n_minus_1", "rank_outages"]
