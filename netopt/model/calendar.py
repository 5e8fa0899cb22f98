"""Launch timeline: the calendar of a multi-period model and what changes from period to period.

A launch does not open every site on day one. A candidate site (or an existing one that must be
onboarded for a new therapeutic area) can take patients only after its P&T committee has met
and its onboarding lead time has passed; demand ramps up; before a product's permanent J-code
fewer patients are treated and the net price may be lower. This module turns the `timeline`
settings into data the model builder needs, with pandas only:

- the periods: index, label ("2027 Q1"), start date, length in years, discount factor;
- per period and product a demand factor (ramp x adoption before the J-code) and a price
  factor (before the J-code);
- per site the earliest period in which it can be activated or onboarded;
- one `Prepared` per *block*: consecutive periods whose data are identical share one block of
  the model (exact: see `group_periods`), so a 12-quarter launch whose ramp ends in year 2
  builds far fewer than 12 copies of the network.

`prepare` runs once; a period's `Prepared` is a shallow copy with scaled demand and prices.
The Pyomo model is built by `model/timeline.py`; `solver/diagnose.py` explains a timeline
whose hard settings cannot be met.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd

from ..data.config import TimelineSettings
from ..data.validate import split_list
from .prepare import Prepared

#: P&T meeting months of a site that gives none (the schema's default for the column)
DEFAULT_COMMITTEE_MONTHS = (1, 4, 7, 10)
#: lead times beyond a century are all "never within the horizon" (and keep dates valid)
MAX_LEAD_DAYS = 36_500.0


@dataclass(frozen=True)
class Period:
    """One period of the launch: flows inside it are annual rates x `years`, discounted from
    its start."""

    index: int
    label: str
    start: dt.date
    years: float
    discount_factor: float

    @property
    def weight(self) -> float:
        """Factor from the block's annual objective (k$/yr) to its share of the NPV."""
        return self.discount_factor * self.years


@dataclass
class TimelinePlan:
    """Everything the multi-period builder and the result extraction need."""

    prep: Prepared  # the case prepared once: full demand, list prices
    periods: list[Period]
    demand_factor: pd.DataFrame  # index period, columns product_id
    price_factor: pd.DataFrame  # index period, columns product_id
    earliest: dict[str, int]  # site_id (every site of the case) -> first period it can be
    #                           activated (a candidate) or onboarded for a new area
    groups: list[list[int]]  # consecutive periods sharing one model block
    preps: list[Prepared]  # one per group

    @property
    def settings(self) -> TimelineSettings:
        return self.prep.case.config.timeline

    def block_of(self, period: int) -> int:
        """Index of the block (group) a period belongs to."""
        for j, group in enumerate(self.groups):
            if period in group:
                return j
        raise IndexError(period)

    def block_weight(self, j: int) -> float:
        """Sum of the discount factor x years of the block's periods."""
        return sum(self.periods[t].weight for t in self.groups[j])


# ---------------------------------------------------------------- calendar


