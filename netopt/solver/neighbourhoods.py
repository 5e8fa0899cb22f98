"""Neighbourhood search around a network: re-solve one metro's sites at a time, the rest held.

The kernels and the full MIP look at the whole country at once; what a time-limited network
most often gets wrong is local: the Bay Area's lupus patients split between two centres
when one of them should take them all, or a site onboarded for an area its neighbour
already serves. Each step here frees the decisions of one site and of its nearest sites
that share patients with it (activation, offers, onboarding, equipment, ordering options)
and of the cold-storage partners whose role is theirs alone (they can deliver to none but
them, or in the network do), holds every other decision of the network (the hubs, which
serve many metros, included), and solves that small MIP from the network, which is one of
its solutions: it can only improve. The flows of the freed sites and of every site sharing
a demand point with them stay free (their patients can move between them), as do the hubs'
and plants'; the flows of the sites beyond are held too. Holding them halves a national
re-solve (HiGHS's root cuts, not its LP, take its time): 22 re-solves in 40 s instead of 11,
$129.93M instead of $129.97M from the same network (bench/RESULTS.md). And HiGHS gets only
the free columns (arrays.restricted_arrays): its presolve no longer spends a third of each
re-solve finding the held ones again.
A large-neighbourhood search (Shaw 1998; Pisinger & Ropke 2010), with the neighbourhood
that of `netopt explain` (a site and the sites that could treat its patients).

Sites come in the order in which the LP relaxation and the network disagree most on what
they offer (where the LP sees a better network, as RINS does), then the rest, each
re-solve of the first pass only to FIRST_PASS_GAP; the search stops when a whole pass after
it improves nothing, when the bound proves the network within the gap, when another core's
stage ends (`stop`) or at its deadline. On the national default the 60-s network went
from $130.73M to $129.94M (the 600-s reference of the day) in 25 such re-solves, and a
600-s solve with the search found $129.85M, the best network known (bench/RESULTS.md).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ..data.geography import haversine_km
from .arrays import (
    columnwise,
    entry_rows_and_columns,
    highs_from_arrays,
    restricted_arrays,
    set_start,
)
from .diving import INFEASIBLE
from .info import CLOCK, HANDED_OVER

log = logging.getLogger(__name__)

#: sites freed with each centre: those nearest to it among the sites sharing a demand point
#: with it (`netopt explain` frees as many around the site it explains)
NEIGHBOURS = 8
#: seconds one neighbourhood may take; a re-solve stopped here still hands back its best
NEIGHBOURHOOD_SECONDS = 5.0
#: relative gap each neighbourhood is solved to (its networks differ by thousands of dollars
#: in a hundred million)
NEIGHBOURHOOD_GAP = 1e-5
#: ... but on the first pass over the centres of a short search only to this one: a re-solve
#: then ends as soon as its network is within $0.13M of its bound in a $130M network, where
#: proving the last thousands took up to its 5 s, and the pass reaches the neighbourhoods that
#: save hundreds of thousands sooner (national, from the spare core's network, 12 s:
#: $130.13M-$130.23M against $130.55M; bench/RESULTS.md)
FIRST_PASS_GAP = 1e-3
#: a search of the kernels' network for less than this many seconds takes the coarse first
#: pass; a longer one solves every re-solve finely. The kernels' network is near its optimum,
#: where the neighbourhoods save tens of thousands each, under what a coarse re-solve proves:
#: national 180 s, seeds 0/1, from the strict kernel's $130.27M/$130.30M, the fine pass ended
#: at $129.89M/$129.93M (51 and 49 re-solves, 12 and 11 improving), the coarse at
#: $130.04M/$130.06M (264 and 252, 3 improving); at 120 s and 600 s both gave the same
#: networks. But the minute's 25-34 s search screens: at 31.4 s the fine pass re-solved 11
#: neighbourhoods and ended at $130.63M, where the same dived network searched coarsely for
#: 26.8 s gave $130.19M (49 re-solves; bench/RESULTS.md)
COARSE_PASS_SECONDS = 40.0


def first_pass_gap(seconds: float, dived: bool = False) -> float:
    """The gap of a search's first pass over its order: a search of the LP dive's network
    (`dived`: no kernel after it) or a short one screens (FIRST_PASS_GAP); a longer search of
    the kernels' network solves every pass to NEIGHBOURHOOD_GAP. The dived network is a few
    percent above its optimum, where a fine re-solve proves savings of millions slowly: on
    us-depots at 120 s the fine pass made 11 re-solves (6 stopped at their 5 s) and ended at
    $145.81M, the coarse pass 72-103 and $142.74M-$142.79M (bench/RESULTS.md)."""
    return FIRST_PASS_GAP if dived or seconds < COARSE_PASS_SECONDS else NEIGHBOURHOOD_GAP
#: a neighbourhood's network replaces the current one only when cheaper by this share
IMPROVEMENT = 1e-7
#: a site's own decisions (model/sites.py; model/policy.py: it treats a KOL's product at
#: the KOL's minimum), freed with its offers' ordering options (z) and the KOLs it could cover
SITE_DECISIONS = ("y", "w", "o", "e", "kol_treats")


def sharing_sites(pairs: pd.DataFrame) -> dict[str, set[str]]:
    """For each site with patients in reach, the sites that share a demand point with it (for
    any product): the sites its patients could go to instead, or come from."""
    points_of: dict[str, set] = defaultdict(set)
    sites_at: dict[object, set] = defaultdict(set)
    for point, site in zip(pairs["point_id"], pairs["site_id"], strict=True):
        points_of[site].add(point)
        sites_at[point].add(site)
    return {site: set().union(*(sites_at[p] for p in points)) - {site}
            for site, points in points_of.items()}


def nearest_sites(m: pyo.ConcreteModel, count: int = NEIGHBOURS,
                  sites_of_interest: list[str] | None = None,
                  sharing: dict[str, set[str]] | None = None) -> dict[str, list[str]]:
    """For each site (of `sites_of_interest`, else every site with patients in reach), the
    `count` sites nearest to it among those that share a demand point with it (for any
    product; `sharing`, from `sharing_sites`, if already at hand): the sites its patients
    would go to, or come from."""
    sites = m.prep.sites
    sharing = sharing_sites(m.prep.pairs) if sharing is None else sharing
    near = {}
    for site in sorted(sharing) if sites_of_interest is None else sites_of_interest:
        others = sorted(sharing.get(site, set()))
        if not others:
            near[site] = []
            continue
        km = haversine_km(sites.at[site, "latitude"], sites.at[site, "longitude"],
                          sites.loc[others, "latitude"].to_numpy(float),
                          sites.loc[others, "longitude"].to_numpy(float))
        near[site] = [s for _, s in sorted(zip(km.tolist(), others, strict=True))[:count]]
    return near


@dataclass
class Partner:
    """A cold-storage partner's columns: its decisions (active, depot stock and its segments),
    its active decision alone, and its deliveries by site."""

    serves: frozenset[str]  # every site it can deliver to
    columns: np.ndarray  # its decision columns
    active: int | None  # the column of its active decision
    deliveries: dict[str, np.ndarray]  # site -> the columns of its deliveries there


@dataclass
class Neighbourhoods:
    """The columns of each site's decisions in the model HiGHS holds, and each site's
    neighbours; built once per solve."""

    site_columns: dict[str, np.ndarray]  # site -> its decision columns
    decisions: np.ndarray  # every integer column of the model
    near: dict[str, list[str]]  # site -> the sites freed with it
    partners: list[Partner]
    #: site -> its flow columns (patients, lanes, deliveries, inbound material, ordering
    #: volumes) and the unserved patients of its demand points
    flows: dict[str, np.ndarray]
    #: site -> the sites that share a demand point with it (their flows move with it)
    sharing: dict[str, set[str]]
    #: every column of `flows`: held at the network's values outside a neighbourhood's reach
    all_flows: np.ndarray

    def held_flows(self, sites: list[str]) -> np.ndarray:
        """The flow columns a neighbourhood of `sites` holds: those of every site that shares
        no demand point with any of them (their patients cannot move to it)."""
        moving = set(sites).union(*(self.sharing.get(s, set()) for s in sites))
        free = [self.flows[s] for s in sorted(moving) if s in self.flows]
        return np.setdiff1d(self.all_flows, np.concatenate(free)) if free else self.all_flows

    def freed(self, sites: list[str], values: np.ndarray | None = None) -> np.ndarray:
        """The columns a neighbourhood of `sites` frees from the network `values`: theirs,
        and those of every partner whose role is theirs alone - one that can deliver to
        none but them, or (with `values`) one whose deliveries in the network go to none
        but them: it may close, or change its stock, as they change. A partner serving
        other sites too stays as the network has it."""
        within = set(sites)
        columns = [self.site_columns[s] for s in sites if s in self.site_columns]
        columns += [partner.columns for partner in self.partners
                    if _role_within(partner, values, within)]
        return np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)


def _role_within(partner: Partner, values: np.ndarray | None, within: set[str]) -> bool:
    """Whether `partner`'s role lies within the sites `within`: it can deliver to none but
    them, or it is active in the network `values` and delivers to none but them."""
    if partner.serves and partner.serves <= within:
        return True
    if values is None or partner.active is None or values[partner.active] <= 0.5:
        return False  # an inactive partner opens only with all of its sites freed
    used = {s for s, cols in partner.deliveries.items() if (values[cols] > 1e-9).any()}
    return bool(used) and used <= within


def neighbourhoods(m: pyo.ConcreteModel, column: dict[int, int],
                   integrality: np.ndarray) -> Neighbourhoods:
    """Each site's decision columns (`column`: id(var) -> column) and neighbours."""
    owned: dict[str, list[int]] = defaultdict(list)
    for name in SITE_DECISIONS:
        for index, v in getattr(m, name, {}).items():
            if id(v) in column:
                owned[index if name == "y" else index[0]].append(column[id(v)])
    for i, v in getattr(m, "z", {}).items():  # an ordering option belongs to its site
        if id(v) in column:
            owned[m.ord_sk[i][0]].append(column[id(v)])
    # a KOL counted as covered goes with every site that could cover them: held, it would
    # keep the site that covers them in the start from closing, and no other from taking over
    for j, v in getattr(m, "kol_covered", {}).items():
        if id(v) in column:
            for s in {s for s, _, _ in m.kol_cover_set.get(j, [])}:
                owned[s].append(column[id(v)])
    links = m.prep.partner_links
    served: dict[str, set] = defaultdict(set)
    delivered: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    q = getattr(m, "q", {})
    for i, (partner, site) in enumerate(zip(links["partner_id"], links["site_id"],
                                            strict=True)):
        served[partner].add(site)
        if i in q and id(q[i]) in column:
            delivered[partner][site].append(column[id(q[i])])
    of_partner: dict[str, list[int]] = defaultdict(list)
    active: dict[str, int | None] = {}
    for p, v in getattr(m, "a", {}).items():
        of_partner[p].append(column.get(id(v)))
        active[p] = column.get(id(v))
    for key, v in getattr(m, "hold", {}).items():  # pooled depot stock (model/ordering.py)
        if key[0] == "partner":
            of_partner[key[1]].append(column.get(id(v)))
    for i, v in getattr(m, "zd", {}).items():
        kind, depot, _ = m.depot_seg_key[i]
        if kind == "partner":
            of_partner[depot].append(column.get(id(v)))
    partners = [Partner(frozenset(served[p]),
                        np.array(sorted(c for c in cols if c is not None), dtype=np.int64),
                        active.get(p),
                        {s: np.array(c, dtype=np.int64) for s, c in sorted(delivered[p].items())})
                for p, cols in sorted(of_partner.items())]
    flows = _site_flows(m, column)
    sharing = sharing_sites(m.prep.pairs)
    every = (np.unique(np.concatenate(list(flows.values()))) if flows
             else np.zeros(0, dtype=np.int64))
    return Neighbourhoods({s: np.array(sorted(set(c)), dtype=np.int64)
                           for s, c in owned.items()},
                          np.flatnonzero(integrality), nearest_sites(m, sharing=sharing),
                          partners,
                          flows, sharing, every)


