"""Scenario batches: self-comparison, hub outage, frontier, failures, serial == parallel == Dask.

us-small solves in a few seconds; tiny instantly. Solves that are compared for order (outage
vs. baseline, the frontier) use gap 0 so the comparison is exact, not within the MIP gap.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from netopt.analysis.scenarios import (
    TIMING_COLUMNS,
    OverrideError,
    ScenarioRun,
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
    """The second copy starts from the first's network: solved to optimality, same network
    and objective; only the proven bound (gap) and the start may differ. (At the default 0.5 %
    gap two equally valid networks may differ by less than the gap: that is what the
    within-solver-gap flag is for.)"""
    comp = compare([SMALL, SMALL], workers=1, gap=0.0)
    rows = comp.rows
    assert list(rows["scenario"]) == ["us-small", "us-small (2)"]
    assert (rows["status"] == "optimal").all()
    assert rows["objective_usd"].iloc[0] > 0
    assert list(rows["start"]) == ["none", "baseline"]  # us-small is below the kernel start's size
    assert rows["vs_baseline_usd"].iloc[0] == 0.0
    assert rows["within_solver_gap"].iloc[0] is None and rows["within_solver_gap"].iloc[1]
    skip = ["scenario", *TIMING_COLUMNS, "gap", "start", "within_solver_gap"]
    first, second = (rows.drop(columns=skip).iloc[[i]].reset_index(drop=True)
                     for i in (0, 1))
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
    # a per cent where a share goes: the hint a model file's setting gets
    with pytest.raises(OverrideError, match=r"min_share': expected a share between 0 and 1: "
                       r"write 0.9 for 90 % \(found 90\)"):
        apply_overrides(loaded.config, {"service.min_share": 90})
    assert parse_set("service.min_share=0.5,0.9") == ("service.min_share", [0.5, 0.9])
    assert parse_set("products=[p1],[p1,p2]") == ("products", [["p1"], ["p1", "p2"]])
    names = [s.name for s in grid_specs(TINY, {"service.min_share": [0.5, 0.9],
                                               "service.within_km": [200.0]})]
    assert names == ["min_share=0.5,within_km=200", "min_share=0.9,within_km=200"]
    clash = grid_specs(TINY, {"sites.max_active": [1], "hubs.max_active": [1]})
    assert clash[0].name == "sites.max_active=1,hubs.max_active=1"


def test_serial_parallel_and_dask_give_identical_rows() -> None:
    """Same scenarios serially, in two worker processes and on a Dask LocalCluster. The tiny
    case keeps it quick (us-small took 100 s here); its 50-km rule for every patient opens
    Site Two, so the rows and site changes compared are not all alike."""
    pytest.importorskip("distributed")
    from netopt.analysis.scenarios import local_cluster

    grid = {"service.within_km": [50.0], "service.min_share": [0.0, 1.0]}
    serial = sweep(TINY, grid, workers=1)
    parallel = sweep(TINY, grid, workers=2)
    with local_cluster(n_workers=2) as address:
        on_dask = sweep(TINY, grid, scheduler=address)
    assert (serial.rows["status"] == "optimal").all()
    assert serial.rows["objective_usd"].nunique() == 2
    assert serial.site_changes[["site_id", "change"]].values.tolist() == [["S2", "opened"]]
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


# ---------------------------------------------------------------- baseline start


def test_baseline_start_where_feasible_else_the_usual_start() -> None:
    """More demand: the baseline network still fits (unserved demand is elastic), so the
    scenario starts from it. Everyone within 100 km: the baseline's single site cannot do it
    (the optimum opens a second), the restricted model is infeasible and the solve falls back.
    Either way the optimum is the one a cold solve finds."""
    # tiny is below the kernel start's size; without a baseline the facility decomposition's
    # network starts the solve (other rules bind on tiny), except where that network is
    # infeasible in the whole model (everyone within 100 km needs a second site)
    cases = [({"demand_scale": [1.0, 3.0]}, "baseline", "facility"),
             ({"service.within_km": [100.0], "service.min_share": [0.0, 1.0]}, "none", "none")]
    for grid, start, alone in cases:
        warm = sweep(TINY, grid, workers=1, gap=0.0).rows
        cold = sweep(TINY, grid, workers=1, gap=0.0, baseline_start=False).rows
        assert (warm["status"] == "optimal").all()
        assert list(cold["start"]) == ["facility", alone]
        assert list(warm["start"]) == ["facility", start]
        assert warm["objective_usd"].tolist() == pytest.approx(cold["objective_usd"].tolist(),
                                                               rel=1e-9)
        assert warm["sites_active"].tolist() == [1, 2]  # the optimum differs from the baseline


def test_network_start_holds_then_releases_decisions() -> None:
    """A result's network pickles, names each decision by variable and index, is held as
    bounds only while the restricted model solves, and restarts the same case at its optimum."""
    import pickle

    import pyomo.environ as pyo

    from netopt.data.case import load_case
    from netopt.model.build import build_model
    from netopt.model.prepare import prepare
    from netopt.results.pipeline import solve_case
    from netopt.solver.network_start import hold, network_of, release

    case = load_case(TINY)
    first = solve_case(case, gap=0.0)
    network = pickle.loads(pickle.dumps(first.network))
    assert network == first.network
    assert set(network) == {"y", "w", "o", "e", "g", "a"}  # tiny has no ordering options
    assert sum(network["y"].values()) == first.summary["sites_active"] == 1
    assert set(network["y"]) == set(first.tables["sites"]["site_id"]) - {"S3"}  # S3 excluded

    m = build_model(prepare(case))
    held = hold(m, {**network, "y": {**network["y"], "NOT-A-SITE": 1}})
    # S1 is an existing site the model itself fixes open: every other decision is held
    assert m.y["S1"].fixed and len(held) == sum(len(v) for v in network.values()) - 1
    for name, values in network.items():
        for idx, value in values.items():
            var = getattr(m, name)[idx]
            assert (var.value if var.fixed else var.lb) == var.ub == value
    release(held)
    assert all((v.lb, v.ub) == (0, 1) for v in m.component_data_objects(pyo.Var)
               if v.is_binary() and not v.fixed)
    assert network_of(m) == {"y": {"S1": 1}}  # not solved yet: only what the model fixed

    again = solve_case(case, gap=0.0, start_network=network)
    assert again.summary["start"] == "baseline" and first.summary["start"] == "facility"
    assert again.summary["objective_usd"] == pytest.approx(first.summary["objective_usd"],
                                                           rel=1e-9)
    foreign = solve_case(case, gap=0.0, start_network={"y": {"NOT-A-SITE": 1}})
    assert foreign.summary["start"] == "none"


def test_a_scenario_started_from_the_baseline_gets_the_spare_cores_proof(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With two threads, a solve started from its batch's baseline network runs the bound
    worker from the cut loop's end, as a warm start does (national returns scenarios started
    from the baseline's design proved 1.17-1.21 % with it, 2.59-2.61 % without). us-small is
    below the warm start's size, so its own solve runs none: the one worker is the
    baseline-started solve's. Same optimum either way."""
    from netopt.data.case import load_case
    from netopt.results.pipeline import solve_case
    from netopt.solver import highs

    case = load_case(ROOT / "models" / "us-small.yaml")
    case.config.solver = case.config.solver.model_copy(update={"threads": 2})
    made = []
    real = highs._bound_worker

    def counted(*args, **kwargs):  # noqa: ANN202 - the worker or None
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(highs, "_bound_worker", counted)
    first = solve_case(case)
    assert made == [] and first.summary["start"] == "none"
    again = solve_case(case, start_network=first.network)
    assert again.summary["start"] == "baseline"
    assert made == [{}]  # the baseline start's worker: no kernel search, no tightened rows
    a, b = first.summary, again.summary
    assert a["status"] == b["status"] == "optimal"
    assert abs(a["objective_usd"] - b["objective_usd"]) <= (
        a["gap"] * a["objective_usd"] + b["gap"] * b["objective_usd"])


