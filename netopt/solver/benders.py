"""Benders decomposition for facility location on plain arrays (no Pyomo, no netopt tables).

The problem (a relaxation of netopt's network model, see `facility.py`):

    min  sum_i f_i y_i + sum_p c_p x_p + sum_j e_j u_j
    s.t. sum_{p of j} x_p + u_j = d_j              every customer j
         sum_{p of i} x_p <= s_i y_i               every site i
         0 <= x_p <= d_j y_i,  u_j >= 0 (= 0 where e_j is infinite)
         lo <= sum_i y_i <= hi,  y_i in {0, 1} within its own bounds

The master keeps the site binaries y and one variable theta per cut group; the assignment LP
for fixed y is the subproblem. When no site's capacity can bind, the subproblem splits by
customer and its optimal duals have a closed form (serve from the cheapest open sites): one
theta per customer, cuts computed in numpy. Otherwise the subproblem is the transportation LP,
re-solved by HiGHS from its last basis, with one aggregated theta (Fischetti, Ljubic & Sinnl
2016: Benders decomposition without separability).

The master also opens at least the fewest sites whose capacities cover the mandatory demand
(the rounded-up capacity cover: on capa 8000 it lifts the LP bound from 18,833 to 19,230
against the optimum 19,241).

The root is a cut loop on the master LP with in-out stabilisation (separate at a point between
the LP optimum and a core point), then reduced-cost fixing of the site binaries against the
incumbent. Then, with capacities, a Lagrangian branch-and-bound (`lagrangian.py`) starts from
the demand prices the master's duals put on its cuts (at the LP optimum they give the LP bound
exactly): its node bounds cost a sort instead of a cut loop. Without capacities, rounds of
master MIP solves: each round adds the cuts of every integer network HiGHS finds (improving-
solution callback) and stops when the master's bound meets the best evaluated network. Every
bound used is a relaxation's, so the bound reported is a proven lower bound.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import highspy
import numpy as np

from .arrays import quiet_highs, set_start
from .info import highs_threads
from .interchange import Interchange
from .interrupts import DEADLINE_SLACK, stop_at
from .lagrangian import DemandLagrangian, LagrangianSearch, Node, fewest_open

log = logging.getLogger(__name__)

INF = highspy.kHighsInf
#: cut violation (relative to the subproblem value) below which a cut is not added
CUT_TOL = 1e-9
#: in-out stabilisation: weight of the LP point, and root rounds without bound progress
#: before separating at the LP point itself
IN_OUT_LAMBDA = 0.5
STALL_ROUNDS = 3
ROOT_PROGRESS = 1e-7
#: with capacities the root stops when TAIL_ROUNDS rounds lifted the bound by less than
#: ROOT_TAIL (relative): the Lagrangian search refines the prices itself, and the last 0.03 %
#: of the LP bound cost capb 6000 200 of its 290 rounds
ROOT_TAIL = 1e-4
TAIL_ROUNDS = 10
#: share of the time left that the interchange search may take at the root
INTERCHANGE_SHARE = 0.25


@dataclass
class FacilityData:
    """Facility location on arrays: sites i, customers j, pairs p (site, customer, cost)."""

    fixed: np.ndarray  # f_i
    capacity: np.ndarray  # s_i
    demand: np.ndarray  # d_j
    penalty: np.ndarray  # e_j per unit unserved (inf: every unit must be served)
    site: np.ndarray  # site of pair p
    customer: np.ndarray  # customer of pair p
    cost: np.ndarray  # c_p per unit
    lower: np.ndarray  # y_i lower bound (1: locked open)
    upper: np.ndarray  # y_i upper bound (0: closed)
    min_open: int | None = None
    max_open: int | None = None

    @property
    def n_sites(self) -> int:
        return len(self.fixed)

    @property
    def n_customers(self) -> int:
        return len(self.demand)

    def separable(self) -> bool:
        """True when no capacity can bind: each site can hold all demand of its pairs."""
        load = np.bincount(self.site, weights=self.demand[self.customer],
                           minlength=self.n_sites)
        return bool(np.all(self.capacity >= load * (1 - 1e-12)))

    def must_serve(self) -> np.ndarray:
        return ~np.isfinite(self.penalty)

    def cover(self) -> tuple[np.ndarray, float]:
        """(capacity each site can give mandatory demand: at most the mandatory demand it
        reaches; that demand less a hair for rounding)."""
        must = self.must_serve()
        need = float(self.demand[must].sum()) * (1 - 1e-9)
        reach = np.bincount(self.site, weights=self.demand[self.customer] * must[self.customer],
                            minlength=self.n_sites)
        return np.minimum(self.capacity, reach), need

    def fewest_sites(self) -> int:
        """How many sites any feasible network opens at least: the largest capacities must
        add up to the mandatory demand. The rounded-up cover of the capacity row; the LP
        relaxation does not see it (it opens 6.4 sites of 8000 for 50,886 patients, where
        7 are needed) and on capa/b/c it closes most of the root gap."""
        usable, need = self.cover()
        if need <= 0:
            return 0
        return min(fewest_open(usable, need, np.zeros(self.n_sites), self.upper),
                   self.n_sites + 1)


@dataclass
class Cut:
    """theta_group >= const + coef . y (coef sparse over sites). `prices`: the demand prices
    the cut was made with (all customers' for a transportation cut, the one customer's for a
    closest-assignment cut): the master's duals weigh them into Lagrangian prices."""

    group: int
    const: float
    sites: np.ndarray
    coef: np.ndarray
    prices: np.ndarray | float | None = None

    def value(self, y: np.ndarray) -> float:
        return self.const + float(self.coef @ y[self.sites])


