"""Finance studies on a chosen network: the return-policy trade-off.

How generous a return policy must be before sites agree to stock, and what it costs the
manufacturer in write-offs: each served site-product is re-evaluated with `inventory` under
swept returnable fractions (the network itself stays as solved).
"""

from __future__ import annotations

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
    terms = prep.case.policies
    if terms is None or len(terms) == 0 or finance is None or finance.empty:
        return pd.DataFrame(columns=cols)
    stock_terms = terms[terms["policy"] == "stocked_at_site"]
    if stock_terms.empty:
        return pd.DataFrame(columns=cols)
    current = current_returns(prep)
    fractions = tuple(sorted({round(f, 6) for f in (*fractions, *current.values())}))
    facts = stock_facts(prep)
    cfg = prep.case.config.finance
    served = finance.groupby(["site_id", "product_id"])["patients_per_year"].sum()
    rows = []
    for frac in fractions:
        n_considered, willing_sites, n_willing = 0, set(), 0
        writeoff = loss = expired = 0.0
        for t in stock_terms.itertuples(index=False):
            window = float(t.return_window_days) or 1.0
            t2 = t._replace(returnable_fraction=frac, return_window_days=window)
            prod = prep.products.loc[t.product_id]
            for (sid, pid), patients in served.items():
                if pid != t.product_id or (sid, pid) not in facts:
                    continue
                life, lead = facts[(sid, pid)]
                if life < 1:
                    continue
                n_considered += 1
                econ = evaluate(t2, prod, float(patients), life, lead, cfg.cost_of_capital,
                                cfg.seed)
                limit = float(prep.sites.at[sid, "max_stocking_loss_usd_per_year"])
                if econ.stock.target_met and econ.site_loss_usd_per_year <= limit + 1e-6:
                    willing_sites.add(sid)
                    n_willing += 1
                    writeoff += float(econ.manufacturer_write_off_usd_per_year)
                    loss += float(econ.site_loss_usd_per_year)
                    expired += float(econ.wasted_doses_per_year)
        now = ";".join(sorted(p for p, f in current.items() if abs(f - frac) < 1e-6))
        rows.append((frac, n_considered, len(willing_sites), n_willing, writeoff, loss, expired,
                     now))
    return pd.DataFrame(rows, columns=cols)
