"""Cell reach cuts for an aggregated relaxation (model/relaxation.py): the patients a cell
sends to a set of sites come from the members that reach one of them, each at most what its
own reach of the offered sites allows.

The relaxation links each cell-site pair to its offer by x_Cj <= D_Cj w_j, with D_Cj the
patients of the members that reach site j: the sum over members of the fine model's rows
x_ij <= d_i w_j. A member's patients, though, are treated once: to a set T of sites it sends
at most d_i and at most d_i times the offers of the sites of T it reaches. So for every T and
every set M of members

    sum_{j in T} x_Cj  <=  sum_{i in M} d_i  +  sum_{i not in M} d_i sum_{j in T, i reaches j} w_j,

which the per-pair rows (T of one site) do not imply. With the offers integral it is Hall's
condition for the members-to-sites transportation problem: a cell cannot send its patients
to the open sites that only some of its members reach, as the single-site caps let it. Such
cuts are found per cell by a maximum flow from the members (arcs of d_i) through the pairs
they reach (d_i w_j) to the sites (x_Cj): where the flow falls short of the cell's x, the
minimum cut gives T (the sites on its sink side) and M (the members there).

On us-fine the relaxation held at one fine network (w integral) cost $249.32M without these
cuts and $255.81M after five rounds of them (238 cuts; its unserved CAR-T patients became the
fine model's at the same network), against $257.62M priced at full resolution
(bench/RESULTS.md): the gap between a cell's paper reach and its members' was most of the
relaxation's optimism.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

#: patients are scaled to integers for the maximum flow (scipy's is on int32 capacities):
#: 1e-5 patients a year is below any figure the model reports
FLOW_SCALE = 1e5
#: an arc no cut crosses (a member reaching a site)
UNBOUNDED = 2 * 10**9
#: patients a year a cut must be violated by, relative to the cell's patients
REACH_TOLERANCE = 1e-4


@dataclass
class _Cell:
    """One cell and product: its pairs in the model, its members' patients and which sites
    each member reaches."""

    pairs: np.ndarray  # model pair indices, one per site of the cell
    offers: list  # per site: the offer's VarData (w)
    patients: np.ndarray  # per member
    member: np.ndarray  # member code (0..n-1) of each member-site arc
    site: np.ndarray  # site position (in `pairs`) of each arc


def _index(m: pyo.ConcreteModel) -> list[_Cell]:
    """The cells of more than one site, built once per model (on us-fine's relaxation,
    1.47M member-site arcs, about a second)."""
    cached = getattr(m, "_cell_reach_index", None)
    if cached is not None:
        return cached
    keys = ["point_id", "site_id", "product_id"]
    pairs = m.prep.pairs[keys].assign(pair=np.arange(len(m.prep.pairs)))
    # the member-site arcs of pairs in the model (a held network's model has fewer)
    arcs = m.prep.cell_members.merge(pairs, on=keys).sort_values(
        ["point_id", "product_id", "pair", "member"], kind="stable")
    group = arcs.groupby(["point_id", "product_id"], sort=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], len(group)]
    pair = arcs["pair"].to_numpy()
    member = arcs["member"].to_numpy()
    patients = arcs["member_patients"].to_numpy(float)
    cells: list[_Cell] = []
    for start, end in zip(starts, ends, strict=True):
        index, site = np.unique(pair[start:end], return_inverse=True)
        if len(index) < 2:
            continue  # one site: its cap is the whole condition
        _, first, code = np.unique(member[start:end], return_index=True,
                                   return_inverse=True)
        cells.append(_Cell(index, [m.w[m.pair_sk[int(i)]] for i in index],
                           patients[start:end][first], code, site))
    m._cell_reach_index = cells
    return cells


def _violated(cell: _Cell, x: np.ndarray, w: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The most violated cut at the LP point (`x` the cell's x_Cj, `w` its sites' offers):
    the sites of T (positions in cell.pairs), the member-site arcs whose offers it counts,
    and the patients of M; None when the point is feasible."""
    used = x > 1e-9
    if used.sum() < 2:
        return None  # one site: the linking rows x_Cj <= D_Cj w_j are the whole condition
    n_members, n_sites = len(cell.patients), len(cell.pairs)
    sink = 1 + n_members + n_sites
    arc_site = 1 + n_members + cell.site
    rows = np.concatenate([np.zeros(n_members, dtype=int), 1 + cell.member,
                           1 + n_members + np.arange(n_sites)])
    cols = np.concatenate([1 + np.arange(n_members), arc_site, np.full(n_sites, sink)])
    caps = np.concatenate([np.round(cell.patients * FLOW_SCALE),
                           np.minimum(cell.patients[cell.member] * w[cell.site] * FLOW_SCALE,
                                      UNBOUNDED),
                           np.round(x * FLOW_SCALE)]).astype(np.int32)
    graph = sp.csr_matrix((caps, (rows, cols)), shape=(sink + 1, sink + 1))
    flow = maximum_flow(graph, 0, sink)
    short = (float(x.sum()) - flow.flow_value / FLOW_SCALE)
    if short <= REACH_TOLERANCE * max(float(cell.patients.sum()), 1.0):
        return None
    residual = (graph - flow.flow).tocsr()
    residual.data = (residual.data > 0).astype(np.int8)
    residual.eliminate_zeros()
    source_side = np.zeros(sink + 1, dtype=bool)
    source_side[breadth_first_order(residual, 0, return_predecessors=False)] = True
    # T is valid whatever it holds: leaving out the sites the LP sends nobody only drops
    # their offers from the right-hand side
    sites = np.flatnonzero(~source_side[1 + n_members:sink] & used)
    to_t = np.isin(cell.site, sites)
    reaches_t = np.zeros(n_members, dtype=bool)
    reaches_t[cell.member[to_t]] = True
    in_m = ~source_side[1:1 + n_members] & reaches_t
    arcs = np.flatnonzero(to_t & ~in_m[cell.member])
    rhs = float(cell.patients[in_m].sum())
    lifted = float((cell.patients[cell.member[arcs]] * w[cell.site[arcs]]).sum())
    if float(x[sites].sum()) - rhs - lifted <= REACH_TOLERANCE * max(
            float(cell.patients.sum()), 1.0):
        return None
    return sites, arcs, rhs


def separate_cell_reach(m: pyo.ConcreteModel) -> list:
    """Add to `m.cell_reach` the cuts (module docstring) the loaded LP values violate, one
    per cell and product; returns the new constraint data (for a persistent solver to add).
    Nothing for a model that is not an aggregated relaxation."""
    if getattr(m.prep, "cell_members", None) is None or not len(m.P):
        return []
    if not hasattr(m, "cell_reach"):
        m.cell_reach = pyo.ConstraintList()
    values = np.array([m.x[i].value or 0.0 for i in m.P])
    new = []
    for cell in _index(m):
        x = values[cell.pairs]
        if x.sum() <= 1e-9:
            continue
        w = np.clip([v.value or 0.0 for v in cell.offers], 0.0, 1.0)
        found = _violated(cell, x, w)
        if found is None:
            continue
        sites, arcs, rhs = found
        d = cell.patients[cell.member[arcs]]
        new.append(m.cell_reach.add(
            pyo.quicksum(m.x[int(i)] for i in cell.pairs[sites])
            <= rhs + pyo.quicksum(float(di) * cell.offers[int(j)]
                                  for di, j in zip(d, cell.site[arcs], strict=True))))
    return new


__all__ = ["separate_cell_reach"]
