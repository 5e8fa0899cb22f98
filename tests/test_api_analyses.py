"""The analyses in Python (`netopt.evaluate`, `explain`, `resilience`, `simulate`,
`finance`): the figures and files of the commands on the same result, the case a result was
solved from by default, and the commands' refusals.

On the tiny case changed as in test_api.py (`near`: S3 raised above its price ceiling and 90 %
of patients within 100 km, so S3 serves 17 of Beta's patients with the partner P1), so that
the default case is visibly the changed one and not the model file as it stands.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from test_api import NEAR_EDITS, NEAR_SETTINGS, TINY
from test_finance import make_case
from typer.testing import CliRunner

import netopt
from netopt.cli.app import app
from netopt.report.finance import finance_totals, policy_mix
from netopt.report.simulation_files import TABLES as SIMULATION_TABLES

#: a simulation without disruptions: every dose on schedule (test_simulate.py)
QUIET = {"transit_sigma": 0.0, "missed_cutoff_probability": 0.0, "postpone_probability": 0.0,
         "closure_probability_per_day": {}, "closure_probability_by_region": {}}


@pytest.fixture(scope="module")
def near() -> netopt.Case:
    return netopt.load(TINY).with_changes(edits=NEAR_EDITS, settings=NEAR_SETTINGS,
                                          name="tiny-near")


@pytest.fixture(scope="module")
def near_result(near: netopt.Case) -> netopt.Result:
    return netopt.solve(near)


def _command(*args: str) -> str:
    """A command's output; it must succeed."""
    run = CliRunner().invoke(app, list(args), env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert run.exit_code == 0, run.output
    return run.output


def _written(result: netopt.Result, root: Path, report: bool = True) -> tuple[Path, Path]:
    """The result written twice: a folder for the command, one for the API's `.write`."""
    cli, api = root / "cli", root / "api"
    result.write(cli, report=report)
    result.write(api, report=report)
    return cli, api


# ---------------------------------------------------------------- the commands' figures


def test_resilience_is_the_table_netopt_resilience_writes(tmp_path: Path,
                                                          near_result: netopt.Result) -> None:
    """The one hub H1 out loses all 30 patients; P1 out loses none (S3 takes its cryogenic
    doses from H1 too). Written into the result's folder, the files are the command's, with
    the sheet and the report's link; into a new folder, the table and page alone."""
    cli, api = _written(near_result, tmp_path)
    _command("resilience", str(cli))
    res = netopt.resilience(near_result)
    pd.testing.assert_frame_equal(res.table, pd.read_csv(cli / "resilience.csv"))
    table = res.table.set_index("facility_id")
    assert table["extra_patients_unserved"].to_dict() == {"H1": 30.0, "P1": 0.0}
    # H1 supplies S1 and S3 (its starting material, and P1); P1 delivers to S3 alone
    assert table["sites_using"].to_dict() == {"H1": 2, "P1": 1}

    paths = res.write(api)
    assert sorted(p.name for p in paths) == ["network.xlsx", "report.html", "resilience.csv",
                                             "resilience.html"]
    assert (api / "resilience.csv").read_bytes() == (cli / "resilience.csv").read_bytes()
    assert (api / "resilience.html").read_bytes() == (cli / "resilience.html").read_bytes()
    assert "resilience" in load_workbook(api / "network.xlsx", read_only=True).sheetnames
    assert 'href="resilience.html"' in (api / "report.html").read_text(encoding="utf-8")
    assert (api / "report.html").read_bytes() == (cli / "report.html").read_bytes()
    alone = res.write(tmp_path / "alone")
    assert sorted(p.name for p in alone) == ["resilience.csv", "resilience.html"]
    other = tmp_path / "other"
    netopt.solve(TINY).write(other, report=False)
    with pytest.raises(ValueError, match="holds the results of another solve"):
        res.write(other)
    # nor among a dataset's input tables, as `netopt resilience --out` refuses it
    dataset = tmp_path / "dataset"
    shutil.copytree(TINY.parent / "tiny", dataset)
    with pytest.raises(ValueError, match=r"holds input tables netopt did not write \(.*sites"):
        res.write(dataset)
    assert not (dataset / "resilience.csv").exists()


def test_explain_gives_the_figures_netopt_explain_prints(tmp_path: Path,
                                                         near_result: netopt.Result) -> None:
    """S1 (existing, $100k/yr) forced closed: its 13 patients go to S3, which stays open;
    the cost by term, the moves and the limits are those the command prints."""
    folder = tmp_path / "near"
    near_result.write(folder, report=False)
    printed = _command("explain", str(folder), "S1")
    ex = netopt.explain(near_result, "S1")
    assert (ex.action, ex.method, ex.status) == ("forced closed", "held", "optimal")
    assert f"-> ${ex.forced_cost_usd:,.0f}/yr forced closed ({ex.difference_usd:+,.0f};" \
        in printed
    terms = ex.costs.set_index("term")["difference_usd"]
    assert terms["site_fixed"] == pytest.approx(-100_000)
    assert terms["total"] == pytest.approx(ex.difference_usd)
    lines = printed.splitlines()
    for r in ex.costs.itertuples(index=False):
        assert any(f" {r.term} " in line and f" {r.difference_usd:+,.0f} " in line
                   for line in lines), r.term
    moves = ex.moves_around()[["zone_id", "from_site", "to_site", "patients_per_year"]]
    assert moves.values.tolist() == [["Z1", "S1", "S3", 10.0], ["Z2", "S1", "S3", 3.0]]
    assert "Patients who move (13.0/yr" in printed
    assert ex.limits and all(f"  {line}" in printed for line in ex.limits)
    assert "S1 forced closed" in repr(ex) and "<table" in ex._repr_html_()

    again = _command("explain", str(folder), "S1", "--redesign")
    whole = netopt.explain(near_result, "S1", redesign=True)
    assert whole.method == "redesign"
    assert f"forced closed, the whole network re-solved ({whole.difference_usd:+,.0f};" \
        in again


def test_explain_lists_the_limits_that_bind(tmp_path: Path) -> None:
    """At 20 patients per 100k (60 patients) S1 runs full: its capacity binds, nothing else
    about it does (test_explain.py)."""
    full = netopt.load(TINY).with_changes(edits=[{
        "table": "products", "where": {"product_id": "p1"}, "set": {"incidence_per_100k": 20}}])
    ex = netopt.explain(netopt.solve(full, gap=0), "S1")
    assert ex.binding == ["capacity: 50.0 of 50.0 patients/yr - binds"]
    assert len(ex.limits) > len(ex.binding)
    assert "binds: capacity: 50.0 of 50.0" in repr(ex)


def test_evaluate_holds_the_network_as_netopt_evaluate(tmp_path: Path, near: netopt.Case,
                                                       near_result: netopt.Result) -> None:
    """Held in its own case the network costs its objective. Held in the model file as it
    stands, S3 cannot offer p1 (its price ceiling) and is held closed, with a warning, but
    P1 stays open: tiny's own optimum plus P1's $20k - the figure `netopt evaluate` writes."""
    own = netopt.evaluate(near_result, near)
    assert own.objective == pytest.approx(near_result.objective, rel=1e-9)
    folder = tmp_path / "near"
    near_result.write(folder, report=False)
    printed = _command("evaluate", str(folder), str(TINY), "--out", str(tmp_path / "held"),
                       "--no-report")
    assert "active site S3 of the network has no patients" in printed
    with pytest.warns(UserWarning, match="active site S3 of the network .* held closed"):
        held = netopt.evaluate(near_result, TINY)
    written = json.loads((tmp_path / "held" / "summary.json").read_text())
    assert held.objective == pytest.approx(written["objective"], rel=1e-12)
    assert held.objective == pytest.approx(netopt.solve(TINY).objective + 20_000, rel=1e-9)
    assert held.costs.set_index("term").at["partner_fixed", "usd_per_year"] == 20_000


def test_simulate_gives_the_tables_of_netopt_simulate(tmp_path: Path,
                                                      near: netopt.Case) -> None:
    """Without disruptions every dose is on schedule. The command, reading the folder (and
    the simulation settings from summary.json's changes), writes the same bytes as the
    API for the same seed; a folder read back simulates alike."""
    result = netopt.solve(near.with_changes(settings={"simulation": QUIET}))
    cli, api = _written(result, tmp_path)
    _command("simulate", str(cli), "--replications", "3", "--seed", "4")
    sim = netopt.simulate(result, replications=3, seed=4)
    kpis = sim.kpis.set_index("kpi")["mean"]
    assert kpis["on_schedule_pct"] == 100.0 and kpis["doses_wasted_per_year"] == 0.0
    assert (sim.settings.replications, sim.settings.seed) == (3, 4)

    paths = sim.write(api)
    assert {"network.xlsx", "report.html", "simulation.html"} <= {p.name for p in paths}
    for name in SIMULATION_TABLES:
        assert (api / "simulation" / f"{name}.csv").read_bytes() == \
            (cli / "simulation" / f"{name}.csv").read_bytes(), name
    assert "simulation" in load_workbook(api / "network.xlsx", read_only=True).sheetnames
    assert 'href="simulation/simulation.html"' in (api / "report.html").read_text(
        encoding="utf-8")
    assert (api / "report.html").read_bytes() == (cli / "report.html").read_bytes()
    back = netopt.simulate(netopt.Result.read(cli), replications=3, seed=4)
    pd.testing.assert_frame_equal(back.kpis, sim.kpis)


def test_finance_gives_the_tables_of_netopt_finance(tmp_path: Path) -> None:
    """A product whose notice JIT cannot meet, stock terms returnable at 50 %: the trade-off
    sweeps 0 to 100 % (50 % is today's), no site is less willing as returns grow, and the
    page and return_tradeoff.csv are the command's."""
    result = netopt.solve(make_case(tmp_path, notice=6.0))
    cli, api = _written(result, tmp_path)
    _command("finance", str(cli))
    fin = netopt.finance(result)
    trade = fin.tradeoff.set_index("returnable_fraction")
    assert trade.index.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert trade.at[0.5, "current_policy_products"] == "r1"
    assert trade["site_products_willing"].is_monotonic_increasing
    table = pd.read_csv(cli / "finance.csv", keep_default_na=False, na_values=[""])
    assert fin.totals == pytest.approx(finance_totals(table))
    pd.testing.assert_frame_equal(fin.policies, policy_mix(table))

    assert fin.thresholds["returnable_fraction_to_stock"].tolist() == [0.56, 0.75]

    paths = fin.write(api)
    assert sorted(p.name for p in paths) == ["finance.html", "report.html",
                                             "return_thresholds.csv", "return_tradeoff.csv"]
    for name in ("return_tradeoff.csv", "return_thresholds.csv", "finance.html"):
        assert (api / name).read_bytes() == (cli / name).read_bytes(), name
    assert 'href="finance.html"' in (api / "report.html").read_text(encoding="utf-8")
    assert (api / "report.html").read_bytes() == (cli / "report.html").read_bytes()


# ---------------------------------------------------------------- which case


def test_case_defaults_to_the_one_the_result_was_solved_from(
        tmp_path: Path, near: netopt.Case, near_result: netopt.Result) -> None:
    """A result of solve keeps its case; one read from a folder has it rebuilt from
    summary.json's model file and changes, as the commands rebuild it; without either the
    call says to pass case=. S1 closed costs otherwise in the model file as it stands,
    where S3 cannot take its patients: the default is the changed case."""
    kept = netopt.explain(near_result, "S1").difference_usd
    assert kept == pytest.approx(netopt.explain(near_result, "S1", case=near).difference_usd)
    assert kept != pytest.approx(netopt.explain(near_result, "S1", case=TINY).difference_usd)
    folder = tmp_path / "near"
    near_result.write(folder, report=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the inputs are those solved: no warning
        assert netopt.explain(netopt.Result.read(folder), "S1").difference_usd == \
            pytest.approx(kept, rel=1e-9)

    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "inputs_sha256": "0"}))
    with pytest.warns(UserWarning, match="changed since this result was solved"):
        netopt.explain(netopt.Result.read(folder), "S1")
    (folder / "summary.json").write_text(json.dumps({**summary, "model_file": "moved.yaml"}))
    with pytest.raises(ValueError, match=r"model file moved.yaml is not found\): pass case="):
        netopt.resilience(netopt.Result.read(folder))
    bare = netopt.Result(near_result.tables, near_result.info, {})
    with pytest.raises(ValueError, match=r"names no model file\): pass case="):
        netopt.finance(bare)
    pd.testing.assert_frame_equal(netopt.resilience(bare, case=near).table,
                                  netopt.resilience(near_result).table)


