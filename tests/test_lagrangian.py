"""The Lagrangian branch-and-bound of the facility decomposition (netopt/solver/lagrangian.py)
and the capacity cover of the Benders master: hand-computed cases, invariants (every bound is
below every network, probing agrees with re-choosing), and the exact optimum against brute
force on random capacitated instances."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from netopt.solver.benders import Benders, FacilityData, TransportationLP
from netopt.solver.interchange import Interchange
from netopt.solver.lagrangian import (
    DemandLagrangian,
    Point,
    choose_sites,
    fewest_open,
    probe,
)


def _random(seed: int, m: int = 6, n: int = 12, tight: float = 1.6,
            penalty: float | None = None, max_open: int | None = None) -> FacilityData:
    """m sites x n customers on a plane, costs by distance; total capacity `tight` times the
    demand (capacities bind); every pair exists except a few."""
    rng = np.random.default_rng(seed)
    sites, custs = rng.uniform(0, 10, (m, 2)), rng.uniform(0, 10, (n, 2))
    demand = rng.integers(1, 9, n).astype(float)
    dist = np.linalg.norm(sites[:, None, :] - custs[None, :, :], axis=2)
    keep = rng.uniform(size=(m, n)) > 0.1
    keep[np.argmin(dist, axis=0), np.arange(n)] = True
    site, cust = np.nonzero(keep)
    capacity = rng.uniform(0.6, 1.4, m) * tight * demand.sum() / m * 2
    return FacilityData(
        fixed=rng.uniform(20, 60, m), capacity=capacity, demand=demand,
        penalty=np.full(n, np.inf if penalty is None else penalty), site=site, customer=cust,
        cost=dist[site, cust] + 0.5, lower=np.zeros(m), upper=np.ones(m), min_open=None,
        max_open=max_open)


def _networks(data: FacilityData):
    sub = TransportationLP(data)
    for bits in itertools.product((0.0, 1.0), repeat=data.n_sites):
        y = np.array(bits)
        if np.any(y < data.lower) or np.any(y > data.upper):
            continue
        if data.max_open is not None and y.sum() > data.max_open:
            continue
        if data.min_open is not None and y.sum() < data.min_open:
            continue
        ev = sub.evaluate(y)
        if ev.feasible:
            yield y, float(data.fixed @ y) + ev.cost


def _optimum(data: FacilityData) -> float:
    return min((cost for _, cost in _networks(data)), default=math.inf)


# ---------------------------------------------------------------- capacity cover


def test_fewest_sites_hand_computed() -> None:
    # capacities 5, 4, 3, 2 against a mandatory demand of 8: the two largest hold 9
    data = _random(0, m=4, n=3)
    data.capacity = np.array([3.0, 5.0, 2.0, 4.0])
    data.demand = np.array([3.0, 3.0, 2.0])
    assert data.fewest_sites() == 2
    # closing the site of 5: 4 + 3 = 7 < 8, three are needed
    data.upper = np.array([1.0, 0.0, 1.0, 1.0])
    assert data.fewest_sites() == 3
    # customers with a finite penalty may stay unserved: nothing is mandatory
    data.penalty = np.full(3, 10.0)
    assert data.fewest_sites() == 0


def test_fewest_open_within_a_node() -> None:
    """Capacities 6, 6, 1 and 10 to cover: two large ones at the root; with a large one
    closed nothing covers (4 = one more than all sites); with the small one locked open,
    three."""
    usable = np.array([6.0, 6.0, 1.0])
    free, closed = np.zeros(3), np.ones(3)
    assert fewest_open(usable, 10.0, free, closed) == 2
    assert fewest_open(usable, 10.0, free, np.array([0.0, 1.0, 1.0])) == 4
    assert fewest_open(usable, 10.0, np.array([0.0, 0.0, 1.0]), closed) == 3
    assert fewest_open(usable, 0.0, free, closed) == 0


def test_fewest_sites_counts_only_reachable_demand() -> None:
    """A site's capacity counts only up to the demand it can reach."""
    data = FacilityData(fixed=np.ones(2), capacity=np.array([100.0, 100.0]),
                        demand=np.array([5.0, 5.0]), penalty=np.full(2, np.inf),
                        site=np.array([0, 1]), customer=np.array([0, 1]),
                        cost=np.ones(2), lower=np.zeros(2), upper=np.ones(2))
    assert data.fewest_sites() == 2


# ---------------------------------------------------------------- the Lagrangian


