"""The CLI end to end on the tiny model: files written, exit codes."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_the_solver_prints_nothing_without_solver_log(tmp_path: Path) -> None:
    """The tiny model goes through the facility decomposition, whose HiGHS objects printed
    HiGHS's banner (the first one of a process does, as it is built). A process of its
    own, since the banner comes once per process."""
    script = Path(sys.executable).with_name("netopt")
    run = subprocess.run([str(script), "solve", str(TINY), "--out", str(tmp_path / "r"),
                          "--no-report"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Running HiGHS" not in run.stdout + run.stderr
    assert "Copyright" not in run.stdout + run.stderr


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


@pytest.mark.parametrize(("termination", "code", "said"), [
    ("maxTimeLimit", EXIT_NO_NETWORK, "No network within the time limit"),
    ("licensingProblems", 1, "Solver error"),
])
def test_no_network_within_the_limit_is_not_called_infeasible(
        tmp_path: Path, monkeypatch, termination: str, code: int, said: str) -> None:  # noqa: ANN001
    """The clock ending before any network (the national default at 10 s) says so and exits
    4: telling the user their hard settings cannot be met would send them looking for a
    conflict that is not there. Any other stop without a network is the solver's failure
    (exit 1), not a time limit to raise. The solver is replaced by one that returns what a
    solver returns then; everything around it is the real pipeline."""
    from netopt.analysis.scenarios import ScenarioSpec, failed_run
    from netopt.results import pipeline
    from netopt.solver import machine
    from netopt.solver.diagnose import Infeasible, NoNetworkInTime
    from netopt.solver.info import SolveInfo

    def no_network(m, settings, **kwargs):  # noqa: ANN001, ANN003, ANN202
        return SolveInfo(status="no_solution", termination=termination, objective=None,
                         bound=None, gap=None, solve_seconds=settings.time_limit)

    monkeypatch.setattr(pipeline, "solve_model", no_network)
    monkeypatch.setattr(machine, "load", lambda: 0.5)  # an idle machine
    monkeypatch.setattr(machine, "all_cores", lambda: 2)
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    model = tmp_path / "milp.yaml"
    model.write_text("extends: tiny.yaml\nsolver:\n  method: milp\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["solve", str(model), "--out", str(out), "--time-limit",
                                      "7"])
    assert result.exit_code == code, result.output
    assert said in result.output
    assert "Infeasible" not in result.output and "cannot all be met" not in result.output
    assert "Traceback" not in result.output and not out.exists()
    if termination == "maxTimeLimit":
        assert "found no network (maxTimeLimit) within 7s; raise --time-limit" in result.output
        # in Python and in a batch too: the exception's own words, the scenario's status
        late = NoNetworkInTime(["HiGHS found no network"])
        assert str(late) == "no network within the time limit:\n- HiGHS found no network"
        again = pickle.loads(pickle.dumps(late))  # as a batch worker would send it back
        assert type(again) is NoNetworkInTime and again.reasons == late.reasons
        assert str(again) == str(late)
        spec = ScenarioSpec("late", str(model))
        assert failed_run(spec, late).status == "no_solution"
        assert failed_run(spec, Infeasible(["p1: no site"])).status == "infeasible"
        assert "busy" not in result.output
        # the same on a busy machine says so: its threads shared the cores with other work
        monkeypatch.setattr(machine, "load", lambda: 7.5)
        busy = CliRunner().invoke(app, ["solve", str(model), "--out", str(out),
                                        "--time-limit", "7"], env={"COLUMNS": "200"})
        assert busy.exit_code == EXIT_NO_NETWORK
        assert "the machine was busy (load 7.5 on 2 cores over the last minute)" in \
            " ".join(busy.output.split())
    else:
        assert "stopped without a network (licensingProblems)" in result.output




def test_command_lists_print_each_summary_as_one_sentence() -> None:
    """`--help` once broke a summary where its docstring's source line ended ("the
    return-policy trade-off" on a line of its own): on a wide terminal each summary is one
    line, the docstring's first paragraph with its words joined."""
    import inspect

    from netopt.cli.finance import finance
    from netopt.cli.importers import import_app

    wide = {"COLUMNS": "400"}
    out = CliRunner().invoke(app, ["--help"], env=wide)
    assert out.exit_code == 0, out.output
    summary = " ".join(inspect.getdoc(finance).split("\n\n")[0].split())
    assert "\n" in inspect.getdoc(finance).split("\n\n")[0]  # wrapped in the source
    assert summary in out.output
    assert "cost-vs-access frontier, whose points are solved cold" in out.output
    sub = CliRunner().invoke(app, ["import", "--help"], env=wide)
    assert sub.exit_code == 0, sub.output
    for info in import_app.registered_commands:
        first = inspect.getdoc(info.callback).split("\n\n")[0]
        assert " ".join(first.split()) in sub.output