def parse_month(text: str) -> dt.date:
    """'2027-01' -> 2027-01-01 (the settings validate the pattern)."""
    year, month = (int(x) for x in text.split("-"))
    return dt.date(year, month, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month `months` after day's month."""
    n = day.year * 12 + day.month - 1 + months
    return dt.date(n // 12, n % 12 + 1, 1)


def period_label(start: dt.date, months: int) -> str:
    """'2027 Q1' for quarters, '2027 H2' for half-years, '2027' for calendar years, else the
    start month '2027-02' (also when a quarter does not start in Jan/Apr/Jul/Oct)."""
    aligned = (start.month - 1) % months == 0
    if months == 3 and aligned:
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    if months == 6 and aligned:
        return f"{start.year} H{(start.month - 1) // 6 + 1}"
    if months == 12 and start.month == 1:
        return f"{start.year}"
    return f"{start.year}-{start.month:02d}"


def calendar(settings: TimelineSettings) -> list[Period]:
    """The periods of the launch. Discounting is from each period's start (the first period's
    factor is 1), so a one-period, one-year timeline has exactly the single-period objective."""
    start = parse_month(settings.start)
    years = settings.period_months / 12.0
    out = []
    for t in range(settings.periods):
        begin = add_months(start, t * settings.period_months)
        out.append(Period(index=t, label=period_label(begin, settings.period_months),
                          start=begin, years=years,
                          discount_factor=(1.0 + settings.discount_rate) ** (-t * years)))
    return out


# ---------------------------------------------------------------- demand and price


def s_curve(t: int, periods: int) -> float:
    """Share of full demand in period t of an S-curve ramp reaching 100 % in period
    `periods - 1` (smoothstep of (t + 1) / periods: slow start, fast middle, flat end)."""
    if periods <= 0:
        return 1.0
    u = min(1.0, (t + 1) / periods)
    return 3 * u * u - 2 * u * u * u


def ramp_share(settings: TimelineSettings, product: str, t: int) -> float:
    """Demand share of a product in period t: its `ramp` list (the last value holds), else the
    S-curve of `ramp_periods`."""
    shares = settings.ramp.get(product)
    if shares:
        return float(shares[min(t, len(shares) - 1)])
    return s_curve(t, settings.ramp_periods)


def factors(settings: TimelineSettings, products: list[str]) -> tuple[pd.DataFrame,
                                                                      pd.DataFrame]:
    """(demand factor, price factor): index period, one column per product. The demand factor
    is ramp x adoption before the J-code; the price factor applies before the J-code."""
    demand, price = {}, {}
    for pid in products:
        code = settings.jcode.get(pid)
        d, p = [], []
        for t in range(settings.periods):
            before = code is not None and t < code.period
            adoption = code.adoption_before_jcode if before else 1.0
            d.append(ramp_share(settings, pid, t) * adoption)
            p.append(code.price_factor_before_jcode if before else 1.0)
        demand[pid], price[pid] = d, p
    index = pd.RangeIndex(settings.periods, name="period")
    return (pd.DataFrame(demand, index=index, columns=products),
            pd.DataFrame(price, index=index, columns=products))


# ---------------------------------------------------------------- lead times


def committee_months(value: object) -> tuple[int, ...]:
    """The sites table's committee_months cell (a parsed tuple or text) as sorted months."""
    items = value if isinstance(value, tuple | list) else split_list(str(value or ""))
    months = sorted({int(m) for m in items})
    return tuple(months) or DEFAULT_COMMITTEE_MONTHS


def next_meeting(start: dt.date, months: tuple[int, ...]) -> dt.date:
    """First committee meeting on or after `start` (a meeting is taken to be held on the
    first day of its month, so a meeting in the launch month counts)."""
    for k in range(12):
        day = add_months(start, k)
        if day.month in months:
            return day
    raise ValueError(f"no meeting month in {months}")


def earliest_period(settings: TimelineSettings, months: tuple[int, ...],
                    onboarding_days: float) -> int:
    """First period starting on or after (next committee meeting + onboarding_days). It may
    lie beyond the horizon (>= periods): the site then cannot come on line in this launch."""
    start = parse_month(settings.start)
    days = min(float(onboarding_days), MAX_LEAD_DAYS)
    ready = next_meeting(start, months) + dt.timedelta(days=days)
    # months from the launch to the first month start on or after `ready`
    months_after = (ready.year - start.year) * 12 + ready.month - start.month
    months_after += ready.day > 1
    return -(-months_after // settings.period_months)  # ceiling division


def earliest_periods(sites: pd.DataFrame, settings: TimelineSettings) -> dict[str, int]:
    """site_id -> earliest period of activation (candidates) and onboarding (any site).
    `sites` is the case's sites table (site_id column) or an index by site_id."""
    frame = sites.reset_index() if "site_id" not in sites.columns else sites
    months = (frame["committee_months"] if "committee_months" in frame.columns
              else pd.Series([DEFAULT_COMMITTEE_MONTHS] * len(frame), index=frame.index))
    days = (frame["onboarding_days"] if "onboarding_days" in frame.columns
            else pd.Series(0.0, index=frame.index))
    return {sid: earliest_period(settings, committee_months(m), float(d))
            for sid, m, d in zip(frame["site_id"], months, days, strict=True)}


# ---------------------------------------------------------------- periods -> blocks


def group_periods(demand: pd.DataFrame, price: pd.DataFrame, earliest: dict[str, int],
                  requirements_from: int, merge: bool = True) -> list[list[int]]:
    """Runs of consecutive periods with identical data share one block.

    Exact: if periods t and t+1 have the same demand, prices and available sites, any
    solution can be replaced by one that repeats the better of its two period networks in
    both (the period-to-period links only say activations, onboardings and equipment never
    go back, and both replacements keep them), and the weighted sum of the two periods'
    costs is at least the smaller of the two times their total weight."""
    n = len(demand)
    if not merge:
        return [[t] for t in range(n)]
    changes = {t for t in set(earliest.values()) | {requirements_from} if 0 < t < n}
    groups: list[list[int]] = []
    for t in range(n):
        same = (groups and t not in changes
                and demand.iloc[t].equals(demand.iloc[t - 1])
                and price.iloc[t].equals(price.iloc[t - 1]))
        if same:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def period_prepared(prep: Prepared, demand: pd.Series, price: pd.Series) -> Prepared:
    """The prepared case of one period: patients x demand factor, price x price factor (and,
    under the cost objective, the lost-margin penalty of a product without an explicit one
    at that price). Every index set stays the same, so all blocks share one structure."""
    products = prep.products.copy()
    products["price_usd_per_dose"] = products["price_usd_per_dose"] * price.reindex(
        products.index).fillna(1.0)
    if prep.case.config.objective == "cost":
        lost = products["doses_per_patient"] * (products["price_usd_per_dose"]
                                                - products["cogs_usd_per_dose"])
        given = products["unserved_penalty_usd_per_patient"]
        products["penalty_usd_per_patient"] = given.fillna(lost.clip(lower=0.0))
    d = prep.demand.copy()
    d["patients"] = d["patients"] * d["product_id"].map(demand).fillna(1.0).to_numpy()
    return replace(prep, products=products, demand=d)


def plan_timeline(prep: Prepared, merge: bool = True) -> TimelinePlan:
    """Calendar, factors, earliest periods and the per-block prepared data of a case.

    With a single period there is no launch sequence to stage: that period is the
    steady-state network, so no lead time applies (the model is the single-period one)."""
    settings = prep.case.config.timeline
    periods = calendar(settings)
    products = prep.product_ids
    demand, price = factors(settings, products)
    sites = prep.case.sites
    if settings.periods == 1:
        earliest = {sid: 0 for sid in sites["site_id"]}
    else:
        earliest = earliest_periods(sites, settings)
    # only a candidate's activation or an onboarding waits for the committee: other sites'
    # dates change nothing in the model, so they do not split blocks
    sp = prep.site_products
    waiting = set(sp.loc[~sp["certified"], "site_id"]) | set(
        prep.sites.index[prep.sites["status"] != "existing"])
    groups = group_periods(demand, price, {s: t for s, t in earliest.items() if s in waiting},
                           settings.requirements_from_period, merge)
    preps = [period_prepared(prep, demand.iloc[g[0]], price.iloc[g[0]]) for g in groups]
    return TimelinePlan(prep=prep, periods=periods, demand_factor=demand, price_factor=price,
                        earliest=earliest, groups=groups, preps=preps)


def offer_ready(plan: TimelinePlan) -> Callable[[str, str], int]:
    """(site, product) -> the first period the site can offer the product: at once for an
    existing site certified for the product's area, else once its P&T committee has met and
    onboarding is done (`plan.earliest`). What a roll-out waits for, in its results and in
    the diagnosis of a plan that cannot treat everyone in time."""
    sp = plan.prep.site_products
    held = sp[sp["certified"].astype(bool)]
    certified = set(zip(held["site_id"], held["product_id"], strict=True))
    status = plan.prep.sites["status"].to_dict()

    def ready(site: str, product: str) -> int:
        if status.get(site) == "existing" and (site, product) in certified:
            return 0
        return plan.earliest.get(site, 0)

    return ready


def horizon_text(plan: TimelinePlan) -> str:
    """'12 periods of 3 months from 2027 Q1 (7 model blocks)' for progress messages."""
    s = plan.settings
    return (f"{s.periods} periods of {s.period_months} months from {plan.periods[0].label} "
            f"({len(plan.groups)} model block{'s' if len(plan.groups) != 1 else ''})")
