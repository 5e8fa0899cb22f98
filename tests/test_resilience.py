"""N-1 analysis (`netopt resilience`) and the backup-hub design setting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from netopt.analysis.resilience import n_minus_1
from netopt.cli.app import app
from netopt.data.case import load_case
from netopt.report.resilience import render_resilience, solved_note
from netopt.results.pipeline import solve_case

ROOT = Path(__file__).parents[1]
TINY = Path(__file__).parent / "data" / "tiny.yaml"
US_SMALL = ROOT / "models" / "us-small.yaml"
runner = CliRunner()


#: us-small's single-dose products: their network leans on two hubs, so losing one strands
#: patients (with the repeat-dose rdc_rx in scope, shipping every 3.5 days fills enough hubs
#: that every patient can be rerouted, and the N-1 table shows no weak point)
SINGLE_DOSE = ["cart_onc", "cart_ai", "aav_gt", "islet_ca"]


def _single_dose_case(tmp: Path, backup: bool):  # noqa: ANN202
    config = yaml.safe_load(US_SMALL.read_text())
    config["dataset"] = str((US_SMALL.parent / config["dataset"]).resolve())
    config["products"] = SINGLE_DOSE
    config["resilience"] = {"backup_hub": backup}
    path = tmp / f"single-dose-{backup}.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_case(path)


@pytest.fixture(scope="module")
def small(tmp_path_factory):  # noqa: ANN001, ANN201
    case = _single_dose_case(tmp_path_factory.mktemp("plain"), backup=False)
    return case, solve_case(case)


@pytest.fixture(scope="module")
def small_backup(tmp_path_factory):  # noqa: ANN001, ANN201
    case = _single_dose_case(tmp_path_factory.mktemp("backup"), backup=True)
    return case, solve_case(case)


def test_the_only_hub_out_loses_every_patient() -> None:
    """tiny: one hub carries every dose (the partner is supplied through it too)."""
    case = load_case(TINY)
    result = solve_case(case)
    res = n_minus_1(case, result)
    row = res.table.set_index("facility_id").loc["H1"]
    assert res.baseline_unserved == pytest.approx(0.0, abs=1e-6)
    assert row["extra_patients_unserved"] == pytest.approx(30.0, rel=1e-6)
    assert row["sites_using"] == 1
    assert row["doses_per_year_through"] == pytest.approx(30.0, rel=1e-6)


def test_sites_using_counts_sites_not_a_partner_s_supply_leg() -> None:
    """tiny with S3 allowed p1 and 90 % of patients within 100 km: S3 is served through the
    partner P1, which H1 supplies. The supply leg reaches no site: its site_id is "" in a
    solve's shipments table (NaN read back from shipments.csv), and counted as a site of its
    own it made H1 supply 3 sites and P1 2 in Python, 2 and 1 from the result folder."""
    case = load_case(TINY)
    sites = case.tables["sites"]
    sites.loc[sites["site_id"] == "S3", "price_ceiling_usd_per_dose"] = 1_000_000
    case.config.service.within_km, case.config.service.min_share = 100, 0.9
    result = solve_case(case)
    assert (result.shipments["site_id"] == "").any()  # the partner's supply leg
    table = n_minus_1(case, result).table.set_index("facility_id")
    assert table["sites_using"].to_dict() == {"H1": 2, "P1": 1}


def test_fixed_baseline_reproduces_the_solved_network(small) -> None:  # noqa: ANN001
    case, result = small
    res = n_minus_1(case, result)
    # same network, flows re-optimised: never worse than the solve, never below its bound
    assert res.baseline_cost_usd <= result.summary["objective"] * (1 + 1e-9)
    assert res.baseline_cost_usd >= result.summary["bound"] * (1 - 1e-9)
    assert res.baseline_unserved == pytest.approx(result.summary["patients_unserved"],
                                                  abs=1e-3)


def test_a_baseline_below_the_solve_says_why(small) -> None:  # noqa: ANN001
    """The page and the console explain a baseline under the solved network's cost; a
    baseline equal to it (to the dollar) gets no note."""
    case, result = small
    res = n_minus_1(case, result)
    assert res.solved_cost_usd == pytest.approx(result.summary["objective"], rel=1e-12)
    assert solved_note(replace(res, solved_cost_usd=res.baseline_cost_usd + 0.5)) == ""
    below = replace(res, solved_cost_usd=res.baseline_cost_usd + 250_000.0)
    note = solved_note(below)
    assert f"is $250,000 below the solved network's ${res.baseline_cost_usd + 250_000:,.0f}" \
        in note
    assert "re-solved to optimality" in note and "design rules" in note
    assert note in render_resilience(below, "us-small").replace("&#x27;", "'")
    assert "solved network's" not in render_resilience(
        replace(res, solved_cost_usd=None), "us-small")


def test_the_lead_names_the_worst_loss_or_without_one_the_costliest(small) -> None:  # noqa: ANN001
    case, result = small
    res = n_minus_1(case, result)
    top = res.table.iloc[0]
    assert top["extra_patients_unserved"] > 1  # a single point of failure: patients lost
    assert f"The worst is {top['name']}: " in render_resilience(res, "us-small").replace(
        "&#x27;", "'")
    calm = res.table.assign(extra_patients_unserved=0.0, penalty_increase_usd=0.0,
                            network_cost_increase_usd=125_000.0)
    page = render_resilience(replace(res, table=calm), "us-small").replace("&#x27;", "'")
    assert "None of the" in page and "The worst is" not in page
    assert f"The costliest is {top['name']}: $125 k a year more network cost." in page


def test_losing_a_facility_never_helps(small) -> None:  # noqa: ANN001
    case, result = small
    table = n_minus_1(case, result).table
    active = set(result.hubs.loc[result.hubs["active"], "hub_id"])
    assert set(table.loc[table["kind"] == "hub", "facility_id"]) == active
    assert (table["extra_patients_unserved"] >= -1e-6).all()
    assert (table["cost_increase_usd"] >= -1e-3).all()
    assert table["rank"].tolist() == list(range(1, len(table) + 1))


def test_backup_hubs_protect_patients_at_a_cost(small, small_backup) -> None:  # noqa: ANN001
    case, result = small
    case_b, result_b = small_backup
    base = n_minus_1(case, result).table
    resilient = n_minus_1(case_b, result_b).table
    assert base["extra_patients_unserved"].max() > 1.0  # the plain design has a weak point
    assert resilient["extra_patients_unserved"].max() < base["extra_patients_unserved"].max()
    assert result_b.summary["objective"] >= result.summary["bound"] * (1 - 1e-9)
    assert result_b.summary["hubs_active"] >= 2


def test_cli_writes_table_and_sheet(tmp_path: Path) -> None:
    out = tmp_path / "res"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(out)]).exit_code == 0
    res = runner.invoke(app, ["resilience", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "resilience.csv")
    assert table.loc[0, "facility_id"] == "H1"
    from openpyxl import load_workbook

    assert "resilience" in load_workbook(out / "network.xlsx", read_only=True).sheetnames


def test_report_rebuilt_afterwards_keeps_the_analysis_sheets(tmp_path: Path) -> None:
    """`netopt report` rebuilds network.xlsx from the result tables, which do not hold the
    sheets resilience and simulate add: it dropped them while their pages stayed linked."""
    from openpyxl import load_workbook

    out = tmp_path / "res"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(out)]).exit_code == 0
    assert runner.invoke(app, ["resilience", str(out)]).exit_code == 0
    sim = runner.invoke(app, ["simulate", str(out), "--replications", "2"])
    assert sim.exit_code == 0, sim.output

    def sheet_rows(name: str) -> list[tuple]:
        book = load_workbook(out / "network.xlsx")
        return [tuple(r) for r in book[name].iter_rows(values_only=True)]

    before = {name: sheet_rows(name) for name in ("resilience", "simulation")}
    rebuilt = runner.invoke(app, ["report", str(out)])
    assert rebuilt.exit_code == 0, rebuilt.output
    book = load_workbook(out / "network.xlsx")
    assert book.sheetnames[-2:] == ["resilience", "simulation"]
    assert {name: sheet_rows(name) for name in before} == before
    assert list(book["resilience"].tables) == ["t_resilience"]
    # a new solve replaces the analyses, and with them their sheets
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(out)]).exit_code == 0
    assert "resilience" not in load_workbook(out / "network.xlsx").sheetnames


def test_cli_on_a_missing_folder_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["resilience", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "not found" in res.output


def _with_threads(case, threads: int):  # noqa: ANN001, ANN202
    solver = case.config.solver.model_copy(update={"threads": threads})
    return replace(case, config=case.config.model_copy(update={"solver": solver}))


def test_worker_processes_give_the_same_table(small) -> None:  # noqa: ANN001
    """Two threads: the outages are solved by two worker processes, in whatever order they
    finish; the table is the one the in-process re-solves give."""
    case, result = small
    one = n_minus_1(case, result)
    two = n_minus_1(_with_threads(case, 2), result)
    assert two.baseline_cost_usd == pytest.approx(one.baseline_cost_usd, rel=1e-6)
    cols = ["facility_id", "status", "extra_patients_unserved", "cost_usd"]
    pd.testing.assert_frame_equal(two.table[cols], one.table[cols], rtol=1e-6)


def test_variants_match_fixing_and_solving_again(small) -> None:  # noqa: ANN001
    """The arrays path (the model handed to HiGHS once, each outage a column bound) finds
    the optimum the reference path finds: each hub fixed to 0 in Pyomo and solved anew."""
    from netopt.analysis.evaluate import chosen_network, fix_network
    from netopt.model.build import build_model
    from netopt.model.prepare import prepare
    from netopt.solver import variants

    case, result = small
    chosen = chosen_network(result)
    m = build_model(prepare(case))
    fix_network(m, chosen)
    settings = case.config.solver.model_copy(update={"warm_start": False, "mip_gap": 1e-6})
    cases = {None: [], **{h: [(m.g[h], 0.0, 0.0)] for h in sorted(chosen.hubs)}}
    fast = {key: info.objective for key, info in variants.solve_variants(m, settings, cases)}
    assert all(m.g[h].fixed and m.g[h].value == 1 for h in chosen.hubs)  # put back
    slow = {key: info.objective
            for key, info in variants._one_by_one(m, settings, cases, 60.0)}
    assert set(fast) == set(slow) == set(cases)
    for key, value in slow.items():
        assert fast[key] == pytest.approx(value, rel=1e-6), key
    assert min(fast[h] for h in chosen.hubs) > fast[None]  # each outage costs something


def test_round_off_never_ranks_an_outage() -> None:
    """Two outages that lose no patient, one by the LP's round-off: the costlier ranks first
    (the national N-1 ranked three hubs by a 3e-14 before this)."""
    from netopt.analysis.resilience import rank_outages

    table = pd.DataFrame({"facility_id": ["cheap", "costly", "loses"],
                          "patients_unserved": [5.0 + 2.8e-14, 5.0, 7.0],
                          "extra_patients_unserved": [2.8e-14, -1e-15, 2.0],
                          "cost_increase_usd": [10.0, 500.0, 1.0]})
    ranked = rank_outages(table)
    assert ranked["facility_id"].tolist() == ["loses", "costly", "cheap"]
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked["extra_patients_unserved"].tolist() == [2.0, 0.0, 0.0]
    assert str(ranked.loc[1, "extra_patients_unserved"]) == "0.0"  # not "-0.0"


def test_in_process_re_solves_after_a_two_thread_run() -> None:
    """HiGHS sizes its thread pool once per process and refuses a run that asks for another
    count: the in-process re-solves (threads 1) after a 2-thread solve in the same process
    must still solve (they reset the pool), not report the network unsolvable."""
    case = load_case(TINY)
    result = solve_case(_with_threads(case, 2))
    res = n_minus_1(case, result)
    assert res.table.set_index("facility_id").at["H1", "extra_patients_unserved"] == \
        pytest.approx(30.0, rel=1e-6)


def test_ctrl_c_stops_the_worker_processes() -> None:
    """Two workers in a MIP that never finishes (a market split, 60-s limit): Ctrl-C in the
    parent stops them at once; no worker is left running."""
    import multiprocessing
    import os
    import signal
    import threading
    import time

    from test_highs_clock import _market_split

    from netopt.data.config import SolverSettings
    from netopt.solver.variants import solve_variants

    m = _market_split()
    cases = {"a": [], "b": [(m.x[0], 1.0, 1.0)]}
    threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        list(solve_variants(m, SolverSettings(threads=2), cases, time_limit=60.0))
    assert time.perf_counter() - started < 15.0
    time.sleep(0.5)
    assert not [p for p in multiprocessing.active_children() if "forkserver" not in p.name
                and p.is_alive()]


def test_an_outage_below_min_active_is_measured_not_infeasible(tmp_path: Path) -> None:
    """tiny with a second hub (capacity 40 shipments, 20 autologous patients: a dose and the
    cells each take one) and `hubs.min_active: 2`: both hubs are active, H1 carries all 30
    patients. Without H1, H2 treats 20 and 10 are unserved; without H2 nobody moves. The
    minimum is a design rule: the outage must be priced, not reported infeasible."""
    data = tmp_path / "two-hubs"
    data.mkdir()
    for f in (TINY.parent / "tiny").iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    with (data / "hubs.csv").open("a") as out:
        out.write("H2,Philadelphia hub,3PL B,PHL,39.87,-75.24,cryogenic,40,60000,250,18:00,"
                  "existing\n")
    model = tmp_path / "two-hubs.yaml"
    model.write_text("name: two-hubs\ndataset: two-hubs\nhubs:\n  min_active: 2\n")
    case = load_case(model)
    result = solve_case(case)
    table = n_minus_1(case, result).table.set_index("facility_id")
    assert set(table["status"]) == {"optimal"}
    assert table.at["H1", "extra_patients_unserved"] == pytest.approx(10.0, abs=1e-6)
    assert table.at["H2", "extra_patients_unserved"] == pytest.approx(0.0, abs=1e-6)
    # H1 out: the 10 unserved cost their lost margin, 1 dose x (400,000 - 100,000)
    assert table.at["H1", "penalty_increase_usd"] == pytest.approx(3_000_000, rel=1e-9)
    assert list(table.index) == ["H1", "H2"]


def test_an_outage_is_priced_as_the_hub_excluded_by_an_edit(tmp_path: Path) -> None:
    """Each outage is the network held in the model with the facility excluded, as a user
    would price it (docs/disruptions.md: an `edits:` exclusion and `netopt evaluate`), plus
    the facility's contract, which is paid during an outage. Holding the network in the
    base model instead kept every stock option priced on the lost hub's lane: on us-small
    (rdc_rx consignment) Atlanta read +$1.25M instead of +$0.79M. Checked here on us-small's
    own products for its costliest outage."""
    from netopt.analysis.evaluate import chosen_network, fix_network
    from netopt.analysis.resilience import DESIGN_RULES
    from netopt.model.build import build_model
    from netopt.model.common import MONEY
    from netopt.model.prepare import prepare
    from netopt.solver.highs import solve_model
    from netopt.solver.variants import exact

    config = yaml.safe_load(US_SMALL.read_text())
    config["dataset"] = str((US_SMALL.parent / config["dataset"]).resolve())
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(config))
    case = load_case(tmp_path / "base.yaml")
    result = solve_case(case, time_limit=30)
    res = n_minus_1(case, result, partners=False)
    top = res.table.iloc[0]
    edit = {"table": "hubs", "where": {"hub_id": top["facility_id"]},
            "set": {"status": "excluded"}}
    (tmp_path / "out.yaml").write_text(yaml.safe_dump({**config, "edits": [edit]}))
    m = build_model(prepare(load_case(tmp_path / "out.yaml")))
    fix_network(m, chosen_network(result))
    for name in DESIGN_RULES:
        if getattr(m, name, None) is not None:
            getattr(m, name).deactivate()
    info = solve_model(m, exact(case.config.solver))
    fixed = case.hubs.set_index("hub_id").at[top["facility_id"], "annual_fixed_cost_usd"]
    assert top["cost_usd"] == pytest.approx(info.objective * MONEY + fixed, rel=1e-6)
    assert top["cost_increase_usd"] > 0


def test_an_outage_keeps_paying_for_what_it_cuts_off(tmp_path: Path) -> None:
    """tiny with H1 and P1 locked open: taking out H1, the only hub, leaves S1 and P1 without
    a lane, so the outage model (prepared without H1) has neither. Their costs are still
    paid: the network costs S1 $100k + H1 $100k + P1 $20k = $220,000 a year with every one
    of the 30 patients unserved ($9M of penalty: 30 x ($400k - $100k)). Only H1's contract
    was added back at first (network cost $100,000)."""
    (tmp_path / "tiny").symlink_to(TINY.parent / "tiny")
    model = tmp_path / "locked.yaml"
    model.write_text(TINY.read_text() + "hubs:\n  lock_open: [H1]\npartners:\n"
                     "  lock_open: [P1]\n")
    case = load_case(model)
    res = n_minus_1(case, solve_case(case))
    h1 = res.table.set_index("facility_id").loc["H1"]
    assert h1["network_cost_usd"] == pytest.approx(220_000.0, rel=1e-9)
    assert h1["penalty_increase_usd"] == pytest.approx(9_000_000.0, rel=1e-9)
    assert h1["extra_patients_unserved"] == pytest.approx(30.0, rel=1e-9)
