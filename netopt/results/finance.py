"""Finance tables of a solved network: the ordering policy, inventory, expiries and working
capital of every active site and product (the return-policy trade-off on a chosen network is
`analysis/finance.py`).

The network model chose each site's option on tabulated (piecewise-linear) costs; here every
chosen option is evaluated again at the site's actual volume with `netopt.inventory`, so the
figures finance reads are exact (or simulated with a confidence interval), and the tabulation
error is visible as `model_cost_usd` vs `exact_cost_usd`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..inventory.ordering import (
    COST_PARTS,
    DEPOT,
    evaluate,
    option_cost_parts,
    replenishment_shipments,
)
from ..inventory.perishable import receivables_usd
from ..model.prepare import Prepared

POLICY_COLUMNS = [
    "row", "site_id", "site_name", "state", "product_id", "policy", "title_holder", "route",
    "stock_point", "depot_id",
    "patients_per_year", "doses_per_year", "stock_level_doses", "avg_inventory_doses",
    "avg_inventory_value_usd", "fill_rate", "expired_doses_per_year", "expired_usd",
    "returned_doses_per_year", "return_credit_usd", "manufacturer_writeoff_doses",
    "manufacturer_writeoff_usd", "site_expired_doses", "distributor_expired_doses",
    "site_loss_usd", "distributor_loss_usd", "site_limit_usd",
    "site_accepts_stocking", "holding_cost_usd", "working_capital_manufacturer_usd",
    "working_capital_distributor_usd", "working_capital_site_usd", "capital_charge_usd",
    "shipments_per_year", "life_days", "lead_days", "model_cost_usd", "exact_cost_usd",
    "method", *(f"ordering_{part}_usd" for part in COST_PARTS),
]
#: returnable fractions the trade-off chart sweeps
GENEROSITY = (0.0, 0.25, 0.5, 0.75, 1.0)
JIT = "jit_per_patient"
PARTNER = "held_at_partner_with_jit_delivery"


def econ_fields(econ: object, prod: pd.Series, shipments_per_dose: float = 1.0
                ) -> dict[str, float | str]:
    """The figures of one `inventory.PolicyEconomics` under the finance table's names
    (`prod`: the product, whose bulk payload may split a replenishment into shipments;
    `shipments_per_dose`: the delivery lane's, as the model ships doses - two doses of a
    repeat-dose product in one shipment are one delivery, not two)."""
    stock = econ.stock  # type: ignore[attr-defined]
    e = econ  # type: ignore[assignment]
    return {
        "stock_level_doses": float(stock.base_stock),
        "avg_inventory_doses": float(stock.on_hand_doses),
        "avg_inventory_value_usd": float(e.inventory_value_usd),
        "fill_rate": float(stock.fill_rate),
        "expired_doses_per_year": float(e.wasted_doses_per_year),
        "returned_doses_per_year": float(e.returned_doses_per_year),
        "return_credit_usd": float(e.return_credits_usd_per_year),
        "manufacturer_writeoff_usd": float(e.manufacturer_write_off_usd_per_year),
        "site_expired_doses": float(e.expired_doses_site_per_year),
        "distributor_expired_doses": float(e.expired_doses_distributor_per_year),
        "manufacturer_writeoff_doses": float(e.expired_doses_manufacturer_per_year
                                             + e.returned_doses_per_year),
        "site_loss_usd": float(e.site_loss_usd_per_year),
        "distributor_loss_usd": float(e.distributor_loss_usd_per_year),
        "holding_cost_usd": float(e.holding_cost_usd_per_year),
        "working_capital_manufacturer_usd": float(e.working_capital_manufacturer_usd),
        "working_capital_distributor_usd": float(e.working_capital_distributor_usd),
        "working_capital_site_usd": float(e.working_capital_site_usd),
        "capital_charge_usd": float(e.capital_charge_usd_per_year),
        "shipments_per_year": float(replenishment_shipments(stock, prod)
                                    + e.patient_shipments_per_year * shipments_per_dose),
        "method": str(stock.method),
    }


def policies_table(prep: Prepared, m: object, f: np.ndarray, q: np.ndarray,
                   shipments: pd.DataFrame) -> pd.DataFrame:
    """One row per active site, product and ordering option used (patients > 0); deliveries
    are counted at `shipments`' cadence (shipments.csv, where doses drawn from a depot's
    stock ship at their aged cadence)."""
    options = prep.ordering
    products = prep.products
    dpp = products["doses_per_patient"].to_dict()
    lanes, links = prep.direct_lanes, prep.partner_links
    direct = pd.Series(f, dtype=float).groupby(
        [lanes["site_id"].to_numpy(), lanes["product_id"].to_numpy()]).sum() if len(f) else \
        pd.Series(dtype=float)
    partner = pd.Series(q, dtype=float).groupby(
        [links["site_id"].to_numpy(), links["product_id"].to_numpy()]).sum() if len(q) else \
        pd.Series(dtype=float)
    chosen: dict[tuple[str, str], list[tuple[pd.Series | None, str, float]]] = {}
    in_model = set()
    ord_set = getattr(m, "ORD", None)
    if ord_set is not None and len(ord_set):
        for i in ord_set:
            sk = m.ord_sk[i]  # type: ignore[attr-defined]
            in_model.add(sk)
            if round(m.z[i].value or 0) == 1:  # type: ignore[attr-defined]
                row = options.loc[i]
                chosen.setdefault(sk, []).append((row, row["policy"],
                                                  float(m.n[i].value or 0.0)))  # type: ignore[attr-defined]
    by_sk = {sk: frame for sk, frame in options.groupby(["site_id", "product_id"])} \
        if len(options) else {}
    for sk in sorted(set(direct.index) | set(partner.index)):
        if sk in in_model:
            continue
        for route, doses in (("direct", direct.get(sk, 0.0)), ("partner", partner.get(sk, 0.0))):
            if doses <= 1e-6:
                continue
            frame = by_sk.get(sk)
            row = None
            policy = JIT if route == "direct" else PARTNER
            if frame is not None:
                on_route = frame[frame["route"] == route]
                if len(on_route):
                    row = on_route.iloc[0]
                    policy = row["policy"]
            chosen.setdefault(sk, []).append((row, policy, doses / dpp[sk[1]]))
    served_by = _depots_serving(prep, m, q)
    legs = shipments[shipments["doses_per_year"] > 1e-9] if len(shipments) else shipments
    direct_legs = legs[legs["leg"] == "direct"] if len(legs) else legs
    delivery_legs = legs[legs["leg"] == "partner_delivery"] if len(legs) else legs
    cadence = {"direct": _cadence(direct_legs, "site_id"),
               "partner": _cadence(delivery_legs, "site_id")}
    rows = [_row(prep, sk, row, policy, patients, served_by,
                 cadence["partner" if policy == PARTNER else "direct"].get(sk, 1.0))
            for sk, items in sorted(chosen.items()) for row, policy, patients in items
            if patients > 1e-6]
    # a depot's deliveries: the legs that draw on its stock
    rows += depot_rows(prep, m, {
        **{("hub", *key): v for key, v in _cadence(_stocked(direct_legs), "hub_id").items()},
        **{("partner", *key): v
           for key, v in _cadence(_stocked(delivery_legs), "partner_id").items()}})
    return pd.DataFrame(rows, columns=POLICY_COLUMNS)


def _stocked(legs: pd.DataFrame) -> pd.DataFrame:
    return legs[legs["from_depot_stock"].astype(bool)] if len(legs) else legs


def _cadence(legs: pd.DataFrame, by: str) -> dict[tuple, float]:
    """(legs[by], product) -> shipments per dose of shipments.csv's `legs`, weighted by
    their doses: by site, what reaches a site-product; by hub or partner, the deliveries
    leaving a depot."""
    if not len(legs):
        return {}
    sums = legs.assign(by=legs[by].astype(str)).groupby(["by", "product_id"])[
        ["doses_per_year", "shipments_per_year"]].sum()
    return (sums["shipments_per_year"] / sums["doses_per_year"]).to_dict()


def _depots_serving(prep: Prepared, m: object, q: np.ndarray) -> dict[tuple, str]:
    """(site, product) -> the depots whose pooled stock serves it (";"-joined)."""
    out: dict[tuple, set] = {}
    links = prep.partner_links
    stock = getattr(m, "partner_stock_sk", set())
    for i, doses in enumerate(q):
        sk = (links.at[i, "site_id"], links.at[i, "product_id"])
        if doses > 1e-6 and sk in stock:
            out.setdefault(sk, set()).add(links.at[i, "partner_id"])
    fh = getattr(m, "fh", None)
    if fh is not None:
        for (s, k, h), v in fh.items():
            if (v.value or 0.0) > 1e-6:
                out.setdefault((s, k), set()).add(h)
    return {sk: ";".join(sorted(v)) for sk, v in out.items()}


def depot_rows(prep: Prepared, m: object, delivery: dict[tuple, float] | None = None
               ) -> list[dict]:
    """One row per depot and product holding pooled stock: its inventory, expiries,
    write-offs and working capital, evaluated exactly at the depot's pooled volume."""
    zd = getattr(m, "zd", None)
    if zd is None:
        return []
    depots = prep.depots
    cfg = prep.case.config.finance
    names = {**prep.hubs["name"].to_dict(), **prep.partners["name"].to_dict()}
    out = []
    for i, v in zd.items():
        if round(v.value or 0.0) != 1:
            continue
        seg = depots.loc[i]
        patients = float(m.nd[i].value or 0.0)  # type: ignore[attr-defined]
        pid, policy = seg["product_id"], seg["policy"]
        prod = prep.products.loc[pid]
        t = _terms_row(prep, pid, policy)
        parts, econ = option_cost_parts(
            t, prod, patients, float(seg["life_days"]), float(seg["lead_days"]),
            float(seg["replenish_cost_usd"]), float(seg["avoided_cost_usd"]),
            float(seg["shipments_per_dose"]), cfg.cost_of_capital, cfg.seed)
        # its deliveries to sites leave at their own lanes' cadence (not the supply's)
        fields = econ_fields(econ, prod, (delivery or {}).get(
            (seg["kind"], str(seg["depot_id"]), pid), 1.0))
        # what the sites owe for the doses is theirs (their rows): the depot keeps its stock
        owed = _receivables(t, prod, float(econ.stock.demand_doses_per_year))
        fields["working_capital_manufacturer_usd"] -= owed
        fields["capital_charge_usd"] -= cfg.cost_of_capital * owed
        cogs = float(prod["cogs_usd_per_dose"])
        lo, hi = float(seg["lo_patients"]), float(seg["hi_patients"])
        c_lo, c_hi = float(seg["cost_lo_usd"]), float(seg["cost_hi_usd"])
        out.append({
            "row": "depot", "site_id": "", "site_name": names.get(seg["depot_id"], ""),
            "state": "", "product_id": pid, "policy": policy, "title_holder": t.title_holder,
            "route": seg["kind"], "stock_point": seg["kind"], "depot_id": seg["depot_id"],
            "patients_per_year": patients,
            "doses_per_year": patients * float(prod["doses_per_patient"]),
            "site_limit_usd": math.nan, "life_days": float(seg["life_days"]),
            "lead_days": float(seg["lead_days"]),
            "model_cost_usd": c_lo + (c_hi - c_lo) * (patients - lo) / (hi - lo)
            if hi > lo else c_lo,
            "exact_cost_usd": sum(parts.values()), **fields,
            **{f"ordering_{part}_usd": usd for part, usd in parts.items()},
            "expired_usd": fields["expired_doses_per_year"] * cogs,
            "site_accepts_stocking": None,  # a depot's stock: no site is asked
        })
    return out


