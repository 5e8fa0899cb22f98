"""Scenario batches: self-comparison, hub outage, frontier, failures, serial == parallel == Dask.

us-small solves in a few seconds; tiny instantly. Solves that are compared for order (outage
vs. baseline, the frontier) use gap 0 so the comparison is exact, not within the MIP gap.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from netopt.analysis.scenarios import (
    TIMING_COLUMNS,
    OverrideError,
    ScenarioSpec,
    apply_overrides,
    compare,
    grid_specs,
    pareto,
    parse_set,
    run_batch,
    sweep,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "models" / "us-small.yaml"
TINY = ROOT / "tests" / "data" / "tiny.yaml"
REL = 1e-6


def _same(a: pd.DataFrame, b: pd.DataFrame, skip: tuple[str, ...] = ()) -> None:
    drop = [*TIMING_COLUMNS, *skip]
    pd.testing.assert_frame_equal(a.drop(columns=drop).reset_index(drop=True),
                                  b.drop(columns=drop).reset_index(drop=True))


@pytest.fixture()
def tiny_project(tmp_path: Path) -> Path:
    """tiny.yaml and its dataset in a folder of their own, so scenario files can extend it."""
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    return tmp_path


def test_self_comparison_gives_identical_rows() -> None:
    comp = compare([SMALL, SMALL], workers=1)
    rows = comp.rows
    assert list(rows["scenario"]) == ["us-small", "us-small (2)"]
    assert (rows["status"] == "optimal").all()
    assert rows["objective_usd"].iloc[0] > 0
    first, second = (rows.drop(columns=["scenario", *TIMING_COLUMNS]).iloc[[i]]
                     .reset_index(drop=True) for i in (0, 1))
    pd.testing.assert_frame_equal(first, second)
    assert comp.site_changes.empty
    assert set(comp.sites) == {"us-small", "us-small (2)"}
    # cost by term adds up to the objective
    terms = [c for c in rows.columns if c.startswith("cost_") and c != "cost_total"]
    assert rows[terms].sum(axis=1).iloc[0] == pytest.approx(rows["cost_total"].iloc[0])
    assert rows["cost_total"].iloc[0] == pytest.approx(rows["objective_usd"].iloc[0])


def test_hub_outage_never_costs_less_than_baseline() -> None:
    """Losing the busiest hub can only cost more. Settings where the outage model is a strict
    restriction of the baseline: every hub considered per site (nearest_hubs = all five) and
    no autologous product (prepare fixes each site's inbound hub for starting material, so
    an outage of that hub can re-route it more cheaply - see the report on #6)."""
    settings = {"aggregation.nearest_hubs": 5, "products": ["aav_gt", "rdc_rx", "islet_ca"]}
    base = run_batch([ScenarioSpec("baseline", str(SMALL), settings)], workers=1, gap=0.0)[0]
    assert base.status == "optimal" and base.hubs is not None
    busiest = base.hubs.sort_values("shipments_per_year", ascending=False)["hub_id"].iloc[0]
    outage = {"edits": [{"table": "hubs", "where": {"hub_id": busiest},
                         "set": {"status": "excluded"}}], **settings}
    comp = compare_specs([ScenarioSpec("baseline", str(SMALL), settings),
                          ScenarioSpec(f"outage-{busiest}", str(SMALL), outage)])
    rows = comp.rows.set_index("scenario")
    # a worker process reproduces the in-process solve exactly
    assert rows.loc["baseline", "objective_usd"] == base.summary["objective_usd"]
    assert rows.loc[f"outage-{busiest}", "status"] == "optimal"
    assert (rows.loc[f"outage-{busiest}", "objective_usd"]
            >= rows.loc["baseline", "objective_usd"] * (1 - REL))
    out_hubs = comp.sites  # the outage network is a full result
    assert f"outage-{busiest}" in out_hubs


def compare_specs(specs: list[ScenarioSpec]):  # noqa: ANN201 - a Comparison
    from netopt.analysis.scenarios import build_comparison

    return build_comparison(run_batch(specs, workers=2, gap=0.0))


def test_pareto_frontier_is_monotone() -> None:
    shares = [0.9, 0.0, 0.3, 0.5, 0.7, 1.0]
    comp = pareto(TINY, shares, within_km=100, workers=1, gap=0.0)
    front = comp.frontier
    assert front is not None
    assert list(front["min_share"]) == sorted(shares)
    assert (front["status"] == "optimal").all()
    assert (front["within_km"] == 100).all()
    obj = front["objective_usd"].to_numpy()
    assert all(b >= a * (1 - REL) for a, b in zip(obj, obj[1:], strict=False))
    assert obj[-1] > obj[0]  # access is not free here: the frontier really moves
    assert (front["pct_within_travel_target"] + 1e-6 >= front["min_share"] * 100).all()
    assert len(comp.rows) == len(shares)


def test_pareto_reports_infeasible_points(tiny_project: Path) -> None:
    """A share no site can deliver is a point of the frontier with status infeasible."""
    comp = pareto(tiny_project / "tiny.yaml", [0.0, 0.99], within_km=5, workers=1, gap=0.0)
    front = comp.frontier
    assert list(front["status"]) == ["optimal", "infeasible"]
    assert pd.isna(front["objective_usd"].iloc[1])


def test_failing_scenarios_are_rows_and_the_batch_continues(tiny_project: Path) -> None:
    (tiny_project / "broken.yaml").write_text("extends: tiny.yaml\nobjective: cheapest\n")
    specs = [
        ScenarioSpec("ok", str(tiny_project / "tiny.yaml"), {}),
        ScenarioSpec("bad-value", str(tiny_project / "tiny.yaml"), {"service.min_share": 1.5}),
        ScenarioSpec("bad-key", str(tiny_project / "tiny.yaml"), {"service.min_shar": 0.5}),
        ScenarioSpec("infeasible", str(tiny_project / "tiny.yaml"),
                     {"service.within_km": 5, "service.min_share": 0.99}),
        ScenarioSpec("broken-file", str(tiny_project / "broken.yaml"), {}),
        ScenarioSpec("ok-after", str(tiny_project / "tiny.yaml"), {"demand_scale": 2.0}),
    ]
    from netopt.analysis.scenarios import build_comparison

    rows = build_comparison(run_batch(specs, workers=1)).rows.set_index("scenario")
    assert list(rows["status"]) == ["optimal", "invalid", "invalid", "infeasible", "invalid",
                                    "optimal"]
    assert "service.min_share" in rows.loc["bad-value", "reason"]
    assert "service.min_shar" in rows.loc["bad-key", "reason"]
    assert "service level" in rows.loc["infeasible", "reason"]
    assert "objective" in rows.loc["broken-file", "reason"]
    assert rows.loc[["bad-value", "infeasible"], "objective_usd"].isna().all()
    assert rows.loc["ok", "reason"] == ""
    assert rows.loc["ok-after", "patients_demand"] == pytest.approx(
        2 * rows.loc["ok", "patients_demand"])


def test_overrides_are_validated_and_named() -> None:
    from netopt.data.io import load_model

    loaded, _ = load_model(TINY)
    config = apply_overrides(loaded.config, {"service.min_share": "0.5", "solver.seed": 3})
    assert config.service.min_share == 0.5 and config.solver.seed == 3
    assert loaded.config.service.min_share == 0.0  # the original is untouched
    with pytest.raises(OverrideError, match="sites.max_actve"):
        apply_overrides(loaded.config, {"sites.max_actve": 3})
    with pytest.raises(OverrideError, match="objective"):
        apply_overrides(loaded.config, {"objective": "cheapest"})
    assert parse_set("service.min_share=0.5,0.9") == ("service.min_share", [0.5, 0.9])
    assert parse_set("products=[p1],[p1,p2]") == ("products", [["p1"], ["p1", "p2"]])
    names = [s.name for s in grid_specs(TINY, {"service.min_share": [0.5, 0.9],
                                               "service.within_km": [200.0]})]
    assert names == ["min_share=0.5,within_km=200", "min_share=0.9,within_km=200"]
    clash = grid_specs(TINY, {"sites.max_active": [1], "hubs.max_active": [1]})
    assert clash[0].name == "sites.max_active=1,hubs.max_active=1"


def test_serial_parallel_and_dask_give_identical_rows() -> None:
    """Same scenarios serially, in two worker processes and on a Dask LocalCluster."""
    pytest.importorskip("distributed")
    from netopt.analysis.scenarios import local_cluster

    grid = {"service.min_share": [0.0, 0.5]}
    serial = sweep(SMALL, grid, workers=1)
    parallel = sweep(SMALL, grid, workers=2)
    with local_cluster(n_workers=2) as address:
        on_dask = sweep(SMALL, grid, scheduler=address)
    assert serial.rows["status"].isin(["optimal", "feasible"]).all()
    _same(serial.rows, parallel.rows)
    _same(serial.rows, on_dask.rows)
    pd.testing.assert_frame_equal(serial.site_changes, parallel.site_changes)
    pd.testing.assert_frame_equal(serial.site_changes, on_dask.site_changes)


def test_cli_sweep_writes_tables_and_exits_2_on_bad_override(tmp_path: Path) -> None:
    import typer

    from netopt.cli.scenarios import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(TINY), "--set", "service.within_km=100,300",
                                 "--set", "service.min_share=0,0.5", "--workers", "1",
                                 "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "compare.csv", keep_default_na=False)
    assert len(rows) == 4 and set(rows["status"]) == {"optimal"}
    assert (out / "site_changes.csv").exists()
    result = runner.invoke(app, ["sweep", str(TINY), "--set", "service.min_share=0.5,1.5",
                                 "--out", str(out)])
    assert result.exit_code == 2
    assert "service.min_share" in result.output
    result = runner.invoke(app, ["sweep", str(TINY), "--pareto", "--shares", "0,0.5,1",
                                 "--within-km", "100", "--workers", "1", "--out", str(out),
                                 "--no-report", "--gap", "0"])
    assert result.exit_code == 0, result.output
    front = pd.read_csv(out / "frontier.csv")
    assert list(front["min_share"]) == [0.0, 0.5, 1.0]
    result = runner.invoke(app, ["compare", str(TINY), str(TINY), "--workers", "1",
                                 "--out", str(out / "cmp")])
    assert result.exit_code == 0, result.output
    assert (out / "cmp" / "compare.csv").exists()
    # HiGHS threads per scenario: same optimum on the tiny case; 0 threads is refused
    result = runner.invoke(app, ["compare", str(TINY), "--workers", "1", "--threads", "2",
                                 "--out", str(out / "cmp2"), "--no-report"])
    assert result.exit_code == 0, result.output
    one = pd.read_csv(out / "cmp" / "compare.csv")["objective_usd"].iloc[0]
    rows2 = pd.read_csv(out / "cmp2" / "compare.csv")
    two = rows2["objective_usd"].iloc[0]
    assert two == pytest.approx(one, rel=1e-9)
    result = runner.invoke(app, ["compare", str(TINY), "--threads", "0"])
    assert result.exit_code == 2
