"""Ordering policy family: which ordering option each active site uses for each product.

`prepare` tabulated every option's network cost (holding, expiries, capital, shipments against
the just-in-time baseline) at volume breakpoints; each (option, volume segment) is one line
a + b x patients. A site-product whose options all cost nothing beyond their lanes needs no
variable here (its route is still limited to the options it has). Otherwise exactly one
(option, segment) is chosen per offered site-product: a multiple-choice formulation, exact for
any piecewise-linear cost (the curves are neither convex nor concave: stock costs fall with
volume where expiries dominate and rise where holding does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from .common import group, money, register_cost
from .prepare import Prepared

HUB_STOCK = "held_at_hub"
PARTNER_STOCK = "held_at_partner_with_jit_delivery"


def add_ordering(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """One (option, volume segment) per offered site-product whose options cost anything."""
    options = prep.ordering
    if options is None or options.empty:
        m.ORD = pyo.Set(initialize=[], ordered=True)
        return
    # a site-product whose options all cost nothing needs no choice variables, unless one of
    # them is stock held at a hub: its patients must be known to pool them (partner stock is
    # known from the partner deliveries themselves)
    flags = pd.DataFrame({
        "site_id": options["site_id"], "product_id": options["product_id"],
        "free": (options["cost_lo_usd"].abs() < 1e-9) & (options["cost_hi_usd"].abs() < 1e-9)
        & (options["lo_patients"] <= 0),
        "hub_stock": options["policy"].eq(HUB_STOCK) & options["life_days"].notna()})
    by_sk_flags = flags.groupby(["site_id", "product_id"])
    trivial = by_sk_flags["free"].all() & ~by_sk_flags["hub_stock"].any()
    chosen = {sk for sk, is_trivial in trivial.items() if not is_trivial}
    rows = options[[sk in chosen for sk in zip(options["site_id"], options["product_id"],
                                                 strict=True)]]
    if rows.empty:
        m.ORD = pyo.Set(initialize=[], ordered=True)
        return
    sk = list(zip(rows["site_id"], rows["product_id"], strict=True))
    lo = rows["lo_patients"].to_numpy(float)
    hi = rows["hi_patients"].to_numpy(float)
    c_lo = rows["cost_lo_usd"].to_numpy(float)
    c_hi = rows["cost_hi_usd"].to_numpy(float)
    partner = (rows["route"] == "partner").to_numpy()
    # The most patients a site-product can ever take (m.reach): a segment starting above it
    # can never be chosen, and no segment needs to reach beyond it. Without this cap the LP
    # credits every site the per-patient saving of the top breakpoint (national LP bound
    # $87.6M -> $95.7M with it). The cost line keeps the segment's own ends.
    keep = np.array([lo[j] <= m.reach[sk[j]] for j in range(len(sk))], dtype=bool)
    # a site-product every option of which needs more patients than the site can get: not
    # offered, and said why (sites.csv, unserved.csv), since nothing in prepare's reasons
    # covers it. The smallest volume is a site's own stock under its loss limit.
    m.ord_too_few = {}
    limits = prep.sites["max_stocking_loss_usd_per_year"].astype(float).to_dict()
    for key in sorted(set(sk) - {key for key, k in zip(sk, keep, strict=True) if k}):
        m.w[key].fix(0)
        least = min(range(len(sk)), key=lambda j: (sk[j] != key, lo[j]))
        policy = str(rows["policy"].iloc[least])
        m.ord_too_few[key] = (
            f"no ordering option works at the {m.reach[key]:.1f} patients a year it can "
            f"reach: the least any allows is {lo[least]:.1f} ({policy}: the least volume "
            "at which its stock reaches the fill rate"
            + (" and the site's stocking loss stays within its "
               f"max_stocking_loss_usd_per_year of ${limits[key[0]]:,.0f})"
               if policy == "stocked_at_site" else ")"))
    rows = rows[keep]
    sk = [key for key, k in zip(sk, keep, strict=True) if k]
    lo, hi, c_lo, c_hi, partner = lo[keep], hi[keep], c_lo[keep], c_hi[keep], partner[keep]
    hi_cap = np.minimum(hi, [m.reach[key] for key in sk])
    idx = list(rows.index)
    m.ORD = pyo.Set(initialize=idx, ordered=True)
    m.ord_sk = dict(zip(idx, sk, strict=True))
    pos = {i: j for j, i in enumerate(idx)}
    m.z = pyo.Var(m.ORD, within=pyo.Binary)  # option and volume segment chosen
    m.n = pyo.Var(m.ORD, within=pyo.NonNegativeReals)  # patients under it
    by_sk = group(idx, lambda i: m.ord_sk[i])
    m.ORD_SK = pyo.Set(initialize=sorted(by_sk), dimen=2, ordered=True)
    dpp = prep.products["doses_per_patient"].to_dict()

    m.ord_choice = pyo.Constraint(m.ORD_SK, rule=lambda m, s, k: pyo.quicksum(
        m.z[i] for i in by_sk[(s, k)]) == m.w[s, k])
    m.ord_lo = pyo.Constraint(m.ORD, rule=lambda m, i: m.n[i] >= lo[pos[i]] * m.z[i]
                              if lo[pos[i]] > 0 else pyo.Constraint.Skip)
    m.ord_hi = pyo.Constraint(m.ORD, rule=lambda m, i: m.n[i] <= hi_cap[pos[i]] * m.z[i])
    m.ord_patients = pyo.Constraint(m.ORD_SK, rule=lambda m, s, k: pyo.quicksum(
        m.n[i] for i in by_sk[(s, k)]) == pyo.quicksum(m.x[p] for p in m.x_by_sk.get((s, k), [])))

    def route(m, s, k):
        links = m.links_by_sk.get((s, k), [])
        via_partner = [i for i in by_sk[(s, k)] if partner[pos[i]]]
        if not links or len(via_partner) == len(by_sk[(s, k)]):
            return pyo.Constraint.Skip  # one route only: the lanes already say which
        return (pyo.quicksum(m.q[q] for q in links)
                == dpp[k] * pyo.quicksum(m.n[i] for i in via_partner))

    m.ord_route = pyo.Constraint(m.ORD_SK, rule=route)

    def line(i: int) -> tuple[float, float]:
        j = pos[i]
        slope = (c_hi[j] - c_lo[j]) / (hi[j] - lo[j]) if hi[j] > lo[j] else 0.0
        return c_lo[j] - slope * lo[j], slope

    lines = {i: line(i) for i in idx}
    # doses that expire in stock are made too: a plant's capacity counts them (flows.py)
    e_lo = rows["expired_lo_doses"].to_numpy(float)
    e_hi = rows["expired_hi_doses"].to_numpy(float)
    m.ord_expired = {}
    for i in idx:
        j = pos[i]
        if e_lo[j] > 1e-9 or e_hi[j] > 1e-9:
            slope = (e_hi[j] - e_lo[j]) / (hi[j] - lo[j]) if hi[j] > lo[j] else 0.0
            # keyed by route too: a site's own stock comes down its direct lanes, a
            # partner's stock held for it down the partner's supply lanes
            key = (*m.ord_sk[i], "partner" if partner[j] else "direct")
            m.ord_expired.setdefault(key, []).append(
                (m.z[i], m.n[i], e_lo[j] - slope * lo[j], slope))
    register_cost(m, "ordering_and_inventory", pyo.quicksum(
        money(a) * m.z[i] + money(b) * m.n[i] for i, (a, b) in lines.items()))
    # segment volume cuts, added by the solver's cut loop where the LP violates them
    # (separate_segment_volume)
    m.ord_segments = {key: segs for key, segs in by_sk.items() if len(segs) > 1}
    m.ord_volume = pyo.ConstraintList()


# ---------------------------------------------------------------- segment volume cuts

#: a site-product with up to this many (option, segment) choices has every subset of them
#: tried; beyond, each choice alone and all the others (the national default has at most 9)
MAX_SUBSET_SEGMENTS = 10
#: the most violated cuts added per site-product and round
CUTS_PER_SITE_PRODUCT = 3
#: patients a cut must be violated by (per patient the site-product can reach), so that a
#: round adds only cuts that move the LP
VOLUME_TOLERANCE = 1e-4


def _subsets(k: int) -> np.ndarray:
    """Rows of 0/1 over k choices: every non-empty proper subset, or for large k each choice
    and its complement."""
    if k <= MAX_SUBSET_SEGMENTS:
        codes = np.arange(1, 2 ** k - 1)
        return ((codes[:, None] >> np.arange(k)) & 1).astype(float)
    eye = np.eye(k)
    return np.vstack([eye, 1.0 - eye])


def separate_segment_volume(m: pyo.ConcreteModel) -> list:
    """Cuts that keep the LP from giving a small site a large segment's unit stock cost.

    A site-product's (option, segment) choices z and their patients n sum to its patients,
    each pair p (demand point, site) bringing x_p <= d_p. In a network one choice holds all
    of them, so for any set S of choices the patients under S come only from pairs whose
    patients go under S: sum_S n <= sum_p min(x_p, d_p * sum_S z). The LP instead puts a
    tenth of a 100-patient stocked segment at every site of a metro, each keeping its own
    patients, and collects the big segment's per-patient saving everywhere: on the national
    default the ordering choices carry 83 % of the gap between the LP and the network
    (bench/bench_integrality.py). Linearised at the LP point, with A the pairs where x_p is
    the smaller term: sum_S n <= sum_A x_p + (sum_not-A d_p) * sum_S z, valid for any A (at a
    network, sum_S z is 0 or 1). These are the projection of the per-pair split
    x_p = sum_S x_pS, x_pS <= d_p z_S onto the model's variables, without its 29k columns.
    Adds the violated cuts to `m.ord_volume` from the loaded LP values; returns the new
    constraint data (for a persistent solver to add)."""
    if not hasattr(m, "ord_volume"):
        return []
    new = []
    for key, segs in m.ord_segments.items():
        pairs = m.x_by_sk.get(key, [])
        if not pairs:
            continue
        x = np.array([m.x[p].value or 0.0 for p in pairs])
        d = np.array([m.patients_of_pair[p] for p in pairs], dtype=float)
        z = np.array([m.z[i].value or 0.0 for i in segs])
        n = np.array([m.n[i].value or 0.0 for i in segs])
        subsets = _subsets(len(segs))
        caps = np.outer(subsets @ z, d)  # (subset, pair): d_p * sum_S z
        excess = subsets @ n - np.minimum(caps, x).sum(axis=1)
        floor = VOLUME_TOLERANCE * max(float(d.sum()), 1.0)
        for r in np.argsort(-excess)[:CUTS_PER_SITE_PRODUCT]:
            if excess[r] <= floor:
                break
            chosen = [segs[j] for j in np.flatnonzero(subsets[r])]
            smaller = x <= caps[r]
            rest = float(d[~smaller].sum())
            new.append(m.ord_volume.add(
                pyo.quicksum(m.n[i] for i in chosen)
                <= pyo.quicksum(m.x[p] for p, a in zip(pairs, smaller, strict=True) if a)
                + rest * pyo.quicksum(m.z[i] for i in chosen)))
    return new


# ---------------------------------------------------------------- pooled depot stock


def add_depot_stock(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Stock held at a hub or a partner serves every site it delivers to: one base stock per
    depot and product, sized for their pooled demand. The depot's cost is piecewise linear in
    its pooled patients (a multiple choice of volume segments, as for a site's options, whose
    sum is the depot's `hold` decision); a site's patients can be served from a depot's stock
    only when that depot holds it. Pooled patients: at a partner, every delivery of a product
    whose partner option is stock; at a hub, the doses of the sites that chose held_at_hub,
    split over the hubs their lanes pass through."""
    depots = prep.depots
    if not prep.case.config.finance.pooled_depots:
        return  # each site's depot option is priced as its own stock (add_ordering)
    if depots is None or depots.empty:
        m.DEPOT = pyo.Set(initialize=[], dimen=3, ordered=True)
        _no_depot_stock(m, prep, set())
        return
    keys = sorted(set(zip(depots["kind"], depots["depot_id"], depots["product_id"],
                          strict=True)))
    m.DEPOT = pyo.Set(initialize=keys, dimen=3, ordered=True)
    dpp = prep.products["doses_per_patient"].to_dict()
    _no_depot_stock(m, prep, set(keys))
    pooled = {key: _pooled_patients(m, prep, key, dpp) for key in keys}
    rows = depots.reset_index(drop=True)
    idx = list(rows.index)
    key_of = {i: (rows.at[i, "kind"], rows.at[i, "depot_id"], rows.at[i, "product_id"])
              for i in idx}
    reach = {key: _pooled_reach(m, prep, key) for key in keys}
    lo = rows["lo_patients"].astype(float).to_dict()
    hi = {i: min(float(rows.at[i, "hi_patients"]), reach[key_of[i]]) for i in idx}
    keep = [i for i in idx if lo[i] <= reach[key_of[i]] + 1e-9]
    m.DSEG = pyo.Set(initialize=keep, ordered=True)
    m.depot_seg_key = key_of
    m.hold = pyo.Var(m.DEPOT, within=pyo.Binary)  # the depot keeps stock of the product
    m.zd = pyo.Var(m.DSEG, within=pyo.Binary)
    m.nd = pyo.Var(m.DSEG, within=pyo.NonNegativeReals)
    by_key = group(keep, lambda i: key_of[i])
    m.depot_choice = pyo.Constraint(m.DEPOT, rule=lambda m, *k: pyo.quicksum(
        m.zd[i] for i in by_key.get(k, [])) == m.hold[k])
    m.depot_lo = pyo.Constraint(m.DSEG, rule=lambda m, i: m.nd[i] >= lo[i] * m.zd[i]
                                if lo[i] > 0 else pyo.Constraint.Skip)
    m.depot_hi = pyo.Constraint(m.DSEG, rule=lambda m, i: m.nd[i] <= hi[i] * m.zd[i])
    m.depot_patients = pyo.Constraint(m.DEPOT, rule=lambda m, *k: pyo.quicksum(
        m.nd[i] for i in by_key.get(k, [])) == pooled[k])
    m.depot_needs_facility = pyo.Constraint(m.DEPOT, rule=lambda m, kind, d, k: m.hold[
        kind, d, k] <= (m.g[d] if kind == "hub" else m.a[d]))
    m.depot_expired = {}
    for i in keep:
        a_lo, a_hi = float(rows.at[i, "expired_lo_doses"]), float(rows.at[i, "expired_hi_doses"])
        seg_lo, seg_hi = lo[i], float(rows.at[i, "hi_patients"])
        if a_lo > 1e-9 or a_hi > 1e-9:
            slope = (a_hi - a_lo) / (seg_hi - seg_lo) if seg_hi > seg_lo else 0.0
            m.depot_expired.setdefault(key_of[i], []).append(
                (m.zd[i], m.nd[i], a_lo - slope * seg_lo, slope))
    _depot_linking(m, prep, set(keys), dpp)
    _option_needs_stock(m, prep, set(keys))
    _aged_deliveries(m, prep, set(keys))

    def line(i: int) -> tuple[float, float]:
        r = rows.loc[i]
        span = float(r["hi_patients"]) - float(r["lo_patients"])
        slope = (float(r["cost_hi_usd"]) - float(r["cost_lo_usd"])) / span if span > 0 else 0.0
        return float(r["cost_lo_usd"]) - slope * float(r["lo_patients"]), slope

    lines = {i: line(i) for i in keep}
    m.depot_lines = lines  # segment -> (USD at 0 patients, USD per patient)
    register_cost(m, "depot_stock", pyo.quicksum(
        money(a) * m.zd[i] + money(b) * m.nd[i] for i, (a, b) in lines.items()))


