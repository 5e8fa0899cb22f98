"""Explain infeasible models in domain words.

The model is re-solved in an elastic form (every hard requirement gets a heavily penalised
slack); the non-zero slacks name which patients, products, KOLs or limits cannot be met, and
the reasons recorded by `prepare` say why (no site within reach, price ceiling, shelf life).
"""

from __future__ import annotations

import re
import time

import pandas as pd
import pyomo.environ as pyo

from ..data.config import SolverSettings
from ..model.build import build_model
from ..model.calendar import TimelinePlan, offer_ready
from ..model.prepare import Prepared
from ..model.timeline import build_timeline_model
from . import machine
from .highs import SolveInfo, solve_model

TOL = 1e-6
MAX_LISTED = 8


class Infeasible(Exception):
    """The case's hard settings cannot all be met; `reasons` says which and why."""

    #: the message's first line, before the reasons
    headline = "model is infeasible"

    def __init__(self, reasons: list[str], info: SolveInfo | None = None):
        self.reasons = reasons
        self.info = info
        super().__init__(f"{self.headline}:\n- " + "\n- ".join(reasons))

    def __reduce__(self):  # noqa: ANN204 - pickle's protocol
        """Rebuilt from its reasons (a batch worker may send it back to the client): by
        default pickle passes the message string as `reasons`, one reason per character."""
        return type(self), (self.reasons, self.info)


class NothingToTreat(Infeasible):
    """No patient of any product in scope can reach a site able to treat them: every network
    would treat nobody, which is an input problem, not an answer (exit 3, with why)."""

    headline = "no patient in scope can be treated"


def untreatable_products(prep: Prepared) -> list[str]:
    """One line per product in scope none of whose patients can reach a site able to treat
    them (no pair at all), with the reason that holds for most of its patients."""
    demand = prep.demand.groupby("product_id")["patients"].sum()
    paired = set(prep.pairs["product_id"]) if len(prep.pairs) else set()
    lines = []
    for pid in prep.product_ids:
        patients = float(demand.get(pid, 0.0))
        if patients <= TOL or pid in paired:
            continue
        why = prep.no_option[prep.no_option["product_id"] == pid]
        reason = ""
        if len(why):
            why = why.assign(cause=why["reason"].map(reason_cause))
            top = why.groupby("cause")["patients"].sum().sort_values(ascending=False,
                                                                     kind="stable").index[0]
            reason = ": " + _worded(why[why["cause"] == top])
        lines.append(f"product {pid}: none of its {patients:,.1f} patients a year can reach a "
                     f"site able to treat them{reason}")
    return lines


class NoNetworkInTime(Infeasible):
    """The time limit ended before the solver found any network: says nothing about whether
    the hard settings can be met (a subclass of Infeasible so that code catching that still
    catches it; `netopt solve` tells them apart, exit 4 instead of 3)."""

    headline = "no network within the time limit"

    @classmethod
    def now(cls, reasons: list[str], info: SolveInfo | None = None) -> NoNetworkInTime:
        """Raised now: the reasons, and whether the machine was busy while the clock ran
        (the run's solve seconds and a minute before them)."""
        spent = info.solve_seconds if info is not None and info.solve_seconds else 0.0
        return cls([*reasons, *_busy_machine(time.monotonic() - spent - 60.0)], info)


def _busy_machine(since: float) -> list[str]:
    """Why a limit that finds a network on an idle machine may find none: other work on the
    cores since `since` (monotonic clock). HiGHS slows far more than in proportion when its
    threads share busy cores (bench/RESULTS.md: the national default found no network beside
    six busy loops on two cores)."""
    busy = machine.busy_line(since)
    if busy is None:
        return []
    return [f"the machine was busy ({busy}), so the solver's threads shared its cores with "
            "other work; run it when the cores are free, or with a longer limit"]


def diagnose(prep: Prepared, solver: SolverSettings) -> list[str]:
    reasons = _static_reasons(prep)
    m = build_model(prep, elastic=True)
    info = solve_model(m, solver)
    if not info.has_solution:
        return reasons or [f"the elastic model could not be solved either ({info.termination})"]
    reasons += requirement_reasons(m, prep)
    if not reasons:
        reasons.append("the requirements conflict with capacities or facility limits "
                       "(max_active / min_active); relax them one at a time to find which")
    return reasons