def _lagrangian(data: FacilityData, price: np.ndarray) -> DemandLagrangian:
    lo = max(data.min_open or 0, data.fewest_sites())
    hi = data.max_open if data.max_open is not None else data.n_sites
    return DemandLagrangian(data.fixed, data.capacity, data.demand, data.site, data.customer,
                            data.cost, price, lo, hi)


def test_lagrangian_hand_computed() -> None:
    """2 sites x 2 customers of 10 units; prices 5 per unit on both customers.
    Site A (fixed 30, capacity 15): costs 1 and 3 -> fills 10 of customer 0 (saves 4 each)
    and 5 of customer 1 (saves 2 each): v_A = 30 - 40 - 10 = -20.
    Site B (fixed 10, capacity 30): costs 6 and 2 -> only customer 1 saves (3 each):
    v_B = 10 - 30 = -20. Both negative: both chosen; L = 5 * 20 - 40 = 60."""
    data = FacilityData(fixed=np.array([30.0, 10.0]), capacity=np.array([15.0, 30.0]),
                        demand=np.array([10.0, 10.0]), penalty=np.full(2, np.inf),
                        site=np.array([0, 0, 1, 1]), customer=np.array([0, 1, 0, 1]),
                        cost=np.array([1.0, 3.0, 6.0, 2.0]), lower=np.zeros(2),
                        upper=np.ones(2))
    lag = _lagrangian(data, np.full(2, 100.0))
    point = lag.evaluate(np.array([5.0, 5.0]), np.zeros(2), np.ones(2))
    np.testing.assert_allclose(point.v, [-20.0, -20.0])
    assert point.bound == pytest.approx(60.0)
    np.testing.assert_allclose(point.served, [10.0, 15.0])  # customer 1 twice over
    # the optimum: both open, A serves 0, B serves 1 -> 40 + 10 + 20 = 70 >= 60
    assert _optimum(data) == pytest.approx(70.0)


@pytest.mark.parametrize("seed", range(6))
def test_every_lagrangian_bound_is_below_every_network(seed: int) -> None:
    data = _random(seed, penalty=None if seed % 2 else 40.0, max_open=4 if seed % 3 else None)
    lag = _lagrangian(data, Benders(data, gap=1e-9).sub.price)
    best = _optimum(data)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        lam = rng.uniform(0, 15, data.n_customers)
        assert lag.evaluate(lam, data.lower, data.upper).bound <= best + 1e-9


def test_prices_from_the_master_give_the_lp_bound() -> None:
    """At the root LP optimum the cuts' prices weighed by their duals make L equal the LP
    bound (LP duality): the search starts where the cut loop ended."""
    data = _random(3, m=8, n=20, tight=1.2)
    benders = Benders(data, gap=1e-9)
    benders.root(deadline=math.inf)
    _, _, lp_bound, _ = benders.master.solve_lp()
    prices = benders.master.demand_prices(data.n_customers)
    lag = _lagrangian(data, benders.sub.price)
    assert lag.evaluate(prices, data.lower, data.upper).bound == pytest.approx(lp_bound,
                                                                               rel=1e-7)


def test_choose_sites() -> None:
    v = np.array([5.0, -2.0, 3.0, -1.0, 4.0])
    lower, upper = np.zeros(5), np.ones(5)
    y, value = choose_sites(v, lower, upper, lo=0, hi=5)
    assert list(y) == [0, 1, 0, 1, 0] and value == -3.0
    y, value = choose_sites(v, lower, upper, lo=3, hi=5)  # one more: the 3
    assert list(y) == [0, 1, 1, 1, 0] and value == 0.0
    y, value = choose_sites(v, lower, upper, lo=0, hi=1)  # only the best negative
    assert list(y) == [0, 1, 0, 0, 0] and value == -2.0
    lower[4] = 1.0  # locked open
    upper[1] = 0.0  # closed
    y, value = choose_sites(np.where(upper > 0, v, np.inf), lower, upper, lo=2, hi=5)
    assert list(y) == [0, 0, 0, 1, 1] and value == 3.0
    _, value = choose_sites(v, np.zeros(5), np.array([1.0, 0, 0, 0, 0]), lo=2, hi=5)
    assert value == math.inf


