"""Finance studies on a chosen network: the return-policy trade-off.

How generous a return policy must be before sites agree to stock, and what it costs the
manufacturer in write-offs: each served site-product is re-evaluated with `inventory` under
swept returnable fractions (the network itself stays as solved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..inventory.ordering import evaluate, stock_facts
from ..model.prepare import Prepared
from ..results.finance import GENEROSITY


def current_returns(prep: Prepared) -> dict[str, float]:
    """Product -> the returnable share its `stocked_at_site` terms give today (0 when the
    return window is 0 days: nothing can be sent back in time)."""
    terms = prep.case.policies
    if terms is None or len(terms) == 0:
        return {}
    stock = terms[terms["policy"] == "stocked_at_site"]
    return {str(t.product_id): float(t.returnable_fraction) if float(t.return_window_days) > 0
            else 0.0 for t in stock.itertuples(index=False)}


@dataclass(frozen=True)
class StockOffer:
    """A served site-product offered its product's `stocked_at_site` terms: what the
    trade-off re-prices at each returnable share."""

    site_id: str
    product_id: str
    patients: float
    terms: Any  # the product's stocked_at_site row of policies.csv
    product: pd.Series
    life_days: float
    lead_days: float
    loss_limit_usd: float


def stock_offers(prep: Prepared, finance: pd.DataFrame) -> list[StockOffer]:
    """Every served site-product whose product may be stocked at the site (its terms, a
    shelf life of at least a day there), in finance.csv's order of sites."""
    terms = prep.case.policies
    if terms is None or len(terms) == 0 or finance is None or finance.empty:
        return []
    facts = stock_facts(prep)
    served = finance.groupby(["site_id", "product_id"])["patients_per_year"].sum()
    out = []
    for t in terms[terms["policy"] == "stocked_at_site"].itertuples(index=False):
        for (sid, pid), patients in served.items():
            if pid != t.product_id or (sid, pid) not in facts or facts[(sid, pid)][0] < 1:
                continue
            life, lead = facts[(sid, pid)]
            out.append(StockOffer(str(sid), str(pid), float(patients), t,
                                  prep.products.loc[t.product_id], life, lead,
                                  float(prep.sites.at[sid, "max_stocking_loss_usd_per_year"])))
    return out


def priced(offer: StockOffer, fraction: float, prep: Prepared) -> tuple[bool, Any]:
    """Whether the site would stock with `fraction` of its unused stock returnable (its
    expected loss within its limit and the fill-rate target reachable; a return window of 0
    becomes one day so returns can happen), and the economics behind it."""
    cfg = prep.case.config.finance
    t = offer.terms
    terms = t._replace(returnable_fraction=fraction,
                       return_window_days=float(t.return_window_days) or 1.0)
    econ = evaluate(terms, offer.product, offer.patients, offer.life_days, offer.lead_days,
                    cfg.cost_of_capital, cfg.seed)
    willing = bool(econ.stock.target_met) and \
        econ.site_loss_usd_per_year <= offer.loss_limit_usd + 1e-6
    return willing, econ


def return_tradeoff(prep: Prepared, finance: pd.DataFrame,
                    fractions: tuple[float, ...] = GENEROSITY) -> pd.DataFrame:
    """Return-policy generosity vs sites willing to stock vs manufacturer write-offs, on the
    chosen network: every served site-product whose product may be stocked at the site is
    offered its `stocked_at_site` terms with the returnable fraction swept (window and fee as
    given; a window of 0 becomes one day so returns can happen). A site is willing when its
    expected loss stays within its limit and the fill-rate target is reachable; write-offs are
    what the manufacturer would write off if every willing site stocked. Each product's
    current returnable share is swept too, and `current_policy_products` names the products
    whose terms sit at that share today."""
    cols = ["returnable_fraction", "site_products_considered", "sites_willing",
            "site_products_willing", "manufacturer_writeoff_usd", "site_loss_usd",
            "expired_doses_per_year", "current_policy_products"]
    offers = stock_offers(prep, finance)
    if not offers:
        return pd.DataFrame(columns=cols)
    current = current_returns(prep)
    fractions = tuple(sorted({round(f, 6) for f in (*fractions, *current.values())}))
    rows = []
    for frac in fractions:
        willing_sites, n_willing = set(), 0
        writeoff = loss = expired = 0.0
        for offer in offers:
            willing, econ = priced(offer, frac, prep)
            if willing:
                willing_sites.add(offer.site_id)
                n_willing += 1
                writeoff += float(econ.manufacturer_write_off_usd_per_year)
                loss += float(econ.site_loss_usd_per_year)
                expired += float(econ.wasted_doses_per_year)
        now = ";".join(sorted(p for p, f in current.items() if abs(f - frac) < 1e-6))
        rows.append((frac, len(offers), len(willing_sites), n_willing, writeoff, loss, expired,
                     now))
    return pd.DataFrame(rows, columns=cols)


#: the returnable shares a site's threshold is searched among: whole per cents
THRESHOLD_STEPS = 100


def stocking_thresholds(prep: Prepared, finance: pd.DataFrame) -> pd.DataFrame:
    """Per served site-product that may stock: the smallest returnable share (in whole per
    cents) at which the site would stock, and what the manufacturer writes off there. The
    trade-off's grid says how many sites stock at 75 % and at 100 %; a finance team
    negotiating terms asks which sites turn in between, and at what share. A site's loss
    falls as more of its unused stock may go back, so its willingness is searched by
    bisection; a site that would not stock even at 100 % says why."""
    cols = ["site_id", "product_id", "patients_per_year", "current_returnable_fraction",
            "returnable_fraction_to_stock", "manufacturer_writeoff_usd", "site_loss_usd",
            "loss_limit_usd", "why_not"]
    offers = stock_offers(prep, finance)
    current = current_returns(prep)
    rows = []
    for offer in offers:
        at_full, econ_full = priced(offer, 1.0, prep)
        if not at_full:
            why = ("the fill-rate target is not reachable within the shelf life"
                   if not econ_full.stock.target_met else
                   f"its loss at 100 % returnable, ${econ_full.site_loss_usd_per_year:,.0f} a "
                   f"year, is above its limit of ${offer.loss_limit_usd:,.0f}")
            rows.append((offer.site_id, offer.product_id, offer.patients,
                         current.get(offer.product_id, 0.0), float("nan"), float("nan"),
                         float("nan"), offer.loss_limit_usd, why))
            continue
        lo, hi = -1, THRESHOLD_STEPS  # willing at hi per cent, not at lo (-1: not searched)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if priced(offer, mid / THRESHOLD_STEPS, prep)[0]:
                hi = mid
            else:
                lo = mid
        econ = priced(offer, hi / THRESHOLD_STEPS, prep)[1]
        rows.append((offer.site_id, offer.product_id, offer.patients,
                     current.get(offer.product_id, 0.0), hi / THRESHOLD_STEPS,
                     float(econ.manufacturer_write_off_usd_per_year),
                     float(econ.site_loss_usd_per_year), offer.loss_limit_usd, ""))
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["returnable_fraction_to_stock", "patients_per_year"],
                           ascending=[True, False], na_position="last", ignore_index=True)