def requirement_reasons(m, prep: Prepared) -> list[str]:  # noqa: ANN001 - a solved model
    """The non-zero requirement slacks of a solved elastic model (`build_model(prep,
    elastic=True)`), in domain words: which patients, products, KOLs or limits cannot be met
    and why. Also what `netopt explain` says of a flip that cannot be made."""
    reasons: list[str] = []
    slacks = m.requirement_slacks
    if "unserved" in slacks:
        unserved = {k: v.value or 0.0 for k, v in slacks["unserved"].items()}
        reasons += _unserved_reasons(prep, unserved)
        if any(v > TOL for v in unserved.values()):
            reasons += _limits_at_bound(m, prep)
    if "service_level" in slacks:
        svc = prep.case.config.service
        total = prep.demand.groupby("product_id")["patients"].sum()
        for k, v in slacks["service_level"].items():
            if (v.value or 0.0) > TOL:
                need = svc.min_share * total[k]
                reasons.append(
                    f"service level: product {k} needs {svc.min_share:.0%} of its "
                    f"{total[k]:,.1f} patients/yr ({need:,.1f}) treated within "
                    f"{svc.within_km:g} km, but at most {need - v.value:,.1f} can be "
                    f"({_far_zones(prep, k, v.value, total[k] - need)})")
    if "kol" in slacks:
        for j, v in slacks["kol"].items():
            if (v.value or 0.0) > TOL:
                reasons.append(_kol_reason(prep, m, j))
    if "kol_coverage" in slacks and (slacks["kol_coverage"].value or 0.0) > TOL:
        reasons.append(_coverage_reason(prep, m))
    if "budget" in slacks and (slacks["budget"].value or 0.0) > TOL:
        over = slacks["budget"].value * 1000
        reasons.append(f"budget: the fixed costs of the cheapest network that meets the other "
                       f"requirements exceed budget_fixed_usd by ${over:,.0f}")
    return reasons


def _static_reasons(prep: Prepared) -> list[str]:
    cfg = prep.case.config
    out = []
    counts = {"sites": len(set(prep.site_products["site_id"])),
              "hubs": len(set(prep.direct_lanes["hub_id"]) | set(prep.partner_supply["hub_id"])),
              "partners": len(set(prep.partner_links["partner_id"]))}
    for kind, n in counts.items():
        need = getattr(cfg, kind).min_active
        if need is not None and need > n:
            out.append(f"{kind}.min_active = {need} but only {n} {kind} can serve any lane")
    sites = prep.sites
    locked = set(cfg.sites.lock_open) & set(sites.index)
    if cfg.sites.existing == "locked":
        locked |= set(sites.index[sites["status"] == "existing"])
    locks = {"sites": len(locked), "hubs": len(set(cfg.hubs.lock_open)),
             "partners": len(set(cfg.partners.lock_open))}
    for kind, n in locks.items():
        cap = getattr(cfg, kind).max_active
        if cap is not None and n > cap:
            why = " (existing sites are locked open: sites.existing)" if kind == "sites" else ""
            out.append(f"{kind}.max_active = {cap} but {n} {kind} are locked open{why}")
    if not cfg.service.allow_unserved:
        out += _plant_shortfalls(prep)
    return out


def _plant_shortfalls(prep: Prepared) -> list[str]:
    """A product whose plants together cannot release the doses its patients need: no
    network serves them all (plants shared by several products make it tighter still)."""
    doses = prep.demand.groupby("product_id")["patients"].sum() \
        * prep.products["doses_per_patient"].astype(float)
    out = []
    for k, need in doses.dropna().items():
        makers = [pl for pl, items in prep.plants["products"].items() if k in items]
        cap = float(prep.plants.loc[makers, "capacity_doses_per_year"].astype(float).sum())
        if need > cap + TOL:
            out.append(f"plants: {k} needs {need:,.0f} doses/yr but the plants that make it "
                       f"({', '.join(makers) or 'none'}) release at most {cap:,.0f}")
    return out


