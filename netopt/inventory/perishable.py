"""Inventory, expiries and working capital of a stock point, per ordering policy.

A treatment site either orders just-in-time for each patient or keeps doses in stock (at the
site, on consignment, or at a nearby hub/partner that delivers per patient). Short shelf lives
turn stock into write-offs; this module prices that trade-off so the network model can tabulate
it over annual volumes and use it as a piecewise-linear cost.

Physical model of a stock point (one product)
---------------------------------------------
* Time runs in days. Every `review_days` R the stock point orders up to the base-stock level S
  on its inventory position; the order arrives `lead_days` L later with `life_days` m of
  usable life left. Fractional inputs are rounded conservatively: R and L up (ceil), m down
  (floor); m = 0 means no stock can be held at all.
* Inventory position (`inventory_position`): "usable" (default) = doses on hand or on order
  that will still be usable on day L + R - 1 after the review, the day before the delivery
  after the one being ordered arrives (on hand: remaining life at the review >= L + R; an
  order placed j reviews ago arrives on day L - jR, so it counts iff m >= (j + 1) R);
  "all" = every dose on hand and on order (the classic perishable base-stock rule, Nahmias).
  With m < 2R no dose of an earlier order is counted, so "usable" orders S fresh doses every
  review: S is then the size of each delivery, about lambda x R + safety, not
  lambda x (R + L) + safety, and the lead time does not change the results. (Counting every
  order in transit, as an earlier version did, made orders alternate S, 0, S, ... when
  L >= R and m < 2R, which capped the fill rate near m / 2R whatever S.) The classic rule
  counts doses that expire before they can cover the
  next cycle, so it under-orders exactly when stock is about to outdate and needs absurd S when
  m is close to R + L (20 doses/yr, 7-day life, weekly review, 2-day lead: S = 21 and 535
  outdated doses/yr against S = 2 and 85 with "usable"). No rule makes the optimised S monotone
  in life: at a fixed S, longer life never raises outdates (tested), but the fill rate can fall
  (older doses get counted, so less is ordered) and the smallest S meeting the target can jump.
* Day order: at the start of a day the order is placed (review days), then deliveries due that
  day arrive; the day's doses are issued oldest first (FIFO); at the end of its m-th day on
  hand a delivery's leftover doses are outdated.
* A dose not on hand on the day it is needed is **not backordered**: the patient is served by
  an emergency per-patient shipment outside this stock (`emergency_doses_per_year`). So the
  stock point is a lost-sales system.
* **Fill rate** (the service measure) = expected doses issued from stock / expected doses needed
  (per-dose "type-2" fill rate: the probability that a needed dose is on hand that day).
  S = the smallest S whose fill rate reaches the target. For a non-perishable product with
  L = 0 this is exactly the textbook periodic-review base-stock result with Poisson demand,
  fill = 1 - E[(D(R) - S)+] / E[D(R)]; for L > 0 the lost-sales fill rate is never below the
  backorder formula 1 - (E[(D(R+L) - S)+] - E[(D(L) - S)+]) / E[D(R)] (see
  `base_stock_level`), so S is never above the backorder S.
* When the target is above what any S can reach (life shorter than the review period: stock
  exists only m of every R days, so fill <= m/R), the search aims at target x attainable fill
  and reports `target_met=False`.
* On-hand inventory (for holding cost and capital) is the time average of the stock at the start
  of each day (after deliveries) and at its end (after issues, before outdating).
* Demand: doses needed per day are Poisson with the annual dose rate / 365 in the **exact**
  path. For single-dose products that is exact (patients arrive as a Poisson process). For
  repeat-dose products (a patient needs n doses every `dose_interval_days`) it is an
  approximation: each day's dose count is still Poisson, but one patient's doses fall on
  several days of the same review-plus-lead window, so demand over the window is
  over-dispersed (variance/mean = E[k^2]/E[k] > 1, k = doses of one patient in the window).
  The Poisson path therefore understates variability: it is **optimistic** (too small an S for
  the target fill rate, too high a fill rate at a given S). The **simulation** path generates
  patient arrivals and their dose cadence exactly (doses on days floor(j x interval)).
* Exact evaluation: a Markov chain over the stock's age profile (one count per delivery still on
  hand, plus orders in transit) observed at reviews, restricted to the states reachable from an
  empty start, with the days between events merged into one Poisson step (FIFO issuing with
  lost sales depends only on the total demand between two events). Its stationary distribution
  comes from a linear solve (small chains, or slow mixing at rare demand) or lazy power
  iteration. Closed forms when L = 0 and either m <= R (newsvendor: everything left after m
  days outdates, E[(S - D(m))+] per cycle) or the product does not perish. A dose can outdate
  only if fewer than S doses are needed over its last m - R days on hand (m days for "all"),
  so outdates/yr <= (365/R) x S x P(D < S); when that bound is below 1e-4 doses/yr the product
  is treated as non-perishable (error below that bound). Every array operation of the chain
  (building the reachable set, power-iteration cycles, the direct solve) is charged to a
  deterministic work budget per base-stock search (per evaluation for a given S):
  EXACT_MAX_WORK under "auto", EXACT_HARD_MAX_WORK under "exact" (~0.1 s / ~0.25-0.8 s). Beyond
  it, or when the state would not fit in an int64 key (very long lives with short reviews),
  the stock point is simulated, and `method` says "simulation". The search gallops from the
  textbook S and bisects (fill rate rises with S).
* Simulation: seeded numpy Generator, 32 parallel replications (vectorised; a window of candidate
  S simulated in one pass with common random numbers), a warm-up, then batch means (5 batches
  per replication) for 95 % confidence half-widths of outdates and fill rate. The S search
  brackets and bisects over such passes (a handful at most) and never raises: if no S reaches
  the target the best one found is returned with `target_met=False`. The horizon aims
  at ~20,000 simulated doses (1 to 10 years per replication, at most 600 review cycles).
  Issued doses = simulated fill rate x the nominal annual volume.
* All public functions are pure and cached (lru_cache on rounded arguments): the network model
  can call them for every (site, product, policy, volume) without re-simulating duplicates.

Policy economics
----------------
Policies: `jit_per_patient`, `stocked_at_site`, `consignment_at_site`,
`held_at_partner_with_jit_delivery`, `held_at_hub`. The replenishment lead time is
`lead_days` (transport to the stock point, from the network) plus the terms'
`order_lead_time_hours` (order processing); the review period and fill target come from the
terms.

* `jit_per_patient`: no stock, so no expiries here (disruption waste is out of scope); every dose
  ships for its patient (patient_shipments = doses/yr; divide by doses per shipment
  downstream). Fill rate is reported as 1 (doses are scheduled per patient, not drawn from
  stock). The manufacturer holds title until delivery (the terms' title holder is not used);
  the site pays `payment_terms_days` after delivery.
* `stocked_at_site`: the site buys the stock at price on delivery (title holder must be `site`).
  Returns follow the usual pharmaceutical returned-goods policy: doses that outdate unused may be
  sent back within `return_window_days` after expiry (0 = no returns); the `returnable_fraction`
  of them is credited at price x (1 - restocking fee) (the manufacturer writes the credit off:
  returned cell/gene doses cannot be resold), the rest is written off by the site. Returns do
  not change how long doses stay usable, so a more generous policy never raises the network's
  waste: it only moves the loss from the site to the manufacturer.
* `consignment_at_site`: stock at the site, title stays with the manufacturer (title holder must
  be `manufacturer`) until administration; every expiry is the manufacturer's; the site pays
  `payment_terms_days` after administration.
* `held_at_hub` / `held_at_partner_with_jit_delivery`: stock at a hub/partner near the site owned
  by the title holder (`manufacturer` or `distributor`); each dose goes to its patient from
  there (the caller passes the life left at the stock point and its lead time). A distributor's
  unused doses go back to the manufacturer under the same return rules (credit = the
  distributor's unit value x (1 - fee)); a manufacturer's own stock simply outdates.
* Doses not on hand are served by an emergency per-patient shipment (counted, not costed here).

Valuation (book value of the party that loses the dose, one rule throughout):
* stock and write-offs on the **site's** books at price; on the **manufacturer's** books at COGS;
  on a **distributor's** at its unit value (keyword `distributor_unit_value_usd_per_dose`,
  default COGS);
* `manufacturer_write_off` = return credits paid (cash) + its own outdated doses at COGS;
* `site_loss` = its outdated doses at price + restocking fees on its returns + its capital
  charge; `distributor_loss` likewise at its unit value.

Transfers vs. real network cost: prices, return credits and restocking fees move money between
parties and cancel in the network total. The **real** cost of a wasted dose (outdated or
returned: either way it is destroyed) is the COGS of making it. So
`total_cost_usd_per_year` = holding + wasted doses x COGS + capital charge, where capital charge
= cost_of_capital x the sum over parties of their working capital: inventory on their books
(+ for the manufacturer its receivables, revenue x payment days / 365; for the site its
inventory minus payables, never below 0 -- so a site financed by long payment terms earns no
credit, which makes the total conservative). Revenue = price x doses the site pays for
(administered doses; for `stocked_at_site` also the doses it buys and later writes off or
returns, gross of credits).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Literal

import numpy as np

from ..data.problems import InputError, Problem

Method = Literal["auto", "exact", "simulation"]
Position = Literal["usable", "all"]
POSITIONS = ("usable", "all")
POLICIES = ("jit_per_patient", "stocked_at_site", "consignment_at_site",
            "held_at_partner_with_jit_delivery", "held_at_hub")
TITLE_HOLDERS = ("manufacturer", "distributor", "site")
METHODS = ("auto", "exact", "simulation")
# Title holders each policy allows: who can own stock in that place.
ALLOWED_TITLE = {
    "jit_per_patient": ("manufacturer", "distributor", "site"),
    "stocked_at_site": ("site",),
    "consignment_at_site": ("manufacturer",),
    "held_at_partner_with_jit_delivery": ("manufacturer", "distributor"),
    "held_at_hub": ("manufacturer", "distributor"),
}
DAYS_PER_YEAR = 365.0
NONPERISHABLE_TOL = 1e-4     # doses/yr: bound on outdates below which life is treated as infinite
# Exact-chain budgets in work units (a deterministic proxy for time, 0.5-2 ns each depending on
# load and array sizes; see _Chain) per base-stock search (or per evaluation of a given S):
# beyond them the stock point is simulated (~10-200 ms more).
EXACT_MAX_WORK = 40_000_000        # method="auto": ~30-100 ms
EXACT_HARD_MAX_WORK = 250_000_000  # even method="exact" simulates beyond this: ~0.25-0.8 s
SIM_REPLICATIONS = 32
SIM_BATCHES = 5
SIM_DOSES = 20_000           # doses simulated (all replications) when choosing the horizon
SIM_MAX_CYCLES = 600         # review cycles simulated at most (bounds the time for daily review)
SIM_WINDOW = 8               # candidate base-stock levels simulated together
_ROUND = 9                   # decimals of float arguments in cache keys


# ----------------------------------------------------------------------------- Poisson helpers
def receivables_usd(revenue_usd_per_year: float, payment_terms_days: float) -> float:
    """What sites owe the manufacturer at any time: a year's billing over its payment days."""
    return float(revenue_usd_per_year) * float(payment_terms_days) / DAYS_PER_YEAR