def test_a_launch_timeline_is_refused_as_the_commands_refuse_it(
        near_result: netopt.Result) -> None:
    """evaluate, explain and resilience answer for one steady-state year: the same refusal
    as `netopt evaluate / explain / resilience` (test_explain.py), naming the setting."""
    timeline = netopt.load(TINY).with_changes(settings={"timeline": {"periods": 2}})
    rollout = netopt.solve(timeline)
    for call, words in ((lambda: netopt.evaluate(near_result, timeline), "evaluate holds"),
                        (lambda: netopt.explain(rollout, "S2"), "explain flips one site"),
                        (lambda: netopt.resilience(rollout), "resilience takes one facility")):
        with pytest.raises(netopt.InputError) as err:
            call()
        (problem,) = err.value.problems
        assert problem.column == "timeline.periods" and problem.message.startswith(words)
        assert "but this model has a launch timeline of 2 periods" in problem.message


def test_wrong_arguments_say_what_to_pass(near_result: netopt.Result) -> None:
    with pytest.raises(netopt.InputError) as err:
        netopt.simulate(near_result, replications=0)
    assert [(p.file, p.column, p.value) for p in err.value.problems] == [
        ("simulate arguments", "replications=", "0")]
    with pytest.raises(netopt.InputError, match="time_limit="):
        netopt.resilience(near_result, time_limit=0)
    with pytest.raises(TypeError, match="takes a Result .* not str"):
        netopt.explain("reports/tiny", "S1")
    with pytest.raises(TypeError, match="netopt.evaluate takes a Case .* not int"):
        netopt.evaluate(near_result, 42)
    # explain's unknown site or product is named as this call's argument, not the command's
    # SITE_ID and --product
    with pytest.raises(netopt.InputError) as err:
        netopt.explain(near_result, "S9", product="zz")
    assert [(p.file, p.column, p.value) for p in err.value.problems] == [
        ("netopt.explain site=", None, "S9"), ("netopt.explain product=", None, "zz")]