# ---------------------------------------------------------------- within solver gap


def _run(name: str, objective: float | None, gap: float | None,
         status: str = "optimal") -> ScenarioRun:
    summary = {} if objective is None else {"objective_usd": objective, "gap": gap,
                                            "start": "none"}
    return ScenarioRun(ScenarioSpec(name, f"{name}.yaml"), status, "", summary)


def test_differences_within_the_solver_gap_are_flagged(tmp_path: Path) -> None:
    """Baseline $1,000,000 at a 1 % gap (bound $10,000 below). A run $15,000 dearer at 0.5 %
    may be noise: 15,000 <= 0.005 x 1,015,000 + 10,000 = 15,075. One $30,000 dearer is a
    result: 30,000 > 0.005 x 1,030,000 + 10,000 = 15,150. So is one $12,000 cheaper when both
    runs are proven optimal (gap 0)."""
    from netopt.analysis.scenarios import build_comparison

    runs = [_run("base", 1_000_000.0, 0.01), _run("inside", 1_015_000.0, 0.005),
            _run("outside", 1_030_000.0, 0.005), _run("failed", None, None, "infeasible")]
    comp = build_comparison(runs)
    rows = comp.rows.set_index("scenario")
    assert rows["vs_baseline_usd"].tolist()[:3] == [0.0, 15_000.0, 30_000.0]
    assert pd.isna(rows.loc["failed", "vs_baseline_usd"])
    assert rows["within_solver_gap"].tolist() == [None, True, False, None]
    exact = build_comparison([_run("a", 500_000.0, 0.0), _run("b", 488_000.0, 0.0),
                              _run("c", 500_000.0, 0.0)]).rows
    assert exact["within_solver_gap"].tolist() == [None, False, True]

    comp.write_tables(tmp_path)
    csv = pd.read_csv(tmp_path / "compare.csv", keep_default_na=False)
    cols = list(csv.columns)
    assert cols.index("vs_baseline_usd") == cols.index("objective_usd") + 2
    assert cols[cols.index("objective_usd") + 1] == "objective_basis"
    assert csv["within_solver_gap"].tolist() == ["", "True", "False", ""]
    assert csv["start"].tolist() == ["none", "none", "none", ""]