def _poisson_pmf(mu: float, n: int) -> np.ndarray:
    """P(D = k) for k = 0..n-1, D ~ Poisson(mu); log-space so large means do not overflow."""
    k = np.arange(n, dtype=float)
    if mu <= 0.0:
        out = np.zeros(n)
        out[0] = 1.0
        return out
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, max(n, 1), dtype=float)))))
    return np.exp(k * math.log(mu) - mu - log_fact[:n])


def _expected_min(mu: float, n: int) -> np.ndarray:
    """E[min(D, c)] for c = 0..n-1: doses served from c on hand when Poisson(mu) are needed."""
    sf = np.clip(1.0 - np.cumsum(_poisson_pmf(mu, n)), 0.0, 1.0)   # P(D > j)
    return np.concatenate(([0.0], np.cumsum(sf[:-1])))


def poisson_loss(s: int, mu: float) -> float:
    """First-order loss E[(D - s)+] for D ~ Poisson(mu): expected shortfall of s units."""
    if s < 0:
        return mu - s
    return float(mu - _expected_min(mu, s + 1)[s])


def base_stock_level(doses_per_year: float, review_days: float, lead_days: float,
                     fill_rate: float) -> int:
    """Textbook periodic-review base stock for a non-perishable item with Poisson demand.

    Smallest S with fill 1 - (E[(D(R+L) - S)+] - E[(D(L) - S)+]) / E[D(R)] >= `fill_rate`
    (backorders; R, L rounded up to whole days as in the stock model). With L = 0 this is exactly
    the lost-sales model used here; with L > 0 the lost-sales S is never larger.
    """
    review, lead = _ceil_days(review_days, 1), _ceil_days(lead_days, 0)
    lam = doses_per_year / DAYS_PER_YEAR
    if lam <= 0:
        return 0
    mu_rl, mu_l = lam * (review + lead), lam * lead
    top = int(mu_rl + 10.0 * math.sqrt(mu_rl) + 10)
    while True:
        # E[(D - s)+] = mu - E[min(D, s)] for every s = 0..top at once
        short = (mu_rl - _expected_min(mu_rl, top + 1)) - (mu_l - _expected_min(mu_l, top + 1))
        ok = np.nonzero(1.0 - short / (lam * review) >= fill_rate - 1e-12)[0]
        if len(ok):
            return int(ok[0])
        top *= 2


def _ceil_days(x: float, low: int) -> int:
    return max(low, math.ceil(round(x, _ROUND)))


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class StockMetrics:
    """Steady-state performance of one stock point under an order-up-to-S policy.

    Rates are per year; `on_hand_doses` is a time average. `life_days`, `review_days`,
    `lead_days` are the whole days actually modelled (after conservative rounding;
    life_days = inf when treated as non-perishable). CI fields are 95 % half-widths, 0 when exact.
    """

    base_stock: int
    fill_rate: float
    target_fill_rate: float
    target_met: bool
    on_hand_doses: float
    outdated_doses_per_year: float
    issued_doses_per_year: float
    emergency_doses_per_year: float
    demand_doses_per_year: float
    replenishments_per_year: float
    received_doses_per_year: float
    method: str
    demand_model: str
    life_days: float
    review_days: int
    lead_days: int
    outdated_ci95: float = 0.0
    fill_rate_ci95: float = 0.0
    inventory_position: str = "usable"

    def as_dict(self) -> dict[str, float | int | str | bool]:
        return asdict(self)


@dataclass(frozen=True)
class _Eval:
    """Per-cycle expectations of one (S, parameters) evaluation."""

    fill: float
    on_hand: float          # dose-days per cycle
    outdated: float         # doses per cycle
    issued: float           # doses per cycle
    demand: float           # doses per cycle
    received: float         # doses per cycle
    outdated_hw: float = 0.0
    fill_hw: float = 0.0
    work: float = 0.0       # exact chain: work units spent (see _Chain), charged to searches


# ----------------------------------------------------------------------------- cycle schedule
def _schedule(life: int | None, review: int, lead: int) -> tuple[tuple, ...]:
    """Events of one review cycle: ('order',), ('arrive',), ('demand', days), ('expire',).

    Days without events are merged into one demand step (FIFO issuing with lost sales depends only
    on the total demand between events). The order of events within a day: order, delivery,
    issues, outdating at the end of the delivery's m-th day.
    """
    t_arrive = lead % review
    t_expire = None if life is None else (lead + life - 1) % review
    ops: list[tuple] = []
    for tau in range(review):
        if tau == 0:
            ops.append(("order",))
        if tau == t_arrive:
            ops.append(("arrive",))
        if ops and ops[-1][0] == "demand":
            ops[-1] = ("demand", ops[-1][1] + 1)
        else:
            ops.append(("demand", 1))
        if tau == t_expire:
            ops.append(("expire",))
    return tuple(ops)


def _slots(life: int | None, review: int, lead: int) -> tuple[int, int]:
    """(delivery slots on hand, order slots in transit) the state needs.

    At most ceil(m/R) deliveries are on hand together (youngest in the last slot; the one in the
    first slot is always the next to outdate) and floor(L/R)+1 orders in transit.
    """
    cohorts = 1 if life is None else math.ceil(life / review)
    return cohorts, lead // review + 1