def _option_needs_stock(m: pyo.ConcreteModel, prep: Prepared, keys: set[tuple]) -> None:
    """A site-product may choose a depot's stock as its ordering option only when a depot it
    can draw on (a hub of its lanes, a partner of its links) holds stock of the product. Its
    deliveries already need that; the row says it of the choice as well, so an offer never
    picks the option (free at the site) with no stock behind it and its patients nowhere to
    go. That was the first incumbent HiGHS's rounding found on the national default:
    hundreds of patients unserved behind options with no stock."""
    options = prep.ordering
    depots_of: dict[tuple, list[tuple]] = {}
    for s, k, h in m.HUB_HELD:
        if ("hub", h, k) in keys:
            depots_of.setdefault((s, k, HUB_STOCK), []).append(("hub", h, k))
    for sk in m.partner_stock_sk:
        for par in sorted({m.link_partner[i] for i in m.links_by_sk.get(sk, [])}):
            if ("partner", par, sk[1]) in keys:
                depots_of.setdefault((*sk, PARTNER_STOCK), []).append(("partner", par, sk[1]))
    chosen = group([i for i in m.ORD if options.at[i, "policy"] in (HUB_STOCK, PARTNER_STOCK)
                    and options.at[i, "life_days"] == options.at[i, "life_days"]],
                   lambda i: (*m.ord_sk[i], options.at[i, "policy"]))
    m.STOCK_CHOICE = pyo.Set(initialize=sorted(chosen), dimen=3, ordered=True)
    m.option_needs_stock = pyo.Constraint(m.STOCK_CHOICE, rule=lambda m, *c: pyo.quicksum(
        m.z[i] for i in chosen[c]) <= pyo.quicksum(m.hold[d] for d in depots_of.get(c, [])))