@pytest.mark.parametrize("seed", range(30))
def test_probing_agrees_with_choosing_again(seed: int) -> None:
    """Each side probing cuts off is one whose re-chosen bound passes the cutoff."""
    rng = np.random.default_rng(seed)
    m = 8
    v = rng.normal(0, 3, m).round(1)
    lower = (rng.uniform(size=m) < 0.15).astype(float)
    upper = np.where(rng.uniform(size=m) < 0.15, 0.0, 1.0)
    upper = np.maximum(upper, lower)
    v = np.where(upper > 0, v, np.inf)
    lo, hi = int(rng.integers(0, 4)), int(rng.integers(4, 8))
    y, value = choose_sites(v, lower, upper, lo, hi)
    if not math.isfinite(value):
        return
    total = 7.0
    cutoff = total + value + rng.uniform(0, 4)
    new_lower, new_upper, least = probe(Point(total + value, y, v, np.zeros(1)), total,
                                        lower, upper, lo, hi, cutoff)
    for i in np.flatnonzero((lower < 0.5) & (upper > 0.5)):
        forced_open, forced_closed = lower.copy(), upper.copy()
        forced_open[i], forced_closed[i] = 1.0, 0.0
        opened = total + choose_sites(v, forced_open, upper, lo, hi)[1]
        closed = total + choose_sites(np.where(forced_closed > 0, v, np.inf), lower,
                                      forced_closed, lo, hi)[1]
        assert (new_upper[i] == 0.0) == (opened >= cutoff), (i, opened)
        assert (new_lower[i] == 1.0) == (closed >= cutoff), (i, closed)
        if new_upper[i] == 0.0:
            assert least <= opened + 1e-9
        if new_lower[i] == 1.0:
            assert least <= closed + 1e-9


# ---------------------------------------------------------------- the exact optimum


@pytest.mark.parametrize("seed", range(12))
def test_benders_with_lagrangian_search_is_exact(seed: int) -> None:
    """Random capacitated instances (some with unserved penalties, a site limit, a locked
    or closed site): the decomposition's network is the brute-force optimum."""
    data = _random(seed, m=7, n=14, tight=1.1 + 0.1 * (seed % 4),
                   penalty=25.0 if seed % 3 == 0 else None,
                   max_open=4 if seed % 4 == 1 else None)
    if seed % 5 == 2:
        data.lower[0] = 1.0
    if seed % 5 == 3:
        data.upper[1] = 0.0
    assert not data.separable()
    result = Benders(data, gap=1e-9).solve(30.0)
    best = _optimum(data)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best, rel=1e-9)
    assert result.bound <= best * (1 + 1e-12)
    assert result.stats.get("search_complete", True)


# ---------------------------------------------------------------- interchange search


def _interchange(seed: int) -> tuple[Interchange, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m, n = 7, 15
    keep = rng.uniform(size=(m, n)) > 0.2
    site, cust = np.nonzero(keep)
    demand = rng.integers(1, 5, n).astype(float)
    search = Interchange(rng.uniform(0, 10, m), site, cust, rng.uniform(1, 9, len(site)),
                         demand, np.full(n, 12.0))
    y = (rng.uniform(size=m) < 0.5).astype(float)
    return search, y, rng.uniform(size=m)


@pytest.mark.parametrize("seed", range(20))
def test_interchange_prices_every_move_exactly(seed: int) -> None:
    """The best move's priced change equals the change of the network's cost, and no
    single drop, add or swap within the limits does better."""
    search, y, _ = _interchange(seed)
    lower, upper = np.zeros(7), np.ones(7)
    lower[0], upper[1] = y[0], y[1]  # one site held at its value, one held
    lo, hi = 1, 5
    if not lo <= y.sum() <= hi:
        return
    delta, out, into = search.best_move(y, lower, upper, lo, hi)
    base = search.total(y)
    moved = y.copy()
    if out >= 0:
        moved[out] = 0.0
    if into >= 0:
        moved[into] = 1.0
    assert search.total(moved) - base == pytest.approx(delta, abs=1e-9)
    for out2, into2 in itertools.product([-1, *range(7)], [-1, *range(7)]):
        z = y.copy()
        if out2 >= 0:
            if y[out2] < 0.5 or lower[out2] > 0.5:
                continue
            z[out2] = 0.0
        if into2 >= 0:
            if y[into2] > 0.5 or upper[into2] < 0.5:
                continue
            z[into2] = 1.0
        if lo <= z.sum() <= hi:
            assert search.total(z) - base >= min(delta, 0.0) - 1e-9


def test_interchange_reaches_a_local_optimum() -> None:
    search, y, _ = _interchange(3)
    lower, upper = np.zeros(7), np.ones(7)
    better = search.improve(y, lower, upper, 1, 7, deadline=math.inf)
    assert search.total(better) <= search.total(y)
    assert search.best_move(better, lower, upper, 1, 7)[0] >= -1e-9
