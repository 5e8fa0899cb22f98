"""The CLI end to end on the tiny model: files written, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from netopt.cli.app import app
from netopt.cli.common import EXIT_INFEASIBLE

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