@dataclass
class Evaluation:
    """The subproblem at one y: its cost, per-group values, the cuts, and whether every
    must-serve customer was served (only meaningful at integer y)."""

    cost: float
    group_values: np.ndarray
    cuts: list[Cut]
    feasible: bool
    x: np.ndarray | None = None  # per pair (integer y only)
    u: np.ndarray | None = None


def _artificial_price(data: FacilityData) -> np.ndarray:
    """Price per unit left unserved where serving is mandatory: dearer than opening the
    dearest site and using the dearest pair, so no network the master prefers leaves anyone
    out when a feasible one exists; finite, so the subproblem is always feasible."""
    worst = np.zeros(data.n_customers)
    np.maximum.at(worst, data.customer, data.cost)
    top = float(np.max(data.fixed, initial=0.0))
    price = 2.0 * worst + top / np.maximum(data.demand, 1e-9) + 1.0
    return np.where(data.must_serve(), price, data.penalty)


class ClosestAssignment:
    """Subproblem without binding capacities: each customer is served from its cheapest open
    sites (fractional y fills in order of cost). One theta, one cut per customer."""

    def __init__(self, data: FacilityData) -> None:
        self.data = data
        order = np.lexsort((data.cost, data.customer))
        self.site = data.site[order]
        self.cust = data.customer[order]
        self.cost = data.cost[order]
        self.order = order
        n = data.n_customers
        self.start = np.searchsorted(self.cust, np.arange(n + 1))
        self.price = _artificial_price(data)
        self.n_groups = n

    def theta_lower(self) -> np.ndarray:
        cheapest = np.full(self.data.n_customers, np.inf)
        np.minimum.at(cheapest, self.cust, self.cost)
        return self.data.demand * np.minimum(cheapest, self.price)

    def evaluate(self, y: np.ndarray, want_cuts: np.ndarray | None = None) -> Evaluation:
        """want_cuts: customers whose cut is wanted (None: all)."""
        d = self.data
        n = d.n_customers
        yv = np.clip(y[self.site], 0.0, 1.0)
        cum = np.cumsum(yv)
        base = np.concatenate([[0.0], cum])[self.start[:-1]]
        cum_in = cum - base[self.cust]
        prev = cum_in - yv
        # share of each pair: what is left of the customer's unit when its turn comes
        share = np.clip(np.minimum(yv, 1.0 - prev), 0.0, None)
        filled = np.zeros(n)
        np.add.at(filled, self.cust, share)
        # dual price pi_j: cost of the pair that completes the unit (else the unserved price)
        crit = (prev < 1.0 - 1e-12) & (cum_in >= 1.0 - 1e-12) & (yv > 0)
        pi = self.price.copy()
        pi[self.cust[crit]] = np.minimum(self.cost[crit], self.price[self.cust[crit]])
        cheaper_than_price = self.cost < self.price[self.cust]
        share = np.where(cheaper_than_price, share, 0.0)
        served = np.zeros(n)
        np.add.at(served, self.cust, share)
        per_unit = np.zeros(n)
        np.add.at(per_unit, self.cust, share * self.cost)
        per_unit += (1.0 - served) * self.price
        values = d.demand * per_unit
        cuts = self._cuts(pi, want_cuts)
        feasible = bool(np.all(served[d.must_serve()] >= 1.0 - 1e-9))
        return Evaluation(float(values.sum()), values, cuts, feasible)

    def _cuts(self, pi: np.ndarray, want: np.ndarray | None) -> list[Cut]:
        d = self.data
        active = self.cost < pi[self.cust]
        cuts = []
        customers = range(d.n_customers) if want is None else np.flatnonzero(want)
        for j in customers:
            a, b = self.start[j], self.start[j + 1]
            sel = active[a:b]
            sites = self.site[a:b][sel]
            coef = -d.demand[j] * (pi[j] - self.cost[a:b][sel])
            cuts.append(Cut(int(j), float(d.demand[j] * pi[j]), sites, coef, float(pi[j])))
        return cuts

    def assignment(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Units per pair (in the data's pair order) and unserved units, for integer y."""
        d = self.data
        yv = np.clip(np.round(y[self.site]), 0.0, 1.0)
        yv = np.where(self.cost < self.price[self.cust], yv, 0.0)
        cum = np.cumsum(yv)
        base = np.concatenate([[0.0], cum])[self.start[:-1]]
        prev = cum - base[self.cust] - yv
        share = np.clip(np.minimum(yv, 1.0 - prev), 0.0, None)
        x = np.zeros(len(share))
        x[self.order] = share * d.demand[self.cust]
        served = np.zeros(d.n_customers)
        np.add.at(served, self.cust, share)
        return x, d.demand * (1.0 - served)


def _all_served(d: FacilityData, unserved: np.ndarray) -> bool:
    must = d.must_serve()
    return bool(np.all(unserved[must] <= 1e-6 * np.maximum(d.demand[must], 1.0)))


def _transportation(d: FacilityData, price: np.ndarray, pairs: np.ndarray,
                    sites: np.ndarray) -> highspy.HighsLp:
    """The transportation LP over the given pairs and site rows (every customer's demand row
    and its unserved column), pair bounds at full demand: the caller sets them by y."""
    n, npair, m = d.n_customers, len(pairs), len(sites)
    row_of_site = np.full(d.n_sites, -1)
    row_of_site[sites] = n + np.arange(m)
    lp = highspy.HighsLp()
    lp.num_col_ = npair + n
    lp.num_row_ = n + m
    lp.col_cost_ = np.concatenate([d.cost[pairs], price])
    lp.col_lower_ = np.zeros(npair + n)
    lp.col_upper_ = np.concatenate([d.demand[d.customer[pairs]], np.full(n, INF)])
    lp.row_lower_ = np.concatenate([d.demand, np.full(m, -INF)])
    lp.row_upper_ = np.concatenate([d.demand, d.capacity[sites]])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = lp.num_row_
    pair_rows = np.column_stack([d.customer[pairs], row_of_site[d.site[pairs]]]).ravel()
    lp.a_matrix_.start_ = np.concatenate([np.arange(npair + 1) * 2,
                                          2 * npair + 1 + np.arange(n)]).astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate([pair_rows, np.arange(n)]).astype(np.int32)
    lp.a_matrix_.value_ = np.ones(2 * npair + n)
    return lp


class TransportationLP:
    """Subproblem with capacities: the transportation LP in HiGHS, re-solved from its last
    basis as y changes (only bounds change). One aggregated theta."""

    def __init__(self, data: FacilityData, threads: int = 1) -> None:
        self.data = data
        self.n_groups = 1
        self.price = _artificial_price(data)
        n, m, npair = data.n_customers, data.n_sites, len(data.cost)
        lp = _transportation(data, self.price, np.arange(npair), np.arange(m))
        h = quiet_highs()
        h.setOptionValue("threads", highs_threads(threads))
        h.passModel(lp)
        self.h = h
        self.pair_idx = np.arange(npair, dtype=np.int32)
        self.site_rows = (n + np.arange(m)).astype(np.int32)

    def theta_lower(self) -> np.ndarray:
        d = self.data
        cheapest = np.full(d.n_customers, np.inf)
        np.minimum.at(cheapest, d.customer, d.cost)
        return np.array([float(np.sum(d.demand * np.minimum(cheapest, self.price)))])

    def evaluate(self, y: np.ndarray, want_cuts: np.ndarray | None = None) -> Evaluation:
        d = self.data
        y = np.clip(y, 0.0, 1.0)
        npair, n = len(d.cost), d.n_customers
        h = self.h
        h.changeColsBounds(npair, self.pair_idx, np.zeros(npair), d.demand[d.customer]
                           * y[d.site])
        m = d.n_sites
        h.changeRowsBounds(m, self.site_rows, np.full(m, -INF), d.capacity * y)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"transportation LP: {h.modelStatusToString(h.getModelStatus())}")
        sol = h.getSolution()
        row_dual = np.asarray(sol.row_dual)
        col_dual = np.asarray(sol.col_dual)
        value = float(h.getInfo().objective_function_value)
        pi, alpha = row_dual[:n], row_dual[n:]
        beta = np.minimum(col_dual[:npair], 0.0) * d.demand[d.customer]
        coef = d.capacity * np.minimum(alpha, 0.0) + np.bincount(d.site, weights=beta,
                                                                  minlength=m)
        const = float(np.dot(d.demand, pi))
        cut = Cut(0, const, np.arange(m), coef, pi.copy())
        x = np.asarray(sol.col_value)
        u = x[npair:]
        feasible = _all_served(d, u)
        ev = Evaluation(value, np.array([value]), [cut], feasible, x=x[:npair].copy(),
                        u=u.copy())
        return ev

    def assignment(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ev = self.evaluate(np.round(y))
        return ev.x, ev.u

    def network_cost(self, y: np.ndarray) -> tuple[float, bool]:
        """(transportation cost, every mandatory unit served) of an integer network, from a
        fresh LP over the pairs of its open sites only: a tenth of the columns, faster than
        re-solving the whole LP from a basis made for another network."""
        d = self.data
        sites = np.flatnonzero(y > 0.5)
        pairs = np.flatnonzero(y[d.site] > 0.5)
        h = quiet_highs()
        h.passModel(_transportation(d, self.price, pairs, sites))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"transportation LP: {h.modelStatusToString(h.getModelStatus())}")
        u = np.asarray(h.getSolution().col_value)[len(pairs):]
        return float(h.getInfo().objective_function_value), _all_served(d, u)


@dataclass
class BendersResult:
    """Best network found, its cost, the proven lower bound and how the time was spent."""

    y: np.ndarray | None
    objective: float | None
    bound: float
    status: str  # optimal | feasible | infeasible | no_solution
    x: np.ndarray | None = None
    u: np.ndarray | None = None
    stats: dict = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        if self.objective is None:
            return None
        return abs(self.objective - self.bound) / max(abs(self.objective), 1e-9)


class MasterInfeasible(RuntimeError):
    """The master LP has no solution: the site limits alone (locked sites, min/max active)
    conflict, so the plain model is infeasible too and its diagnosis says why."""


class Master:
    """min f.y + sum(theta) over the cuts so far; y relaxed (root) or binary (MIP rounds)."""

    def __init__(self, data: FacilityData, theta_lower: np.ndarray, threads: int,
                 seed: int, theta_cost: np.ndarray | None = None) -> None:
        m, k = data.n_sites, len(theta_lower)
        theta_cost = np.ones(k) if theta_cost is None else theta_cost
        self.m, self.k = m, k
        h = quiet_highs()
        h.setOptionValue("threads", highs_threads(threads))
        h.setOptionValue("random_seed", int(seed))
        h.addVars(m, data.lower.astype(float), data.upper.astype(float))
        h.changeColsCost(m, np.arange(m, dtype=np.int32), data.fixed.astype(float))
        h.addVars(k, theta_lower.astype(float), np.full(k, INF))
        h.changeColsCost(k, np.arange(m, m + k, dtype=np.int32), theta_cost.astype(float))
        idx = np.arange(m, dtype=np.int32)
        fewest = data.fewest_sites()
        if data.min_open is not None or data.max_open is not None or fewest > 0:
            lo = float(max(data.min_open or 0, fewest))
            hi = INF if data.max_open is None else float(data.max_open)
            h.addRow(lo, hi, m, idx, np.ones(m))
        total = float(data.demand[data.must_serve()].sum())
        if total > 0 and not data.separable():
            # total capacity covers the mandatory demand: lets HiGHS derive knapsack covers
            h.addRow(total, INF, m, idx, data.capacity.astype(float))
        self.h = h
        self.n_cuts = 0
        self.cut_rows: list[int] = []
        self.cuts: list[Cut] = []

    def add_cuts(self, cuts: list[Cut]) -> None:
        if not cuts:
            return
        starts, index, value, lower = [], [], [], []
        nnz = 0
        for c in cuts:
            starts.append(nnz)
            # theta_g - coef . y >= const
            index.append(np.concatenate([[self.m + c.group], c.sites]).astype(np.int32))
            value.append(np.concatenate([[1.0], -c.coef]))
            lower.append(c.const)
            nnz += len(c.sites) + 1
        first = self.h.getNumRow()
        self.cut_rows.extend(range(first, first + len(cuts)))
        self.cuts.extend(cuts)
        self.h.addRows(len(cuts), np.array(lower), np.full(len(cuts), INF), nnz,
                       np.array(starts, dtype=np.int32), np.concatenate(index),
                       np.concatenate(value))
        self.n_cuts += len(cuts)

    def set_integer(self, integer: bool) -> None:
        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        self.h.changeColsIntegrality(self.m, np.arange(self.m, dtype=np.int32),
                                     np.array([kind] * self.m))

    def solve_lp(self) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        """(y, theta, objective, reduced costs of y) of the master LP."""
        h = self.h
        h.setOptionValue("solve_relaxation", False)
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            raise MasterInfeasible("master LP: infeasible")
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"master LP: {h.modelStatusToString(status)}")
        sol = h.getSolution()
        col = np.asarray(sol.col_value)
        return (col[:self.m], col[self.m:], float(h.getInfo().objective_function_value),
                np.asarray(sol.col_dual)[:self.m])

    def demand_prices(self, n_customers: int) -> np.ndarray:
        """Lagrangian prices of the demand rows at the last LP: the cuts' prices weighed by
        their duals (the master's LP optimum is that combination of subproblem duals, so L
        at these prices equals the LP bound)."""
        dual = np.asarray(self.h.getSolution().row_dual)[self.cut_rows]
        lam = np.zeros(n_customers)
        for w, cut in zip(dual, self.cuts, strict=True):
            if w <= 0.0 or cut.prices is None:
                continue
            if isinstance(cut.prices, float):
                lam[cut.group] += w * cut.prices
            else:
                lam += w * cut.prices
        return lam

    def fix(self, sites: np.ndarray, value: float) -> None:
        if len(sites):
            v = np.full(len(sites), float(value))
            self.h.changeColsBounds(len(sites), sites.astype(np.int32), v, v)