def _counted(life: int | None, review: int, lead: int, position: str) -> tuple[bool, ...]:
    """Which state slots (deliveries on hand, then orders in transit) the order-up-to rule counts.

    "usable": only doses still usable on the day before the delivery after the one being ordered
    arrives (day L + R - 1 counted from the review), whether on hand (remaining life at the
    review >= L + R) or in transit (an order placed j reviews ago arrives on day L - jR with m
    days of life: counted iff m >= (j + 1) R). "all": every dose on hand and on order (the
    classic perishable base-stock rule). The last transit slot is the order being placed
    (empty at the review). Counted slots are always the youngest block.
    """
    k, p = _slots(life, review, lead)
    if life is None or position == "all":
        return (True,) * (k + p)
    arrive = lead % review        # newest delivery on hand at a review arrived R - arrive days ago
    newest_age = review - arrive if arrive > 0 else review
    ages = [newest_age + (k - 1 - i) * review for i in range(k)]
    on_hand = [life - age >= lead + review for age in ages]
    # transit slot i holds the order placed j = p - 1 - i reviews ago
    transit = [life >= (p - i) * review for i in range(p - 1)] + [True]
    return tuple(on_hand + transit)


# ----------------------------------------------------------------------------- exact chain
class _Chain:
    """Exact stationary analysis of the stock's age profile, observed at review epochs.

    A state is a vector of counts: deliveries on hand (oldest first, `k` slots) then orders in
    transit (oldest first, `p` slots). Only states reachable from an empty start are kept, one
    set per event of the cycle, so the maps between consecutive sets stay small.

    Every array operation is charged to `work` (a deterministic proxy for time, in ~ns):
    building the chain, each power-iteration cycle, the direct solve. Past `max_work` the chain
    raises TooLarge (the caller simulates), so an evaluation is bounded however slowly it
    mixes or however large the reachable set grows.
    """

    class TooLarge(Exception):
        """The reachable chain outgrew the budget: simulate instead."""

    DIRECT_SMALL = 150        # review-epoch states up to which we solve directly at once
    DIRECT_MAX_CELLS = 4e6    # ... else (memory permitting) once power iteration has cost as
    POWER_PATIENCE = 2000     # much as the solve would, or after this many cycles
    # work units ~ nanoseconds (fitted on this code; the actual time per unit is ~0.5-2 ns
    # depending on load and array sizes)
    NS_ELEMENT = 6.0          # per array element touched while building the chain
    NS_EVENT = 20_000         # fixed cost of expanding one event (unique, decode, keys)
    NS_CELL = 2.5             # per transition of a power-iteration step ...
    NS_MAP = 1_000            # ... plus per event

    def __init__(self, lam: float, life: int | None, review: int, lead: int, s: int,
                 position: str = "usable", max_work: float = math.inf):
        self.lam, self.life, self.review, self.lead, self.s = lam, life, review, lead, s
        self.k, self.p = _slots(life, review, lead)
        self.counted = np.array(_counted(life, review, lead, position))
        self.max_work = max_work
        self.work = 0.0
        self.dims = self.k + self.p
        self.base = s + 1
        if self.dims * math.log2(self.base) > 62:      # state keys would overflow int64
            raise self.TooLarge
        self.weights = self.base ** np.arange(self.dims, dtype=np.int64)
        self.ops = _schedule(life, review, lead)
        self._demand_tables: dict[int, dict[str, np.ndarray]] = {}
        self.sets = self._reachable()
        self.maps = [self._map(op, self.sets[i], self.sets[i + 1])
                     for i, op in enumerate(self.ops)]

    def _charge(self, work: float) -> None:
        self.work += work
        if self.work > self.max_work:
            raise self.TooLarge

    # -- state sets ---------------------------------------------------------------------------
    def _keys(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights

    def _decode(self, keys: np.ndarray) -> np.ndarray:
        return (keys[:, None] // self.weights[None, :]) % self.base

    def _reachable(self) -> list[np.ndarray]:
        """Sorted state keys before each event of the cycle (last = first: the cycle closes)."""
        start = np.zeros(1, dtype=np.int64)
        while True:
            sets = [start]
            keys = start
            for op in self.ops:
                y, prob, _ = self._outcomes(op, self._decode(keys))   # charges the work
                if prob is not None:
                    y = y[prob > 0]
                keys = np.unique(self._keys(y.reshape(-1, self.dims)))
                sets.append(keys)
            grown = np.union1d(start, keys)
            if len(grown) == len(start):
                sets[-1] = start
                return sets
            start = grown

    # -- events -------------------------------------------------------------------------------
    def _demand_table(self, days: int, size: int) -> dict[str, np.ndarray]:
        """Per on-hand total c < size: P(D = c), P(D >= c), E[min(D, c)], dose-days held."""
        key = (days, size)
        if key not in self._demand_tables:
            mu = self.lam * days
            pmf = _poisson_pmf(mu, size)
            hold = np.zeros(size)
            for j in range(days + 1):   # average of start and end of each day: E[(c - D_j)+]
                w = 0.5 if j in (0, days) else 1.0
                hold += w * (np.arange(size) - _expected_min(self.lam * j, size))
            self._demand_tables[key] = {
                "pmf": pmf, "tail": 1.0 - np.concatenate(([0.0], np.cumsum(pmf)))[:size],
                "served": _expected_min(mu, size), "hold": hold}
        return self._demand_tables[key]

    def _outcomes(self, op: tuple, x: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """Next states of each state in `x` (and their probabilities for a demand step)."""
        k, kind = self.k, op[0]
        self._charge(self.NS_ELEMENT * x.size + self.NS_EVENT)
        if kind == "order":
            y = x.copy()
            position = x[:, self.counted].sum(axis=1)
            y[:, -1] = np.maximum(self.s - position, 0)
            return y, None, {"ordered": y[:, -1].astype(float)}
        if kind == "arrive":
            y = x.copy()
            arrived = x[:, k]
            y[:, k:-1] = x[:, k + 1:]
            y[:, -1] = 0
            if self.life is None:
                y[:, 0] = x[:, 0] + arrived
            else:
                y[:, : k - 1] = x[:, 1:k]
                y[:, k - 1] = arrived
            return y, None, {}
        if kind == "expire":
            y = x.copy()
            y[:, 0] = 0
            return y, None, {"outdated": x[:, 0].astype(float)}
        # demand over op[1] days: issue oldest first, shortfall is lost (emergency shipment)
        tot = x[:, :k].sum(axis=1)
        size = int(tot.max()) + 1
        # several (states, outcomes, slots) arrays: charged before allocating them
        self._charge(4.0 * self.NS_ELEMENT * len(x) * size * (self.dims + 2))
        tab = self._demand_table(op[1], size)
        d = np.arange(size)
        take = np.minimum(d[None, :], tot[:, None])                          # (n, s+1)
        left = np.maximum(np.cumsum(x[:, :k], axis=1)[:, None, :] - take[:, :, None], 0)
        cohorts = np.diff(left, axis=2, prepend=0)
        pipe = np.broadcast_to(x[:, None, k:], (*take.shape, self.p))
        y = np.concatenate([cohorts, pipe], axis=2)
        prob = np.where(d[None, :] < tot[:, None], tab["pmf"][None, :], 0.0)
        prob[np.arange(len(x)), tot] = tab["tail"][tot]
        return y, prob, {"served": tab["served"][tot], "hold": tab["hold"][tot]}

    def _map(self, op: tuple, src: np.ndarray, dst: np.ndarray) -> dict[str, np.ndarray]:
        y, prob, extra = self._outcomes(op, self._decode(src))
        to = np.searchsorted(dst, self._keys(y.reshape(-1, self.dims))).reshape(y.shape[:-1])
        if prob is not None:
            to = np.where(prob > 0, to, 0)          # impossible outcomes carry no weight
            extra["prob"] = prob
        extra["to"] = np.minimum(to, len(dst) - 1)
        return extra

    # -- stationary distribution --------------------------------------------------------------
    def _step(self, pi: np.ndarray, acc: dict[str, float] | None = None) -> np.ndarray:
        for m, dst in zip(self.maps, self.sets[1:], strict=True):
            if acc is not None:
                for key in ("ordered", "outdated", "served", "hold"):
                    if key in m:
                        acc[key] += float(pi @ m[key])
            if "prob" in m:
                pi = np.bincount(m["to"].ravel(), weights=(pi[:, None] * m["prob"]).ravel(),
                                 minlength=len(dst))
            else:
                pi = np.bincount(m["to"], weights=pi, minlength=len(dst))
        return pi

    def _direct_cells(self) -> int:
        """Size of the largest array `_direct` builds (start states x branches of one step)."""
        return len(self.sets[0]) * max(m["to"].size for m in self.maps)

    def _solve_direct(self, cost: float) -> np.ndarray | None:
        self._charge(cost)
        return self._direct()

    def _direct(self) -> np.ndarray | None:
        """Stationary distribution by a linear solve on the one-cycle transition matrix."""
        n0 = len(self.sets[0])
        rows = np.eye(n0)                      # rows[j] = distribution started in state j
        for m, src, dst in zip(self.maps, self.sets[:-1], self.sets[1:], strict=True):
            n_src, n_dst = len(src), len(dst)
            to = m["to"].reshape(n_src, -1)
            prob = m["prob"] if "prob" in m else np.ones_like(to, dtype=float)
            # scatter-add, not a dense matmul: BLAS threads stall on a busy machine
            flat = (np.arange(n0)[:, None, None] * n_dst + to[None]).ravel()
            w = (rows[:, :, None] * prob[None]).ravel()
            rows = np.bincount(flat, weights=w, minlength=n0 * n_dst).reshape(n0, n_dst)
        a = rows.T - np.eye(n0)
        a[-1, :] = 1.0
        b = np.zeros(n0)
        b[-1] = 1.0
        try:
            pi = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            return None
        return np.clip(pi, 0.0, None)

    def evaluate(self, tol: float = 1e-12, max_cycles: int = 20_000) -> _Eval:
        """Stationary expectations per cycle; TooLarge when the budget runs out first."""
        n0 = len(self.sets[0])
        cells = sum(m["to"].size for m in self.maps)
        step_cost = self.NS_CELL * cells + self.NS_MAP * len(self.maps)
        # building the one-cycle matrix row by row, then an LU solve (BLAS)
        direct_cost = 4.0 * n0 * cells + n0 ** 3 / 50 + 15 * self.NS_MAP * len(self.maps)
        fits = (self._direct_cells() <= self.DIRECT_MAX_CELLS
                and self.work + step_cost + direct_cost <= self.max_work)
        pi = None
        if n0 <= self.DIRECT_SMALL and fits:
            fits = False
            pi = self._solve_direct(direct_cost)
        if pi is None:
            pi = np.zeros(n0)
            pi[0] = 1.0                               # key 0 = empty stock, nothing ordered
            for i in range(max_cycles):
                # ski rental: once iterating has cost as much as a solve would, solve
                if fits and (i * step_cost >= direct_cost or i == self.POWER_PATIENCE
                             or self.work + 2 * step_cost + direct_cost > self.max_work):
                    # slow mixing (e.g. rare demand): solve instead of iterating on
                    fits = False
                    direct = self._solve_direct(direct_cost)
                    if direct is not None:
                        pi = direct
                        break
                if self.work + 2 * step_cost > self.max_work:   # keep one for the final step
                    raise self.TooLarge
                self._charge(step_cost)
                nxt = self._step(pi)
                if np.abs(nxt - pi).sum() < tol:
                    pi = nxt
                    break
                pi = 0.5 * (pi + nxt)    # lazy chain: same fixed point, no periodic oscillation
        self._charge(step_cost)
        acc = dict.fromkeys(("ordered", "outdated", "served", "hold"), 0.0)
        self._step(pi / pi.sum(), acc)
        demand = self.lam * self.review
        return _Eval(fill=acc["served"] / demand if demand > 0 else 0.0, on_hand=acc["hold"],
                     outdated=acc["outdated"], issued=acc["served"], demand=demand,
                     received=acc["ordered"], work=self.work)


def _closed_form(lam: float, life: int | None, review: int, s: int) -> _Eval:
    """L = 0 and (m <= R or no perishing): every cycle starts with S fresh on hand (newsvendor)."""
    usable = review if life is None else min(life, review)
    emin = [_expected_min(lam * j, s + 1)[s] for j in range(usable + 1)]
    served = emin[usable]
    hold = sum((0.5 if j in (0, usable) else 1.0) * (s - emin[j]) for j in range(usable + 1))
    outdated = 0.0 if life is None or life > review else s - served
    demand = lam * review
    return _Eval(fill=served / demand if demand > 0 else 0.0, on_hand=hold, outdated=outdated,
                 issued=served, demand=demand, received=served + outdated)


def _effective_life(lam: float, life: int | None, review: int, s: int,
                    position: str = "usable") -> int | None:
    """Life, or None when outdating is negligible (< NONPERISHABLE_TOL doses per year).

    At most S-1 counted doses are ahead of a new delivery's dose (FIFO), and doses the rule did
    not count are gone within R days; so the dose can outdate only if fewer than S doses are
    needed over its last m-R days ("usable"; m days for "all"), and outdates/yr <=
    deliveries/yr x S x P(D(window) <= S-1).
    """
    if life is None or s == 0:
        return life
    window = life - review if position == "usable" and life > review else life
    p_outdate = float(np.sum(_poisson_pmf(lam * window, s)))    # P(D(window) <= S-1)
    bound = DAYS_PER_YEAR / review * s * p_outdate
    return None if bound < NONPERISHABLE_TOL else life


@lru_cache(maxsize=8192)
def _exact_eval(lam: float, life: int | None, review: int, lead: int, s: int, position: str,
                max_work: float) -> _Eval | None:
    """Exact evaluation at base stock s; None if building and solving the chain would cost
    more than `max_work` work units (see _Chain)."""
    life = _effective_life(lam, life, review, s, position)
    if lead == 0 and (life is None or life <= review):
        return _closed_form(lam, life, review, s)
    try:
        chain = _Chain(lam, life, review, lead, s, position, max_work)
        return chain.evaluate()
    except _Chain.TooLarge:
        return None


# ----------------------------------------------------------------------------- simulation
def _dose_demand(rng: np.random.Generator, lam: float, n_doses: int, interval: float,
                 days: int, reps: int) -> np.ndarray:
    """Doses needed per day, shape (days, reps): Poisson patients, each with its dose cadence."""
    if n_doses <= 1:
        return rng.poisson(lam, size=(days, reps))
    offsets = np.floor(np.arange(n_doses) * interval + 1e-9).astype(int)
    span = int(offsets[-1])
    patients = rng.poisson(lam / n_doses, size=(days + span, reps))   # from day -span on
    out = np.zeros((days, reps), dtype=np.int64)
    for off in offsets:                    # a patient arriving on day a needs a dose on a + off
        out += patients[span - off: span - off + days]
    return out


class _SimPass:
    """Replications x base-stock levels of one simulation pass: the stock's age profile, the
    orders in transit, and what each cycle served, outdated, held and received."""

    def __init__(self, life: int | None, review: int, lead: int, s_values: np.ndarray,
                 reps: int, cycles: int, position: str) -> None:
        self.life = life
        self.k, self.p = _slots(life, review, lead)
        counted = _counted(life, review, lead, position)
        self.first = counted.index(True)     # counted slots: the youngest block (last is True)
        assert all(counted[self.first:]), \
            "counted slots must be the youngest deliveries and orders"
        ns = len(s_values)
        self.s_arr = np.broadcast_to(s_values.astype(np.int64), (reps, ns))
        self.coh = np.zeros((reps, ns, self.k), dtype=np.int64)     # deliveries on hand
        self.pipe = np.zeros((reps, ns, self.p), dtype=np.int64)    # orders in transit
        self.avail = np.zeros((reps, ns), dtype=np.int64)           # doses on hand
        self.served = np.zeros((cycles, reps, ns))
        self.outd = np.zeros((cycles, reps, ns))
        self.hold = np.zeros((cycles, reps, ns))
        self.got = np.zeros((cycles, reps, ns))
        self.needed = np.zeros((cycles, reps))

    def position_now(self) -> np.ndarray:
        """Inventory position at a review: the counted on-hand and in-transit slots."""
        if self.first >= self.k:
            return self.pipe[:, :, self.first - self.k:].sum(axis=2)
        return self.coh[:, :, self.first:].sum(axis=2) + self.pipe.sum(axis=2)

    def order(self, row: int) -> None:
        """Order up to S on the inventory position."""
        q = np.maximum(self.s_arr - self.position_now(), 0)
        self.pipe[:, :, -1] = q
        if row >= 1:            # it replaces what the previous cycle used up
            self.got[row - 1] += q

    def arrive(self) -> None:
        """The oldest order in transit arrives (youngest slot on hand)."""
        coh, pipe = self.coh, self.pipe
        arrived = pipe[:, :, 0].copy()
        pipe[:, :, :-1] = pipe[:, :, 1:]
        pipe[:, :, -1] = 0
        self.avail = self.avail + arrived
        if self.life is None:
            coh[:, :, 0] += arrived
        else:
            coh[:, :, :-1] = coh[:, :, 1:]
            coh[:, :, -1] = arrived

    def expire(self, row: int) -> None:
        """The oldest delivery's leftover doses outdate."""
        if row >= 0:
            self.outd[row] += self.coh[:, :, 0]
        self.avail = self.avail - self.coh[:, :, 0]
        self.coh[:, :, 0] = 0

    def demand(self, block: np.ndarray, days: int, row: int) -> None:
        """Issue `days` days of demand (block: (days, reps)) oldest first; lost sales."""
        avail, coh = self.avail, self.coh
        reps = block.shape[1]
        total = block.sum(axis=0)
        if row >= 0:
            self.needed[row] += total
        if not total.any():                  # nobody needed a dose: stock just sits
            if row >= 0:
                self.hold[row] += avail * days
            return
        take = np.minimum(avail, total[:, None])
        if row >= 0:
            cum_d = np.cumsum(block, axis=0)
            start = np.concatenate([np.zeros((1, reps)), cum_d[:-1]])
            on_start = np.maximum(avail[None] - start[:, :, None], 0)
            on_end = np.maximum(avail[None] - cum_d[:, :, None], 0)
            self.hold[row] += 0.5 * (on_start + on_end).sum(axis=0)
            self.served[row] += take
        # FIFO: what is left of the cumulative stock, oldest delivery first
        left = np.maximum(np.cumsum(coh, axis=2) - total[:, None, None], 0)
        coh[:, :, 0] = left[:, :, 0]
        np.subtract(left[:, :, 1:], left[:, :, :-1], out=coh[:, :, 1:])
        self.avail = avail - take

    def close(self) -> None:
        """The order that closes the last cycle (a review lies between cycles: expire nothing
        first)."""
        self.got[-1] += np.maximum(self.s_arr - self.position_now(), 0)

    def batch_means(self, batches: int) -> list[_Eval]:
        """Per level: means per cycle, with 95 % half-widths from batch means (consecutive
        blocks of cycles per replication)."""
        served, outd, hold, got, needed = (self.served, self.outd, self.hold, self.got,
                                           self.needed)
        cycles, reps, ns = served.shape

        def blocks(a: np.ndarray) -> np.ndarray:
            return a.reshape(batches, cycles // batches, *a.shape[1:]).sum(axis=1)

        b_served, b_outd, b_need = blocks(served), blocks(outd), blocks(needed)[:, :, None]
        nb = batches * reps
        per = cycles // batches                  # cycles per batch
        z = 1.96
        out = []
        for j in range(ns):
            tot_need = needed.sum()
            fill = served[:, :, j].sum() / tot_need if tot_need > 0 else 0.0
            resid = (b_served[:, :, j] - fill * b_need[:, :, 0]).ravel()
            mean_need = b_need.mean()
            fill_hw = (z * resid.std(ddof=1) / math.sqrt(nb) / mean_need) if mean_need > 0 \
                else 0.0
            o = b_outd[:, :, j].ravel() / per
            out.append(_Eval(
                fill=float(fill), on_hand=float(hold[:, :, j].mean()),
                outdated=float(o.mean()), issued=float(served[:, :, j].mean()),
                demand=float(needed.mean()), received=float(got[:, :, j].mean()),
                outdated_hw=float(z * o.std(ddof=1) / math.sqrt(nb)), fill_hw=float(fill_hw)))
        return out


def _simulate(lam: float, life: int | None, review: int, lead: int, s_values: np.ndarray,
              n_doses: int, interval: float, seed: int, horizon_days: int,
              position: str) -> list[_Eval]:
    """Simulate all base-stock levels in `s_values` on the same demand (common random numbers)."""
    reps, batches = SIM_REPLICATIONS, SIM_BATCHES
    k, p = _slots(life, review, lead)
    ops = _schedule(life, review, lead)
    warm = max(5, k + p + 2)
    span = min(horizon_days, SIM_MAX_CYCLES * review)
    cycles = batches * max(4, math.ceil(span / (review * batches)))
    rng = np.random.default_rng(seed)
    dem = _dose_demand(rng, lam, n_doses, interval, (warm + cycles) * review, reps)
    sim = _SimPass(life, review, lead, s_values, reps, cycles, position)
    t = 0
    for c in range(warm + cycles):
        row = c - warm
        for op in ops:
            kind = op[0]
            if kind == "order":
                sim.order(row)
            elif kind == "arrive":
                sim.arrive()
            elif kind == "expire":
                sim.expire(row)
            else:
                days = op[1]
                sim.demand(dem[t: t + days], days, row)
                t += days
    sim.close()
    return sim.batch_means(batches)


# ----------------------------------------------------------------------------- stock metrics
def _attainable_fill(life: int | None, review: int) -> float:
    """Best fill rate any S reaches: stock exists on m of every R days when m < R."""
    return 1.0 if life is None else min(1.0, life / review)


@lru_cache(maxsize=4096)
def _stock_metrics_cached(doses_per_year: float, life: int | None, review: int, lead: int,
                          target: float, n_doses: int, interval: float, method: str, seed: int,
                          base_stock: int | None, horizon_days: int,
                          position: str) -> StockMetrics:
    lam = doses_per_year / DAYS_PER_YEAR
    repeat = n_doses > 1
    demand_model = "patient_cadence" if repeat else "poisson"
    life_out = math.inf if life is None else float(life)
    zero = StockMetrics(
        base_stock=0, fill_rate=0.0, target_fill_rate=target, target_met=target <= 0,
        on_hand_doses=0.0, outdated_doses_per_year=0.0, issued_doses_per_year=0.0,
        emergency_doses_per_year=doses_per_year, demand_doses_per_year=doses_per_year,
        replenishments_per_year=0.0, received_doses_per_year=0.0, method="exact",
        demand_model=demand_model, life_days=life_out, review_days=review, lead_days=lead,
        inventory_position=position)
    if lam <= 0 or life == 0 or base_stock == 0:
        return zero
    attainable = _attainable_fill(life, review)
    goal = target * attainable
    s0 = base_stock if base_stock is not None else base_stock_level(
        doses_per_year, review, lead, goal)

    found = None
    if method == "exact" or (method == "auto" and not repeat):
        budget = EXACT_MAX_WORK if method == "auto" else EXACT_HARD_MAX_WORK
        if base_stock is not None:
            ev0 = _exact_eval(lam, life, review, lead, base_stock, position, budget)
            found = None if ev0 is None else (base_stock, ev0)
        else:
            found = _search_exact(lam, life, review, lead, goal, s0, position, budget)
    if found is not None:
        demand_model = "poisson"
        s, ev = found
        kind = "exact"
    else:
        if base_stock is not None:
            s = base_stock
            ev = _simulate(lam, life, review, lead, np.array([s]), n_doses, interval, seed,
                           horizon_days, position)[0]
        else:
            s, ev = _search_sim(lam, life, review, lead, goal, s0, n_doses, interval, seed,
                                horizon_days, position, target)
        kind = "simulation"
    per_year = DAYS_PER_YEAR / review
    # simulation: issued = simulated fill x nominal demand (ratio estimator, less noisy)
    issued = ev.issued * per_year if kind == "exact" else ev.fill * doses_per_year
    eff_life = _effective_life(lam, life, review, s, position)
    return StockMetrics(
        base_stock=int(s), fill_rate=ev.fill, target_fill_rate=target,
        # a sampled fill rate can beat the m/R ceiling by chance (few doses): not the target
        target_met=bool(ev.fill >= target - 1e-12 and target <= attainable + 1e-12),
        on_hand_doses=ev.on_hand / review,
        outdated_doses_per_year=ev.outdated * per_year,
        issued_doses_per_year=issued, emergency_doses_per_year=max(0.0, doses_per_year - issued),
        demand_doses_per_year=doses_per_year,
        # an order-up-to review ships only when doses were issued or outdated since the last
        # one; each shipment carries at least a dose, so the expected shipments are at most
        # the expected doses received (exact where an order is one dose, as at a low-volume
        # stock point) and at most one per review. Charging every review overstated a
        # 3-dose-a-year stock's replenishments eightfold.
        replenishments_per_year=min(per_year, ev.received * per_year) if s > 0 else 0.0,
        received_doses_per_year=ev.received * per_year, method=kind, demand_model=demand_model,
        life_days=math.inf if eff_life is None else float(eff_life), review_days=review,
        lead_days=lead, outdated_ci95=ev.outdated_hw * per_year, fill_rate_ci95=ev.fill_hw,
        inventory_position=position)


def _search_exact(lam: float, life: int | None, review: int, lead: int, goal: float,
                  s0: int, position: str, budget: float) -> tuple[int, _Eval] | None:
    """Smallest S whose exact fill rate reaches `goal`, searched from the textbook S.

    None (the caller simulates) when the evaluations of the search together would cost more
    than `budget` work units (each one is capped at what is left). The work is a
    deterministic function of the arguments, so the outcome does not depend on the cache or
    the machine.
    """
    spent = 0.0

    def at(level: int) -> _Eval | None:
        nonlocal spent
        if spent >= budget:
            return None
        out = _exact_eval(lam, life, review, lead, level, position, budget - spent)
        if out is not None:
            spent += out.work
        return out

    # fill rises with S: gallop from the textbook S to bracket the answer (first steps of about
    # half a standard deviation of demand), then bisect
    s = max(1, s0)
    ev = at(s)
    if ev is None:
        return None
    step = max(1, math.isqrt(s) // 2)
    if ev.fill >= goal - 1e-12:
        hi, ev_hi, lo = s, ev, 0                    # fill(hi) >= goal > fill(lo); S = 0 fails
        while hi > 1:
            probe = max(1, hi - step)
            e = at(probe)
            if e is None:
                return None
            if e.fill < goal - 1e-12:
                lo = probe
                break
            hi, ev_hi, step = probe, e, step * 2
    else:
        lo = s
        while True:
            # gentle steps up: chains grow quickly with S, do not overshoot by much
            probe = lo + step
            e = at(probe)
            if e is None:
                return None
            if e.fill >= goal - 1e-12:
                hi, ev_hi = probe, e
                break
            lo, step = probe, min(step * 2, max(1, probe // 4))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        e = at(mid)
        if e is None:
            return None
        if e.fill >= goal - 1e-12:
            hi, ev_hi = mid, e
        else:
            lo = mid
    return hi, ev_hi


def _search_sim(lam: float, life: int | None, review: int, lead: int, goal: float, s0: int,
                n_doses: int, interval: float, seed: int, horizon_days: int,
                position: str, target: float) -> tuple[int, _Eval]:
    """Smallest simulated S reaching `goal`; never raises.

    Every pass simulates up to SIM_WINDOW levels on the same demand (common random numbers:
    a level's result does not depend on the levels simulated with it). The first pass takes the
    levels around the textbook S plus a base stock that never runs out; when life < R that
    level's fill rate is the sample's own ceiling (e.g. few patients with clustered doses) and
    the goal becomes target x that ceiling if lower. Later passes bisect (with up to
    SIM_WINDOW levels) between the largest level below the goal and the smallest reaching it,
    so a search takes at most ~log9(big) + 2 passes. If no simulated level reaches the goal
    (a rule whose fill rate stalls below it) the same bisection returns the smallest level
    within the confidence half-width of the best fill rate seen (the caller reports
    target_met=False).
    """
    big = int(lam * (review + lead) * 50 + 100)
    seen: dict[int, _Eval] = {}

    def run(levels: list[int]) -> None:
        new = sorted({int(x) for x in levels if x >= 1} - seen.keys())
        if new:
            evs = _simulate(lam, life, review, lead, np.array(new), n_doses, interval, seed,
                            horizon_days, position)
            seen.update(zip(new, evs, strict=True))

    def smallest(want: float) -> tuple[int, _Eval] | None:
        """Bisect between the largest level below `want` and the smallest reaching it."""
        for _ in range(20):       # SIM_WINDOW cuts per pass: ~log9(big) passes at most
            ok = [s for s, e in seen.items() if e.fill >= want]
            if not ok:
                return None
            hi = min(ok)
            lo = max((s for s in seen if s < hi), default=0)    # fill(lo) < want; S=0 fails
            if hi - lo <= 1:
                break
            gap = hi - lo - 1
            if gap <= SIM_WINDOW:
                run(list(range(lo + 1, hi)))
            else:
                run([lo + round(gap * (i + 1) / (SIM_WINDOW + 1)) for i in range(SIM_WINDOW)])
        hi = min(s for s, e in seen.items() if e.fill >= want)
        return hi, seen[hi]

    first = max(1, s0 - 2)
    run([*range(first, first + SIM_WINDOW), big])
    want = goal
    if life is not None and life < review:
        want = min(goal, target * seen[big].fill)
    found = smallest(want - 1e-12)
    if found is None:
        # the fill rate stalls below the goal (e.g. the "all" rule): the smallest level
        # statistically indistinguishable from the best one seen
        top = max(seen.values(), key=lambda e: e.fill)
        found = smallest(top.fill - top.fill_hw - 1e-12)
    assert found is not None
    return found


def stock_metrics(doses_per_year: float, life_days: float, review_days: float,
                  lead_days: float, fill_rate: float, *, doses_per_patient: float = 1,
                  dose_interval_days: float = 0.0, method: Method = "auto", seed: int = 0,
                  base_stock: int | None = None, horizon_days: int | None = None,
                  inventory_position: Position = "usable", source: str = "stock_metrics",
                  row: int | None = None) -> StockMetrics:
    """Steady-state stock, outdates and fill rate of one stock point (see module docstring).

    `base_stock` evaluates a given S instead of searching for the smallest S meeting
    `fill_rate`. `horizon_days` is the simulated length per replication after warm-up (default:
    enough for ~20,000 simulated doses over all replications, clamped to 1-10 years).
    `inventory_position` picks what the order-up-to rule counts ("usable" or "all", see the
    module docstring). `source`/`row` name where the inputs came from in error messages.
    Results are cached.
    """
    problems = _check_numbers(source, row, doses_per_year=doses_per_year, life_days=life_days,
                              review_days=review_days, lead_days=lead_days,
                              fill_rate=fill_rate, doses_per_patient=doses_per_patient,
                              dose_interval_days=dose_interval_days)
    if method not in METHODS:
        problems.append(Problem(source, row, "method", f"expected one of {', '.join(METHODS)}",
                                str(method)))
    if inventory_position not in POSITIONS:
        problems.append(Problem(source, row, "inventory_position",
                                f"expected one of {', '.join(POSITIONS)}", str(inventory_position)))
    if base_stock is not None and base_stock < 0:
        problems.append(Problem(source, row, "base_stock", "must be >= 0", str(base_stock)))
    if problems:
        raise InputError(problems)
    life = None if math.isinf(life_days) else max(0, math.floor(round(life_days, _ROUND)))
    n_doses = max(1, round(doses_per_patient))
    return _stock_metrics_cached(
        round(float(doses_per_year), _ROUND), life, _ceil_days(review_days, 1),
        _ceil_days(lead_days, 0), round(float(fill_rate), _ROUND), n_doses,
        round(float(dose_interval_days), _ROUND), method, int(seed), base_stock,
        _horizon(doses_per_year, horizon_days), inventory_position)


def max_issue_age_days(life_days: float | np.ndarray) -> float | np.ndarray:
    """The oldest a dose can be when a stock point issues it, for deliveries that arrive with
    `life_days` of usable life: doses are issued oldest first and a delivery's leftovers are
    outdated only at the end of its floor(life)-th day on hand, so a dose may go out on its
    last usable day, floor(life) days old (the same rounding as `stock_metrics`). Which
    patient gets such a dose is not known in advance: a delivery from stock is safe only when
    planned for it. Works element-wise on arrays."""
    age = np.floor(np.round(np.asarray(life_days, dtype=float), _ROUND))
    return age if age.ndim else float(age)


def _horizon(doses_per_year: float, horizon_days: int | None) -> int:
    """Simulated days per replication: long enough for SIM_DOSES doses over all replications."""
    if horizon_days is not None:
        return max(1, int(horizon_days))
    rate = max(doses_per_year, 1e-9) / DAYS_PER_YEAR * SIM_REPLICATIONS
    return int(min(3650, max(365, math.ceil(SIM_DOSES / rate))))


def _check_numbers(source: str, row: int | None, **values: float) -> list[Problem]:
    """Range checks for the numeric arguments, all collected."""
    rules = {  # name: (min, max, allow_inf)
        "doses_per_year": (0.0, math.inf, False), "life_days": (0.0, math.inf, True),
        "review_days": (1.0, math.inf, False), "lead_days": (0.0, math.inf, False),
        "fill_rate": (0.0, 0.9999, False), "doses_per_patient": (1.0, math.inf, False),
        "dose_interval_days": (0.0, math.inf, False), "price": (0.0, math.inf, False),
        "cogs": (0.0, math.inf, False), "cost_of_capital": (0.0, math.inf, False),
        "holding_cost_usd_per_dose_day": (0.0, math.inf, False),
        "distributor_unit_value_usd_per_dose": (0.0, math.inf, False),
    }
    out = []
    for name, v in values.items():
        lo, hi, allow_inf = rules[name]
        try:
            x = float(v)
        except (TypeError, ValueError):
            out.append(Problem(source, row, name, "expected a number", repr(v)))
            continue
        if math.isnan(x) or (math.isinf(x) and not allow_inf) or not lo <= x <= hi:
            out.append(Problem(source, row, name,
                               f"expected a number in [{lo:g}, {hi:g}]", repr(v)))
    return out


# ----------------------------------------------------------------------------- policy terms
@dataclass(frozen=True)
class PolicyTerms:
    """Commercial and ordering terms of one stocking policy between manufacturer and site."""

    policy: str
    title_holder: str
    payment_terms_days: float = 30.0
    returnable_fraction: float = 0.0
    return_window_days: float = 0.0
    restocking_fee_pct: float = 0.0
    order_lead_time_hours: float = 0.0
    review_period_days: float = 7.0
    target_fill_rate: float = 0.95

    def __post_init__(self) -> None:
        problems = terms_problems(self)
        if problems:
            raise InputError(problems)

    @property
    def returns_active(self) -> bool:
        return self.returnable_fraction > 0 and self.return_window_days > 0


def terms_problems(terms: PolicyTerms | dict, file: str = "policy terms",
                   row: int | None = None) -> list[Problem]:
    """Every problem in a set of terms (a PolicyTerms or a mapping such as a table row)."""
    get = terms.get if isinstance(terms, dict) else (lambda k, d=None: getattr(terms, k, d))
    out: list[Problem] = []
    policy, holder = get("policy"), get("title_holder")
    if policy not in POLICIES:
        out.append(Problem(file, row, "policy", f"expected one of {', '.join(POLICIES)}",
                           str(policy)))
    if holder not in TITLE_HOLDERS:
        out.append(Problem(file, row, "title_holder",
                           f"expected one of {', '.join(TITLE_HOLDERS)}", str(holder)))
    elif policy in POLICIES and holder not in ALLOWED_TITLE[policy]:
        out.append(Problem(file, row, "title_holder",
                           f"policy {policy} needs title with "
                           f"{' or '.join(ALLOWED_TITLE[policy])}", str(holder)))
    ranges = {"payment_terms_days": (0, math.inf), "returnable_fraction": (0, 1),
              "return_window_days": (0, math.inf), "restocking_fee_pct": (0, 1),
              "order_lead_time_hours": (0, math.inf), "review_period_days": (1, math.inf),
              "target_fill_rate": (0, 0.9999)}
    for name, (lo, hi) in ranges.items():
        v = get(name, PolicyTerms.__dataclass_fields__[name].default)
        try:
            x = float(v)
            bad = math.isnan(x) or math.isinf(x) or not lo <= x <= hi
        except (TypeError, ValueError):
            bad = True
        if bad:
            out.append(Problem(file, row, name, f"expected a number in [{lo:g}, {hi:g}]",
                               repr(v)))
    return out


# ----------------------------------------------------------------------------- economics
@dataclass(frozen=True)
class PolicyEconomics:
    """Yearly economics of one policy for one (site, product, volume); see module docstring.

    Money in USD; `*_per_year` rates. Transfers (return credits, restocking fees, prices) appear
    in the per-party figures only; `total_cost_usd_per_year` is the real network cost.
    """

    policy: str
    title_holder: str
    stock: StockMetrics
    doses_per_year: float
    patient_shipments_per_year: float
    inventory_value_usd: float
    holding_cost_usd_per_year: float
    wasted_doses_per_year: float
    expired_doses_manufacturer_per_year: float
    expired_doses_distributor_per_year: float
    expired_doses_site_per_year: float
    returned_doses_per_year: float
    return_credits_usd_per_year: float
    restocking_fees_usd_per_year: float
    revenue_usd_per_year: float
    manufacturer_write_off_usd_per_year: float
    distributor_loss_usd_per_year: float
    site_loss_usd_per_year: float
    working_capital_manufacturer_usd: float
    working_capital_distributor_usd: float
    working_capital_site_usd: float
    capital_charge_manufacturer_usd_per_year: float
    capital_charge_distributor_usd_per_year: float
    capital_charge_site_usd_per_year: float
    capital_charge_usd_per_year: float
    expiry_cost_usd_per_year: float
    total_cost_usd_per_year: float
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, float | int | str | bool]:
        """Flat record: the stock metrics' fields merged in (no name is shared), notes joined."""
        out: dict[str, float | int | str | bool] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "stock":
                out.update(v.as_dict())
            elif f.name == "notes":
                out["notes"] = "; ".join(v)
            else:
                out[f.name] = v
        return out


def _policy_problems(terms: PolicyTerms, method: str, inventory_position: str, source: str,
                     row: int | None, **numbers: float) -> list[Problem]:
    """Every problem in evaluate_policy's arguments, collected (numbers first, in order)."""
    problems = _check_numbers(source, row, **numbers)
    if not isinstance(terms, PolicyTerms):
        problems.append(Problem(source, row, "terms", "expected PolicyTerms", repr(terms)))
    for name, value, allowed in (("method", method, METHODS),
                                 ("inventory_position", inventory_position, POSITIONS)):
        if value not in allowed:
            problems.append(Problem(source, row, name, f"expected one of {', '.join(allowed)}",
                                    str(value)))
    return problems


def _returns_apply(terms: PolicyTerms) -> bool:
    """Expired stock goes back under the return terms (a manufacturer's own stock just
    outdates: there is nobody to return it to)."""
    return terms.returns_active and terms.title_holder != "manufacturer"


def _jit_economics(terms: PolicyTerms, doses_per_year: float, life_days: float,
                   lead_total: float, price: float, cost_of_capital: float) -> PolicyEconomics:
    """Just-in-time per patient: no stock, so no expiries; the manufacturer carries the
    receivables until the site pays."""
    sm = StockMetrics(
        base_stock=0, fill_rate=1.0, target_fill_rate=terms.target_fill_rate,
        target_met=True, on_hand_doses=0.0, outdated_doses_per_year=0.0,
        issued_doses_per_year=doses_per_year, emergency_doses_per_year=0.0,
        demand_doses_per_year=doses_per_year, replenishments_per_year=0.0,
        received_doses_per_year=0.0, method="exact", demand_model="per_patient",
        life_days=float(life_days), review_days=0, lead_days=_ceil_days(lead_total, 0))
    revenue = price * doses_per_year
    receivables = receivables_usd(revenue, terms.payment_terms_days)
    cap_m = cost_of_capital * receivables
    return PolicyEconomics(
        policy=terms.policy, title_holder=terms.title_holder, stock=sm,
        doses_per_year=doses_per_year,
        patient_shipments_per_year=doses_per_year, inventory_value_usd=0.0,
        holding_cost_usd_per_year=0.0, wasted_doses_per_year=0.0,
        expired_doses_manufacturer_per_year=0.0, expired_doses_distributor_per_year=0.0,
        expired_doses_site_per_year=0.0, returned_doses_per_year=0.0,
        return_credits_usd_per_year=0.0, restocking_fees_usd_per_year=0.0,
        revenue_usd_per_year=revenue, manufacturer_write_off_usd_per_year=0.0,
        distributor_loss_usd_per_year=0.0, site_loss_usd_per_year=0.0,
        working_capital_manufacturer_usd=receivables, working_capital_distributor_usd=0.0,
        working_capital_site_usd=0.0, capital_charge_manufacturer_usd_per_year=cap_m,
        capital_charge_distributor_usd_per_year=0.0, capital_charge_site_usd_per_year=0.0,
        capital_charge_usd_per_year=cap_m, expiry_cost_usd_per_year=0.0,
        total_cost_usd_per_year=cap_m, notes=("no stock: one shipment per dose",))


def _stock_economics(terms: PolicyTerms, sm: StockMetrics, doses_per_year: float, price: float,
                     cogs: float, dist_value: float, cost_of_capital: float,
                     holding_cost_usd_per_dose_day: float,
                     notes: list[str]) -> PolicyEconomics:
    """Money of a stocking policy: who owns the stock and what a dose is worth on their books,
    returns of expired stock, working capital by holder and the network cost."""
    pol, holder = terms.policy, terms.title_holder
    unit_value = {"site": price, "manufacturer": cogs, "distributor": dist_value}[holder]
    wasted = sm.outdated_doses_per_year
    returned = terms.returnable_fraction * wasted if _returns_apply(terms) else 0.0
    expired_holder = wasted - returned
    credit = unit_value * (1.0 - terms.restocking_fee_pct)
    credits = returned * credit
    fees = returned * unit_value * terms.restocking_fee_pct
    inv_value = sm.on_hand_doses * unit_value
    holding = sm.on_hand_doses * holding_cost_usd_per_dose_day * DAYS_PER_YEAR

    exp = dict.fromkeys(TITLE_HOLDERS, 0.0)
    exp[holder] = expired_holder
    # doses the site pays for: administered, plus (site stock) those it bought and lost
    billed = sm.demand_doses_per_year + (wasted if holder == "site" else 0.0)
    revenue = price * billed
    receivables = receivables_usd(revenue, terms.payment_terms_days)
    wc = dict.fromkeys(TITLE_HOLDERS, 0.0)
    wc["manufacturer"] = receivables + (inv_value if holder == "manufacturer" else 0.0)
    wc["distributor"] = inv_value if holder == "distributor" else 0.0
    site_inv = inv_value if holder == "site" else 0.0
    wc["site"] = max(0.0, site_inv - receivables)   # site payables = manufacturer's receivables
    cap = {h: cost_of_capital * wc[h] for h in TITLE_HOLDERS}
    holder_loss = expired_holder * unit_value + fees
    m_write_off = credits + (expired_holder * cogs if holder == "manufacturer" else 0.0)
    expiry_cost = wasted * cogs
    return PolicyEconomics(
        policy=pol, title_holder=holder, stock=sm, doses_per_year=doses_per_year,
        patient_shipments_per_year=(sm.demand_doses_per_year if pol.startswith("held_at")
                                    else sm.emergency_doses_per_year),
        inventory_value_usd=inv_value, holding_cost_usd_per_year=holding,
        wasted_doses_per_year=wasted,
        expired_doses_manufacturer_per_year=exp["manufacturer"],
        expired_doses_distributor_per_year=exp["distributor"],
        expired_doses_site_per_year=exp["site"], returned_doses_per_year=returned,
        return_credits_usd_per_year=credits, restocking_fees_usd_per_year=fees,
        revenue_usd_per_year=revenue, manufacturer_write_off_usd_per_year=m_write_off,
        distributor_loss_usd_per_year=(holder_loss + cap["distributor"])
        if holder == "distributor" else 0.0,
        site_loss_usd_per_year=(holder_loss if holder == "site" else 0.0) + cap["site"],
        working_capital_manufacturer_usd=wc["manufacturer"],
        working_capital_distributor_usd=wc["distributor"], working_capital_site_usd=wc["site"],
        capital_charge_manufacturer_usd_per_year=cap["manufacturer"],
        capital_charge_distributor_usd_per_year=cap["distributor"],
        capital_charge_site_usd_per_year=cap["site"],
        capital_charge_usd_per_year=sum(cap.values()), expiry_cost_usd_per_year=expiry_cost,
        total_cost_usd_per_year=holding + expiry_cost + sum(cap.values()), notes=tuple(notes))


def evaluate_policy(terms: PolicyTerms, doses_per_year: float, life_days: float,
                    lead_days: float, price: float, cogs: float, cost_of_capital: float,
                    holding_cost_usd_per_dose_day: float, doses_per_patient: float = 1,
                    dose_interval_days: float = 0.0, seed: int = 0, method: Method = "auto",
                    *, distributor_unit_value_usd_per_dose: float | None = None,
                    horizon_days: int | None = None, inventory_position: Position = "usable",
                    source: str = "evaluate_policy", row: int | None = None) -> PolicyEconomics:
    """Inventory, expiries, working capital and cost of one policy at one annual volume.

    `life_days`: shelf life left when a delivery reaches the stock point (inf = no perishing);
    `lead_days`: transport lead time to the stock point (the terms' order lead time is added).
    Pure function of its arguments (cached underneath), deterministic for a given seed.
    """
    dist_value = cogs if distributor_unit_value_usd_per_dose is None \
        else distributor_unit_value_usd_per_dose
    problems = _policy_problems(
        terms, method, inventory_position, source, row, doses_per_year=doses_per_year,
        life_days=life_days, lead_days=lead_days, price=price, cogs=cogs,
        cost_of_capital=cost_of_capital,
        holding_cost_usd_per_dose_day=holding_cost_usd_per_dose_day,
        doses_per_patient=doses_per_patient, dose_interval_days=dose_interval_days,
        distributor_unit_value_usd_per_dose=dist_value)
    if problems:
        raise InputError(problems)
    lead_total = lead_days + terms.order_lead_time_hours / 24.0
    if terms.policy == "jit_per_patient":
        return _jit_economics(terms, doses_per_year, life_days, lead_total, price,
                              cost_of_capital)
    notes: list[str] = []
    if terms.returns_active and not _returns_apply(terms):
        notes.append("return terms unused: the manufacturer holds title")
    sm = stock_metrics(doses_per_year, life_days, terms.review_period_days, lead_total,
                       terms.target_fill_rate, doses_per_patient=doses_per_patient,
                       dose_interval_days=dose_interval_days, method=method, seed=seed,
                       horizon_days=horizon_days, inventory_position=inventory_position,
                       source=source, row=row)
    if sm.life_days == 0:
        notes.append("life at the stock point under one day: no stock can be held")
    return _stock_economics(terms, sm, doses_per_year, price, cogs, dist_value, cost_of_capital,
                            holding_cost_usd_per_dose_day, notes)


def site_accepts_stocking(econ: PolicyEconomics, max_site_loss_usd_per_year: float) -> bool:
    """Whether the site agrees to the policy: its expected loss (expiries it bears after returns,
    restocking fees, its capital charge) is within what it tolerates."""
    return econ.site_loss_usd_per_year <= max_site_loss_usd_per_year + 1e-9


def tabulate_policy(terms: PolicyTerms, volumes: list[float] | tuple[float, ...],
                    **kwargs: float | int | str) -> list[PolicyEconomics]:
    """`evaluate_policy` at each annual dose volume (the grid the network model interpolates)."""
    return [evaluate_policy(terms, float(v), **kwargs) for v in volumes]
