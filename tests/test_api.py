"""The Python API: the same network as the CLI, cases as values, errors that name the key."""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import folium
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import netopt
from netopt.cli.app import app

TINY = Path(__file__).parent / "data" / "tiny.yaml"
API_DOC = Path(__file__).parent.parent / "docs" / "python-api.md"
PUBLIC = ["Case", "Comparison", "Explanation", "Finance", "Infeasible", "InputError",
          "NoNetworkInTime", "Problem", "Resilience", "Result", "Simulation", "__version__",
          "compare", "evaluate", "explain", "finance", "load", "resilience", "simulate",
          "solve", "sweep"]

# S3 (NJ) is certified for oncology but refuses p1 at its price ceiling; raising the ceiling
# and asking for 90 % of patients within 100 km makes it the site that serves Beta (PA)
NEAR_EDITS = [{"table": "sites", "where": {"site_id": "S3"},
               "set": {"price_ceiling_usd_per_dose": 1000000}}]
NEAR_SETTINGS = {"service": {"within_km": 100, "min_share": 0.9}}


@pytest.fixture(scope="module")
def tiny() -> netopt.Case:
    return netopt.load(TINY)


@pytest.fixture(scope="module")
def near(tiny: netopt.Case) -> netopt.Case:
    return tiny.with_changes(edits=NEAR_EDITS, settings=NEAR_SETTINGS, name="tiny-near")


@pytest.fixture(scope="module")
def near_result(near: netopt.Case) -> netopt.Result:
    return netopt.solve(near)


def _project(tmp_path: Path) -> Path:
    """A project folder holding a copy of the tiny model and dataset."""
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    return tmp_path


# ---------------------------------------------------------------- same network as the CLI


def test_round_trip_matches_cli_solve(tmp_path: Path, near_result: netopt.Result) -> None:
    """load -> with_changes -> solve -> write equals `netopt solve` on a model file that
    spells out the same change: same files, same tables byte for byte, same objective."""
    project = _project(tmp_path)
    model = project / "near.yaml"
    model.write_text(yaml.safe_dump({"extends": "tiny.yaml", "name": "tiny-near",
                                     **NEAR_SETTINGS, "edits": NEAR_EDITS}))
    cli_out, api_out = tmp_path / "cli", tmp_path / "api"
    run = CliRunner().invoke(app, ["solve", str(model), "--out", str(cli_out)])
    assert run.exit_code == 0, run.output

    paths = near_result.write(api_out)
    assert sorted(p.name for p in paths) == sorted(p.name for p in cli_out.iterdir()
                                                   if p.name != "netopt-manifest.json")
    for name in ("sites.csv", "assignments.csv", "shipments.csv", "costs.csv", "kpis.csv",
                 "unserved.csv", "site_products.csv"):
        assert (api_out / name).read_bytes() == (cli_out / name).read_bytes(), name
    cli_summary = json.loads((cli_out / "summary.json").read_text())
    assert near_result.objective == pytest.approx(cli_summary["objective"], rel=1e-9)
    assert near_result.status == cli_summary["status"] == "optimal"
    settings = {k: v for k, v in near_result.summary["settings"].items() if k != "dataset"}
    assert settings == {k: v for k, v in cli_summary["settings"].items() if k != "dataset"}

    again = netopt.Result.read(api_out)
    assert isinstance(again, netopt.Result)
    assert again.objective == pytest.approx(near_result.objective, rel=1e-12)
    # the info of a folder read back is in the same units as a fresh solve's (it was in
    # USD where a fresh one is in k$, 1,000 times apart)
    assert again.info.objective == pytest.approx(near_result.info.objective, rel=1e-12)
    assert again.info.bound == pytest.approx(near_result.info.bound, rel=1e-12)


