"""Resilient design family: a backup hub for every site-product served.

With `resilience.backup_hub`, a site that offers a product needs two active hubs among the
hubs of its lanes (each lane already fits the shelf life), or an active cold-storage partner
that can supply it, so the loss of any one hub leaves it a route. Hub capacity is not reserved
for the backup: `netopt resilience` measures what an outage really costs.
"""

from __future__ import annotations

import pyomo.environ as pyo

from .prepare import Prepared


def add_backup_hubs(m: pyo.ConcreteModel, prep: Prepared) -> None:
    if not prep.case.config.resilience.backup_hub:
        return
    lanes, links = prep.direct_lanes, prep.partner_links
    hubs: dict[tuple[str, str], set[str]] = {}
    for s, k, h in zip(lanes["site_id"], lanes["product_id"], lanes["hub_id"], strict=True):
        hubs.setdefault((s, k), set()).add(h)
    partners: dict[tuple[str, str], set[str]] = {}
    for s, k, p in zip(links["site_id"], links["product_id"], links["partner_id"], strict=True):
        partners.setdefault((s, k), set()).add(p)

    def rule(m, s, k):
        routes = ([m.g[h] for h in sorted(hubs.get((s, k), ()))]
                  + [2 * m.a[p] for p in sorted(partners.get((s, k), ()))])
        if not routes:
            return m.w[s, k] == 0
        return pyo.quicksum(routes) >= 2 * m.w[s, k]

    m.backup_hub = pyo.Constraint(m.SK, rule=rule)
