"""Incidence by state: an optional `incidence` table overrides products.incidence_per_100k for
the zones of the states it names, in the demand the model sees and in every summary.

Tiny case: zone Z1 (NY, 100,000 people) and Z2 (PA, 200,000), product p1 at 10 per 100k:
10 + 20 = 30 patients a year. With p1 at 25 per 100k in PA: 10 + 50 = 60.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netopt.data.case import load_case
from netopt.data.describe import demand_by_state
from netopt.model.prepare import prepare

TINY = Path(__file__).parent / "data"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY / "tiny", tmp_path / "tiny")
    (tmp_path / "tiny" / "incidence.csv").write_text("product_id,state,per_100k\np1,PA,25\n")
    return tmp_path


def _model(project: Path, extra: str = "") -> Path:
    path = project / "model.yaml"
    path.write_text("dataset: tiny\n" + extra)
    return path


def test_state_rate_replaces_the_uniform_one_where_given(project: Path) -> None:
    case = load_case(_model(project))
    assert case.warnings == []
    assert case.incidence_by_zone()["p1"].tolist() == [10.0, 25.0]
    assert case.patients_by_product()["p1"] == pytest.approx(60.0)
    by_state = demand_by_state(case).set_index("state")["p1"]
    assert by_state.to_dict() == pytest.approx({"PA": 50.0, "NY": 10.0})


@pytest.mark.parametrize("cluster_km", [0, 1000])
def test_model_demand_uses_the_state_rates(project: Path, cluster_km: int) -> None:
    """One point per zone, and both zones merged into one point (the point's demand is the
    sum over its zones, not its population times one rate)."""
    case = load_case(_model(project, f"aggregation:\n  cluster_km: {cluster_km}\n"
                                     "  cluster_share_of_reach: 0\n"))
    prep = prepare(case)
    assert len(prep.points) == (2 if cluster_km == 0 else 1)
    assert prep.demand["patients"].sum() == pytest.approx(60.0)
    if cluster_km == 0:
        assert prep.demand.set_index("point_id")["patients"].to_dict() == pytest.approx(
            {"Z1": 10.0, "Z2": 50.0})


def test_without_the_table_nothing_changes(project: Path) -> None:
    (project / "tiny" / "incidence.csv").unlink()
    case = load_case(_model(project))
    assert case.patients_by_product()["p1"] == pytest.approx(30.0)
    assert prepare(case).demand["patients"].sum() == pytest.approx(30.0)


def test_solved_zones_report_the_state_demand(project: Path, tmp_path: Path) -> None:
    from netopt.results.pipeline import solve_case

    case = load_case(_model(project, "aggregation:\n  cluster_km: 0\n"
                                     "  cluster_share_of_reach: 0\n"))
    results = solve_case(case)
    zones = results.tables["zones"].set_index("zone_id")
    assert zones["patients_demand"].to_dict() == pytest.approx({"Z1": 10.0, "Z2": 50.0})
    served = zones["patients_served"] + zones["patients_unserved"]
    assert served.to_dict() == pytest.approx({"Z1": 10.0, "Z2": 50.0}, rel=1e-6)