def _receivables(t, prod: pd.Series, doses: float) -> float:  # noqa: ANN001
    """What sites owe the manufacturer for `doses` a year, at the terms' payment days (as
    inventory.perishable counts them in a stock point's working capital)."""
    return receivables_usd(float(prod["price_usd_per_dose"]) * doses, t.payment_terms_days)


def _terms_row(prep: Prepared, product: str, policy: str):  # noqa: ANN202
    terms = prep.case.policies
    if terms is None or len(terms) == 0:
        return None
    hit = terms[(terms["product_id"] == product) & (terms["policy"] == policy)]
    return next(hit.itertuples(index=False), None) if len(hit) else None


def _row(prep: Prepared, sk: tuple[str, str], option: pd.Series | None, policy: str,
         patients: float, served_by: dict[tuple, str], shipments_per_dose: float = 1.0) -> dict:
    sid, pid = sk
    prod = prep.products.loc[pid]
    site = prep.sites.loc[sid]
    cfg = prep.case.config.finance
    doses = patients * float(prod["doses_per_patient"])
    t = _terms_row(prep, pid, policy)
    life = float(option["life_days"]) if option is not None else math.nan
    lead = float(option["lead_days"]) if option is not None else math.nan
    stock = math.isfinite(life)
    pooled = stock and policy in DEPOT and cfg.pooled_depots
    # where the doses wait: a hub's or partner's stock sits there even when it is sized for
    # this site alone (`finance.pooled_depots: false`); only pooled stock names its depot
    point = DEPOT.get(policy, "site") if stock else "none"
    out = {"row": "site", "site_id": sid, "site_name": site["name"], "state": site["state"],
           "product_id": pid, "policy": policy,
           "title_holder": t.title_holder if t is not None else "manufacturer",
           "route": "partner" if policy == PARTNER else "direct", "stock_point": point,
           "depot_id": served_by.get(sk, "") if pooled else "",
           "patients_per_year": patients, "doses_per_year": doses,
           "site_limit_usd": float(site["max_stocking_loss_usd_per_year"]),
           "life_days": life, "lead_days": lead, "model_cost_usd": 0.0, "exact_cost_usd": 0.0,
           **{f"ordering_{part}_usd": 0.0 for part in COST_PARTS}}
    if t is None:  # no policies table: just-in-time with nothing to evaluate
        return {**{c: 0.0 for c in POLICY_COLUMNS}, **out, "fill_rate": 1.0,
                "site_accepts_stocking": None, "method": "none"}
    if pooled:  # the stock is the depot's (its own row): the site orders per patient from it
        owed = _receivables(t, prod, doses)  # but what it owes for its doses is its own
        return {**{c: 0.0 for c in POLICY_COLUMNS}, **out, "fill_rate": math.nan,
                "working_capital_manufacturer_usd": owed,
                "capital_charge_usd": cfg.cost_of_capital * owed,
                "site_accepts_stocking": None, "method": "pooled at depot"}
    if stock:
        parts, econ = option_cost_parts(
            t, prod, patients, life, lead, float(option["replenish_cost_usd"]),
            float(option["avoided_cost_usd"]), float(option["shipments_per_dose"]),
            cfg.cost_of_capital, cfg.seed)
        cost = sum(parts.values())
        out.update({f"ordering_{part}_usd": usd for part, usd in parts.items()})
        lo, hi = float(option["lo_patients"]), float(option["hi_patients"])
        c_lo, c_hi = float(option["cost_lo_usd"]), float(option["cost_hi_usd"])
        out["model_cost_usd"] = c_lo + (c_hi - c_lo) * (patients - lo) / (hi - lo) \
            if hi > lo else c_lo
        out["exact_cost_usd"] = cost
    else:
        # nothing is stocked (an autologous product, or a route priced per patient): the
        # doses are scheduled per patient as just-in-time ones are, whatever the option's
        # name, so their economics are just-in-time's (fill rate 1, nothing on hand)
        econ = evaluate(t._replace(policy=JIT), prod, patients, 0.0, 0.0,
                        cfg.cost_of_capital, cfg.seed)
    fields = econ_fields(econ, prod, shipments_per_dose)
    cogs = float(prod["cogs_usd_per_dose"])
    out.update(fields)
    out.update({
        "expired_usd": fields["expired_doses_per_year"] * cogs,
        # asked only of a site that takes title to the stock: blank elsewhere, where False
        # read as a refusal (a consignment site holding stock at no loss)
        "site_accepts_stocking": fields["site_loss_usd"] <= out["site_limit_usd"] + 1e-6
        if policy == "stocked_at_site" else None,
    })
    return out


