"""solver.method = facility: Benders on the site decisions, proven against the whole model.

The facility problem (sites with fixed costs and patient capacities, demand points assigned to
sites at their per-patient costs, unserved patients at their penalty, the min/max number of
active sites, locked sites) is a RELAXATION of netopt's model whenever every other cost term
can only add cost (non-negative coefficients on non-negative variables): the other families
are dropped, never approximated. So the Benders bound (`benders.py`) is a proven lower bound
of the whole model. The best network is then lifted: the whole model is built over the pairs
of its open sites, the sites are fixed, and HiGHS solves what is left (offers, lanes, hubs...).
When that costs no more than the bound allows (the dropped families cost nothing or little),
the network is optimal for the whole model; otherwise the plain MILP runs (the caller's
fallback). A model whose objective has savings or revenue (negative coefficients) is not
relaxed by dropping them, so the method does not apply there.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable

import numpy as np
import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn

from ..data.config import SolverSettings
from ..model.build import build_model
from ..model.common import MONEY
from ..model.prepare import Prepared, with_pairs
from .benders import Benders, BendersResult, FacilityData, MasterInfeasible
from .highs import solve_model
from .info import CLOCK, SolveInfo, model_size
from .network_start import StartNetwork, network_of

log = logging.getLogger(__name__)

#: share of the time limit kept for lifting the network into the whole model
LIFT_SHARE = 0.2
LIFT_MIN_SECONDS = 5.0
#: relative agreement of the model's objective coefficients with the facility data
COEF_TOL = 1e-9
#: HiGHS's default absolute MIP gap (k$), also used by the decomposition
ABS_GAP = 1e-6


class NotApplicable(Exception):
    """The model has something the facility relaxation cannot drop; says what."""


def _probe(prep: Prepared) -> pyo.ConcreteModel:
    """The whole model over one pair per demand (its cheapest): every family and cost term
    is there, at a size that builds in a moment, to read the objective's coefficients."""
    pairs = prep.pairs
    first = (pairs.sort_values("cost_usd_per_patient", kind="stable")
             .drop_duplicates(["point_id", "product_id"]).sort_index())
    return build_model(dataclasses.replace(prep, pairs=first.reset_index(drop=True)))


def _cheap_checks(prep: Prepared) -> None:
    """What rules the relaxation out without building anything: ordering options that save
    money against per-patient shipping (negative cost lines) make dropping that family no
    relaxation. The probe below checks every coefficient; this spares a national model the
    probe's build when the answer is already known."""
    options = prep.ordering
    if options is not None and len(options) and (
            (options["cost_lo_usd"] < 0) | (options["cost_hi_usd"] < 0)).any():
        raise NotApplicable("ordering options carry savings (negative costs)")
    depots = prep.depots
    if depots is not None and len(depots) and (
            (depots["cost_lo_usd"] < 0) | (depots["cost_hi_usd"] < 0)).any():
        raise NotApplicable("pooled depot stock carries savings (negative costs)")


def _objective(m: pyo.ConcreteModel) -> tuple[dict[int, float], float, dict[int, object]]:
    repn = generate_standard_repn(m.obj.expr, compute_values=True, quadratic=False)
    if repn.nonlinear_expr is not None:
        raise NotApplicable("the objective is not linear")
    coef: dict[int, float] = {}
    var_of: dict[int, object] = {}
    for v, c in zip(repn.linear_vars, repn.linear_coefs, strict=True):
        coef[id(v)] = coef.get(id(v), 0.0) + float(c)
        var_of[id(v)] = v
    return coef, float(repn.constant), var_of


def facility_data(prep: Prepared) -> tuple[FacilityData, float, list[str]]:
    """(data, objective constant, site ids) of the facility relaxation of prep's model, in
    k$ and patients. Raises NotApplicable with the reason."""
    cfg = prep.case.config
    if cfg.objective != "cost":
        raise NotApplicable(f"objective {cfg.objective!r} (revenue is not a cost to drop)")
    if prep.pairs.empty:
        raise NotApplicable("no demand point can reach a site")
    _cheap_checks(prep)
    probe = _probe(prep)
    coef, constant, var_of = _objective(probe)
    sites = list(probe.S)
    site_index = {s: i for i, s in enumerate(sites)}
    handled = {id(probe.y[s]) for s in sites}
    handled |= {id(v) for v in probe.x.values()} | {id(v) for v in probe.u.values()}
    for vid, c in coef.items():
        v = var_of[vid]
        if vid in handled or c == 0:
            continue
        if c < 0 or v.lb is None or v.lb < 0:
            raise NotApplicable(f"cost of {v.name} can be negative (coefficient {c:g})")
        if v.lb > 0:
            constant += c * float(v.lb)
    # the model's own coefficients for y and u; pair costs checked on the probe's pairs
    fixed = np.array([coef.get(id(probe.y[s]), 0.0) for s in sites])
    probe_cost = probe.prep.pairs["cost_usd_per_patient"].to_numpy() / MONEY
    for i, v in probe.x.items():
        if not math.isclose(coef.get(id(v), 0.0), probe_cost[i], rel_tol=COEF_TOL,
                            abs_tol=1e-12):
            raise NotApplicable(f"{v.name} carries costs beyond its assignment cost")
    lower = np.array([1.0 if probe.y[s].fixed and probe.y[s].value > 0.5 else 0.0
                      for s in sites])
    upper = np.array([0.0 if probe.y[s].fixed and probe.y[s].value < 0.5 else 1.0
                      for s in sites])
    demand = prep.demand
    customers = list(zip(demand["point_id"], demand["product_id"], strict=True))
    penalty = np.array([coef.get(id(probe.u[z, k]), 0.0) if probe.u[z, k].ub != 0 else math.inf
                        for z, k in customers])
    cust_index = {c: j for j, c in enumerate(customers)}
    pairs = prep.pairs
    data = FacilityData(
        fixed=fixed,
        capacity=prep.sites.loc[sites, "capacity_patients_per_year"].to_numpy(float),
        demand=demand["patients"].to_numpy(float),
        penalty=penalty,
        site=pairs["site_id"].map(site_index).to_numpy(np.int64),
        customer=np.array([cust_index[c] for c in zip(pairs["point_id"], pairs["product_id"],
                                                      strict=True)], dtype=np.int64),
        cost=pairs["cost_usd_per_patient"].to_numpy(float) / MONEY,
        lower=lower, upper=upper,
        min_open=cfg.sites.min_active, max_open=cfg.sites.max_active)
    return data, constant, sites