def _aged_deliveries(m: pyo.ConcreteModel, prep: Prepared, keys: set[tuple]) -> None:
    """A dose drawn from a hub's pooled stock has aged there, so its hub -> site delivery
    keeps the dose cadence of the shelf life left after that age (`stock_shipments_per_dose`,
    set by prepare), not the lane's. The lanes price the delivery leg and the hub's handling
    at the lane's shipments per dose; the difference is charged here on the doses from stock
    (transport and hub_handling) and counted against the hub's capacity. Lanes of one site,
    product and hub share their hub -> site leg; where they differ, the largest difference
    is charged. A partner's delivery is priced per dose (its `cost_usd_per_dose`), so the
    aged cadence changes its shipments in the results, not its cost."""
    lanes = prep.direct_lanes
    spd, aged = lanes["shipments_per_dose"].to_numpy(float), lanes[
        "stock_shipments_per_dose"].to_numpy(float)
    leg_cost = lanes["last_leg_cost_usd"].to_numpy(float)
    handling = prep.hubs["cost_usd_per_shipment"].astype(float).to_dict()
    #: (site, product, hub) -> (shipments, hub -> site leg USD) more per dose from stock
    extra: dict[tuple, tuple[float, float]] = {}
    for s, k, h in m.HUB_HELD:
        rows = m.lanes_of_held[(s, k, h)]
        more = {i: max(aged[i] - spd[i], 0.0) for i in rows}
        if ("hub", h, k) in keys and max(more.values()) > 0:
            extra[(s, k, h)] = (max(more.values()), max(n * leg_cost[i] for i, n in more.items()))
    register_cost(m, "transport", pyo.quicksum(
        money(leg) * m.fh[key] for key, (_, leg) in extra.items()))
    register_cost(m, "hub_handling", pyo.quicksum(
        money(n * handling[key[2]]) * m.fh[key] for key, (n, _) in extra.items()))
    m.aged_hub_shipments = group([(key, n) for key, (n, _) in extra.items()],
                                 lambda item: item[0][2])


