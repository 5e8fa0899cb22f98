"""Solver choice: `solver.name` / `--solver` runs the tiny model on any MILP solver Pyomo drives
that is installed here (gurobipy is in the test extra, so CI runs Gurobi with its size-limited
licence), each finding HiGHS's optimum; unknown or absent solvers exit 2 naming the ones that
are here; summary.json and `netopt doctor` say which solver ran and which are installed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs
from typer.testing import CliRunner

import netopt
from netopt.cli.app import app
from netopt.cli.common import EXIT_INFEASIBLE, EXIT_INVALID
from netopt.data.config import SOLVER_NAMES
from netopt.results.tables import Results
from netopt.solver import backends
from netopt.solver.backends import BACKENDS, LABELS, SolverProbe, SolverUnavailable, solve_status

TINY = Path(__file__).parent / "data" / "tiny.yaml"
HIGHS_VERSION = ".".join(map(str, Highs().version()))


@pytest.fixture(scope="module")
def highs_result() -> netopt.Result:
    return netopt.solve(TINY)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with the tiny dataset, for model files that extend tiny.yaml."""
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    return tmp_path


def _installed_or_skip(name: str) -> SolverProbe:
    found = backends.probe(name)
    if not found.available:
        pytest.skip(f"{found.label} is not available here ({found.detail})")
    return found


def _costs(result: Results) -> dict[str, float]:
    return result.costs.set_index("term")["usd_per_year"].to_dict()


# ---------------------------------------------------------------- every installed solver


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_solver_finds_the_highs_optimum_on_tiny(name: str, highs_result: netopt.Result) -> None:
    """Same objective, cost terms and network as HiGHS (the hand-checked optimum of
    test_model.test_baseline_costs_by_hand), with the solver and its version recorded."""
    found = _installed_or_skip(name)
    result = netopt.solve(TINY, solver=name.upper())  # names are case-insensitive
    assert result.status == "optimal"
    assert result.info.termination == TerminationCondition.convergenceCriteriaSatisfied.name
    assert result.objective == pytest.approx(highs_result.objective, rel=1e-7)
    assert result.summary["bound"] == pytest.approx(highs_result.objective, rel=1e-6)
    assert result.gap is not None and result.gap <= 0.005
    got, want = _costs(result), _costs(highs_result)
    assert got.keys() == want.keys()
    for term, usd in want.items():
        assert got[term] == pytest.approx(usd, rel=1e-6, abs=1e-3), term
    active = result.sites.loc[result.sites["active"], "site_id"].tolist()
    assert active == highs_result.sites.loc[highs_result.sites["active"], "site_id"].tolist()
    assert result.summary["solver"] == name
    assert result.summary["solver_version"] == found.version != ""
    assert result.summary["settings"]["solver"]["name"] == name


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_solver_reports_infeasible_in_domain_words(name: str, project: Path) -> None:
    """A service level no site can meet: the solver's infeasible status is diagnosed (with
    the same solver) and `netopt solve --solver` exits 3 naming the product."""
    _installed_or_skip(name)
    model = project / "strict.yaml"
    model.write_text("extends: tiny.yaml\nservice:\n  within_km: 5\n  min_share: 0.99\n")
    result = CliRunner().invoke(app, ["solve", str(model), "--solver", name, "--out",
                                      str(project / "out")])
    assert result.exit_code == EXIT_INFEASIBLE, result.output
    assert "service level" in result.output and "p1" in result.output