def test_analyses_of_a_changed_case_re_apply_its_changes(tmp_path: Path, near: netopt.Case,
                                                         near_result: netopt.Result) -> None:
    """A result of `with_changes` written to a folder: its model file alone is not what was
    solved. `netopt resilience` re-solved the model file as it stands, with a warning that
    it "changed since" (it had not). summary.json now carries the changes, and the analyses
    apply them again: S3's raised price ceiling and the 100-km service level are back, the
    inputs match the solve's, and the N-1 table is the one of the changed case itself."""
    from netopt.analysis.scenarios import case_of_result
    from netopt.data.case import inputs_changed

    out = tmp_path / "near"
    near_result.write(out, report=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["changes"] == {
        "settings": {"service.within_km": 100, "service.min_share": 0.9, "name": "tiny-near"},
        "edits": NEAR_EDITS}
    case = case_of_result(summary["model_file"], summary)
    assert case.sites.set_index("site_id").at["S3", "price_ceiling_usd_per_dose"] == 1000000
    assert case.config.service.min_share == 0.9 and case.name == "tiny-near"
    assert not inputs_changed(summary, case)
    run = CliRunner().invoke(app, ["resilience", str(out)], env={"COLUMNS": "300"})
    assert run.exit_code == 0, run.output
    assert "changed since" not in run.output
    from netopt.analysis.resilience import n_minus_1

    table = pd.read_csv(out / "resilience.csv")
    direct = n_minus_1(near, near_result)
    assert table["cost_usd"].tolist() == pytest.approx(direct.table["cost_usd"].tolist(),
                                                       rel=1e-9)
    assert (table["cost_usd"] - table["cost_increase_usd"]).iloc[0] == pytest.approx(
        direct.baseline_cost_usd, rel=1e-9)
    assert "changes" not in netopt.solve(netopt.load(TINY)).summary
    # a path or a set given to with_changes is written as JSON (TypeError before), and
    # read back as the same change
    other = netopt.load(TINY).with_changes(settings={"dataset": TINY.parent / "tiny",
                                                     "products": {"p1"}})
    written = netopt.solve(other)
    written.write(tmp_path / "other", report=False)
    back = json.loads((tmp_path / "other" / "summary.json").read_text())["changes"]
    assert back["settings"] == {"dataset": str(TINY.parent / "tiny"), "products": ["p1"]}
    assert case_of_result(TINY, {"changes": back}).config.products == ["p1"]


def test_solve_of_something_else_is_a_type_error_that_says_so() -> None:
    with pytest.raises(TypeError, match="solve takes a Case .netopt.load. or a model file's "
                                        "path, not int"):
        netopt.solve(42)


def test_changed_case_gives_the_hand_computed_network(near_result: netopt.Result) -> None:
    """90 % of 30 patients = 27 within 100 km. Alpha's 10 are 11 km from S1; Beta's 20 are
    170 km from S1 and 85 km from S3, so 17 of them go to S3. S3 holds no cryogenic class:
    the partner P1 (fixed $20k, $500/dose) is cheaper than equipment ($90k/yr)."""
    sites = near_result.sites.set_index("site_id")
    assert sites.at["S3", "decision"] == "opened"
    assert sites.at["S3", "patients_per_year"] == pytest.approx(17.0)
    assert sites.at["S3", "partners_linked"] == "P1"
    costs = near_result.costs.set_index("term")["usd_per_year"]
    assert costs["site_activation"] == pytest.approx(200_000 / 5)  # amortised over 5 years
    assert costs["partner_fixed"] == pytest.approx(20_000)
    assert costs["partner_handling"] == pytest.approx(17 * 500)
    assert costs["total"] == pytest.approx(near_result.objective)


def test_unchanged_case_solves_like_the_model_file(tiny: netopt.Case) -> None:
    """Without changes the API solves the model file as it stands: S1 serves all 30."""
    result = netopt.solve(TINY)
    assert result.objective == pytest.approx(netopt.solve(tiny).objective, rel=1e-12)
    assert result.summary["patients_served"] == pytest.approx(30.0)
    assert result.sites.set_index("site_id").at["S1", "patients_per_year"] == \
        pytest.approx(30.0)


# ---------------------------------------------------------------- cases are values


def test_with_changes_leaves_the_original_untouched(tiny: netopt.Case) -> None:
    tables = {name: frame.copy() for name, frame in tiny.tables.items()}
    config = tiny.config.model_dump()
    dearer = tiny.with_changes(
        edits=[{"table": "products", "where": {"product_id": "p1"},
                "scale": {"price_usd_per_dose": 1.2}}],
        settings={"service": {"min_share": 0.5}})
    assert dearer.products["price_usd_per_dose"].tolist() == [480_000.0]
    assert dearer.config.service.min_share == 0.5
    assert tiny.products["price_usd_per_dose"].tolist() == [400_000.0]
    assert tiny.config.model_dump() == config
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(tiny.tables[name], frame)

    both = dearer.with_changes(settings={"demand_scale": 2})  # changes accumulate
    assert both.products["price_usd_per_dose"].tolist() == [480_000.0]
    assert both.config.service.min_share == 0.5
    # 10 per 100k of 300k people, doubled
    assert both.patients_by_product()["p1"] == pytest.approx(60.0)
    assert dearer.config.demand_scale == 1.0


def test_tables_are_copies(tiny: netopt.Case) -> None:
    sites = tiny.sites
    sites["capacity_patients_per_year"] = 0.0
    assert tiny.sites["capacity_patients_per_year"].tolist() == [50.0, 50.0, 50.0]


def test_dotted_and_nested_settings_are_the_same_change(tiny: netopt.Case) -> None:
    nested = tiny.with_changes(settings={"service": {"within_km": 120}})
    dotted = tiny.with_changes(settings={"service.within_km": 120})
    assert nested.config == dotted.config
    assert nested.config.service.within_km == 120
    assert nested.config.service.min_share == tiny.config.service.min_share


@pytest.mark.parametrize(("changes", "column", "words"), [
    ({"settings": {"service": {"min_shar": 0.9}}}, "service.min_shar", "unknown setting"),
    ({"settings": {"service.min_share": 1.5}}, "service.min_share", "expected a share between 0"),
    ({"settings": {"solver": {"threads": 0}}}, "solver.threads", "expected a number >= 1"),
    ({"settings": {"extends": "other.yaml"}}, "extends", "cannot be changed"),
    ({"settings": {"edits": []}}, "edits", "edits="),
    ({"edits": [{"table": "prods", "set": {"name": "x"}}]}, "edits.0.table", "unknown table"),
    ({"edits": [{"table": "products", "where": {"productid": "p1"},
                 "set": {"name": "x"}}]}, "edits.0.where", "unknown column 'productid'"),
    ({"edits": [{"table": "products", "sett": {"name": "x"}}]}, "edits[0].sett",
     "unknown key"),
    ({"edits": [{"table": "products", "set": {"price_usd_per_dose": "abc"}}]},
     "price_usd_per_dose", "expected a number"),
    # the dotted value won without a word
    ({"settings": {"service": {"min_share": 0.5}, "service.min_share": 0.9}},
     "service.min_share", "given twice"),
])
def test_bad_change_raises_input_error_naming_it(tiny: netopt.Case, changes: dict,
                                                 column: str, words: str) -> None:
    with pytest.raises(netopt.InputError) as caught:
        tiny.with_changes(**changes)
    problems = caught.value.problems
    assert any(p.column == column and words in p.message for p in problems), problems
    assert f"'{column}'" in str(caught.value)


@pytest.mark.parametrize(("changes", "words"), [
    ({"settings": [("service.min_share", 0.5)]}, "settings= takes a mapping"),
    ({"edits": {"table": "products", "set": {"name": "x"}}}, "wrap a single edit in a list"),
])
def test_a_change_of_the_wrong_shape_is_a_type_error_that_says_so(
        tiny: netopt.Case, changes: dict, words: str) -> None:
    """A list of pairs for settings= ended in AttributeError ('list' has no 'items'); one
    edit not in a list in "not 'table'" (its keys taken for edits)."""
    with pytest.raises(TypeError, match=words):
        tiny.with_changes(**changes)


def test_every_bad_setting_is_reported_at_once(tiny: netopt.Case) -> None:
    with pytest.raises(netopt.InputError) as caught:
        tiny.with_changes(settings={"service": {"min_share": 2, "within": 5},
                                    "demand_scale": -1})
    assert sorted(p.column for p in caught.value.problems) == [
        "demand_scale", "service.min_share", "service.within"]


def test_load_reports_the_model_file_line(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "typo.yaml").write_text("extends: tiny.yaml\nservice:\n  within_kms: 100\n")
    with pytest.raises(netopt.InputError) as caught:
        netopt.load(project / "typo.yaml")
    [problem] = caught.value.problems
    assert (problem.row, problem.column) == (3, "service.within_kms")
    assert problem.file.endswith("typo.yaml")


def test_infeasible_case_raises_with_reasons(tiny: netopt.Case) -> None:
    strict = tiny.with_changes(settings={"service": {"within_km": 5, "min_share": 0.99}})
    with pytest.raises(netopt.Infeasible) as caught:
        netopt.solve(strict)
    assert any("service level" in r and "p1" in r for r in caught.value.reasons)


# ---------------------------------------------------------------- results and comparison


def test_map_is_a_folium_map(near_result: netopt.Result) -> None:
    assert isinstance(near_result.map(), folium.Map)


def test_compare_cases_matches_direct_solves(tmp_path: Path, tiny: netopt.Case,
                                             near: netopt.Case,
                                             near_result: netopt.Result) -> None:
    direct = [netopt.solve(tiny).objective, near_result.objective]
    comparison = netopt.compare([tiny, near], names=["base", "near"])
    rows = comparison.rows
    assert rows["scenario"].tolist() == ["base", "near"]
    assert rows["status"].tolist() == ["optimal", "optimal"]
    assert rows["objective_usd"].tolist() == pytest.approx(direct, rel=1e-9)
    assert comparison.site_changes[["site_id", "change"]].values.tolist() == [["S3", "opened"]]
    assert [r.status for r in comparison.runs] == ["optimal", "optimal"]
    # each scenario's result is the API's own Result (the review found internal Results,
    # without .objective, .gap or .map(), beside the Result of an item handed in)
    for batch in (comparison, netopt.compare([near_result, tiny], names=["near", "base"])):
        assert all(type(r) is netopt.Result for r in batch.results.values())
    assert comparison.results["near"].objective == pytest.approx(direct[1], rel=1e-9)
    assert comparison.results["near"]._solved_from is near  # the analyses' default case=

    # results already at hand are used as they are; a parallel batch rebuilds the recipe
    from_results = netopt.compare([netopt.solve(tiny), near_result], names=["base", "near"])
    assert from_results.rows["objective_usd"].tolist() == pytest.approx(direct, rel=1e-9)
    parallel = netopt.compare([tiny, near], names=["base", "near"], workers=2)
    assert parallel.rows["objective_usd"].tolist() == pytest.approx(direct, rel=1e-9)

    paths = comparison.write(tmp_path)
    assert sorted(p.name for p in paths) == ["compare.csv", "compare.html", "compare.xlsx",
                                             "facility_changes.csv", "site_changes.csv",
                                             "term_changes.csv"]
    assert pd.read_csv(tmp_path / "compare.csv")["scenario"].tolist() == ["base", "near"]
    assert "scenarios/" not in (tmp_path / "compare.html").read_text(encoding="utf-8")

    # each scenario's whole result, solved here or handed in, as --scenario-folders writes
    for batch in (comparison, from_results):
        batch.write(tmp_path, scenario_folders=True)
        for name, objective in zip(("base", "near"), direct, strict=True):
            back = netopt.Result.read(tmp_path / "scenarios" / name)
            assert back.objective == pytest.approx(objective, rel=1e-9)
            assert (tmp_path / "scenarios" / name / "report.html").is_file()
        assert "href='scenarios/near/report.html'" in (tmp_path / "compare.html").read_text(
            encoding="utf-8")
    comparison.write(tmp_path, report=False)
    assert not (tmp_path / "scenarios").exists()  # the next batch clears them


def test_compare_results_gives_the_rows_of_compare_cases(tiny: netopt.Case) -> None:
    """A result handed to compare lost its ordering parts: the ordering_*_usd columns were
    NaN beside a solved case's figures, or missing from compare.csv when every item was a
    result. Its row is now made as a solved case's is; only timings and the start differ."""
    from netopt.analysis.scenarios import TIMING_COLUMNS

    cases = netopt.compare([tiny, tiny], names=["a", "b"]).rows
    results = netopt.compare([netopt.solve(tiny), netopt.solve(tiny)], names=["a", "b"]).rows
    mixed = netopt.compare([netopt.solve(tiny), tiny], names=["a", "b"]).rows
    parts = [c for c in cases.columns if c.startswith("ordering_")]
    assert parts and cases[parts].notna().all().all()
    skip = [*TIMING_COLUMNS, "start"]
    pd.testing.assert_frame_equal(results.drop(columns=skip), cases.drop(columns=skip))
    pd.testing.assert_frame_equal(mixed.drop(columns=skip), cases.drop(columns=skip))


def test_compare_reports_a_bad_scenario_as_a_row(tmp_path: Path, tiny: netopt.Case) -> None:
    comparison = netopt.compare([tiny, tmp_path / "missing.yaml"])
    assert comparison.rows["status"].tolist() == ["optimal", "invalid"]
    assert "not found" in comparison.rows["reason"].iloc[1]


# ---------------------------------------------------------------- the public surface


def test_public_names_are_exactly_the_documented_ones() -> None:
    assert sorted(netopt.__all__) == sorted(PUBLIC)
    doc = API_DOC.read_text(encoding="utf-8")
    for name in netopt.__all__:
        obj = getattr(netopt, name)
        if name == "__version__":
            assert re.fullmatch(r"\d+\.\d+\.\d+", obj)
            continue
        own = inspect.getdoc(obj) or ""
        assert own.strip() and not own.startswith(f"{name}("), f"{name} needs a docstring"
        assert f"`{name}" in doc or f"`netopt.{name}" in doc, f"{name} not in python-api.md"


@pytest.mark.parametrize("func", [
    netopt.load, netopt.solve, netopt.compare, netopt.Case.with_changes, netopt.Result.map,
    netopt.Result.write, netopt.Comparison.write, netopt.evaluate, netopt.explain,
    netopt.resilience, netopt.simulate, netopt.finance, netopt.Resilience.write,
    netopt.Simulation.write, netopt.Finance.write])
def test_public_functions_are_typed_and_documented(func: types.FunctionType) -> None:
    signature = inspect.signature(func)
    assert signature.return_annotation is not inspect.Signature.empty, func.__qualname__
    for param in signature.parameters.values():
        if param.name != "self":
            assert param.annotation is not inspect.Parameter.empty, (func, param.name)
    assert inspect.getdoc(func), func.__qualname__


def test_import_is_lazy() -> None:
    """`import netopt` loads neither pandas nor Pyomo nor HiGHS (they cost about a second)."""
    code = ("import sys, netopt; print([m for m in ('pandas', 'pyomo', 'highspy') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_solve_stays_the_function_after_the_solver_module_loads() -> None:
    """Loading the pipeline and the solver package must leave `netopt.solve` the API function
    (the solve stage lives in `netopt.solver`, so no submodule shadows it)."""
    import netopt.results.pipeline  # noqa: F401 - imports the solver package
    from netopt.solver.highs import SolveInfo

    assert isinstance(netopt.solve, types.FunctionType)
    # SolveInfo lives in solver/info.py (HiGHS and the other solvers share it); highs.py
    # re-exports it for the code that imported it from there
    assert SolveInfo.__module__ == "netopt.solver.info"


def test_a_case_changed_in_place_is_refused_naming_the_change() -> None:
    """`case.config.demand_scale = 2` was used by solve (60 patients) but not by compare or
    with_changes (30), and the summary recorded no change: one case, two answers. A case
    changed in place is now refused, naming the setting or table and the way to change it."""
    case = netopt.load(TINY)
    case.config.demand_scale = 2
    with pytest.raises(netopt.InputError) as err:
        netopt.solve(case)
    (problem,) = err.value.problems
    assert problem.column == "config.demand_scale" and "(1.0 -> 2.0)" in problem.message
    assert "case.with_changes(settings={'demand_scale': 2.0})" in problem.message
    with pytest.raises(netopt.InputError, match="demand_scale"):
        netopt.compare([case])
    edited = netopt.load(TINY)
    edited.tables["zones"].loc[:, "population"] *= 10
    with pytest.raises(netopt.InputError, match="table 'zones' changed in place"):
        edited.with_changes(settings={"service.within_km": 300})
    # the way the message gives is the one that works, and copies stay free to change
    fresh = netopt.load(TINY)
    zones = fresh.zones  # a copy: changing it leaves the case as it is
    zones.loc[:, "population"] *= 10
    doubled = netopt.solve(fresh.with_changes(settings={"demand_scale": 2}))
    assert doubled.summary["patients_demand"] == pytest.approx(60.0)


def test_wrong_arguments_say_what_to_pass() -> None:
    """compare([]) raised KeyError 'objective_usd', compare(case) 'object of type Case has
    no len()', and solve(time_limit=0) blamed 'solve_case, column solver.time_limit'."""
    case = netopt.load(TINY)
    with pytest.raises(ValueError, match=r"at least one scenario: compare\(\[baseline"):
        netopt.compare([])
    with pytest.raises(TypeError, match="a list of scenarios .* not Case"):
        netopt.compare(case)
    with pytest.raises(netopt.InputError) as err:
        netopt.solve(case, time_limit=0, gap=2)
    assert [(p.file, p.column, p.value) for p in err.value.problems] == [
        ("solve arguments", "time_limit=", "0"), ("solve arguments", "gap=", "2")]
    # a per cent for the gap is answered as the model file's share settings are
    assert err.value.problems[1].message == \
        "expected a share between 0 and 1: write 0.02 for 2 %"


def test_result_tables_are_copies_and_the_network_cost_is_the_headline(
        near_result: netopt.Result) -> None:
    """`r.sites.loc[..., "active"] = False` changed the result's own table (write and
    compare used it) while summary and kpis still said otherwise; and the examples printed
    the objective, penalty included, as the 'annual cost'."""
    sites = near_result.sites
    sites.loc[:, "active"] = False
    assert near_result.sites["active"].any()
    costs = near_result.costs.set_index("term")["usd_per_year"]
    assert near_result.network_cost == pytest.approx(
        costs["total"] - costs.get("unserved_penalty", 0.0))
    assert near_result.network_cost == pytest.approx(near_result.summary["network_cost_usd"])


def test_sweep_solves_each_combination_of_settings(tiny: netopt.Case) -> None:
    """netopt.sweep names its scenarios as `netopt sweep` does and each row is the solve of
    the case with those settings; a value out of bounds is refused before any solve."""
    comparison = netopt.sweep(tiny, {"service.min_share": [0, 1], "service.within_km": 100},
                              gap=0)
    assert comparison.rows["scenario"].tolist() == ["min_share=0,within_km=100",
                                                    "min_share=1,within_km=100"]
    for share, objective in zip((0, 1), comparison.rows["objective_usd"], strict=True):
        direct = netopt.solve(tiny.with_changes(settings={
            "service.min_share": share, "service.within_km": 100}), gap=0)
        assert objective == pytest.approx(direct.objective, rel=1e-9)
    assert comparison.rows["objective_usd"].iloc[1] > comparison.rows["objective_usd"].iloc[0]
    with pytest.raises(netopt.InputError, match="expected a share between 0 and 1") as err:
        netopt.sweep(tiny, {"service.min_share": [0, 90]})
    assert err.value.problems[0].file == "netopt.sweep grid"  # not a with_changes the user
    # never called; and an unknown setting is an InputError too (it was a ValueError)
    with pytest.raises(netopt.InputError, match="did you mean 'service.min_share'"):
        netopt.sweep(tiny, {"service.min_shar": [0.1]})
    with pytest.raises(ValueError, match="grid of settings"):
        netopt.sweep(tiny, {})
