"""The CLI end to end on the tiny model: files written, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from netopt.cli.app import app
from netopt.cli.common import EXIT_INFEASIBLE, EXIT_NO_NETWORK

TINY = Path(__file__).parent / "data" / "tiny.yaml"
SUMMARY_KEYS = {
    "status", "termination", "objective", "bound", "gap", "build_seconds", "solve_seconds",
    "n_variables", "n_constraints", "patients_demand", "patients_served", "patients_unserved",
    "pct_within_travel_target", "sites_active", "hubs_active", "partners_active",
}


def test_solve_writes_tables_and_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["solve", str(TINY), "--out", str(tmp_path), "--no-report"])
    assert result.exit_code == 0, result.output
    for name in ("sites", "hubs", "partners", "assignments", "shipments", "unserved", "costs",
                 "kpis"):
        assert (tmp_path / f"{name}.csv").exists(), name
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["status"] == "optimal"
    assert summary["patients_served"] == 30.0


def test_infeasible_exits_3_with_reason(tmp_path: Path) -> None:
    """A model extending the tiny one with a service level no site can meet."""
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    model = tmp_path / "strict.yaml"
    model.write_text("extends: tiny.yaml\nservice:\n  within_km: 5\n  min_share: 0.99\n")
    result = CliRunner().invoke(app, ["solve", str(model), "--out", str(tmp_path / "out")])
    assert result.exit_code == EXIT_INFEASIBLE, result.output
    assert "service level" in result.output and "p1" in result.output
    assert "Traceback" not in result.output


def test_no_network_within_the_limit_is_not_called_infeasible(tmp_path: Path,
                                                              monkeypatch) -> None:  # noqa: ANN001
    """The clock ending before any network (the national default at 10 s) says so and exits
    4: telling the user their hard settings cannot be met would send them looking for a
    conflict that is not there. The solver is replaced by one that returns what HiGHS
    returns then (no solution, maxTimeLimit); everything around it is the real pipeline."""
    from netopt.results import pipeline
    from netopt.solver.diagnose import NoNetworkInTime
    from netopt.solver.info import SolveInfo

    def out_of_time(m, settings, **kwargs):  # noqa: ANN001, ANN003, ANN202
        return SolveInfo(status="no_solution", termination="maxTimeLimit", objective=None,
                         bound=None, gap=None, solve_seconds=settings.time_limit)

    monkeypatch.setattr(pipeline, "solve_model", out_of_time)
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    model = tmp_path / "milp.yaml"
    model.write_text("extends: tiny.yaml\nsolver:\n  method: milp\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["solve", str(model), "--out", str(out), "--time-limit",
                                      "7"])
    assert result.exit_code == EXIT_NO_NETWORK, result.output
    assert "No network within the time limit" in result.output
    assert "found no network (maxTimeLimit) within 7s; raise --time-limit" in result.output
    assert "Infeasible" not in result.output and "cannot all be met" not in result.output
    assert "Traceback" not in result.output and not out.exists()
    # in Python too: the exception's own words do not say "infeasible"
    assert str(NoNetworkInTime(["HiGHS found no network"])) == (
        "no network within the time limit:\n- HiGHS found no network")


