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
  it (the pair's `patients` column), so a cell never gains reach it does not have;
- beyond the cheapest members' patients, each further patient costs at least the next
  cheaper members' travel (`travel_steps`: the members that reach the site sorted by cost
  and cut into TRAVEL_SEGMENTS runs of equal patients, each run priced at its cheapest
  member). The cheapest-member price alone under-priced the national fine network's patient
  travel by $3.0M of $12.7M; four runs win back 56 % of it at the same network. The
  aggregation path gives these rows to the relaxation's bound worker only
  (solver/aggregation.py: they slow the search for its network).

Every solution of the case maps onto one of the relaxation at no more cost (sum the members'
assignments per cell and site: the caps, costs and service shares all hold), and nothing else
in the model depends on where inside a cell a patient lives: sites, lanes, hubs, partners,
plants and ordering options are the case's own. So the relaxation's optimum, and any lower
bound proven for it, bounds the case from below (aggregation bounds in location analysis:
Francis, Lowe, Rayco & Tamir, *Aggregation error for location models*, Annals of OR 2009).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .prepare import Prepared, aggregate_zones, product_cells

#: runs of equal patients each cell-site pair's members are cut into, by travel cost (see
#: the module docstring): more runs price travel closer to the members' own, at a row per
#: run and pair
TRAVEL_SEGMENTS = 4
#: a step is kept when the most it can add to a pair's travel (its extra times the patients
#: above it) reaches this, USD a year. National fine model: 4,828 of 90,798 steps, which win
#: back $1.13M of the $1.69M all of them do at a fine network; with every step the cut loop
#: took 79 s instead of 32 s (21k steps above $100: 43 s; these: 30-34 s). Above $100, one
#: 600-s run's bound was $246.31M (these: $246.21M), but no kernel improved its dived network
MIN_STEP_USD = 1000.0


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
                   aggregation_error_km=0.0, paired=None, cell_members=reach,
                   travel_steps=travel_steps(pairs, TRAVEL_SEGMENTS))


def travel_steps(pairs: pd.DataFrame, segments: int) -> pd.DataFrame:
    """Each cell-site pair's members (`pairs`: one row per member and site, with its `cell`)
    sorted by cost and cut into `segments` runs of equal patients; a run's first member starts
    a step: beyond the patients of the cheaper runs (`above_patients`), a patient costs at
    least that member's price, `extra_usd_per_patient` more than the run before. Each run is
    priced at its cheapest member, so the steps stay below what the members pay however
    their patients are split: still a relaxation (and dropping a step, as MIN_STEP_USD does,
    only lowers the price)."""
    keys = ["cell", "product_id", "site_id"]
    ranked = pairs.sort_values([*keys, "cost_usd_per_patient", "point_id"], kind="stable")
    grouped = ranked.groupby(keys, sort=False)["patients"]
    before = (grouped.cumsum() - ranked["patients"]).to_numpy()
    total = grouped.transform("sum").to_numpy()
    run = np.minimum(np.floor(before / total * segments + 1e-9), segments - 1)
    new_pair = ~ranked.duplicated(keys).to_numpy()
    starts = new_pair | (run != np.roll(run, 1))  # the first member of each run
    first = ranked.loc[starts, [*keys, "cost_usd_per_patient"]].assign(
        above_patients=before[starts])
    extra = first.groupby(keys, sort=False)["cost_usd_per_patient"].diff()
    most = extra * (total[starts] - before[starts])
    steps = first.assign(extra_usd_per_patient=extra)[most >= MIN_STEP_USD]
    return steps.rename(columns={"cell": "point_id"})[
        ["point_id", "site_id", "product_id", "above_patients", "extra_usd_per_patient"]
    ].reset_index(drop=True)
