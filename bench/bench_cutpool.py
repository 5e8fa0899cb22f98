"""Where HiGHS's root bound on the national per-site model (models/us-launch-per-site.yaml,
the default until 2026-12-06) comes from: its root cut pool, sorted by what the cuts link,
and what each kind lifts the LP by.

Run from the repository root (about 12 minutes: HiGHS's root alone takes most of it):

    python bench/bench_cutpool.py
    python bench/bench_cutpool.py --loop-seconds 240 --seconds 900   # a longer cut loop first

The model is the one the bound worker gets in a 60-s solve: the model after the linking cut
loop (its share of the minute, `--loop-seconds`). HiGHS then solves it on one thread without
presolve, so that its cuts are written in the model's own columns, and hands over its cut
pool when its root cut rounds end (`kCallbackMipGetCutPool`); the run stops there. Each cut
is sorted by the columns it holds:

- `linking`: two columns, a patient flow x and a decision its site needs (offer w,
  onboarding o, equipment e, site y): the rows x <= patients x decision, which the loop adds
  for the offers only where the LP violates them;
- `segment`: ordering segments (z), their patients (n) and flows (x) of one site: the family
  of the loop's segment volume cuts (model/ordering.py);
- `one site`: any other cut within one site's columns;
- `network`: several sites, or hubs, partners, plants, unserved patients.

Then the LP relaxation is solved with every linking row x <= patients x offer (the fully
linked LP, which a converged cut loop equals) and each kind of cut on top: what a cut loop
would gain by separating that kind itself. Target 1 of #14 needs a proven bound about
$0.6M above the fully linked LP within the minute; this says which cuts hold it.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo

from netopt.data.case import load_case
from netopt.model.build import MONEY, build_model
from netopt.model.prepare import prepare
from netopt.solver.arrays import highs_from_arrays, model_arrays
from netopt.solver.highs import _Highs, separate_linking

ROOT = Path(__file__).resolve().parents[1]
NATIONAL = ROOT / "models" / "us-launch-per-site.yaml"
#: the decisions a patient flow needs at its site: a two-column cut of one of these and an x
#: is a linking row
SITE_DECISIONS = frozenset({"w", "o", "e", "y"})
#: the columns of the ordering choice of a site-product
SEGMENT_FAMILIES = frozenset({"n", "x", "z"})
KINDS = ("linking", "segment", "one site", "network")


@dataclass
class Columns:
    """Per column of the model HiGHS holds: its variable family (the Pyomo component's
    name) and the site it belongs to ('' for hubs, partners, plants and demand points)."""

    family: list[str]
    site: list[str]


def columns_of(solver: _Highs, m: pyo.ConcreteModel) -> Columns:
    """The family and site of every column `solver` holds for model `m`."""
    lane_site = {i: sk[0] for sk, lanes in m.lanes_by_sk.items() for i in lanes}
    link_site = {i: sk[0] for sk, links in m.links_by_sk.items() for i in links}

    def site(name: str, index) -> str:  # noqa: ANN001 - a Pyomo index
        if name in ("w", "o", "e"):
            return str(index[0])
        if name == "y":
            return str(index)
        if name == "x":
            return str(m.pair_sk[index][0])
        if name in ("z", "n"):
            return str(m.ord_sk[index][0])
        if name == "f":
            return str(lane_site[index])
        if name == "q":
            return str(link_site[index])
        return ""

    count = solver._solver_model.getNumCol()
    family, sites = [""] * count, [""] * count
    column = solver._pyomo_var_to_solver_var_map
    for var in m.component_objects(pyo.Var, active=True):
        for index, v in var.items():
            j = column.get(id(v))
            if j is not None:
                family[j], sites[j] = var.local_name, site(var.local_name, index)
    return Columns(family, sites)


def kind_of(cols: np.ndarray, columns: Columns) -> str:
    """Which of KINDS a cut over the columns `cols` is."""
    families = [columns.family[j] for j in cols]
    sites = {columns.site[j] for j in cols}
    if (len(cols) == 2 and len(sites) == 1 and "x" in families
            and {f for f in families if f != "x"} <= SITE_DECISIONS and families.count("x") == 1):
        return "linking"
    if len(sites) == 1 and "" not in sites:
        return ("segment" if set(families) <= SEGMENT_FAMILIES and "z" in families
                else "one site")
    return "network"


@dataclass
class Pool:
    """HiGHS's cut pool in row form, and the bound and seconds when it was taken."""

    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    bound: float
    seconds: float

    def cut(self, c: int) -> np.ndarray:
        return self.index[self.start[c]:self.start[c + 1]]