def _limits_at_bound(m, prep: Prepared) -> list[str]:  # noqa: ANN001
    """The capacities and counts the closest network (the elastic model's) uses to the
    full: where patients go unserved "for capacity or facility limits", these are the limits
    to relax first (a plant at its doses, sites.max_active reached)."""
    held = []
    for pl in getattr(m, "Pl", []):
        con = m.plant_capacity[pl]
        used, cap = pyo.value(con.body), float(prep.plants.at[pl, "capacity_doses_per_year"])
        if used >= cap - max(TOL, 1e-6 * cap):
            held.append(f"plant {pl} makes its capacity of {cap:,.0f} doses/yr (doses released "
                        "and doses that expire in stock)")
    cfg = prep.case.config
    for kind in ("sites", "hubs", "partners"):
        con = getattr(m, f"max_{kind}", None)
        cap = getattr(cfg, kind).max_active
        if con is not None and cap is not None and pyo.value(con.body) >= cap - TOL:
            held.append(f"{kind}.max_active = {cap} is reached")
    if not held:
        return []
    return ["limits used to the full where patients go unserved: " + "; ".join(held)]


def _unserved_reasons(prep: Prepared, u: dict,
                      waiting: dict[tuple[str, str], str] | None = None) -> list[str]:
    """Untreated patients where none may be, per product and reason: `prepare`'s reason for a
    point no site can take, else `waiting`'s (a launch plan's sites not ready yet), else
    the capacity or facility limits of the sites within reach."""
    rows = [(p, k, v) for (p, k), v in u.items() if v > TOL]
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["point_id", "product_id", "patients"])
    why = prep.no_option.set_index(["point_id", "product_id"])["reason"]
    waiting = waiting or {}
    frame["reason"] = [why.get((p, k), waiting.get((p, k), (
        "capacity or facility limits: the eligible sites within reach cannot take these "
        "patients"))) for p, k in zip(frame["point_id"], frame["product_id"], strict=True)]
    names = _point_names(prep)
    # one line per product and cause: reasons that differ only in a count or a distance
    # ("10 site(s) within 400 km ...", "11 site(s) ...") are one cause
    frame["cause"] = frame["reason"].map(reason_cause)
    out = []
    for (k, _), grp in frame.groupby(["product_id", "cause"], sort=True):
        grp = grp.sort_values("patients", ascending=False)
        reason = _worded(grp)
        listed = _listed([names.get(p, p) for p in grp["point_id"]])
        out.append(f"unserved demand not allowed, but {grp['patients'].sum():,.2f} patients/yr "
                   f"of {k} in {len(grp)} zone(s) cannot be served: {reason} — {listed}")
    return out


def reason_cause(reason: str) -> str:
    """A reason with its figures blanked: the cause it names, whatever the zone (one line
    per cause in a diagnosis and on details.html)."""
    return re.sub(r"\d+(?:[.,]\d+)*", "#", reason)


def _worded(grp: pd.DataFrame) -> str:
    """A cause in the words of its zones with the most patients, said to differ by zone where
    its figures do."""
    words = grp.groupby("reason")["patients"].sum().sort_values(ascending=False, kind="stable")
    return str(words.index[0]) + (" (figures differ by zone)" if len(words) > 1 else "")


def _listed(items: list[str], sep: str = ", ") -> str:
    """The first MAX_LISTED items, and how many more there are."""
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return sep.join(items[:MAX_LISTED]) + more


def _point_names(prep: Prepared) -> dict[str, str]:
    zones = prep.case.zones.set_index("zone_id")
    zp = prep.zone_point.sort_values("population", ascending=False).drop_duplicates("point_id")
    return {p: f"{zones.at[z, 'name']}, {zones.at[z, 'state']}" for p, z in
            zip(zp["point_id"], zp["zone_id"], strict=True)}


