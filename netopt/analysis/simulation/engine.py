"""One replication: patients arrive, doses ship and are infused, wasted or replaced.

Vectorized with numpy rather than a process-based (SimPy) model: hubs are not capacity-
constrained in the simulation (their load is measured against capacity, not queued), so a
dose's fate depends only on its own draws and the hub calendars. All doses of a round are then
computed at once, which is exact, ~100x faster than one Python event per dose, and makes the
random streams easy to keep common across settings.

Time is in hours from 00:00 on 1 January (day d spans [24d, 24d + 24)); infusions and
apheresis happen at INFUSION_HOUR on their day. Per dose:

- plan: off-the-shelf doses are ordered on the patient's arrival day and infused at the first
  slot the lane's transit plus planning slack allows, then every dose_interval_days;
  autologous doses are infused at the first slot after apheresis + inbound + turnaround +
  outbound + slack. The dose is dispatched to arrive `slack` before its infusion (never
  before an autologous batch is released);
- transit: the lane's moving time x lognormal(0, sigma); the shipment leaves its hub on the
  departure day it reaches, one day later when it misses the cut-off, and not before the hub
  reopens after a weather closure (whole days added);
- the patient may postpone (first attempt only) by 1+ days;
- a dose is wasted when it arrives more than min(shelf life - buffer, shipper hold) after
  dispatch, or when the (postponed) infusion falls after that. The replacement of an
  off-the-shelf dose ships at once (to the postponed appointment if there is one); an
  autologous replacement needs a new manufacturing cycle (plant turnaround) first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from ...data.config import SimulationSettings
from .network import SimNetwork
from .weather import Calendar, build_calendar, closure_probabilities

INFUSION_HOUR = 10.0
EPS = 1e-6  # hours: float noise never makes a dose late or wasted
STREAMS = {"arrivals": 0, "patients": 1, "doses": 2, "weather": 3, "replacements": 4,
           "inbound": 5}


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """Independent generator per (seed, replication, purpose): adding draws to one purpose
    never shifts another's, which keeps comparisons between settings paired."""
    return np.random.default_rng(np.random.SeedSequence([seed, replication, STREAMS[name]]))


def slot(hours: np.ndarray) -> np.ndarray:
    """The first infusion slot (INFUSION_HOUR on some day) at or after each time."""
    k = np.ceil((np.asarray(hours) - INFUSION_HOUR) / 24.0 - EPS / 24.0)
    return 24.0 * k + INFUSION_HOUR