def _site_flows(m: pyo.ConcreteModel, column: dict[int, int]) -> dict[str, np.ndarray]:
    """Each site's flow columns (its patients x, direct lanes f, partner deliveries q,
    inbound starting material v, ordering volumes n, doses from hub stock fh) with the
    unserved patients u of the demand points it reaches."""
    prep = m.prep
    cols: dict[str, list[int]] = defaultdict(list)

    def add(site: str, v: pyo.Var) -> None:
        if id(v) in column:
            cols[site].append(column[id(v)])

    pairs = prep.pairs
    point, site_of = pairs["point_id"].tolist(), pairs["site_id"].tolist()
    product = pairs["product_id"].tolist()
    for i, v in getattr(m, "x", {}).items():
        add(site_of[i], v)
        add(site_of[i], m.u[point[i], product[i]])  # every pair's point has a demand row
    for name, table in (("f", prep.direct_lanes), ("q", prep.partner_links),
                        ("v", prep.inbound_lanes)):
        var = getattr(m, name, None)
        if var is None:
            continue
        sites = table["site_id"].tolist()
        for i, v in var.items():
            add(sites[i], v)
    for i, v in getattr(m, "n", {}).items():
        add(m.ord_sk[i][0], v)
    for key, v in getattr(m, "fh", {}).items():
        add(key[0], v)
    return {s: np.array(sorted(set(c)), dtype=np.int64) for s, c in cols.items()}