def _depot_linking(m: pyo.ConcreteModel, prep: Prepared, keys: set[tuple], dpp: dict) -> None:
    """Disaggregated linking, which tightens the LP: each site's doses from a depot's stock
    are at most what that site-product can take, times the depot's hold decision. Without it
    the LP holds a sliver of stock at every depot and collects the pooled cost line's slope
    (its economies of scale) at almost none of its fixed part."""
    links = prep.partner_links
    rows = [(i, ("partner", par, k)) for par, k in m.links_by_sk_partner
            if ("partner", par, k) in keys for i in _pooled_links(m, prep, par, k)]
    cap = {i: dpp[key[2]] * m.reach[(links.at[i, "site_id"], key[2])] for i, key in rows}
    key_of = dict(rows)
    m.depot_link_of = key_of  # partner delivery -> the depot whose stock it draws on
    m.DEPOT_LINK = pyo.Set(initialize=sorted(key_of), ordered=True)
    m.depot_link_open = pyo.Constraint(m.DEPOT_LINK, rule=lambda m, i: m.q[i]
                                       <= cap[i] * m.hold[key_of[i]])
    m.depot_hub_open = pyo.Constraint(
        m.HUB_HELD, rule=lambda m, s, k, h: m.fh[s, k, h] <= dpp[k] * m.reach[s, k]
        * m.hold["hub", h, k] if ("hub", h, k) in keys else pyo.Constraint.Skip)


