"""The aggregated relaxation (netopt/model/relaxation.py): a smaller model whose optimum bounds
the case's own from below, so fine-geography models get a proven gap."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.model.relaxation import aggregated_relaxation, travel_steps
from netopt.solver import highs
from netopt.solver.aggregation import _travel_steps_for_the_proof
from netopt.solver.arrays import highs_from_arrays, model_arrays
from netopt.solver.highs import solve_model

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def _optimum(prep) -> float:  # noqa: ANN001
    settings = prep.case.config.solver.model_copy(update={"mip_gap": 0.0})
    info = solve_model(build_model(prep), settings)
    assert info.status == "optimal"
    return info.objective


def _tiny_without_far_pair():  # noqa: ANN202
    """tiny (Z1 10 patients next to S1, Z2 20 next to S2, 170 km apart) where Z2 cannot
    reach S1: the cap on a merged cell's pairs is what keeps Z2's patients away from S1."""
    prep = prepare(load_case(TINY))
    pairs = prep.pairs
    keep = ~((pairs["point_id"] == "Z2") & (pairs["site_id"] == "S1"))
    return replace(prep, pairs=pairs[keep].reset_index(drop=True))


def test_one_cell_takes_its_cheapest_member_and_only_the_patients_that_reach() -> None:
    prep = _tiny_without_far_pair()
    share = 2000.0 / 500.0  # cells of 2,000 km: Z1 and Z2 (lat 40, lon -74 / -76) merge
    rel = aggregated_relaxation(prep, share)
    assert len(rel.points) == 1 and rel.points["n_zones"].iat[0] == 2
    assert rel.demand["patients"].tolist() == [30.0]
    cost = dict(zip(prep.pairs["site_id"] + prep.pairs["point_id"],
                    prep.pairs["cost_usd_per_patient"], strict=True))
    got = rel.pairs.set_index("site_id")
    # S1: only Z1 reaches it (10 patients), at Z1's cost
    assert got.at["S1", "patients"] == 10.0
    assert got.at["S1", "cost_usd_per_patient"] == pytest.approx(cost["S1Z1"])
    # S2: both reach it (30 patients), at the cheaper member's cost (Z2, 11 km away)
    assert got.at["S2", "patients"] == 30.0
    assert got.at["S2", "cost_usd_per_patient"] == pytest.approx(cost["S2Z2"])
    assert cost["S2Z2"] < cost["S2Z1"]
    # the cap is a bound of the model: S1 never takes more than Z1's 10 patients
    m = build_model(rel)
    pair_s1 = [i for i in m.P if m.pair_sk[i] == ("S1", "p1")]
    assert [m.x[i].ub for i in pair_s1] == [10.0]
    assert [m.patients_of_pair[i] for i in pair_s1] == [10.0]


def test_the_relaxation_bounds_the_case_from_below() -> None:
    prep = _tiny_without_far_pair()
    fine = _optimum(prep)
    merged = _optimum(aggregated_relaxation(prep, 4.0))
    assert merged <= fine * (1 + 1e-9)
    # tiny's optimum serves Z1 at S1 and Z2 at S2, the members' own cheapest sites: the
    # merged cell prices both pairs exactly, so the bound is tight here
    assert merged == pytest.approx(fine, rel=1e-9)


def test_cells_of_one_point_give_the_case_itself(tmp_path: Path) -> None:
    model = tmp_path / "tiny-fine.yaml"
    model.write_text(f"extends: {TINY}\nname: tiny-fine\nzones:\n  gazetteer_extract: 15000\n",
                     encoding="utf-8")
    prep = prepare(load_case(model))
    assert len(prep.points) > 20
    same = aggregated_relaxation(prep, 1e-6)  # cells round to 0 km: one per point
    assert len(same.points) == len(prep.points) and len(same.pairs) == len(prep.pairs)
    fine = _optimum(prep)
    assert _optimum(same) == pytest.approx(fine, rel=1e-9)
    merged = aggregated_relaxation(prep, 0.15)
    assert len(merged.points) < len(prep.points)
    assert merged.demand["patients"].sum() == pytest.approx(prep.demand["patients"].sum())
    assert _optimum(merged) <= fine * (1 + 1e-9)


def _ladder(steps: pd.DataFrame, x: float) -> float:
    """What a pair's steps add to its cheapest member's price at x patients (the model's
    rows: the largest partial sum of extra x (x - above) over the steps in order)."""
    ordered = steps.sort_values("above_patients")
    partial = np.cumsum(ordered["extra_usd_per_patient"] * (x - ordered["above_patients"]))
    return max(0.0, float(partial.max())) if len(partial) else 0.0


def test_travel_steps_price_each_run_of_members_at_its_cheapest() -> None:
    # one cell C and one site S; members a, b, c with 10, 10 and 20 patients at $100, $200
    # and $400 a patient: four runs of 10 patients start at a, b and c (c's two runs have
    # one price), so the steps are +$100 above 10 patients and +$200 above 20
    members = pd.DataFrame({"cell": "C", "site_id": "S", "product_id": "p",
                            "point_id": ["c", "a", "b"],
                            "cost_usd_per_patient": [400.0, 100.0, 200.0],
                            "patients": [20.0, 10.0, 10.0]})
    steps = travel_steps(members, 4)
    assert steps[["above_patients", "extra_usd_per_patient"]].to_numpy().tolist() == [
        [10.0, 100.0], [20.0, 200.0]]
    # the cheapest fill, by hand: 25 patients are a, b and 5 of c
    assert 100.0 * 25 + _ladder(steps, 25.0) == pytest.approx(10 * 100 + 10 * 200 + 5 * 400)
    assert 100.0 * 40 + _ladder(steps, 40.0) == pytest.approx(10 * 100 + 10 * 200 + 20 * 400)
    # one run: the cheapest member's price alone, as before the steps
    assert travel_steps(members, 1).empty


def test_travel_steps_never_price_above_the_members_cheapest_fill() -> None:
    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(1, 9))
        members = pd.DataFrame({"cell": "C", "site_id": "S", "product_id": "p",
                                "point_id": [f"m{i}" for i in range(n)],
                                "cost_usd_per_patient": rng.uniform(0, 5000, n).round(0),
                                "patients": rng.uniform(0.1, 30, n)})
        steps = travel_steps(members, int(rng.integers(1, 6)))
        order = members.sort_values("cost_usd_per_patient")
        cheapest = order["cost_usd_per_patient"].iat[0]
        for x in rng.uniform(0, members["patients"].sum(), 5):
            left, fill = x, 0.0  # the members' cheapest way to send x patients
            for c, d in zip(order["cost_usd_per_patient"], order["patients"], strict=True):
                fill += c * min(left, d)
                left -= min(left, d)
            priced = cheapest * x + _ladder(steps, x)
            assert cheapest * x - 1e-6 <= priced <= fill + 1e-6, trial


def test_travel_steps_price_a_cell_sent_to_its_far_members_site() -> None:
    # tiny without any pair at S1: Z1's 10 patients travel 170 km to S2 in the case; merged
    # with Z2 (11 km from S2) the cheapest-member price alone charges them Z2's trip
    prep = prepare(load_case(TINY))
    prep = replace(prep, pairs=prep.pairs[prep.pairs["site_id"] != "S1"].reset_index(
        drop=True))
    fine = _optimum(prep)
    rel = aggregated_relaxation(prep, 4.0)
    stepped = _optimum(rel)
    flat = _optimum(replace(rel, travel_steps=None))
    cost = prep.pairs.set_index("point_id")["cost_usd_per_patient"]
    assert flat == pytest.approx(fine - 10 * (cost["Z1"] - cost["Z2"]) / 1000, rel=1e-9)
    # Z2's 20 patients fill the cheaper runs, so Z1's run starts a step at 20 patients and
    # prices its trip exactly
    assert stepped == pytest.approx(fine, rel=1e-9)




def test_the_bound_workers_copy_carries_the_steps_the_searched_model_does_not() -> None:
    # the tiny case above, as the aggregation path solves it: the model the start searches
    # leaves the steps out, the copy its bound worker takes (CarriedProof.tighten) has them
    prep = prepare(load_case(TINY))
    prep = replace(prep, pairs=prep.pairs[prep.pairs["site_id"] != "S1"].reset_index(
        drop=True))
    rel = aggregated_relaxation(prep, 4.0)
    flat, stepped = _optimum(replace(rel, travel_steps=None)), _optimum(rel)
    assert stepped > flat + 1.0  # k$: Z1's trip, priced or not
    m = build_model(replace(rel, travel_steps=None))
    solver = highs._Highs()
    solver.set_instance(m)
    column = solver._pyomo_var_to_solver_var_map
    tighten = _travel_steps_for_the_proof(rel)
    copy = highs_from_arrays(tighten(model_arrays(solver._solver_model),
                                     lambda i: column[id(m.x[i])]))
    copy.setOptionValue("mip_rel_gap", 0.0)
    copy.run()
    assert copy.getInfo().objective_function_value == pytest.approx(stepped, rel=1e-9)
    assert copy.getNumRow() == solver._solver_model.getNumRow() + len(rel.travel_steps)
    assert _travel_steps_for_the_proof(replace(rel, travel_steps=None)) is None