def _lift(prep: Prepared, sites: list[str], result: BendersResult, settings: SolverSettings,
          tee: bool, time_limit: float, used_only: bool) -> tuple[pyo.ConcreteModel, SolveInfo]:
    """The whole model at the decomposition's network, sites fixed: HiGHS decides the rest.
    Over the pairs of the open sites, pairs at closed sites can carry nothing, so this is the
    whole model at that network. With used_only, over the pairs the decomposition's assignment
    uses: a restriction, so a cost that meets the bound is still proven optimal, and on
    pmed40 (90 open sites x 900 customers) it builds 900 pairs instead of 81,000."""
    opened = {s for s, v in zip(sites, result.y, strict=True) if v > 0.5}
    keep = prep.pairs["site_id"].isin(opened).to_numpy()
    if used_only:
        keep = keep & (result.x > 0)
    m = build_model(with_pairs(prep, keep))
    for s in m.S:
        m.y[s].fix(1 if s in opened else 0)
    lift = settings.model_copy(update={"warm_start": False})
    info = solve_model(m, lift, tee=tee, time_limit=time_limit)
    for s in m.S:
        m.y[s].unfix()
    return m, info


def _proven(info: SolveInfo, bound: float, settings: SolverSettings) -> tuple[bool, float]:
    gap = abs(info.objective - bound) / max(abs(info.objective), 1e-9)
    return gap <= settings.mip_gap or info.objective - bound <= ABS_GAP, gap


def solve_facility(prep: Prepared, settings: SolverSettings, tee: bool = False,
                   progress: Callable[[str], None] | None = None,
                   starts: list[tuple[StartNetwork, float]] | None = None
                   ) -> tuple[pyo.ConcreteModel, SolveInfo] | None:
    """Solve prep's model by the facility decomposition; None when it does not apply or
    could not prove its network (the caller then runs the plain MILP). `progress` hears of
    the decomposition only when it applies, so the user is not told of a method that never
    ran. `starts`: where the whole model at the decomposition's network has a solution that
    is not proven (other families bind), that network and the decomposition's bound (valid:
    its master drops families, a relaxation) are appended, for the MILP to start from (on
    us-small with a 200-dose plant and a 3-s limit the MILP alone ended at $10.60M where that
    network cost $4.64M)."""
    started = time.perf_counter()
    limit = float(settings.time_limit)
    try:
        data, constant, sites = facility_data(prep)
    except NotApplicable as exc:
        log.info("facility decomposition does not apply: %s", exc)
        return None
    if progress is not None:
        progress(f"solving by facility decomposition (limit {limit:g}s)")
    budget = limit - (time.perf_counter() - started)
    budget -= max(LIFT_MIN_SECONDS, LIFT_SHARE * limit)
    benders = Benders(data, gap=float(settings.mip_gap), threads=int(settings.threads),
                      seed=int(settings.seed), abs_gap=ABS_GAP)
    decomposed = time.perf_counter()
    try:
        result = benders.solve(max(budget, 1.0))
    except MasterInfeasible:
        log.info("facility decomposition: the site limits conflict; the MILP diagnoses it")
        return None
    decomposed_seconds = time.perf_counter() - decomposed
    log.info("facility decomposition: %s objective=%s bound=%.10g %s", result.status,
             result.objective, result.bound, result.stats)
    if result.y is None:
        return None
    bound = result.bound + constant
    for used_only in (True, False):
        left = max(1.0, limit - (time.perf_counter() - started))
        m, info = _lift(prep, sites, result, settings, tee, left, used_only)
        if info.has_solution and _proven(info, bound, settings)[0]:
            break
    if not info.has_solution:
        log.info("the decomposition's network is infeasible in the whole model (%s)",
                 info.status)
        return None
    proven, gap = _proven(info, bound, settings)
    if not proven and result.status == "optimal":
        log.info("the whole model costs %.10g at the decomposition's network, above its "
                 "bound %.10g: other families bind", info.objective, bound)
        if starts is not None:
            starts.append((network_of(m), bound))
        return None
    n_var, n_bin, n_con = model_size(m)
    info = dataclasses.replace(
        info, status="optimal" if proven and info.status == "optimal" else "feasible",
        bound=bound, gap=gap, solve_seconds=time.perf_counter() - started,
        n_variables=n_var, n_binaries=n_bin, n_constraints=n_con, method="facility",
        stages=[{"stage": "facility decomposition", "stopped": "optimal"
                 if result.status == "optimal" else CLOCK,  # Benders stops at its gap or time
                 "seconds": round(decomposed_seconds, 3), "objective": None
                 if result.objective is None else result.objective + constant}, *info.stages])
    return m, info


__all__ = ["NotApplicable", "facility_data", "solve_facility"]