def _pooled_links(m: pyo.ConcreteModel, prep: Prepared, partner: str, product: str
                  ) -> list[int]:
    """Deliveries partner -> site of the product whose site-product has partner stock."""
    links = prep.partner_links
    stock = m.partner_stock_sk
    return [i for i in m.links_by_sk_partner.get((partner, product), [])
            if (links.at[i, "site_id"], product) in stock]


def _pooled_patients(m: pyo.ConcreteModel, prep: Prepared, key: tuple, dpp: dict):
    """Patients a year served from the depot's stock."""
    kind, depot, k = key
    if kind == "partner":
        return pyo.quicksum(m.q[i] for i in _pooled_links(m, prep, depot, k)) / dpp[k]
    return pyo.quicksum(m.fh[s, kk, h] for s, kk, h in m.HUB_HELD if h == depot and kk == k) \
        / dpp[k]


def _pooled_reach(m: pyo.ConcreteModel, prep: Prepared, key: tuple) -> float:
    """The most patients the depot's stock can ever serve: its sites' summed reach, or the
    patients of every demand point within reach of one of them when that is less (sites of
    one metro share their patients: summing their reaches counts them several times). The
    depot's volume segments stop here, which keeps the LP from pricing a depot's stock at
    the average cost of a volume it can never pool."""
    kind, depot, k = key
    if kind == "partner":
        sks = {(prep.partner_links.at[i, "site_id"], k)
               for i in _pooled_links(m, prep, depot, k)}
    else:
        sks = {(s, kk) for s, kk, h in m.HUB_HELD if h == depot and kk == k}
    point = prep.pairs["point_id"]
    points = {point.iat[i] for sk in sks for i in m.x_by_sk.get(sk, [])}
    # summed in sorted order: a set's order follows the process's string hashing, and a
    # segment bound that differs in its last bits sends HiGHS down another path
    return float(min(sum(m.reach[sk] for sk in sorted(sks)),
                     sum(m.patients[(pt, k)] for pt in sorted(points))))