def centres(m: pyo.ConcreteModel, lp_values: dict[int, float] | None,
            network: dict[int, float], sites: list[str], held: bool = False) -> list[str]:
    """`sites` in the order they are re-solved: by how far the LP relaxation's offers
    (`lp_values`, by id(var)) are from the network's, largest first; in the model's order
    without an LP. `held`: the design is held (the aggregation's pricing), so its offers
    agree everywhere; the sites' ordering options are compared instead."""
    if not lp_values:
        return list(sites)
    apart: dict[str, float] = defaultdict(float)
    chosen = ([(m.ord_sk[i][0], v) for i, v in getattr(m, "z", {}).items()] if held
              else [(s, v) for (s, _), v in m.w.items()])
    for s, v in chosen:
        apart[s] += abs((lp_values.get(id(v)) or 0.0) - (network.get(id(v)) or 0.0))
    return sorted(sites, key=lambda s: -round(apart[s], 9))  # stable: ties keep their order


@dataclass
class Searched:
    """What the search did: its network (a value per column), its cost and its start's, how
    many neighbourhoods it re-solved and how many of them improved the network (each made it
    strictly cheaper: none, and the network is the start)."""

    values: np.ndarray
    cost: float
    start_cost: float  # the cost of the network it started from
    solved: int
    improved: int
    #: NO_BETTER, WITHIN_GAP, HANDED_OVER or CLOCK: the search's deadline, or a re-solve
    #: stopped at its NEIGHBOURHOOD_SECONDS (either makes the network depend on the machine's
    #: speed)
    stopped: str
    capped: int = 0  # re-solves stopped at NEIGHBOURHOOD_SECONDS
    #: re-solves run again with every flow free: with the flows beyond held, HiGHS found no
    #: network (`search`)
    retried: int = 0
    #: the position in the passes over the order where the search ended (`search`'s begin)
    position: int = 0
    #: re-solves since the last improvement when it ended (`search`'s since): a search that
    #: goes on does not re-solve what a fine pass already found nothing in
    since_last: int = 0