def test_gurobi_runs_where_gurobipy_is_installed(tmp_path: Path) -> None:
    """The CLI path with Gurobi (gurobipy is in the test extra): summary.json names it and
    the version gurobipy reports, and `netopt report` reads the folder back."""
    gurobipy = pytest.importorskip("gurobipy", reason="gurobipy is not installed "
                                   "(pip install -e '.[test]' brings it)")
    _installed_or_skip("gurobi")
    result = CliRunner().invoke(app, ["solve", str(TINY), "--solver", "gurobi", "--out",
                                      str(tmp_path), "--no-report"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["solver"] == "gurobi"
    assert summary["solver_version"] == ".".join(map(str, gurobipy.gurobi.version()))
    assert summary["status"] == "optimal" and summary["patients_served"] == 30.0
    info = Results.read(tmp_path).info
    assert (info.solver, info.solver_version) == ("gurobi", summary["solver_version"])


# ---------------------------------------------------------------- summary.json and doctor


def test_summary_records_highs_and_its_version(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["solve", str(TINY), "--out", str(tmp_path),
                                      "--no-report"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["solver"] == "highs"
    assert summary["solver_version"] == HIGHS_VERSION
    assert summary["settings"]["solver"]["name"] == "highs"
    assert f"highs {HIGHS_VERSION}" in result.output


def test_command_line_overrides_are_the_settings_recorded(tmp_path: Path) -> None:
    """--time-limit and --solver change what ran, so summary.json's settings say so."""
    result = CliRunner().invoke(app, ["solve", str(TINY), "--out", str(tmp_path),
                                      "--no-report", "--solver", "HiGHS", "--time-limit", "17"])
    assert result.exit_code == 0, result.output
    solver = json.loads((tmp_path / "summary.json").read_text())["settings"]["solver"]
    assert solver["name"] == "highs" and solver["time_limit"] == 17.0


def test_doctor_lists_every_solver_with_availability_and_version() -> None:
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in result.output.splitlines()
            if line.startswith("│") and line.split("│")[1].strip() in SOLVER_NAMES}
    assert sorted(rows) == sorted(SOLVER_NAMES)
    assert rows["highs"][:2] == ["yes", HIGHS_VERSION]
    for name in BACKENDS:
        found = backends.probe(name)
        assert rows[name][0] == ("yes" if found.available else "no"), name
        assert rows[name][1] == found.version, name
    try:
        import gurobipy
    except ImportError:
        assert rows["gurobi"][0] == "no" and "pip install gurobipy" in rows["gurobi"][2]
    else:
        assert rows["gurobi"][1] == ".".join(map(str, gurobipy.gurobi.version()))


# ---------------------------------------------------------------- unknown or absent solvers


def test_unknown_solver_flag_exits_2_listing_available(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["solve", str(TINY), "--solver", "gurobbi", "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == EXIT_INVALID, result.output
    assert "unknown solver 'gurobbi'" in result.output
    assert "netopt drives highs, gurobi, cplex, xpress, scip, cbc" in result.output
    assert "Available here: " + ", ".join(backends.available_solvers()) in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_unknown_solver_in_model_file_names_the_line(project: Path) -> None:
    model = project / "typo.yaml"
    model.write_text("extends: tiny.yaml\nsolver:\n  time_limit: 10\n  name: cplx\n")
    result = CliRunner().invoke(app, ["solve", str(model), "--out", str(project / "out")])
    assert result.exit_code == EXIT_INVALID, result.output
    assert "typo.yaml, line 4, column 'solver.name'" in result.output
    assert "unknown solver 'cplx'" in result.output
    assert "solvers available here: " + ", ".join(backends.available_solvers()) \
        in result.output
    assert "Traceback" not in result.output


def _without(monkeypatch: pytest.MonkeyPatch, absent: str) -> None:
    """Make one solver look uninstalled, whatever this machine has."""
    real = backends.probe

    def probe(name: str) -> SolverProbe:
        if name == absent:
            return SolverProbe(name, LABELS[name], False, "",
                               f"not installed: {BACKENDS[name].install}")
        return real(name)

    monkeypatch.setattr(backends, "probe", probe)


def test_solver_not_installed_exits_2_before_any_work(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "cplex")
    result = CliRunner().invoke(app, ["solve", str(TINY), "--solver", "cplex", "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == EXIT_INVALID, result.output
    assert "solver 'cplex' (CPLEX) is not available here: not installed: pip install cplex" \
        in result.output
    available = backends.available_solvers()
    assert "highs" in available and "cplex" not in available
    assert "Available: " + ", ".join(available) in result.output
    assert "preparing" not in result.output and not (tmp_path / "out").exists()


def test_model_file_naming_an_absent_solver_exits_2(project: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "xpress")
    model = project / "xpress.yaml"
    model.write_text("extends: tiny.yaml\nsolver:\n  name: xpress\n")
    result = CliRunner().invoke(app, ["solve", str(model), "--out", str(project / "out")])
    assert result.exit_code == EXIT_INVALID, result.output
    assert "solver 'xpress' (Xpress) is not available here" in result.output
    assert not (project / "out").exists()
    with pytest.raises(SolverUnavailable, match="Available: highs"):
        netopt.solve(model)


def test_batch_row_says_the_solver_is_absent(project: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """In a sweep over solver.name the absent solver's row is invalid with the reason; the
    batch goes on and HiGHS's row has its network, and the command exits 2 as a single solve
    with a missing solver does (a scenario that could not be run is never passed over)."""
    _without(monkeypatch, "scip")
    comparison = netopt.compare([project / "tiny.yaml"], solver="scip")
    [row] = comparison.rows.to_dict("records")
    assert row["status"] == "invalid"
    assert "solver 'scip' (SCIP) is not available" in row["reason"]
    result = CliRunner().invoke(app, ["sweep", str(project / "tiny.yaml"), "--workers", "1",
                                      "--set", "solver.name=highs,scip", "--no-report",
                                      "--out", str(project / "sweep")])
    assert result.exit_code == 2, result.output
    rows = pd.read_csv(project / "sweep" / "compare.csv").set_index("scenario")
    assert rows.loc["name=highs", "status"] == "optimal"
    assert rows.loc["name=scip", "status"] == "invalid"
    assert rows.loc["name=highs", "objective_usd"] == pytest.approx(
        netopt.solve(TINY).objective, rel=1e-9)


# ---------------------------------------------------------------- status as data


@pytest.mark.parametrize(("term", "has_solution", "status"), [
    (TerminationCondition.convergenceCriteriaSatisfied, True, "optimal"),
    (TerminationCondition.maxTimeLimit, True, "feasible"),
    (TerminationCondition.maxTimeLimit, False, "no_solution"),
    (TerminationCondition.iterationLimit, True, "feasible"),
    (TerminationCondition.provenInfeasible, False, "infeasible"),
    (TerminationCondition.infeasibleOrUnbounded, False, "infeasible"),
    (TerminationCondition.licensingProblems, False, "no_solution"),
])
def test_status_keeps_termination_and_solution_apart(term: TerminationCondition,
                                                     has_solution: bool, status: str) -> None:
    """A time-limited run with a network is `feasible`, not an error; without one it is
    `no_solution`, not `infeasible`."""
    assert solve_status(term, has_solution) == status


def test_every_solver_name_has_a_label_and_a_backend() -> None:
    assert set(LABELS) == set(SOLVER_NAMES)
    assert set(BACKENDS) == set(SOLVER_NAMES) - {"highs"}
    for backend in BACKENDS.values():
        assert backend.interface in ("contrib", "legacy")
        # the legacy interfaces take every option by name; contrib ones all but the seed
        need = {"seed"} if backend.interface == "contrib" else \
            {"time_limit", "mip_gap", "threads", "seed"}
        assert set(backend.options) == need, backend.name