@pytest.mark.parametrize(("args", "words"), [
    (["--time-limit", "0"], "'--time-limit': 0: give seconds above 0"),
    (["--time-limit", "-5"], "'--time-limit': -5: give seconds above 0"),
    (["--time-limit", "inf"], "'--time-limit': inf: give a finite number of seconds"),
    (["--gap", "-1"], "'--gap': -1: give a share from 0 to 1"),
    (["--gap", "5"], "'--gap': 5: give a share from 0 to 1"),
    (["--threads", "0"], "'--threads'"),
    (["--seed", "-1"], "'--seed'"),
])
def test_solver_numbers_on_the_command_line_are_checked_like_the_model_files(
        tmp_path: Path, args: list[str], words: str) -> None:
    """Before, `--time-limit -5` ran and recorded -5 s, `--time-limit 0` gave a network at a
    39 % gap with exit 0, and `--gap -1` ended in an internal error: each now exits 2
    naming the option, before any work (no result folder)."""
    out = tmp_path / "res"
    result = CliRunner().invoke(app, ["solve", str(TINY), "--out", str(out), *args],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not out.exists()


def test_solve_case_checks_its_overrides_like_the_model_file() -> None:
    from netopt.data.case import load_case
    from netopt.data.problems import InputError
    from netopt.results.pipeline import solve_case

    # named as the caller wrote them, the keyword arguments of the solve
    with pytest.raises(InputError, match=r"time_limit=': expected a number > 0"):
        solve_case(load_case(TINY), time_limit=-5)
    with pytest.raises(InputError, match=r"column 'gap='"):
        solve_case(load_case(TINY), gap=2.0)


@pytest.mark.parametrize("damage", ["truncated summary", "summary a list", "sites without active",
                                    "active neither true nor false"])
def test_a_damaged_result_folder_exits_2_naming_what_is_wrong(tmp_path: Path, damage: str) -> None:
    """Each used to end in an internal error (exit 1): JSONDecodeError, AttributeError,
    TypeError or KeyError: 'active', depending on the command."""
    good = tmp_path / "good"
    assert CliRunner().invoke(app, ["solve", str(TINY), "--out", str(good),
                                    "--no-report"]).exit_code == 0
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    if damage == "truncated summary":
        (bad / "summary.json").write_text('{"model": "tiny", ', encoding="utf-8")
        words = "summary.json"
    elif damage == "summary a list":
        (bad / "summary.json").write_text("[]", encoding="utf-8")
        words = "not the summary of a netopt solve"
    elif damage == "sites without active":
        sites = bad / "sites.csv"
        lines = sites.read_text(encoding="utf-8").split("\n")
        sites.write_text("\n".join([lines[0].replace(",active,", ",is_active,"), *lines[1:]]),
                         encoding="utf-8")
        words = "sites.csv has no column active"
    else:  # S1's active flag read as false: the network held without its one site (exit 0)
        sites = bad / "sites.csv"
        text = sites.read_text(encoding="utf-8")
        assert text.count(",True,") == 1
        sites.write_text(text.replace(",True,", ",maybe,"), encoding="utf-8")
        words = "sites.csv, row 2, column active: expected True or False (found 'maybe')"
    commands = [["report", str(bad), "--out", str(tmp_path / "r")],
                ["explain", str(bad), "S1"], ["resilience", str(bad)],
                ["evaluate", str(bad), str(TINY), "--out", str(tmp_path / "e"), "--no-report"]]
    if damage not in ("sites without active", "active neither true nor false"):
        commands.append(["finance", str(bad)])
    for command in commands:
        result = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
        assert result.exit_code == 2, (command, result.output)
        assert "internal error" not in result.output
    if damage != "summary a list":  # finance says "cannot read the result" in its words
        assert words in " ".join(result.output.split())


@pytest.mark.parametrize("verbose", [False, True])
def test_an_internal_error_is_one_line_and_verbose_gives_its_traceback(verbose: bool) -> None:
    """The message says "rerun with --verbose for the traceback"; --verbose printed the
    same line only (the traceback was logged below the level it sets)."""
    code = ("import netopt.cli.app as a\n"
            "def command(): raise RuntimeError('boom')\n"  # a command that fails
            "a.app = command\n"
            f"a._setup_logging({verbose})\n"  # what the root callback does with -v
            "a.main()\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1
    assert "internal error: RuntimeError: boom" in run.stderr
    assert ("Traceback (most recent call last)" in run.stderr) is verbose


def test_schema_markdown_is_one_line_a_row_and_keeps_to_its_table() -> None:
    """`data schema --markdown > schema.md` wrapped long rows at the console's width (the
    tables did not render) and printed every table when one was named."""
    result = CliRunner().invoke(app, ["data", "schema", "incidence", "--markdown"],
                                env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [ln for ln in lines if ln.startswith("### ")] == ["### `incidence.csv` (optional)"]
    rows = [ln for ln in lines if ln.startswith("|")]
    assert len(rows) >= 5 and all(ln.endswith("|") for ln in rows)
    whole = CliRunner().invoke(app, ["data", "schema", "--markdown"], env={"COLUMNS": "60"})
    assert whole.output.count("### ") == 12
