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
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import pandas as pd
import pyomo.environ as pyo

from ..data.case import Case
from ..data.config import SolverSettings
from ..data.problems import InputError, Problem
from ..model.build import build_model
from ..model.common import MONEY
from ..model.policy import FIXED_TERMS
from ..model.prepare import prepare
from ..results.tables import Results, extract, unserved_penalty_usd
from ..solver import machine
from ..solver.diagnose import NoNetworkInTime
from ..solver.highs import solve_model
from ..solver.info import SolveInfo
from ..solver.variants import exact, process_context, quiet_worker, stop_pool
from .evaluate import (
    ChosenNetwork,
    check_network,
    chosen_network,
    fix_network,
    refuse_timeline,
)

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
    #: the solved network's own objective, which the baseline may undercut (solved_note)
    solved_cost_usd: float | None = None


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
    each outage is its own model, prepared without the facility as if it were excluded, so
    every ordering option is priced on the lanes that are left, and solved to optimality;
    the baseline and the outages run side by side on the cores `solver.threads` allows."""
    lacking = sorted({"site_id", "doses_per_year"} - set(result.shipments.columns))
    if lacking:  # checked before minutes of re-solves, not after them
        raise InputError([Problem("shipments.csv", None, col, "no such column in the result: "
                                  "re-solve the model to write a complete shipments.csv")
                          for col in lacking])
    refuse_timeline(case, "resilience takes one facility out of the network")
    chosen = chosen_network(result)
    check_network(case, result, chosen, "re-solve before the N-1 analysis")
    # the network is fixed, but ordering options and depot stock are still choices: solve
    # them to optimality, so the baseline is never above the solved network's own cost
    settings = exact(case.config.solver)
    outages = [("hub", h) for h in sorted(chosen.hubs)]
    if partners:
        outages += [("partner", p) for p in sorted(chosen.partners)]
    outcome: dict = {}
    jobs: list[Outage | None] = [None, *outages]
    for done, (key, figures) in enumerate(_solve_outages(case, chosen, jobs, settings,
                                                         time_limit), start=1):
        if progress:
            progress(f"{key[0]} {key[1]} out: done" if key else "baseline: done", done,
                     len(jobs))
        outcome[key] = figures
    baseline = outcome[None][0]
    if baseline.out_of_time:
        limit = settings.time_limit if time_limit is None else time_limit
        raise NoNetworkInTime.now([f"the chosen network, re-solved with its decisions fixed, "
                                   f"gave no solution within {limit:g}s; raise --time-limit"],
                                  baseline)
    if not baseline.has_solution:
        raise InputError([Problem(str(result.summary.get("model_file")), None, None,
                                  f"the chosen network does not solve with its decisions fixed "
                                  f"({baseline.status}); re-solve the model")])
    cost0 = baseline.objective * MONEY
    _, unserved0, penalty0, fixed0 = outcome[None]
    ship = result.shipments
    names = {**dict(zip(case.hubs["hub_id"], case.hubs["name"], strict=True)),
             **dict(zip(case.partners["partner_id"], case.partners["name"], strict=True))}
    rows = []
    for kind, fid in outages:
        info, unserved, penalty, fixed_left = outcome[(kind, fid)]
        status = info.status
        cost = info.objective * MONEY if info.has_solution else float("nan")
        # the held network's fixed costs the outage model no longer holds are still paid:
        # the facility's own contract, and a site or partner the outage leaves without a
        # lane (prepare drops it, and its fixed, onboarding and equipment costs with it)
        cost += fixed0 - fixed_left
        col = "hub_id" if kind == "hub" else "partner_id"
        through = ship[ship[col].astype(str) == fid] if col in ship.columns else ship.iloc[0:0]
        # a partner's supply leg reaches no site: its site_id is "" in a solve's table, NaN
        # read back from shipments.csv; counted by neither
        sites = through["site_id"].dropna().astype(str)
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
            "sites_using": int(sites[sites != ""].nunique()),
            "doses_per_year_through": float(through["doses_per_year"].sum()),
        })
    if progress:
        progress("done", len(jobs), len(jobs))
    table = rank_outages(pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"]))
    solved = result.summary.get("objective_usd", result.summary.get("objective"))
    return Resilience(table, cost0, unserved0, penalty0,
                      float(solved) if isinstance(solved, int | float) else None)


#: one outage: ("hub" or "partner", its id)
Outage = tuple[str, str]


def _without(case: Case, outage: Outage) -> Case:
    """The case with the facility excluded, as `edits: [{table: hubs, where: {hub_id: H},
    set: {status: excluded}}]` would make it (and no longer locked open). Lanes are ranked
    among every hub, excluded ones too (prepare's nearest lanes), so the outage model has
    the network's lanes less the facility's; the ordering options are then tabulated on
    what is left. Holding the network in the base model instead kept each stock option's
    price on the lost hub's lane: on us-small that overstated three of four hub outages by
    58-98 % and swapped two ranks."""
    kind, fid = outage
    table, col = ("hubs", "hub_id") if kind == "hub" else ("partners", "partner_id")
    frame = case.tables[table].copy()
    frame.loc[frame[col].astype(str) == fid, "status"] = "excluded"
    rules = getattr(case.config, table)
    config = case.config.model_copy(update={table: rules.model_copy(update={
        "lock_open": [x for x in rules.lock_open if x != fid]})})
    return Case(config, {**case.tables, table: frame}, case.model_path, case.dataset_path,
                list(case.warnings), case.places)


def _outage_figures(case: Case, chosen: ChosenNetwork, outage: Outage | None,
                    settings: SolverSettings, time_limit: float | None
                    ) -> tuple[SolveInfo, float, float, float]:
    """One re-solve (the baseline when `outage` is None): the network held, the design rules
    off, solved to optimality. (SolveInfo, patients unserved, unserved penalty USD, the held
    network's fixed costs the model holds, USD: FIXED_TERMS, constant once it is held)."""
    m = build_model(prepare(case if outage is None else _without(case, outage)))
    fix_network(m, chosen)
    for name in DESIGN_RULES:
        component = getattr(m, name, None)
        if component is not None:
            component.deactivate()
    fixed = sum(pyo.value(m.cost_terms[t]) for t in FIXED_TERMS if t in m.cost_terms) * MONEY
    info = solve_model(m, settings, time_limit=time_limit)
    if not info.has_solution:
        return info, float("nan"), float("nan"), float(fixed)
    res = extract(m, info)
    return (info, float(res.summary["patients_unserved"]),
            unserved_penalty_usd(res.tables["costs"]), float(fixed))


def _solve_outages(case: Case, chosen: ChosenNetwork, jobs: list[Outage | None],
                   settings: SolverSettings, time_limit: float | None
                   ) -> Iterator[tuple[Outage | None, tuple[SolveInfo, float, float, float]]]:
    """Each job's figures as it finishes: in worker processes, one per thread
    `solver.threads` allows (each HiGHS with one thread, so a table whose re-solves all reach
    optimality does not depend on the workers or their order), or here with one. Ctrl-C
    stops the workers at once."""
    one = settings.model_copy(update={"threads": 1})
    workers = min(int(settings.threads), len(jobs), machine.cores())
    if workers <= 1:
        for job in jobs:
            yield job, _outage_figures(case, chosen, job, one, time_limit)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=process_context([__name__]),
                               initializer=quiet_worker)
    try:
        futures = {pool.submit(_outage_figures, case, chosen, job, one, time_limit): i
                   for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            job = jobs[futures[future]]
            try:
                figures = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
                log.warning("outage %s: worker failed (%s: %s); solving it here", job,
                            type(exc).__name__, exc)
                figures = _outage_figures(case, chosen, job, one, time_limit)
            yield job, figures
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


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