@dataclass(frozen=True)
class Static:
    """Arrays every replication shares (indices follow SimNetwork's sorted tables)."""

    days: int
    n_calendar_days: int
    flow_sp: np.ndarray
    flow_rate_per_day: np.ndarray
    sp_product: np.ndarray
    lane_key: np.ndarray
    lane_hub: np.ndarray
    lane_transit: np.ndarray
    lane_wait: np.ndarray
    lane_moving: np.ndarray
    lane_to_hub: np.ndarray
    lane_turnaround: np.ndarray
    lane_slack: np.ndarray
    prod_autologous: np.ndarray
    prod_doses: np.ndarray
    prod_interval: np.ndarray
    prod_limit: np.ndarray
    lane_shipments_per_dose: np.ndarray
    in_hub: np.ndarray
    in_pre: np.ndarray
    in_to_hub: np.ndarray
    in_wait: np.ndarray
    in_moving: np.ndarray
    in_transit: np.ndarray
    #: inbound lanes are drawn per patient: group of the patient's outbound lane (its site,
    #: product and plant) + the cumulative share of each inbound lane within its group
    in_key: np.ndarray
    lane_in_group: np.ndarray
    n_hubs: int
    closure_p: np.ndarray

    @classmethod
    def build(cls, net: SimNetwork, settings: SimulationSettings) -> Static:
        products = net.products
        prod_pos = {p: i for i, p in enumerate(products.index)}
        hub_pos = {h: i for i, h in enumerate(net.hubs.index)}
        n_hubs = len(hub_pos)
        sp = net.flows[["site_id", "product_id"]].drop_duplicates().reset_index(drop=True)
        sp_pos = {k: i for i, k in enumerate(zip(sp["site_id"], sp["product_id"],
                                                 strict=True))}
        flow_sp = np.array([sp_pos[k] for k in zip(net.flows["site_id"],
                                                   net.flows["product_id"], strict=True)],
                           dtype=np.int64)
        lanes = net.lanes
        lane_sp = np.array([sp_pos[k] for k in zip(lanes["site_id"], lanes["product_id"],
                                                   strict=True)], dtype=np.int64)
        if (np.diff(lane_sp) < 0).any():
            raise ValueError("SimNetwork.lanes must be sorted by site and product")
        cum = np.array(lanes.groupby(lane_sp)["share"].cumsum(), dtype=float)
        last = np.r_[lane_sp[1:] != lane_sp[:-1], True][: len(lane_sp)]
        cum[last] = 1.0
        hold = settings.shipper_hold_hours
        limit = np.minimum(products["shelf_budget_hours"].to_numpy(float),
                           [hold.get(c, np.inf) for c in products["temperature_class"]])
        lane_prod = np.array([prod_pos[p] for p in lanes["product_id"]], dtype=np.int64)
        transit = lanes["transit_hours"].to_numpy(float)
        slack = np.clip(limit[lane_prod] - transit, 0.0, settings.planning_slack_hours)
        inbound, lane_in_group = _inbound_rows(net, lanes)
        in_group = inbound["group"].to_numpy(np.int64)
        in_cum = np.array(inbound.groupby(in_group)["share"].cumsum(), dtype=float)
        in_cum[np.r_[in_group[1:] != in_group[:-1], True][: len(in_group)]] = 1.0
        doses = products["doses_per_patient"].to_numpy(np.int64)
        interval = products["dose_interval_days"].to_numpy(float)
        span = float(np.max((doses - 1) * interval, initial=0.0))
        turnaround = lanes["turnaround_days"].to_numpy(float)
        extra = span + (settings.max_replacements + 1) * (float(turnaround.max(initial=0)) + 30)
        return cls(
            days=settings.days,
            n_calendar_days=int(settings.days + extra + 60),
            flow_sp=flow_sp,
            flow_rate_per_day=net.flows["patients_per_year"].to_numpy(float) / 365.0,
            sp_product=np.array([prod_pos[p] for p in sp["product_id"]], dtype=np.int64),
            lane_key=lane_sp + cum,
            lane_hub=np.array([hub_pos.get(h, n_hubs) for h in lanes["hub_id"]],
                              dtype=np.int64),
            lane_transit=transit,
            lane_wait=lanes["wait_hours"].to_numpy(float),
            lane_moving=lanes["moving_hours"].to_numpy(float),
            lane_to_hub=lanes["to_hub_hours"].to_numpy(float),
            lane_turnaround=turnaround,
            lane_slack=slack,
            prod_autologous=products["autologous"].to_numpy(bool),
            prod_doses=doses,
            prod_interval=interval,
            prod_limit=limit,
            lane_shipments_per_dose=lanes["shipments_per_dose"].to_numpy(float),
            in_hub=np.array([hub_pos.get(h, n_hubs) for h in inbound["hub_id"]],
                            dtype=np.int64),
            in_pre=inbound["pre_hours"].to_numpy(float),
            in_to_hub=inbound["to_hub_hours"].to_numpy(float),
            in_wait=inbound["wait_hours"].to_numpy(float),
            in_moving=inbound["moving_hours"].to_numpy(float),
            in_transit=inbound["inbound_hours"].to_numpy(float),
            in_key=in_group + in_cum,
            lane_in_group=lane_in_group,
            n_hubs=n_hubs,
            closure_p=closure_probabilities(net.hubs["region"], settings),
        )


