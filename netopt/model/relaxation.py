"""An aggregated relaxation of a prepared case: a model tens of times smaller whose optimum is
a lower bound on the case's own, so a fine-geography model too large to bound by its own LP
still gets a proven gap.

Its `cell_members` (each member and the sites it reaches) let the cut loop add what the
per-pair caps below miss: a cell's patients sent to several sites at once come from the
members that reach them (model/cell_reach.py).

Demand points are merged into cells (as `prepare` merges zones), but optimistically, where
`prepare`'s merging is conservative:
- a cell reaches a site when any of its points does, at the cheapest member's cost per
  patient, and within the travel target when any member is;
- the patients a cell sends to a site are capped by the patients of the members that reach
  it (the pair's `patients` column), so a cell never gains reach it does not have.

Every solution of the case maps onto one of the relaxation at no more cost (sum the members'
assignments per cell and site: the caps, costs and service shares all hold), and nothing else
in the model depends on where inside a cell a patient lives: sites, lanes, hubs, partners,
plants and ordering options are the case's own. So the relaxation's optimum, and any lower
bound proven for it, bounds the case from below (aggregation bounds in location analysis:
Francis, Lowe, Rayco & Tamir, *Aggregation error for location models*, Annals of OR 2009).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from .prepare import Prepared, aggregate_zones, product_cells


def aggregated_relaxation(prep: Prepared, share_of_reach: float) -> Prepared:
    """`prep` with its demand points merged into cells of `share_of_reach` of each product's
    reach, priced optimistically (see the module docstring)."""
    members = prep.points.reset_index().rename(columns={"point_id": "zone_id"})
    cells = product_cells(prep.products, 0.0, share_of_reach)
    grids = {size: aggregate_zones(members, size) for size in sorted(set(cells.values()))}
    cell_of = pd.concat([  # member point -> its cell on each product's grid
        grids[size][1].assign(product_id=pid)[["zone_id", "point_id", "product_id"]]
        for pid, size in cells.items()], ignore_index=True).rename(
        columns={"zone_id": "member", "point_id": "cell"})
    demand = prep.demand.merge(cell_of, left_on=["point_id", "product_id"],
                               right_on=["member", "product_id"])
    member_patients = demand[["point_id", "product_id", "patients", "cell"]]
    cell_demand = (demand.groupby(["cell", "product_id"], sort=True)["patients"].sum()
                   .reset_index().rename(columns={"cell": "point_id"}))
    pairs = prep.pairs.merge(member_patients, on=["point_id", "product_id"])
    grouped = pairs.groupby(["cell", "site_id", "product_id"], sort=True)
    cell_pairs = grouped.agg(km=("km", "min"), cost_usd_per_patient=(
        "cost_usd_per_patient", "min"), within_target=("within_target", "any"),
        patients=("patients", "sum")).reset_index().rename(columns={"cell": "point_id"})
    points = pd.concat([grids[size][0] for size in sorted(grids)])
    points = points[~points.index.duplicated()].sort_index()
    used = set(cell_demand["point_id"])
    points = points[points.index.isin(used)]
    zone_point = prep.zone_point.merge(
        cell_of.drop_duplicates("member")[["member", "cell"]],
        left_on="point_id", right_on="member")[["zone_id", "cell", "population"]].rename(
        columns={"cell": "point_id"})
    served = cell_pairs[["point_id", "product_id"]].drop_duplicates()
    lonely = cell_demand.merge(served, how="left", indicator=True)
    lonely = lonely[lonely["_merge"] == "left_only"].drop(columns="_merge")
    lonely["reason"] = "no member of the cell has a treatment site within reach"
    reach = pairs[["cell", "product_id", "site_id", "point_id", "patients"]].rename(
        columns={"cell": "point_id", "point_id": "member", "patients": "member_patients"})
    return replace(prep, points=points, zone_point=zone_point, demand=cell_demand,
                   pairs=cell_pairs, no_option=lonely.reset_index(drop=True),
                   aggregation_error_km=0.0, paired=None, cell_members=reach)