def test_a_failed_first_scenario_leaves_the_baseline_to_the_next(tmp_path: Path) -> None:
    """The first scenario infeasible: deltas are against the first one with a network, as
    the site changes already were (one reference everywhere, and the page names it)."""
    from netopt.analysis.scenarios import baseline_index, build_comparison
    from netopt.report.compare import write_comparison

    comp = build_comparison([_run("tight", None, None, "infeasible"),
                             _run("base", 1_000_000.0, 0.0), _run("dearer", 1_040_000.0, 0.0)])
    rows = comp.rows
    assert baseline_index(rows) == 1
    assert pd.isna(rows["vs_baseline_usd"].iloc[0])
    assert rows["vs_baseline_usd"].tolist()[1:] == [0.0, 40_000.0]
    assert rows["within_solver_gap"].tolist() == [None, None, False]
    html = write_comparison(comp, tmp_path)[0].read_text()
    assert "relative to the baseline, \u201cbase\u201d, the first scenario with a network " \
        "(\u201ctight\u201d has none: infeasible)" in html
    assert "<tr class=base><td><b>base</b>" in html


def test_a_batch_without_any_network_calls_no_scenario_the_baseline(tmp_path: Path) -> None:
    from netopt.analysis.scenarios import build_comparison
    from netopt.report.compare import write_comparison

    comp = build_comparison([_run("bad", None, None, "invalid"),
                             _run("tight", None, None, "infeasible")])
    html = write_comparison(comp, tmp_path)[0].read_text()
    assert "no scenario has a network to compare with" in html
    assert "class=base" not in html and ">base<" not in html
    assert "relative to the baseline, \u201c" not in html


def test_objectives_on_another_basis_are_not_compared(tmp_path: Path) -> None:
    """A launch timeline's objective is a discounted horizon total and a margin objective
    is cost less revenue: against a year's cost their difference is one of units. Such rows
    keep their objective but get no delta; two annual costs are still compared."""
    from netopt.analysis.scenarios import (
        ANNUAL_COST,
        ANNUAL_MARGIN,
        build_comparison,
        objective_basis,
    )
    from netopt.report.compare import write_comparison

    timeline = {"periods": 4, "period_months": 3, "start": "2027-01", "discount_rate": 0.1}
    assert objective_basis({"objective_sense": "cost"}) == ANNUAL_COST
    assert objective_basis({"objective_sense": "margin"}) == ANNUAL_MARGIN
    assert objective_basis({"timeline": timeline}) == (
        "launch timeline total: 4 \u00d7 3 months from 2027-01, discounted at 10 %/yr")
    runs = [_run("base", 14_400_000.0, 0.004), _run("tl", 43_600_000.0, 0.004),
            _run("margin", -188_000_000.0, 0.004), _run("dearer", 14_500_000.0, 0.0)]
    runs[1].summary["timeline"] = timeline
    runs[2].summary["objective_sense"] = "margin"
    rows = build_comparison(runs).rows
    assert rows["objective_basis"].tolist() == [
        ANNUAL_COST, objective_basis({"timeline": timeline}), ANNUAL_MARGIN, ANNUAL_COST]
    assert rows["objective_usd"].tolist()[1] == 43_600_000.0
    delta = rows["vs_baseline_usd"].tolist()
    assert delta[0] == 0.0 and pd.isna(delta[1]) and pd.isna(delta[2])
    assert delta[3] == pytest.approx(100_000.0)
    assert rows["within_solver_gap"].tolist() == [None, None, None, False]
    html = write_comparison(build_comparison(runs), tmp_path)[0].read_text()
    assert html.count(">not comparable<") == 2
    assert "Objective (USD)<" in html  # not "USD/yr": one row is a horizon total