def _far_zones(prep: Prepared, k: str, short: float | None = None,
               spare: float = 0.0) -> str:
    """Who cannot be treated within the target, and why: the reason `prepare` recorded for a
    demand point with no eligible site at all (shelf life, price ceiling, reach...), else
    that its eligible sites lie beyond within_km. Those patients cause a shortfall only
    beyond the `spare` ones the service level lets go (its total less its need); where they
    account for less than the shortfall `short`, the rest is put down to the sites within
    reach and the rules that bind them: naming 0.1 patients for a gap of 2 explains
    nothing."""
    pairs = prep.pairs[(prep.pairs["product_id"] == k) & prep.pairs["within_target"]]
    d = prep.demand[prep.demand["product_id"] == k]
    far = d[~d["point_id"].isin(set(pairs["point_id"]))].sort_values("patients",
                                                                     ascending=False)
    rules = "the other rules (capacity, minimum volumes, site counts or budget)"
    if far.empty:
        return (f"every patient lives within reach of an eligible site, but {rules} keep "
                "those sites from treating enough of them")
    rest = (short or 0.0) - max(0.0, float(far["patients"].sum()) - spare)
    none = prep.no_option[prep.no_option["product_id"] == k]
    why = dict(zip(none["point_id"], none["reason"], strict=True))
    target = (f"no eligible site within {prep.case.config.service.within_km:g} km "
              "(service.within_km)")
    far = far.assign(reason=[why.get(p, target) for p in far["point_id"]])
    names = _point_names(prep)
    parts = []
    for reason, grp in far.groupby("reason", sort=False):
        listed = _listed([names.get(p, p) for p in grp["point_id"]])
        patients = float(grp["patients"].sum())
        shown = f"{patients:,.1f}" if patients >= 0.05 else f"{patients:.2g}"  # not "0.0"
        parts.append(f"{shown} patients/yr in {len(grp)} zone(s) ({listed}): {reason}")
    if rest > max(TOL, 0.05 * (short or 0.0)):
        parts.append(f"the other {rest:,.1f} patients/yr live within reach of eligible "
                     f"sites that {rules} keep from treating them")
    return "; ".join(parts)


def _kol_reason(prep: Prepared, m, j: str) -> str:
    site, area = m.kol_site[j], m.kol_area[j]
    cfg = prep.case.config.kols
    all_sites = prep.case.sites.set_index("site_id")
    near = "" if cfg.mode != "proximity" else f" or any site within {cfg.within_km:g} km"
    if m.kol_cover_set.get(j):
        options = ", ".join(f"{s} {k}" for s, k, _ in m.kol_cover_set[j][:MAX_LISTED])
        why = (f"none of {options} can treat its KOL minimum (kols.min_patients "
               f"{cfg.min_patients:g}/yr, or the site's min_patients_per_year) within site, "
               "capacity, limit or budget rules")
    elif site in all_sites.index and all_sites.at[site, "status"] == "excluded" and not near:
        why = "the site is excluded"
    else:
        blocked = prep.blocked[(prep.blocked["site_id"] == site)]
        area_products = prep.products.index[prep.products["therapeutic_area"] == area]
        blocked = blocked[blocked["product_id"].isin(area_products)]
        why = "; ".join(f"{r.product_id}: {r.reason}" for r in blocked.itertuples()) or \
            f"no product of the area is eligible at the site{near}"
    return f"KOL {j} ({area}) at site {site}{near} cannot be covered: {why}"


def _coverage_reason(prep: Prepared, m) -> str:  # noqa: ANN001
    """Why kols.min_coverage cannot be met: the weighted share no network can reach (KOLs
    with no site that could cover them, each with its own reason), else the share the
    closest network reaches and the KOLs it leaves out (their sites could treat, but only by
    breaking another rule)."""
    cfg = prep.case.config.kols
    weight = prep.case.kols.set_index("kol_id")["weight"].astype(float)
    ids = list(m.KOL)
    total = float(weight.reindex(ids).sum())
    # KOLs no site could ever cover (a weight of 0 takes nothing from the share)
    never = [j for j in ids if not m.kol_cover_set.get(j) and weight.get(j, 0.0) > 0]
    head = f"KOL coverage: weighted coverage of {cfg.min_coverage:.0%} cannot be reached"
    most = 1 - float(weight.reindex(never).sum()) / total if total > 0 else 0.0
    if never and most < cfg.min_coverage - TOL:  # they alone keep the target out of reach
        return (f"{head}; at most {most:.0%} can be, because "
                + _listed([_kol_reason(prep, m, j) for j in never], "; "))
    left = [j for j in ids if (m.kol_covered[j].value or 0.0) < 0.5]
    reached = 1 - float(weight.reindex(left).sum()) / total if total > 0 else 0.0
    return (f"{head}; the closest network within the other rules covers {reached:.0%}, "
            f"leaving out {_listed([f'{j} (site {m.kol_site[j]})' for j in left])}")


# ---------------------------------------------------------------- infeasible timelines