def root_pool(arrays: dict, seconds: float, seed: int) -> Pool | None:
    """HiGHS's root on `arrays` (one thread, no presolve) to the end of its cut rounds, its
    bound printed as it rises; the cut pool then, or None if `seconds` ran out first."""
    highspy.Highs.resetGlobalScheduler(True)
    h = highs_from_arrays(arrays)
    for option, value in (("threads", 1), ("presolve", "off"), ("time_limit", seconds),
                          ("random_seed", seed), ("mip_rel_gap", 0.0)):
        h.setOptionValue(option, value)
    began = time.perf_counter()
    taken: list[Pool] = []
    best = [-np.inf]
    kinds = highspy.cb.HighsCallbackType

    def callback(kind, message, out, data_in, user) -> None:  # noqa: ANN001, ARG001
        if kind == kinds.kCallbackMipGetCutPool:
            taken.append(Pool(np.array(out.cutpool_start), np.array(out.cutpool_index),
                              np.array(out.cutpool_value), np.array(out.cutpool_lower),
                              np.array(out.cutpool_upper), float(out.mip_dual_bound),
                              time.perf_counter() - began))
        elif taken:
            data_in.user_interrupt = True  # the pool is all this run is for
        elif np.isfinite(out.mip_dual_bound) and out.mip_dual_bound > best[0] + 1.0:
            best[0] = out.mip_dual_bound
            print(f"  {time.perf_counter() - began:6.1f} s  root bound "
                  f"${out.mip_dual_bound * MONEY:,.0f}", flush=True)

    h.setCallback(callback, None)
    h.startCallback(kinds.kCallbackMipGetCutPool)
    h.startCallback(kinds.kCallbackMipInterrupt)
    h.run()
    return taken[0] if taken else None


def linking_rows(m: pyo.ConcreteModel, solver: _Highs) -> tuple[list[int], list[int], list[float]]:
    """Every pair's row x <= patients x offer as (x column, w column, patients)."""
    column = solver._pyomo_var_to_solver_var_map
    rows = ([], [], [])
    for p in m.P:
        rows[0].append(column[id(m.x[p])])
        rows[1].append(column[id(m.w[m.pair_sk[p]])])
        rows[2].append(float(m.patients_of_pair[p]))
    return rows


def lp_with(arrays: dict, links: tuple, pool: Pool, cuts: np.ndarray) -> tuple[float, float]:
    """The LP relaxation of `arrays` with every linking row and the pool's `cuts`: its
    optimum and seconds."""
    h = highs_from_arrays(arrays)
    n = arrays["num_col"]
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
    x_col, w_col, patients = links
    starts, index, value, lower, upper = [], [], [], [], []
    for x, w, d in zip(x_col, w_col, patients, strict=True):
        starts.append(len(index))
        index += [x, w]
        value += [1.0, -d]
        lower.append(-highspy.kHighsInf)
        upper.append(0.0)
    for c in cuts:
        starts.append(len(index))
        index += pool.cut(c).tolist()
        value += pool.value[pool.start[c]:pool.start[c + 1]].tolist()
        lower.append(pool.lower[c])
        upper.append(pool.upper[c])
    h.addRows(len(starts), np.array(lower), np.array(upper), len(index),
              np.array(starts, np.int32), np.array(index, np.int32), np.array(value))
    h.setOptionValue("threads", 1)
    began = time.perf_counter()
    h.run()
    return float(h.getInfo().objective_function_value), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=NATIONAL)
    parser.add_argument("--loop-seconds", type=float, default=24.0,
                        help="the cut loop's budget (24 s: its share of a 60-s solve)")
    parser.add_argument("--seconds", type=float, default=900.0,
                        help="HiGHS's limit for its root cut rounds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    case = load_case(args.model)
    m = build_model(prepare(case))
    solver = _Highs()
    solver.set_instance(m)
    began = time.perf_counter()
    loop = separate_linking(solver, m, case.config.solver, False, args.loop_seconds)
    arrays = model_arrays(solver._solver_model)
    columns = columns_of(solver, m)
    print(f"cut loop: LP ${loop * MONEY:,.0f} in {time.perf_counter() - began:.1f} s; model "
          f"{arrays['num_row']:,} rows, {arrays['num_col']:,} columns")
    pool = root_pool(arrays, args.seconds, args.seed)
    if pool is None:
        print(f"HiGHS's root cut rounds did not end within {args.seconds:g} s: no pool")
        return
    count = len(pool.start) - 1
    kinds = np.array([kind_of(pool.cut(c), columns) for c in range(count)])
    print(f"root cut rounds ended after {pool.seconds:.0f} s at ${pool.bound * MONEY:,.0f}: "
          f"{count:,} cuts in its LP: "
          + ", ".join(f"{k} {int((kinds == k).sum()):,}" for k in KINDS))
    common = Counter("+".join(sorted({columns.family[j] for j in pool.cut(c)}))
                     for c in range(count) if kinds[c] != "linking")
    print("  columns of the other cuts, most common: "
          + ", ".join(f"{f} {n}" for f, n in common.most_common(8)))
    links = linking_rows(m, solver)
    base, seconds = lp_with(arrays, links, pool, np.array([], int))
    print(f"fully linked LP ${base * MONEY:,.0f} ({seconds:.0f} s)")
    for label, cuts in [(k, np.flatnonzero(kinds == k)) for k in KINDS[1:]] + [
            ("all", np.arange(count))]:
        value, seconds = lp_with(arrays, links, pool, cuts)
        print(f"  + {label:9s} {len(cuts):6,d} cuts: ${value * MONEY:,.0f} "
              f"(+${(value - base) * MONEY:,.0f}, {seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