def _inbound_rows(net: SimNetwork, lanes: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The inbound lanes a patient's cells may take, grouped by the (site, product, plant) of
    each outbound lane, with their shares (the model's split of those patients over hubs), and
    each outbound lane's group. A group the result gives no starting-material lane for (an
    off-the-shelf product, an older result) keeps the site-product's single inbound row."""
    single = net.inbound.set_index(["site_id", "product_id"])
    every = net.inbound_lanes if net.inbound_lanes is not None else pd.DataFrame(
        columns=["site_id", "product_id", "plant_id"])
    by_group = {key: frame for key, frame in every.groupby(["site_id", "product_id",
                                                            "plant_id"], sort=True)}
    cols = ["hub_id", "pre_hours", "to_hub_hours", "wait_hours", "moving_hours",
            "inbound_hours"]
    groups: dict[tuple, int] = {}
    parts = []
    for key in zip(lanes["site_id"], lanes["product_id"], lanes["plant_id"].astype(str),
                   strict=True):
        if key in groups:
            continue
        groups[key] = len(groups)
        rows = by_group.get(key)
        if rows is None or rows.empty:
            rows = single.loc[[key[:2]], cols].assign(share=1.0)
        parts.append(rows[[*cols, "share"]].assign(group=groups[key]))
    lane_in_group = np.array([groups[k] for k in zip(
        lanes["site_id"], lanes["product_id"], lanes["plant_id"].astype(str), strict=True)],
        dtype=np.int64)
    return pd.concat(parts, ignore_index=True), lane_in_group


@dataclass
class Outcome:
    """Everything one replication produced, per patient and per dose (sorted by patient)."""

    patient_sp: np.ndarray
    patient_product: np.ndarray
    patient_v2v_days: np.ndarray  # autologous: apheresis -> first infusion; NaN otherwise
    patient_delay_days: np.ndarray  # worst delay of an administered dose; -1 if none
    dose_patient: np.ndarray
    dose_product: np.ndarray
    dose_sp: np.ndarray
    dose_administered: np.ndarray
    dose_on_schedule: np.ndarray
    dose_delay_days: np.ndarray  # -1 when not administered
    dose_wasted: np.ndarray  # wasted attempts per dose
    dose_postponed: np.ndarray
    dose_closure_delayed: np.ndarray
    hub_day_shipments: np.ndarray  # (hubs + 1, calendar days + 1): last row = no hub
    hub_closed_days: np.ndarray  # closed days per hub within the simulated days


def _ship(st: Static, cal: Calendar, dispatch: np.ndarray, hub: np.ndarray,
          to_hub: np.ndarray, wait: np.ndarray, moving: np.ndarray, factor: np.ndarray,
          missed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrival time, hub departure day and hours lost to closures of shipments."""
    at_hub = dispatch + to_hub * factor + wait
    planned_day = np.floor(at_hub / 24.0).astype(np.int64)
    try_day = planned_day + missed
    depart_day = cal.next_open(hub, try_day)
    arrival = dispatch + wait + moving * factor + 24.0 * (depart_day - planned_day)
    return arrival, depart_day, 24.0 * (depart_day - try_day)


def _postpone_days(rng: np.random.Generator, n: int, settings: SimulationSettings) -> np.ndarray:
    if settings.postpone_delay == "fixed":
        rng.random(n)  # same draws consumed either way: switching keeps other streams paired
        return np.full(n, max(1, round(settings.postpone_mean_days)), dtype=np.int64)
    return rng.geometric(1.0 / settings.postpone_mean_days, size=n)


@dataclass(frozen=True)
class _Patients:
    """Patients of one replication, in arrival-flow order."""

    sp: np.ndarray  # site-product
    product: np.ndarray
    lane: np.ndarray  # the lane their doses take (drawn by lane share)
    start: np.ndarray  # hour of referral / order, and apheresis for autologous
    autologous: np.ndarray
    release: np.ndarray  # hour the dose may leave (autologous: batch released)
    first_slot: np.ndarray  # planned first infusion
    in_cell: np.ndarray  # (hub, departure day) cell of the starting material (autologous)


@dataclass(frozen=True)
class _Doses:
    """Scheduled doses, grouped by patient (offsets: each patient's first dose)."""

    patient: np.ndarray
    product: np.ndarray
    lane: np.ndarray
    plan: np.ndarray  # planned infusion hour
    offsets: np.ndarray


@dataclass(frozen=True)
class _Fates:
    """What became of each dose over its attempts (filled in place attempt by attempt)."""

    administered: np.ndarray
    infusion: np.ndarray
    wasted: np.ndarray  # wasted attempts
    postponed: np.ndarray
    closure_delayed: np.ndarray
    shipments: np.ndarray  # per (hub, departure day), flattened

    @classmethod
    def empty(cls, st: Static, n: int) -> _Fates:
        return cls(administered=np.zeros(n, dtype=bool), infusion=np.full(n, np.nan),
                   wasted=np.zeros(n, dtype=np.int64), postponed=np.zeros(n, dtype=bool),
                   closure_delayed=np.zeros(n, dtype=bool),
                   shipments=np.zeros((st.n_hubs + 1) * (st.n_calendar_days + 1)))


class _Draws(NamedTuple):
    """Random draws of one delivery attempt: transit noise, missed cut-offs, postponements."""

    z: np.ndarray
    missed: np.ndarray
    postponed: np.ndarray
    post_days: np.ndarray

    @classmethod
    def first(cls, rng: np.random.Generator, n: int, settings: SimulationSettings) -> _Draws:
        """First attempt: the patient may postpone."""
        z = rng.standard_normal(n)
        missed = rng.random(n) < settings.missed_cutoff_probability
        postponed = rng.random(n) < settings.postpone_probability
        return cls(z, missed, postponed, _postpone_days(rng, n, settings))

    @classmethod
    def replacement(cls, rng: np.random.Generator, m: int,
                    settings: SimulationSettings) -> _Draws:
        """Replacement doses: no second postponement."""
        z = rng.standard_normal(m)
        missed = rng.random(m) < settings.missed_cutoff_probability
        return cls(z, missed, np.zeros(m, dtype=bool), np.zeros(m, dtype=np.int64))


def _arrivals(st: Static, seed: int, replication: int) -> tuple[np.ndarray, np.ndarray]:
    """(site-product, arrival day) per patient: Poisson per zone-site-product flow, arrival
    day uniform over the horizon."""
    rng = stream(seed, replication, "arrivals")
    counts = rng.poisson(st.flow_rate_per_day * st.days)
    p_flow = np.repeat(np.arange(len(counts)), counts)
    p_day = rng.integers(0, st.days, size=p_flow.size)
    return st.flow_sp[p_flow], p_day


def _starting_material(st: Static, settings: SimulationSettings, cal: Calendar,
                       rng: np.random.Generator, p_in: np.ndarray, p_lane: np.ndarray,
                       start: np.ndarray, auto: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(release, planned ready) hours per patient and the (hub, day) cell its starting
    material leaves from: autologous starting material travels site -> hub -> plant (on the
    inbound lane `p_in` drawn for the patient), then manufacturing; off-the-shelf doses are
    ready at the order."""
    n_pat = p_in.size
    z_in = rng.standard_normal(n_pat)
    miss_in = rng.random(n_pat) < settings.missed_cutoff_probability
    arr_in, dep_in, _ = _ship(st, cal, start + st.in_pre[p_in], st.in_hub[p_in],
                              st.in_to_hub[p_in], st.in_wait[p_in], st.in_moving[p_in],
                              np.exp(settings.transit_sigma * z_in), miss_in.astype(np.int64))
    turnaround_h = 24.0 * st.lane_turnaround[p_lane]
    release = np.where(auto, arr_in + turnaround_h, start)
    planned_ready = np.where(auto, start + st.in_transit[p_in] + turnaround_h, start)
    # off-the-shelf patients (and sites without an inbound hub) count at the "no hub" row
    hub = np.where(auto, st.in_hub[p_in], st.n_hubs)
    in_cell = hub * (st.n_calendar_days + 1) + np.minimum(dep_in, st.n_calendar_days)
    return release, planned_ready, in_cell


def _patients(st: Static, settings: SimulationSettings, cal: Calendar,
              replication: int) -> _Patients:
    """Who arrives when, the lane each patient's doses take and the first infusion slot."""
    p_sp, p_day = _arrivals(st, settings.seed, replication)
    p_prod = st.sp_product[p_sp]
    rng = stream(settings.seed, replication, "patients")
    p_lane = np.searchsorted(st.lane_key, p_sp + rng.random(p_sp.size), side="right")
    start = 24.0 * p_day + INFUSION_HOUR  # referral / order, and apheresis for autologous
    auto = st.prod_autologous[p_prod]
    # the cells' hub, drawn by the model's split of the site's patients to that plant (a
    # stream of its own: the other draws stay paired with results before it)
    u_in = stream(settings.seed, replication, "inbound").random(p_sp.size)
    p_in = np.searchsorted(st.in_key, st.lane_in_group[p_lane] + u_in, side="right")
    release, planned_ready, in_cell = _starting_material(st, settings, cal, rng, p_in, p_lane,
                                                         start, auto)
    first_slot = slot(planned_ready + st.lane_transit[p_lane] + st.lane_slack[p_lane])
    return _Patients(sp=p_sp, product=p_prod, lane=p_lane, start=start, autologous=auto,
                     release=release, first_slot=first_slot, in_cell=in_cell)


def _doses(st: Static, pat: _Patients) -> _Doses:
    """Every patient's doses: the cadence is planned from the first infusion and does not
    move."""
    n_doses = st.prod_doses[pat.product]
    d_pat = np.repeat(np.arange(pat.sp.size), n_doses)
    offsets = np.cumsum(n_doses) - n_doses
    k = np.arange(d_pat.size) - np.repeat(offsets, n_doses)
    d_prod = pat.product[d_pat]
    plan = pat.first_slot[d_pat] + 24.0 * np.floor(k * st.prod_interval[d_prod] + 0.5)
    return _Doses(patient=d_pat, product=d_prod, lane=pat.lane[d_pat], plan=plan,
                  offsets=offsets)


def _attempt(st: Static, cal: Calendar, sigma: float, doses: _Doses, fates: _Fates,
             cur: np.ndarray, target: np.ndarray, ready: np.ndarray,
             draws: _Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ship the doses `cur` once; record who is infused or wasted. Returns the doses to
    replace with their new target infusion and ready hours."""
    lane = doses.lane[cur]
    hub = st.lane_hub[lane]
    dispatch = np.maximum(ready, target - st.lane_transit[lane] - st.lane_slack[lane])
    arrival, depart, lost = _ship(st, cal, dispatch, hub, st.lane_to_hub[lane],
                                  st.lane_wait[lane], st.lane_moving[lane],
                                  np.exp(sigma * draws.z), draws.missed.astype(np.int64))
    prod = doses.product[cur]
    cell = hub * (st.n_calendar_days + 1) + np.minimum(depart, st.n_calendar_days)
    shipments = fates.shipments  # added in place
    shipments += np.bincount(cell, weights=st.lane_shipments_per_dose[lane],
                             minlength=shipments.size)
    fates.closure_delayed[cur] |= lost > 0
    limit = st.prod_limit[prod]
    late_waste = arrival - dispatch > limit + EPS
    ready_slot = np.maximum(target, slot(arrival))
    delayed = draws.postponed & ~late_waste
    fates.postponed[cur] |= delayed
    infuse = ready_slot + 24.0 * draws.post_days * delayed
    hold_waste = ~late_waste & (infuse - dispatch > limit + EPS)
    waste = late_waste | hold_waste
    ok = ~waste
    fates.administered[cur[ok]] = True
    fates.infusion[cur[ok]] = infuse[ok]
    fates.wasted[cur[waste]] += 1
    # replacements: known on arrival (late) or at the missed appointment (postponed)
    found = np.where(late_waste, arrival, ready_slot)
    redo = 24.0 * st.lane_turnaround[lane] * st.prod_autologous[prod]
    return cur[waste], np.where(hold_waste, infuse, target)[waste], (found + redo)[waste]


def _deliver(st: Static, settings: SimulationSettings, cal: Calendar, replication: int,
             pat: _Patients, doses: _Doses) -> _Fates:
    """Ship every dose, then its replacements (up to settings.max_replacements)."""
    n = doses.patient.size
    fates = _Fates.empty(st, n)
    # the starting material of each autologous patient is one shipment through its hub
    np.add(fates.shipments, np.bincount(pat.in_cell, minlength=fates.shipments.size),
           out=fates.shipments)
    draws = _Draws.first(stream(settings.seed, replication, "doses"), n, settings)
    replacements = stream(settings.seed, replication, "replacements")
    cur = np.arange(n)
    target = doses.plan.copy()
    ready = pat.release[doses.patient]
    for attempt in range(settings.max_replacements + 1):
        if attempt:
            draws = _Draws.replacement(replacements, cur.size, settings)
        cur, target, ready = _attempt(st, cal, settings.transit_sigma, doses, fates, cur,
                                      target, ready, draws)
        if not cur.size:
            break
    return fates


def _outcome(st: Static, cal: Calendar, pat: _Patients, doses: _Doses,
             fates: _Fates) -> Outcome:
    """Per-patient and per-dose results: delays, vein-to-vein times, hub load."""
    n_pat = pat.sp.size
    offsets = doses.offsets
    delay = np.where(fates.administered, np.rint((fates.infusion - doses.plan) / 24.0),
                     -1).astype(np.int64)
    on_schedule = fates.administered & (delay == 0)
    worst = np.maximum.reduceat(delay, offsets) if n_pat else np.zeros(0, dtype=np.int64)
    first = fates.infusion[offsets] if n_pat else np.zeros(0)
    v2v = np.where(pat.autologous, (first - pat.start) / 24.0, np.nan)
    closed = cal.closed[: st.n_hubs, : st.days].sum(axis=1)
    return Outcome(
        patient_sp=pat.sp, patient_product=pat.product, patient_v2v_days=v2v,
        patient_delay_days=worst, dose_patient=doses.patient, dose_product=doses.product,
        dose_sp=pat.sp[doses.patient], dose_administered=fates.administered,
        dose_on_schedule=on_schedule, dose_delay_days=delay, dose_wasted=fates.wasted,
        dose_postponed=fates.postponed, dose_closure_delayed=fates.closure_delayed,
        hub_day_shipments=fates.shipments.reshape(st.n_hubs + 1, st.n_calendar_days + 1),
        hub_closed_days=closed,
    )


def run_replication(st: Static, settings: SimulationSettings, replication: int) -> Outcome:
    """Simulate one replication (seeded by settings.seed and the replication number)."""
    cal = build_calendar(st.closure_p, st.n_calendar_days, settings.closure_mean_days,
                         stream(settings.seed, replication, "weather"))
    pat = _patients(st, settings, cal, replication)
    doses = _doses(st, pat)
    fates = _deliver(st, settings, cal, replication, pat, doses)
    return _outcome(st, cal, pat, doses, fates)