def _no_depot_stock(m: pyo.ConcreteModel, prep: Prepared, usable: set[tuple]) -> None:
    """Index the stock flows: partner deliveries of stock-option site-products (fixed to 0
    where the partner cannot hold the stock: life or fill rate out of reach there), and the
    held-at-hub doses per site, product and hub (fh), tied to the site's held_at_hub
    patients and to its lanes through that hub."""
    options = prep.ordering
    links = prep.partner_links
    stock = options[options["life_days"].notna()] if options is not None and len(options) \
        else pd.DataFrame(columns=["site_id", "product_id", "policy"])
    m.partner_stock_sk = set(zip(stock.loc[stock["policy"] == PARTNER_STOCK, "site_id"],
                                 stock.loc[stock["policy"] == PARTNER_STOCK, "product_id"],
                                 strict=True))
    q_key = list(zip(links["partner_id"], links["product_id"], strict=True))
    m.links_by_sk_partner = group(range(len(links)), lambda i: q_key[i])
    for (par, k), idx in m.links_by_sk_partner.items():
        if ("partner", par, k) in usable:
            continue
        for i in idx:
            if (links.at[i, "site_id"], k) in m.partner_stock_sk:
                m.q[i].fix(0)  # no depot stock of k at this partner
    hub_sk = set(zip(stock.loc[stock["policy"] == HUB_STOCK, "site_id"],
                     stock.loc[stock["policy"] == HUB_STOCK, "product_id"], strict=True))
    lanes = prep.direct_lanes
    l_key = list(zip(lanes["site_id"], lanes["product_id"], lanes["hub_id"], strict=True))
    by_skh = group([i for i in range(len(lanes)) if l_key[i][:2] in hub_sk], lambda i: l_key[i])
    choice = set(getattr(m, "ORD_SK", []))
    held = sorted(key for key in by_skh if (key[0], key[1]) in choice)
    m.HUB_HELD = pyo.Set(initialize=held, dimen=3, ordered=True)
    m.fh = pyo.Var(m.HUB_HELD, within=pyo.NonNegativeReals)
    for s, k, h in held:
        if ("hub", h, k) not in usable:
            m.fh[s, k, h].fix(0)
    dpp = prep.products["doses_per_patient"].to_dict()
    held_opts = group([i for i in m.ORD if options.at[i, "policy"] == HUB_STOCK
                       and options.at[i, "life_days"] == options.at[i, "life_days"]],
                      lambda i: m.ord_sk[i]) if len(m.ORD) else {}
    by_sk = group(held, lambda key: key[:2])
    m.HUB_HELD_SK = pyo.Set(initialize=sorted(held_opts), dimen=2, ordered=True)
    m.hub_held_split = pyo.Constraint(
        m.HUB_HELD_SK,
        rule=lambda m, s, k: pyo.quicksum(m.fh[key] for key in by_sk.get((s, k), []))
        == dpp[k] * pyo.quicksum(m.n[i] for i in held_opts[(s, k)]))
    m.hub_held_lanes = pyo.Constraint(m.HUB_HELD, rule=lambda m, s, k, h: m.fh[s, k, h]
                                      <= pyo.quicksum(m.f[i] for i in by_skh[(s, k, h)]))
    m.lanes_of_held = by_skh  # (site, product, hub) -> its direct lanes