def test_compare_names_the_stages_the_clock_ended(tmp_path: Path) -> None:
    """A scenario whose solve had a stage ended by the clock carries those stages in
    compare.csv (its network may differ on another machine); the others carry none."""
    from netopt.analysis.scenarios import build_comparison

    clocked = _run("clocked", 1_010_000.0, 0.02)
    clocked.summary["stopped_by_clock"] = ["strict kernel", "full MIP"]
    base = _run("base", 1_000_000.0, 0.01)
    base.summary["stopped_by_clock"] = []
    comp = build_comparison([base, clocked, _run("failed", None, None, "infeasible")])
    assert comp.rows["stopped_by_clock"].tolist() == ["", "strict kernel;full MIP", ""]
    comp.write_tables(tmp_path)
    csv = pd.read_csv(tmp_path / "compare.csv", keep_default_na=False)
    assert csv["stopped_by_clock"].tolist() == ["", "strict kernel;full MIP", ""]


def test_compare_says_which_scenarios_shared_the_cores(tmp_path: Path) -> None:
    """A scenario solved beside other work (another scenario of the batch, say) carries what
    kept the cores busy in compare.csv: free cores may give it a cheaper network."""
    from netopt.analysis.scenarios import build_comparison

    busy = _run("busy", 1_010_000.0, 0.02)
    busy.summary["cores_not_free"] = "other work using 1.0 of its 2 cores"
    base = _run("base", 1_000_000.0, 0.01)
    base.summary["cores_not_free"] = None
    comp = build_comparison([base, busy, _run("failed", None, None, "infeasible")])
    comp.write_tables(tmp_path)
    csv = pd.read_csv(tmp_path / "compare.csv", keep_default_na=False)
    assert csv["cores_not_free"].tolist() == ["", "other work using 1.0 of its 2 cores", ""]