#: why a search ended before its deadline: a whole pass after the first improved nothing
NO_BETTER = "no improving neighbourhood"
#: ... or the network came within the gap of the bound proven
WITHIN_GAP = "within gap"


def within_gap(cost: float, bound: float | None, gap: float) -> bool:
    """Whether a network of `cost` is proven within the relative `gap` by `bound`."""
    return bound is not None and abs(cost - bound) <= gap * max(abs(cost), 1e-9)


def search(arrays: dict, values: np.ndarray, hoods: Neighbourhoods, order: list[str],
           deadline: float, options: dict,
           bound: float | Callable[[], float | None] | None = None, gap: float = 0.0,
           begin: int = 0, stop: Callable[[], bool] | None = None, since: int = 0,
           first_gap: float = FIRST_PASS_GAP) -> Searched:
    """Re-solve the neighbourhood of each site of `order` in turn from the network `values`
    (a value per column of `arrays`, model_arrays' form), keeping each cheaper network,
    until a whole pass improves nothing, the network is within `gap` of `bound` (a lower
    bound proven elsewhere, or a function returning the best one so far: the full MIP then
    only has to confirm it), `deadline` (time.perf_counter()) or `stop()` (asked between
    re-solves). The first pass over `order` solves each neighbourhood only to `first_gap`,
    the passes after it to NEIGHBOURHOOD_GAP. `begin`: the position in the
    passes to start at, `since` the re-solves since its last improvement (a search that ended
    there, on the same network and order, goes on)."""
    arrays = columnwise(arrays)
    column = entry_rows_and_columns(arrays)[1]  # each re-solve restricts the same matrix
    lower, upper = arrays["col_lower"], arrays["col_upper"]

    def cost_of(x: np.ndarray) -> float:
        # from the values, not HiGHS's stated objective: given a start, HiGHS 1.16 may hand
        # back the start's values for columns its presolve fixed (highs._consistent_incumbent)
        return float(arrays["col_cost"] @ x) + float(arrays["offset"])

    cost = start_cost = cost_of(values)
    solved = improved = capped = retried = 0
    since_last = since  # neighbourhoods re-solved since the last improvement

    def ended(why: str) -> Searched:
        # a capped re-solve makes the network the machine's: CLOCK, unless another core's
        # stage ending already says so (HANDED_OVER counts in stopped_by_clock too)
        return Searched(values, cost, start_cost, solved, improved,
                        CLOCK if capped and why != HANDED_OVER else why, capped, retried,
                        position, since_last)

    def resolve(lo: np.ndarray, hi: np.ndarray, rel_gap: float
                ) -> tuple[highspy.HighsModelStatus, np.ndarray | None]:
        """HiGHS on the neighbourhood, only its free columns (arrays.restricted_arrays): its
        status and its network as a value per column of `arrays` (None for none found)."""
        smaller = restricted_arrays(arrays, lo, hi, column)
        if smaller.broken:  # what HiGHS's presolve would find
            return highspy.HighsModelStatus.kInfeasible, None
        h = highs_from_arrays(smaller.arrays)
        seconds = min(NEIGHBOURHOOD_SECONDS, deadline - time.perf_counter())
        for option, value in {**options, "time_limit": max(seconds, 1e-7),  # > 0 for HiGHS
                              "mip_rel_gap": rel_gap}.items():
            h.setOptionValue(option, value)
        set_start(h, values[smaller.kept])
        h.run()
        if h.getInfo().primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
            return h.getModelStatus(), None
        found = np.array(h.getSolution().col_value)
        return h.getModelStatus(), smaller.full(found)

    position = begin
    while True:
        if position == len(order) and first_gap > NEIGHBOURHOOD_GAP:
            since_last = 0  # the coarse first pass is over: the fine passes begin
        if since_last >= len(order):
            return ended(NO_BETTER)
        if within_gap(cost, bound() if callable(bound) else bound, gap):
            return ended(WITHIN_GAP)
        if stop is not None and stop():
            return ended(HANDED_OVER)
        # a re-solve's model and start are handed over outside HiGHS's clock (~0.3 s
        # nationally): none begins that could not finish by the deadline
        if deadline - time.perf_counter() < 1.0:
            return ended(CLOCK)
        gap_now = first_gap if position < len(order) else NEIGHBOURHOOD_GAP
        centre = order[position % len(order)]
        position += 1
        sites = [centre, *hoods.near.get(centre, [])]
        free = hoods.freed(sites, values)
        held = np.setdiff1d(hoods.decisions, free)
        at = np.round(values[held])
        lo, hi = lower.copy(), upper.copy()
        lo[held] = np.maximum(lower[held], at)
        hi[held] = np.minimum(upper[held], at)
        still = hoods.held_flows(sites)
        flows_lo, flows_hi = lo.copy(), hi.copy()
        flows_lo[still] = flows_hi[still] = np.clip(values[still], lower[still], upper[still])
        status, found = resolve(flows_lo, flows_hi, gap_now)
        if len(still) and status in INFEASIBLE:
            # the network's flows and its decisions rounded disagree somewhere beyond, within
            # HiGHS's tolerances (a decision at 2e-7 and its flows, rounded to 0 and held):
            # the neighbourhood again with every flow free, which the network satisfies
            retried += 1
            status, found = resolve(lo, hi, gap_now)
        solved += 1
        since_last += 1
        capped += status == highspy.HighsModelStatus.kTimeLimit
        if found is None:
            continue
        if cost_of(found) < cost - IMPROVEMENT * abs(cost):
            log.debug("neighbourhood of %s: %.6g -> %.6g", centre, cost, cost_of(found))
            values, cost = found, cost_of(found)
            improved, since_last = improved + 1, 0


__all__ = ["COARSE_PASS_SECONDS", "FIRST_PASS_GAP", "HANDED_OVER", "NEIGHBOURHOOD_GAP",
           "NEIGHBOURHOOD_SECONDS", "NEIGHBOURS", "NO_BETTER", "WITHIN_GAP", "Neighbourhoods",
           "Partner", "Searched", "centres", "first_pass_gap", "nearest_sites",
           "neighbourhoods", "search", "sharing_sites", "within_gap"]