def finance_summary(policies: pd.DataFrame) -> dict[str, float]:
    """Headline figures of a policies table (for KPIs and `netopt compare`)."""
    if policies is None or policies.empty:
        return {"sites_stocking": 0, "expired_doses_per_year": 0.0,
                "manufacturer_writeoff_usd": 0.0, "inventory_value_usd": 0.0,
                "working_capital_manufacturer_usd": 0.0, "working_capital_distributor_usd": 0.0,
                "working_capital_site_usd": 0.0}
    stocking = policies[(policies["policy"] == "stocked_at_site")
                        & (policies.get("row", "site") == "site")]
    return {
        "sites_stocking": int(stocking["site_id"].nunique()),
        "expired_doses_per_year": float(policies["expired_doses_per_year"].sum()),
        "manufacturer_writeoff_usd": float(policies["manufacturer_writeoff_usd"].sum()),
        "inventory_value_usd": float(policies["avg_inventory_value_usd"].sum()),
        "working_capital_manufacturer_usd": float(
            policies["working_capital_manufacturer_usd"].sum()),
        "working_capital_distributor_usd": float(
            policies["working_capital_distributor_usd"].sum()),
        "working_capital_site_usd": float(policies["working_capital_site_usd"].sum()),
    }


__all__ = ["POLICY_COLUMNS", "policies_table", "finance_summary", "econ_fields", "GENEROSITY"]
