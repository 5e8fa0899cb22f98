"""The aggregated relaxation (netopt/model/relaxation.py): a smaller model whose optimum bounds
the case's own from below, so fine-geography models get a proven gap."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.model.relaxation import aggregated_relaxation
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