def diagnose_timeline(plan: TimelinePlan, solver: SolverSettings) -> list[str]:
    """Why a timeline cannot meet its hard settings: the elastic multi-period model is
    solved and each non-zero slack is explained as in the single-period diagnosis, prefixed
    with the periods it concerns (the usual culprit: a requirement in a period before the
    sites that could meet it are onboarded; see timeline.requirements_from_period)."""
    reasons = _static_reasons(plan.prep)
    m = build_timeline_model(plan, elastic=True)
    info = solve_model(m, solver)
    if not info.has_solution:
        return reasons or [f"the elastic model could not be solved either ({info.termination})"]
    found: dict[str, list[int]] = {}
    for j in m.B:
        b = m.period[j]
        for text in _block_reasons(b, _not_ready(plan, b.prep, plan.groups[j][0])):
            found.setdefault(text, []).append(j)
    for text, blocks in found.items():
        ts = [t for j in blocks for t in plan.groups[j]]
        first, last = plan.periods[min(ts)].label, plan.periods[max(ts)].label
        when = first if first == last else f"{first} to {last}"
        reasons.append(f"{when}: {text}")
    if len(reasons) == 0:
        reasons.append("the requirements conflict with capacities, facility limits or the "
                       "sites' lead times; relax them one at a time to find which")
    return reasons


def _not_ready(plan: TimelinePlan, prep: Prepared, t0: int) -> dict[tuple[str, str], str]:
    """(point, product) -> why its patients cannot all be treated in a period starting at
    `t0`, for the points with a site within reach that cannot offer the product yet (its
    P&T committee and onboarding lead time). Blaming capacity there sends a planner to the
    wrong input: the sites ready are full because the others are not ready."""
    ready = offer_ready(plan)
    names = prep.sites["name"].to_dict() if "name" in prep.sites else {}
    labels = {p.index: p.label for p in plan.periods}

    out = {}
    for (p, k), grp in prep.pairs.groupby(["point_id", "product_id"], sort=False):
        when = {s: ready(s, k) for s in grp["site_id"]}
        later = sorted((t, s) for s, t in when.items() if t > t0)
        if not later:
            continue
        shown = _listed([f"{names.get(s, s)} " + (f"from {labels[t]}" if t in labels else
                                                    "not within the plan") for t, s in later])
        now = [names.get(s, s) for s, t in sorted(when.items()) if t <= t0]
        head = (f"the sites within reach that offer it now ({_listed(now)}) cannot take them "
                "all" if now else "no site within reach offers it yet")
        out[(p, k)] = (f"{head}; not ready: {shown} (P&T committee and onboarding lead time: "
                       "sites.csv committee_months, onboarding_days). service.allow_unserved: "
                       "true lets the roll-out leave them untreated at their penalty")
    return out


def _block_reasons(b: pyo.Block, waiting: dict[tuple[str, str], str] | None = None
                   ) -> list[str]:
    """Non-zero requirement slacks of one period block, in words; `waiting` gives the
    reason of patients whose sites are not ready yet (`_not_ready`)."""
    prep: Prepared = b.prep
    slacks = b.requirement_slacks
    tol = TOL
    out: list[str] = []
    if "unserved" in slacks:
        out += _unserved_reasons(prep, {k: v.value or 0.0 for k, v in slacks["unserved"].items()},
                                 waiting)
    if "service_level" in slacks:
        svc = prep.case.config.service
        total = prep.demand.groupby("product_id")["patients"].sum()
        for k, v in slacks["service_level"].items():
            if (v.value or 0.0) > tol:
                out.append(f"service level: product {k} needs {svc.min_share:.0%} of its "
                           f"patients treated within {svc.within_km:g} km, but "
                           f"{v.value:,.1f} of {svc.min_share * total[k]:,.1f} patients/yr "
                           "cannot be (are its sites onboarded yet?)")
    if "kol" in slacks:
        out += [_kol_reason(prep, b, k) for k, v in slacks["kol"].items() if (v.value or 0) > tol]
    if "kol_coverage" in slacks and (slacks["kol_coverage"].value or 0.0) > tol:
        out.append(_coverage_reason(prep, b))
    if "budget" in slacks and (slacks["budget"].value or 0.0) > tol:
        out.append("budget: the fixed costs of the cheapest network that meets the other "
                   f"requirements exceed budget_fixed_usd by ${slacks['budget'].value * 1000:,.0f}")
    return out