# ---------------------------------------------------------------- Dask in another folder


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_dask_workers_in_another_folder_get_cases_not_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler and a worker started in an empty folder (as on a cluster node): the batch
    loads each scenario here, by a path relative to this folder, and ships the case; an
    invalid scenario is a row that never leaves. Same rows as a local run."""
    pytest.importorskip("distributed")
    from distributed import Client

    from netopt.analysis.scenarios import build_comparison

    elsewhere = tmp_path / "node"
    elsewhere.mkdir()
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("scheduler", "worker")]  # noqa: SIM115
    procs = []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
             str(port), "--no-dashboard"], cwd=elsewhere, env=env, stdout=logs[0],
            stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", address, "--host", "127.0.0.1",
             "--nthreads", "1", "--nworkers", "1", "--no-nanny", "--no-dashboard",
             "--local-directory", str(elsewhere)], cwd=elsewhere, env=env, stdout=logs[1],
            stderr=subprocess.STDOUT))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
            monkeypatch.chdir(ROOT)
            relative = str(TINY.relative_to(ROOT))
            grid = {"demand_scale": [1.0, 2.0]}
            on_dask = sweep(relative, grid, scheduler=client, gap=0.0)
            bad = ScenarioSpec("bad", relative, {"service.min_share": 1.5})
            runs = run_batch([bad], scheduler=client)
            assert client.run(os.getcwd) == {w: str(elsewhere) for w in
                                             client.scheduler_info()["workers"]}
        local = sweep(relative, grid, workers=1, gap=0.0)
        assert list(on_dask.rows["status"]) == ["optimal", "optimal"], \
            on_dask.rows["reason"].tolist()
        assert list(on_dask.rows["start"]) == ["facility", "baseline"]
        _same(local.rows, on_dask.rows)
        assert on_dask.rows["objective_usd"].tolist() == local.rows["objective_usd"].tolist()
        rows = build_comparison(runs).rows
        assert rows["status"].tolist() == ["invalid"]
        assert "service.min_share" in rows["reason"].iloc[0]
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for log in logs:
            log.close()


def test_compare_labels_scenarios_by_their_model_name(tiny_project: Path) -> None:
    """compare labels each scenario by its model's `name:` (the file name when it has
    none), in compare.csv and the title."""
    from netopt.analysis.scenarios import scenario_name
    from netopt.cli.app import app

    (tiny_project / "a.yaml").write_text("extends: tiny.yaml\nname: Baseline network\n")
    (tiny_project / "b.yaml").write_text("extends: tiny.yaml\ndemand_scale: 2\n")
    assert scenario_name(tiny_project / "a.yaml") == "Baseline network"
    assert scenario_name(tiny_project / "b.yaml") == "b"
    out = tiny_project / "out"
    result = CliRunner().invoke(app, ["compare", str(tiny_project / "a.yaml"),
                                      str(tiny_project / "b.yaml"), "--workers", "1",
                                      "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "compare.csv")
    assert list(rows["scenario"]) == ["Baseline network", "b"]
    assert rows["patients_demand"].iloc[1] == pytest.approx(2 * rows["patients_demand"].iloc[0])


@pytest.mark.parametrize(("shares", "said"), [
    ("0,true", "--shares: a yes/no/true/false word is not a number"),
    ("yes", "--shares: a yes/no/true/false word is not a number"),
    ("0,abc", "--shares: 'abc' is not a number"),
    ("[0.5]", "--shares: [0.5] is not a number"),
    ("0,90", "--shares: 90 does not lie between 0 and 1"),
])
def test_cli_pareto_refuses_shares_that_are_not_shares(shares: str, said: str,
                                                       tmp_path: Path) -> None:
    """`--shares true` was read by YAML as a boolean and by float() as 1: a frontier point
    at 100 % the user never asked for, exit 0. A word (or a list) is refused, exit 2, with
    the option named, as `--set service.min_share=true` is; nothing is solved or written."""
    import typer

    from netopt.cli.scenarios import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(TINY), "--pareto", "--shares", shares,
                                      "--workers", "1", "--out", str(out), "--no-report"],
                                env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert not out.exists()


@pytest.mark.parametrize(("sets", "said"), [
    # a second --set of a key replaced the first without a word: only 0.9 was solved
    (["service.min_share=0,0.5", "service.min_share=0.9"],
     "--set service.min_share given more than once"),
    (["service.min_share="], "--set 'service.min_share=': no value after '='"),
    (["service.min_share=0,,0.5"], "--set 'service.min_share=0,,0.5': an empty value"),
    # checked against the tables before anything solves, and blamed on the override, not on
    # the model file (which has no products key)
    (["products=[nosuch],[cart_x]"],
     "scenario 'products=[nosuch]': error: override products=[nosuch] on tiny.yaml: product "
     "not in the products table"),
    # two overrides of one section: the one the problem names, not the first
    (["hubs.max_active=1", "hubs.lock_open=[H9]"],
     "override hubs.lock_open=[H9] on tiny.yaml: unknown hub_id"),
])
def test_cli_sweep_refuses_bad_sets_before_solving(sets: list[str], said: str,
                                                    tmp_path: Path) -> None:
    import typer

    from netopt.cli.scenarios import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "out"
    args = [a for s in sets for a in ("--set", s)]
    result = CliRunner().invoke(app, ["sweep", str(TINY), *args, "--workers", "1", "--out",
                                      str(out), "--no-report"],
                                env={"NO_COLOR": "1", "COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert not out.exists()


def test_a_batch_shows_each_scenario_s_input_warnings(tmp_path: Path) -> None:
    """A scenario whose inputs draw a warning (here zone Z1's state written 'Ny') solved
    without a word in a batch, although `validate` names it: compare.csv now carries it in
    its `warnings` column and the command prints it under the scenario's name."""
    from netopt.cli.app import app

    shutil.copytree(ROOT / "tests" / "data" / "tiny", tmp_path / "tiny")
    zones = tmp_path / "tiny" / "zones.csv"
    zones.write_text(zones.read_text().replace("Z1,Alpha,NY", "Z1,Alpha,Ny"))
    (tmp_path / "typo.yaml").write_text("name: typo\ndataset: tiny\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["compare", str(TINY), str(tmp_path / "typo.yaml"),
                                      "--workers", "1", "--out", str(out), "--no-report"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "compare.csv", keep_default_na=False)
    assert rows["warnings"].iloc[0] == ""
    assert "zones.csv, row 2, column 'state'" in rows["warnings"].iloc[1]
    assert "did you mean 'NY'?" in rows["warnings"].iloc[1]
    assert "typo: warning: " in result.output and "did you mean 'NY'?" in result.output


def test_a_site_absent_from_one_scenario_s_data_is_not_opened_or_closed() -> None:
    """Two runs on different datasets: S1 only the baseline has, S4 only the scenario. Each
    is active where it exists, which neither run decided: 'not in scenario' / 'not in
    baseline', not 'closed' / 'opened'. S2 (closed) and S3 (opened) are real changes; an
    inactive site absent from the other data (S5) is no change at all. Hubs likewise."""
    from netopt.analysis.scenarios import facility_changes, site_changes

    def sites(rows: list[tuple[str, bool]]) -> pd.DataFrame:
        return pd.DataFrame([{"site_id": s, "name": f"site {s}", "state": "MN",
                              "latitude": 45.0, "longitude": -93.0, "active": a}
                             for s, a in rows])

    base = sites([("S1", True), ("S2", True), ("S3", False), ("S5", False)])
    other = sites([("S2", False), ("S3", True), ("S4", True)])
    changes = site_changes({"base": base, "other": other}, ["base", "other"])
    assert sorted(changes[["site_id", "change"]].values.tolist()) == [
        ["S1", "not in scenario"], ["S2", "closed"], ["S3", "opened"],
        ["S4", "not in baseline"]]

    def run(name: str, hubs: list[tuple[str, bool]]) -> ScenarioRun:
        table = pd.DataFrame([{"hub_id": h, "name": f"hub {h}", "active": a} for h, a in hubs])
        return ScenarioRun(ScenarioSpec(name, "", {}), status="optimal", sites=base,
                           hubs=table)

    hubs = facility_changes([run("base", [("H1", True), ("H2", True)]),
                             run("other", [("H2", False), ("H3", True)])], ["base", "other"])
    assert sorted(hubs[["facility_id", "change"]].values.tolist()) == [
        ["H1", "not in scenario"], ["H2", "closed"], ["H3", "not in baseline"]]


def test_a_batch_without_any_network_exits_as_a_solve_would(tmp_path: Path) -> None:
    """Every scenario infeasible: the tables are still written (their rows say why) and the
    command exits 3, as `netopt solve` would; one scenario with a network makes it a result
    (exit 0). The order of reasons: an input to fix, then infeasible, then out of time. An
    invalid scenario exits 2 even beside solved ones: a typo in a batch run by a script must
    not pass as a result."""
    import typer

    from netopt.cli.scenarios import batch_exit_code, register

    assert batch_exit_code(["invalid", "infeasible", "no_solution"]) == 2
    assert batch_exit_code(["no_solution", "infeasible"]) == 3
    assert batch_exit_code(["no_solution", "no_solution"]) == 4
    assert batch_exit_code(["no_solution", "error"]) == 1
    assert batch_exit_code(["infeasible", "feasible"]) == 0
    # a scenario that could not be run is never passed over, whatever the others did
    assert batch_exit_code(["optimal", "invalid", "infeasible"]) == 2
    assert batch_exit_code(["optimal", "error"]) == 1
    app = typer.Typer()
    register(app)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "sweep", str(TINY), "--set", "service.within_km=5", "--set",
        "service.min_share=0.98,0.99", "--workers", "1", "--out", str(out), "--no-report"])
    assert result.exit_code == 3, result.output
    assert "no scenario has a network" in result.output
    rows = pd.read_csv(out / "compare.csv", keep_default_na=False)
    assert list(rows["status"]) == ["infeasible", "infeasible"]
    result = CliRunner().invoke(app, [
        "sweep", str(TINY), "--set", "service.within_km=5", "--set",
        "service.min_share=0,0.99", "--workers", "1", "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    # an invalid scenario file beside one that solves: the batch is written, exit 2
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"extends: {TINY}\nobjective: cheapest\n")
    result = CliRunner().invoke(app, [
        "compare", str(TINY), str(broken), "--workers", "1", "--out", str(out), "--no-report"])
    assert result.exit_code == 2, result.output
    assert "1 of 2 scenarios could not be run: exit 2" in " ".join(result.output.split())
    rows = pd.read_csv(out / "compare.csv", keep_default_na=False)
    assert list(rows["status"]) == ["optimal", "invalid"]


def test_offers_that_move_between_open_sites_are_changes() -> None:
    """A price rise moved AAV from S052 to S045, both open in both networks: compare said
    "same sites as the baseline". An offer an open site adds or drops is now a change."""
    from netopt.analysis.scenarios import OFFER_ADDED, OFFER_DROPPED, site_changes

    def sites(offers: dict[str, str | None]) -> pd.DataFrame:
        return pd.DataFrame([{"site_id": s, "name": f"site {s}", "state": "TN",
                              "latitude": 36.0, "longitude": -86.0, "active": o is not None,
                              "products_offered": o or ""} for s, o in offers.items()])

    base = sites({"S045": "cart_onc", "S052": "aav_gt;cart_onc", "S160": None})
    other = sites({"S045": "aav_gt;cart_onc", "S052": "cart_onc", "S160": "cart_onc"})
    changes = site_changes({"base": base, "other": other}, ["base", "other"])
    assert changes[["site_id", "change", "product_id"]].values.tolist() == [
        ["S160", "opened", ""], ["S045", OFFER_ADDED, "aav_gt"],
        ["S052", OFFER_DROPPED, "aav_gt"]]
    # a scenario without aav_gt in its scope decides no offer of it: its dropped aav_gt
    # offer is a change of scope (scope_vs_baseline), not of the network
    narrower = sites({"S045": "cart_onc", "S052": "cart_onc", "S160": None})
    scoped = site_changes({"base": base, "no_aav": narrower}, ["base", "no_aav"],
                          {"base": {"aav_gt", "cart_onc"}, "no_aav": {"cart_onc"}})
    assert scoped.empty
    unscoped = site_changes({"base": base, "no_aav": narrower}, ["base", "no_aav"])
    assert unscoped[["site_id", "change", "product_id"]].values.tolist() == [
        ["S052", OFFER_DROPPED, "aav_gt"]]


def test_term_changes_say_where_the_objective_moves() -> None:
    """Each scenario's cost terms against the baseline's, largest change first and the
    total last; a scenario on another objective basis or without a network has none."""
    from netopt.analysis.scenarios import term_changes

    rows = pd.DataFrame({
        "scenario": ["base", "outage", "margin", "failed"],
        "status": ["optimal", "optimal", "optimal", "infeasible"],
        "objective_usd": [100.0, 135.0, -50.0, math.nan],
        "objective_basis": ["annual cost", "annual cost", "annual cost less revenue", ""],
        "cost_transport": [60.0, 100.0, 60.0, math.nan],
        "cost_hub_fixed": [40.0, 35.0, 40.0, math.nan],
        "cost_site_fixed": [0.0, 0.4, 0.0, math.nan],
        "cost_total": [100.0, 135.4, -50.0, math.nan]})
    tc = term_changes(rows)
    assert tc[["scenario", "term", "difference_usd"]].values.tolist() == [
        ["outage", "transport", 40.0], ["outage", "hub_fixed", -5.0],
        ["outage", "total", 35.4]]
    assert tc["baseline_usd"].tolist() == [60.0, 40.0, 100.0]
    from netopt.report.compare import term_changes_table

    page = term_changes_table(rows.assign(within_solver_gap=[None, True, None, None]))
    assert "<td>Transport</td>" in page and "+$40" in page and "-$5" in page
    assert "Total (~ within the two runs&#x27; solver gaps)" in page


def test_launch_plans_compare_their_patients_over_the_roll_out() -> None:
    """Two plans ending alike (60 patients a year served in their last period) differed by
    $1.3 M of penalty for the five patients the later plan left untreated while a site
    opened a quarter later, and nothing in the row said so. compare.csv now has each plan's
    patients over the roll-out; a batch without a plan has no such columns."""
    from netopt.analysis.scenarios import ScenarioRun, ScenarioSpec, comparison_rows

    def run(name: str, unserved: float | None) -> ScenarioRun:
        summary = {"objective_usd": 1e6 + (unserved or 0) * 3e5, "gap": 0.0,
                   "patients_served": 60.0, "patients_unserved": 0.0}
        if unserved is not None:
            summary["timeline"] = {"periods": 8, "patients_served": 45.0 - unserved,
                                   "patients_unserved": unserved}
        return ScenarioRun(ScenarioSpec(name, "", {}), status="optimal", summary=summary)

    rows = comparison_rows([run("on time", 0.0), run("late", 5.0)], ["on time", "late"])
    assert rows["plan_patients_unserved"].tolist() == [0.0, 5.0]
    assert rows["plan_patients_served"].tolist() == [45.0, 40.0]
    assert rows["patients_unserved"].tolist() == [0.0, 0.0]  # the last period: no difference
    steady = comparison_rows([run("a", None), run("b", None)], ["a", "b"])
    assert "plan_patients_served" not in steady.columns


def test_scenario_folders_hold_each_scenario_s_whole_result(tmp_path: Path) -> None:
    """--scenario-folders: each scenario's result as `netopt solve` writes it, readable by
    the analyses, its figures those of compare.csv; compare.html links each; a later batch
    without the flag leaves no scenario folder behind (the analysis's pages included)."""
    from netopt.cli.app import app
    from netopt.results.tables import Results

    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(app, ["sweep", str(TINY), "--set", "service.min_share=0,1",
                              "--set", "service.within_km=100", "--gap", "0",
                              "--workers", "1", "--scenario-folders", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = pd.read_csv(out / "compare.csv", keep_default_na=False)
    folders = sorted(p.name for p in (out / "scenarios").iterdir())
    # the scenarios' names, made safe for a file system ("a,b" -> "a_b")
    assert folders == sorted(n.replace(",", "_") for n in rows["scenario"])
    page = (out / "compare.html").read_text(encoding="utf-8")
    for name, row in zip(rows["scenario"].str.replace(",", "_"), rows.itertuples(),
                         strict=True):
        folder = out / "scenarios" / name
        result = Results.read(folder)
        assert result.summary["objective_usd"] == pytest.approx(row.objective_usd, rel=1e-9)
        assert {"report.html", "map.html", "network.xlsx", "netopt-manifest.json"} <= {
            p.name for p in folder.iterdir()}
        assert f"href='scenarios/{name}/report.html'" in page
    # all patients within 100 km costs more than none: each folder holds its own network
    a, b = (Results.read(out / "scenarios" / f).summary["objective_usd"] for f in folders)
    assert a != pytest.approx(b, rel=1e-6)
    scenario = out / "scenarios" / folders[1]
    # the sweep's settings are recorded as the folder's changes, so an analysis re-solves
    # the scenario, not the model file as it stands (which it had taken for changed inputs)
    summary = Results.read(scenario).summary
    assert summary["changes"] == {"settings": {"service.min_share": 1,
                                               "service.within_km": 100,
                                               "name": "min_share=1,within_km=100"},
                                  "edits": []}
    # each folder is named as its point on its pages (every one had read "tiny")
    assert summary["model"] == "min_share=1,within_km=100"
    assert "Network design \u2014 min_share=1,within_km=100" in (
        scenario / "report.html").read_text(encoding="utf-8")
    res = runner.invoke(app, ["explain", str(scenario), "S1"])
    assert res.exit_code == 0, res.output
    assert "changed since" not in res.output
    assert "infeasible" in res.output  # min_share 1 within 100 km needs S1 open
    res = runner.invoke(app, ["finance", str(scenario)])
    assert res.exit_code == 0, res.output
    assert (scenario / "finance.html").exists()
    res = runner.invoke(app, ["compare", str(TINY), "--workers", "1", "--no-report",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert not (out / "scenarios").exists()


def test_a_change_of_scope_is_named_beside_its_delta() -> None:
    """Scenarios planning for other patients than the baseline (another product set, a
    demand scale) say so: their delta prices the scope as well as the network."""
    from netopt.analysis.scenarios import scope_notes

    rows = pd.DataFrame({
        "scenario": ["base", "same", "pooled", "busier", "failed"],
        "status": ["optimal", "optimal", "optimal", "feasible", "infeasible"],
        "objective_usd": [1.0, 1.0, 2.0, 3.0, math.nan],
        "patients_demand": [878.8, 878.8 * 1.004, 799.6, 1757.6, math.nan],
        "products": ["a;b", "a;b", "a;b;c", "a;b", ""]})
    assert scope_notes(rows) == [
        "", "", "products added: c; 799.6 patients/yr in scope against the baseline's 878.8",
        "1,757.6 patients/yr in scope against the baseline's 878.8", ""]
    # end to end: a demand scale is a change of scope
    comparison = sweep(TINY, {"demand_scale": [1.0, 2.0]}, workers=1)
    assert comparison.rows["scope_vs_baseline"].tolist() == [
        "", "60.0 patients/yr in scope against the baseline's 30.0"]
    assert comparison.rows["products"].tolist() == ["p1", "p1"]


def test_a_narrow_console_never_folds_a_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    """compare/sweep's table at 140 columns folded a cost over two lines ("14,403,74" then
    "4", read as $1.44 M). Figures now keep their width; columns that do not fit go to a
    second table with the scenario names again, rather than being cropped."""
    import io

    from rich.console import Console

    import netopt.cli.common as common
    from netopt.cli.scenarios import _print_rows

    comparison = sweep(TINY, {"demand_scale": [1.0, 100.0],
                              "service.within_km": [100, 250]}, workers=1)
    counts = {}
    for width in (60, 140):
        out = io.StringIO()
        monkeypatch.setattr(common, "console", Console(file=out, width=width))
        _print_rows(comparison)
        text = out.getvalue()
        assert max(len(line) for line in text.splitlines()) <= width
        cells = {c.strip() for line in text.splitlines() for c in line.split("\u2502")}
        for value in comparison.rows["objective_usd"]:
            assert f"{value:,.0f}" in cells, (width, f"{value:,.0f}")
        assert "+870,242,437" in cells
        counts[width] = tables = text.count("Sweep of tiny")
        # every scenario is named in every table
        assert text.count("=100") >= 2 * tables
    assert counts[60] > counts[140] >= 1


def test_batch_folders_holding_a_user_s_tables_are_refused_before_solving(
        tmp_path: Path) -> None:
    """compare --out at a dataset wrote the batch among its input tables (exit 0); a user's
    sites.csv in a scenario's folder was found only after the batch had solved, which was
    then thrown away. Both are refused at once, exit 2, nothing solved or written."""
    from netopt.cli.app import app

    runner = CliRunner()
    dataset = tmp_path / "data"
    shutil.copytree(TINY.parent / "tiny", dataset)
    res = runner.invoke(app, ["compare", str(TINY), "--workers", "1", "--out", str(dataset)])
    assert res.exit_code == 2, res.output
    assert "holds input tables netopt did not write" in res.output
    assert not (dataset / "compare.csv").exists() and "scenarios" not in res.output

    out = tmp_path / "batch"
    mine = out / "scenarios" / "min_share=1"
    mine.mkdir(parents=True)
    (mine / "sites.csv").write_text("site_id\nS1\n", encoding="utf-8")
    res = runner.invoke(app, ["sweep", str(TINY), "--set", "service.min_share=0,1",
                              "--workers", "1", "--scenario-folders", "--out", str(out)])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "--scenario-folders" in text and "min_share=1 holds input tables netopt did not " \
        "write (sites.csv)" in text
    assert not (out / "compare.csv").exists() and "optimal" not in res.output
    assert (mine / "sites.csv").read_text(encoding="utf-8") == "site_id\nS1\n"