def _rounded_networks(data: FacilityData, y: np.ndarray) -> list[np.ndarray]:
    """Integer networks near a fractional y: open the most-used sites until the limits and
    (for mandatory demand) the capacity are met."""
    order = np.argsort(-(y + 1e-6 * (data.upper > 0) - 2.0 * (data.upper == 0)))
    need = float(data.demand[data.must_serve()].sum())
    lo = data.min_open or 0
    hi = data.max_open if data.max_open is not None else data.n_sites
    out = []
    for threshold in (0.5, 1e-6):
        z = data.lower.astype(float).copy()
        for i in order:
            if data.upper[i] == 0:
                continue
            opened = z.sum()
            if opened >= hi:
                break
            short = (opened < lo or float(data.capacity @ z) < need)
            if y[i] >= threshold or short:
                z[i] = 1.0
        if lo <= z.sum() <= hi:
            out.append(z)
    return out


class Benders:
    """The decomposition: root cut loop, reduced-cost fixing, master MIP rounds."""

    def __init__(self, data: FacilityData, gap: float, threads: int = 1, seed: int = 0,
                 abs_gap: float = 0.0) -> None:
        self.data = data
        self.gap = gap
        self.abs_gap = abs_gap
        self.closest = ClosestAssignment(data)
        self.sub = self.closest if data.separable() else TransportationLP(data, threads)
        if self.sub is self.closest:
            self.master = Master(data, self.sub.theta_lower(), threads, seed)
        else:
            self.master = self._capacitated_master(threads, seed)
        self.threads = threads
        self._no_cuts = np.zeros(data.n_customers, bool)
        self.site_lower = data.lower.astype(float).copy()
        self.site_upper = data.upper.astype(float).copy()
        self.best: np.ndarray | None = None
        self.best_cost = math.inf
        self.lower = -math.inf
        self.stats: dict = {"subproblem": type(self.sub).__name__, "root_rounds": 0,
                            "mip_rounds": 0, "evaluations": 0, "fixed_closed": 0,
                            "fixed_open": 0}

    def _capacitated_master(self, threads: int, seed: int) -> Master:
        """theta_j per customer bounded by closest-assignment cuts (capacities ignored: a
        lower bound of j's share of the transportation cost), and the priced total
        Theta >= sum_j theta_j, bounded by the transportation LP's cuts (group n)."""
        n = self.data.n_customers
        lower = np.concatenate([self.closest.theta_lower(), self.sub.theta_lower()])
        cost = np.concatenate([np.zeros(n), [1.0]])
        master = Master(self.data, lower, threads, seed, theta_cost=cost)
        m = self.data.n_sites
        idx = np.concatenate([[m + n], m + np.arange(n)]).astype(np.int32)
        master.h.addRow(0.0, INF, n + 1, idx, np.concatenate([[1.0], -np.ones(n)]))
        self.transport_group = n
        return master

    # ------------------------------------------------------------ bookkeeping

    def _tolerance(self) -> float:
        if not math.isfinite(self.best_cost):
            return 0.0
        return max(self.gap * abs(self.best_cost), self.abs_gap)

    def done(self) -> bool:
        return self.best_cost - self.lower <= self._tolerance()

    def evaluate(self, y: np.ndarray, theta: np.ndarray | None = None,
                 check: np.ndarray | None = None) -> Evaluation:
        """Subproblem at y; adds its cuts (with theta: only those the master point
        (check, theta) violates, check defaulting to y); records an integer incumbent."""
        self.stats["evaluations"] += 1
        closest = self.closest.evaluate(y)
        check = y if check is None else check
        if theta is not None:
            self.master.add_cuts([c for c in closest.cuts if c.value(check)
                                  > theta[c.group] * (1 + CUT_TOL) + 1e-9])
        else:
            self.master.add_cuts(closest.cuts)
        if self.sub is self.closest:
            ev = closest
        else:
            ev = self.sub.evaluate(y)
            cuts = [Cut(self.transport_group, c.const, c.sites, c.coef, c.prices)
                    for c in ev.cuts]
            if theta is not None:
                top = theta[self.transport_group]
                cuts = [c for c in cuts if c.value(check) > top * (1 + CUT_TOL) + 1e-9]
            self.master.add_cuts(cuts)
        integral = bool(np.all(np.abs(y - np.round(y)) <= 1e-9))
        if integral and ev.feasible:
            cost = float(self.data.fixed @ np.round(y)) + ev.cost
            if cost < self.best_cost - 1e-9 * abs(cost):
                self.best_cost, self.best = cost, np.round(y).copy()
        return ev

    # ------------------------------------------------------------ root

    def root(self, deadline: float) -> np.ndarray:
        """Cut loop on the master LP with in-out stabilisation; returns the reduced costs
        of y at the last LP (for fixing)."""
        d = self.data
        opened = d.max_open if d.max_open is not None else d.n_sites
        core = np.clip(np.full(d.n_sites, opened / max(d.n_sites, 1)), d.lower, d.upper)
        lam, stall, last = IN_OUT_LAMBDA, 0, -math.inf
        self.master.set_integer(False)
        rc = np.zeros(d.n_sites)
        history: list[float] = []
        while time.perf_counter() < deadline:
            y, theta, obj, rc = self.master.solve_lp()
            self.stats["root_rounds"] += 1
            self.lower = max(self.lower, obj)
            history.append(obj)
            if (self.sub is not self.closest and len(history) > TAIL_ROUNDS
                    and obj - history[-1 - TAIL_ROUNDS] < ROOT_TAIL * abs(obj)):
                break
            if obj <= last + ROOT_PROGRESS * max(abs(obj), 1.0):
                stall += 1
            else:
                stall = 0
            last = obj
            if stall >= STALL_ROUNDS:
                lam = 1.0
            point = lam * y + (1 - lam) * core
            before = self.master.n_cuts
            self.evaluate(point, theta, check=y)
            if lam == 1.0 and self.master.n_cuts == before:
                break  # no cut cuts off the LP point: LP optimum of the full relaxation
            core = 0.5 * (core + y)
        for z in _rounded_networks(d, y):
            self.evaluate(z)
        if self.sub is self.closest:
            self._interchange(deadline)
        return rc

    def _interchange(self, deadline: float) -> None:
        """Improve the incumbent by single drops, adds and swaps (interchange.py), when no
        capacity binds: on pmed36 the rounded LP network costs 6 % above the optimum, the
        search's in 0.2 s, and reduced-cost fixing then closes most sites."""
        d = self.data
        if self.best is None or not Interchange.fits(d.n_sites, d.n_customers):
            return
        search = Interchange(d.fixed, d.site, d.customer, d.cost, d.demand, self.closest.price)
        lo = max(d.min_open or 0, d.fewest_sites())
        hi = d.max_open if d.max_open is not None else d.n_sites
        left = deadline - time.perf_counter()
        y = search.improve(self.best, self.site_lower, self.site_upper, lo, hi,
                           time.perf_counter() + INTERCHANGE_SHARE * left)
        self.evaluate(y)

    def fix_by_reduced_cost(self, y_lp: np.ndarray, rc: np.ndarray, lp_bound: float) -> None:
        """A site whose LP reduced cost alone lifts the bound past the incumbent keeps its
        LP value in every better network."""
        if not math.isfinite(self.best_cost):
            return
        slack = self.best_cost - self._tolerance() - lp_bound
        closed = np.flatnonzero((y_lp <= 1e-9) & (rc > slack) & (self.data.upper > 0)
                                & (self.data.lower == 0))
        opened = np.flatnonzero((y_lp >= 1 - 1e-9) & (-rc > slack) & (self.data.lower == 0))
        self.master.fix(closed, 0.0)
        self.master.fix(opened, 1.0)
        self.site_upper[closed] = 0.0
        self.site_lower[opened] = 1.0
        self.stats["fixed_closed"] += len(closed)
        self.stats["fixed_open"] += len(opened)


    # ------------------------------------------------------------ Lagrangian search

    def _price_network(self, y: np.ndarray) -> float:
        """The cost of an integer network (inf when it leaves mandatory demand out), recorded
        as the incumbent when cheaper; or, when serving everyone from the nearest open site
        regardless of capacity already costs no less than the incumbent, that lower bound
        (a millisecond in numpy against a transportation LP: 80 % of the networks the
        search meets on capb/capc are ruled out so)."""
        fixed = float(self.data.fixed @ y)
        nearest = fixed + self.closest.evaluate(y, self._no_cuts).cost
        if nearest >= self.best_cost:
            return nearest
        self.stats["evaluations"] += 1
        transport, feasible = self.sub.network_cost(y)
        if not feasible:
            return math.inf
        cost = fixed + transport
        if cost < self.best_cost - 1e-9 * abs(cost):
            self.best_cost, self.best = cost, y.copy()
        return cost

    def lagrangian_search(self, lam: np.ndarray, deadline: float) -> None:
        """Branch-and-bound with Lagrangian bounds from the root's prices (lagrangian.py)."""
        d = self.data
        lo = max(d.min_open or 0, d.fewest_sites())
        hi = d.max_open if d.max_open is not None else d.n_sites
        lag = DemandLagrangian(d.fixed, d.capacity, d.demand, d.site, d.customer, d.cost,
                               self.sub.price, lo, hi, cover=d.cover())
        search = LagrangianSearch(lag, self._price_network,
                                  lambda: self.best_cost - 0.5 * self._tolerance())
        root = Node(self.site_lower.copy(), self.site_upper.copy(), lam, self.lower)
        started = time.perf_counter()
        result = search.run(root, deadline)
        self.lower = max(self.lower, result.bound)
        self.stats.update(search_nodes=result.nodes, search_steps=result.steps,
                          search_complete=result.complete,
                          search_seconds=time.perf_counter() - started)

    # ------------------------------------------------------------ MIP rounds

    def _mip_round(self, deadline: float) -> bool:
        """Solve the master MIP (cut off at the incumbent), add the cuts of every integer
        network HiGHS reports; False when out of time."""
        h = self.master.h
        left = deadline - time.perf_counter()
        if left <= 0.05:
            return False
        h.setOptionValue("time_limit", float(left))
        h.setOptionValue("mip_rel_gap", float(self.gap) * 0.5)
        if math.isfinite(self.best_cost):
            h.setOptionValue("objective_bound", float(self.best_cost - self._tolerance()))
            self._hand_incumbent()
            # the incumbent comes from the interchange search and is usually optimal: the
            # master's own heuristics and reliable strong branching then only cost time
            # (pmed36 26 -> 15 s, pmed38 16 -> 10 s, no pmed slower)
            h.setOptionValue("mip_heuristic_effort", 0.0)
            h.setOptionValue("mip_pscost_minreliable", 0)
        found: list[np.ndarray] = []

        def on_solution(e) -> None:  # noqa: ANN001 - highspy event
            found.append(np.asarray(e.data_out.mip_solution)[:self.master.m].copy())

        h.cbMipImprovingSolution.subscribe(on_solution)
        try:
            # before the first incumbent the master holds its LP solution, which HiGHS first
            # completes with a MIP timed from its own start: the wall clock keeps the limit
            with stop_at(h, deadline + DEADLINE_SLACK):
                h.run()
        finally:
            h.cbMipImprovingSolution.unsubscribe(on_solution)
        self.stats["mip_rounds"] += 1
        status = h.getModelStatus()
        info = h.getInfo()
        if status == highspy.HighsModelStatus.kInfeasible:
            # nothing cheaper than the incumbent (minus the tolerance) exists
            self.lower = max(self.lower, self.best_cost - self._tolerance())
            return True
        bound = float(info.mip_dual_bound)
        if math.isfinite(bound):
            self.lower = max(self.lower, bound)
        sol = np.asarray(h.getSolution().col_value)
        if info.primal_solution_status == highspy.kSolutionStatusFeasible:
            found.append(sol[:self.master.m].copy())
        theta_of = sol[self.master.m:]
        for y in found:
            self.evaluate(np.round(y), theta_of if y is found[-1] else None)
        return status == highspy.HighsModelStatus.kOptimal or time.perf_counter() < deadline

    def _hand_incumbent(self) -> None:
        """Give the master the incumbent with theta at its subproblem values (cuts are lower
        bounds of those, so it is feasible): HiGHS then prunes against it from the start."""
        theta = self.closest.evaluate(self.best, np.zeros(self.data.n_customers,
                                                          bool)).group_values
        if self.sub is not self.closest:
            theta = np.concatenate([theta, [self.sub.evaluate(self.best).cost]])
        set_start(self.master.h, np.concatenate([self.best, theta]))

    def solve(self, time_limit: float) -> BendersResult:
        started = time.perf_counter()
        deadline = started + time_limit
        rc = self.root(deadline)
        y_lp, _, lp_bound, rc = self.master.solve_lp()
        self.stats["root_bound"] = lp_bound
        self.stats["root_seconds"] = time.perf_counter() - started
        capacitated = self.sub is not self.closest
        prices = self.master.demand_prices(self.data.n_customers) if capacitated else None
        self.fix_by_reduced_cost(y_lp, rc, lp_bound)
        if prices is not None:
            if not self.done():
                self.lagrangian_search(prices, deadline)
        else:
            self.master.set_integer(True)
            while not self.done() and self._mip_round(deadline):
                pass
        self.stats["seconds"] = time.perf_counter() - started
        self.stats["cuts"] = self.master.n_cuts
        if self.best is None:
            return BendersResult(None, None, self.lower, "no_solution", stats=self.stats)
        x, u = self.sub.assignment(self.best)
        status = "optimal" if self.done() else "feasible"
        return BendersResult(self.best, self.best_cost, self.lower, status, x=x, u=u,
                             stats=self.stats)
