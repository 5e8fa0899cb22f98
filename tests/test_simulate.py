"""`netopt simulate`: the disruption simulation of a solved network.

Acceptance of the issue: no disruption -> 100 % on schedule and the optimizer's flows (within
sampling error); more weather never helps; seeded and reproducible; a hand-checked tiny case;
the CLI writes tables and HTML (exit 0) and refuses a bad result folder (exit 2).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from netopt.analysis.simulation import SimNetwork, Static, load_network, run_replication, simulate
from netopt.analysis.simulation.stats import t_quantile_975
from netopt.analysis.simulation.weather import SEASONS, build_calendar
from netopt.cli.app import app
from netopt.cli.common import EXIT_INVALID
from netopt.data.case import load_case
from netopt.data.config import SimulationSettings
from netopt.data.problems import InputError
from netopt.report.workbook import write_workbook
from netopt.results.pipeline import solve_case

ROOT = Path(__file__).resolve().parents[1]
US_SMALL = ROOT / "models" / "us-small.yaml"
TINY = ROOT / "tests" / "data" / "tiny.yaml"
QUIET = dict(transit_sigma=0.0, missed_cutoff_probability=0.0, postpone_probability=0.0,
             closure_probability_per_day={}, closure_probability_by_region={})


def _solve(model: Path, out: Path, air_usd_per_km: float | None = None) -> Path:
    case = load_case(model)
    if air_usd_per_km is not None:
        transport = case.tables["transport"]
        transport.loc[transport["mode"] == "air", "cost_usd_per_shipment_km"] = air_usd_per_km
    result = solve_case(case)
    result.write(out)
    write_workbook(result, out / "network.xlsx")
    return out


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory: pytest.TempPathFactory, small_solution) -> Path:  # noqa: ANN001
    out = tmp_path_factory.mktemp("us-small")
    result = copy.deepcopy(small_solution)  # us-small solved as _solve does (conftest.py)
    result.write(out)
    write_workbook(result, out / "network.xlsx")
    return out


@pytest.fixture(scope="session")
def small_net(small_dir: Path) -> SimNetwork:
    return load_network(small_dir)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the hand-checked times below are ground lanes: air priced above ground ($3 x 1.1 per
    # great-circle km against $2 x 1.25), so the cheapest mode that fits is ground (#15)
    return _solve(TINY, tmp_path_factory.mktemp("tiny"), air_usd_per_km=3.0)


@pytest.fixture(scope="session")
def tiny_net(tiny_dir: Path) -> SimNetwork:
    return load_network(tiny_dir)


def _settings(**updates: object) -> SimulationSettings:
    return SimulationSettings.model_validate({**SimulationSettings().model_dump(), **updates})


# ---------------------------------------------------------------- no disruption


def test_no_disruption_is_on_schedule_and_matches_the_optimizer_flows(
        small_net: SimNetwork) -> None:
    reps = 20
    sim = simulate(small_net, _settings(**QUIET, replications=reps, seed=3))
    per_rep = sim.tables["replications"]
    assert (per_rep["on_schedule_pct"] == 100.0).all()
    assert (per_rep["doses_wasted_per_year"] == 0).all()
    assert (per_rep["doses_not_administered_per_year"] == 0).all()
    assert (per_rep["patient_delay_p99_days"] == 0).all()
    assert (per_rep["doses_delayed_by_closure_per_year"] == 0).all()

    # doses per site and product: N patients ~ Poisson(lambda), doses = N x doses/patient, so
    # the mean over R replications has standard error dpp x sqrt(lambda / R)
    sp = sim.tables["site_products"]
    dpp = sp["product_id"].map(small_net.products["doses_per_patient"])
    lam = sp["model_patients_per_year"]
    assert np.allclose(sp["model_doses_per_year"], lam * dpp, rtol=1e-6)  # optimizer's own
    se = dpp * np.sqrt(lam / reps)
    z = (sp["doses_per_year"] - sp["model_doses_per_year"]) / se
    assert len(sp) > 20
    assert (z.abs() <= 4).all(), sp.assign(z=z)[z.abs() > 4]  # 4 SE: ~30 pairs at once
    total_se = math.sqrt(((dpp**2) * lam).sum() / reps)
    total_z = (sp["doses_per_year"].sum() - sp["model_doses_per_year"].sum()) / total_se
    assert abs(total_z) <= 3

    # shipments per hub against the optimizer's hubs.csv, same Poisson argument per lane
    lanes = small_net.lanes
    lam_lane = lanes["doses_per_year"] / lanes["product_id"].map(
        small_net.products["doses_per_patient"])
    ratio = (lanes["product_id"].map(small_net.products["doses_per_patient"])
             * lanes["shipments_per_dose"])
    var = (ratio**2 * lam_lane).groupby(lanes["hub_id"]).sum() / reps
    hubs = sim.tables["hubs"]
    ships = hubs[hubs["kpi"] == "shipments_per_year"].set_index("hub_id")
    for hub, v in var.items():
        diff = ships.at[hub, "mean"] - ships.at[hub, "model_shipments_per_year"]
        assert abs(diff) <= 4 * math.sqrt(v), (hub, diff, math.sqrt(v))
    unused = ships.drop(index=var.index)
    assert (unused["mean"] == 0).all() and (unused["model_shipments_per_year"] == 0).all()


# ---------------------------------------------------------------- weather


def test_more_weather_never_raises_on_schedule(small_net: SimNetwork) -> None:
    """Same seed, rising closure probability: per replication, closed days only grow and
    the on-schedule share only falls (postponements and transit noise stay on)."""
    levels = [0.0, 0.002, 0.01, 0.05, 0.2]
    runs = []
    for p in levels:
        s = _settings(replications=4, seed=11, closure_probability_by_region={},
                      closure_probability_per_day=dict.fromkeys(SEASONS, p))
        runs.append(simulate(small_net, s).tables["replications"])
    on = np.array([r["on_schedule_pct"].to_numpy() for r in runs])
    closed = np.array([r["hub_closed_days_per_year"].to_numpy() for r in runs])
    assert (np.diff(on, axis=0) <= 1e-12).all(), on
    assert (np.diff(closed, axis=0) >= 0).all(), closed
    assert (on[-1] < on[0] - 5).all()  # 20 % daily closure starts hurt a lot
    assert (closed[0] == 0).all() and (closed[-1] > 50).all()


def test_calendar_closes_the_given_season_and_more_probability_adds_closures() -> None:
    rng = np.random.default_rng(0)
    winter_only = np.array([[1.0, 0.0, 0.0, 0.0]])
    cal = build_calendar(winter_only, 400, 1.0, rng)
    closed_days = np.flatnonzero(cal.closed[0])
    # Jan + Feb (days 0-58), then December (334-364) into the next January and February
    # up to the calendar's end (day 399)
    expected = np.r_[0:59, 334:400]
    assert np.array_equal(closed_days, expected)
    assert not cal.closed[1].any()  # the "no hub" row never closes
    days = np.array([0, 58, 59, 100, 334, 500])
    # past the calendar every day is open
    assert cal.next_open(np.zeros(6, dtype=np.int64), days).tolist() == [59, 59, 59, 100,
                                                                          400, 500]
    low = np.random.default_rng(5).random((6, 4)) * 0.05
    cal_low = build_calendar(low, 365, 2.5, np.random.default_rng(9))
    cal_high = build_calendar(low * 3, 365, 2.5, np.random.default_rng(9))
    assert (cal_high.closed | ~cal_low.closed).all()  # every low closure is also a high one
    assert cal_high.closed.sum() > cal_low.closed.sum()


# ---------------------------------------------------------------- reproducibility


def test_same_seed_identical_tables_different_seed_differs(small_net: SimNetwork) -> None:
    a = simulate(small_net, _settings(replications=3, seed=7))
    b = simulate(small_net, _settings(replications=3, seed=7))
    c = simulate(small_net, _settings(replications=3, seed=8))
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert not a.tables["replications"].equals(c.tables["replications"])
    assert a.kpi("patients_per_year") != c.kpi("patients_per_year")


# ---------------------------------------------------------------- hand-checked tiny case


def test_tiny_postponement_waste_is_as_hand_computed(tiny_net: SimNetwork) -> None:
    """Tiny: one autologous cryogenic product (shelf 240 h - buffer 24 h = 216 h), one lane
    L1 -> H1 -> S1 of 9.76 h, turnaround 17 days, slack 12 h. Every patient postpones.

    Dispatched 9.76 + 12 = 21.76 h before the planned infusion, a dose postponed d days is
    infused 21.76 + 24 d h after dispatch: d = 8 -> 213.8 h <= 216, kept (8 days late);
    d = 9 -> 237.8 h > 216, wasted. Its replacement is a new cycle started at the missed
    appointment: 17 days + 9.76 h transit -> the 10:00 slot 18 days after the plan.
    Planned vein-to-vein: 9.76 h in + 17 d + 9.76 h out + 12 h slack = 18.3 d -> 19 days.
    """
    lane = tiny_net.lanes.iloc[0]
    assert len(tiny_net.lanes) == 1 and lane["transit_hours"] == pytest.approx(9.7635, abs=1e-3)
    assert tiny_net.inbound["inbound_hours"].iloc[0] == pytest.approx(9.7635, abs=1e-3)
    assert lane["turnaround_days"] == 17

    quiet = _settings(**QUIET, replications=1, seed=1)
    o = run_replication(Static.build(tiny_net, quiet), quiet, 0)
    assert o.dose_patient.size > 10
    assert (o.patient_v2v_days == 19).all() and (o.dose_delay_days == 0).all()

    kept = _settings(**{**QUIET, "postpone_probability": 1.0}, postpone_delay="fixed",
                     postpone_mean_days=8, replications=1, seed=1)
    o = run_replication(Static.build(tiny_net, kept), kept, 0)
    assert o.dose_wasted.sum() == 0
    assert (o.dose_delay_days == 8).all() and not o.dose_on_schedule.any()
    assert (o.patient_v2v_days == 19 + 8).all()

    lost = kept.model_copy(update={"postpone_mean_days": 9.0})
    o = run_replication(Static.build(tiny_net, lost), lost, 0)
    n = o.dose_patient.size
    assert o.dose_wasted.sum() == n and o.dose_administered.all()
    assert (o.dose_delay_days == 18).all()
    sim = simulate(tiny_net, lost)
    assert sim.kpi("doses_wasted_per_year") == n
    assert sim.kpi("waste_cost_usd_per_year") == 100_000 * n  # tiny COGS: $100k per dose
    assert sim.kpi("patient_delay_p50_days") == 18


def test_tiny_shipper_hold_below_transit_wastes_every_attempt(tiny_net: SimNetwork) -> None:
    """A 5 h cryogenic shipper on a 9.76 h lane: each dose and both replacements are
    wasted on arrival, so nothing is administered and waste = 3 x doses."""
    s = _settings(**QUIET, shipper_hold_hours={"cryogenic": 5.0}, max_replacements=2,
                  replications=1, seed=2)
    o = run_replication(Static.build(tiny_net, s), s, 0)
    n = o.dose_patient.size
    assert n > 10
    assert o.dose_wasted.sum() == 3 * n and not o.dose_administered.any()
    sim = simulate(tiny_net, s)
    assert sim.kpi("doses_not_administered_per_year") == n
    assert sim.kpi("on_schedule_pct") == 0.0


def test_t_quantile_matches_tables() -> None:
    assert t_quantile_975(1) == 12.706
    assert t_quantile_975(30) == 2.042
    assert t_quantile_975(40) == pytest.approx(2.021, abs=1e-3)
    assert t_quantile_975(120) == pytest.approx(1.980, abs=1e-3)
    assert math.isnan(t_quantile_975(0))


def test_settings_reject_bad_probabilities() -> None:
    with pytest.raises(ValueError, match="less than or equal to 1") as err:
        SimulationSettings(closure_probability_by_region={"west": {"summer": 1.5}})
    # the value is named where it stands, for the model file's line and column
    assert err.value.errors()[0]["loc"] == ("closure_probability_by_region", "west", "summer")
    with pytest.raises(ValueError):
        SimulationSettings(closure_probability_per_day={"monsoon": 0.1})


# ---------------------------------------------------------------- CLI


def test_cli_writes_tables_html_and_sheet(small_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "res"
    shutil.copytree(small_dir, work)
    sheets = openpyxl.load_workbook(work / "network.xlsx").sheetnames
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", str(work), "--replications", "3", "--seed", "4"])
    assert result.exit_code == 0, result.output
    out = work / "simulation"
    for name in ("kpis", "products", "hubs", "site_products", "delays", "replications"):
        assert (out / f"{name}.csv").is_file(), name
    kpis = pd.read_csv(out / "kpis.csv")
    assert list(kpis.columns[:5]) == ["kpi", "unit", "mean", "ci_low", "ci_high"]
    assert (kpis["replications"] == 3).all()
    on = kpis.set_index("kpi").loc["on_schedule_pct"]
    assert 50 < on["mean"] <= 100 and on["ci_low"] <= on["mean"] <= on["ci_high"]
    page = (out / "simulation.html").read_text()
    assert page.count("<svg") >= 3 and "on schedule" in page
    # its waste is not the stock's expiries, which finance.csv has: the page says so
    assert "Stock is simulated as per-patient shipments" in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["replications"] == 3 and summary["settings"]["seed"] == 4
    wb = openpyxl.load_workbook(work / "network.xlsx")
    assert wb.sheetnames == [*sheets, "simulation"]
    sheet = wb["simulation"]
    assert [c.value for c in sheet[3][:7]] == ["KPI", "Unit", "Mean", "95 % CI low",
                                               "95 % CI high", "Replications", "kpi (kpis.csv)"]
    first = [c.value for c in sheet[4][:7]]
    assert first[0] == "Patients per year" and first[6] == "patients_per_year"
    assert first[2] == pytest.approx(kpis.set_index("kpi").at["patients_per_year", "mean"])
    assert sheet.freeze_panes == "B4"

    again = runner.invoke(app, ["simulate", str(work), "--replications", "3", "--seed", "4",
                                "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    for name in ("kpis", "products", "hubs", "delays", "replications"):
        assert (out / f"{name}.csv").read_bytes() == (tmp_path / "again" / f"{name}.csv"
                                                      ).read_bytes(), name
    assert openpyxl.load_workbook(work / "network.xlsx").sheetnames.count("simulation") == 1


def test_cli_bad_result_folder_exits_2(small_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["simulate", str(tmp_path / "nope")])
    assert missing.exit_code == EXIT_INVALID
    assert "result folder not found" in missing.output

    garbled = tmp_path / "garbled"
    shutil.copytree(small_dir, garbled)
    (garbled / "summary.json").write_text("{not json")
    out = runner.invoke(app, ["simulate", str(garbled)])
    assert out.exit_code == EXIT_INVALID and "summary.json" in out.output
    assert "not valid JSON" in out.output and "Traceback" not in out.output

    broken = tmp_path / "broken"
    shutil.copytree(small_dir, broken)
    ships = pd.read_csv(broken / "shipments.csv")
    ships.drop(columns=["transit_hours"]).to_csv(broken / "shipments.csv", index=False)
    assign = pd.read_csv(broken / "assignments.csv", dtype=str)
    assign.loc[2, "patients_per_year"] = "many"
    assign.to_csv(broken / "assignments.csv", index=False)
    out = runner.invoke(app, ["simulate", str(broken)])
    assert out.exit_code == EXIT_INVALID
    assert "shipments.csv, row 1, column 'transit_hours': required column missing" in out.output
    assert "assignments.csv, row 4, column 'patients_per_year'" in out.output

    moved = tmp_path / "moved"
    shutil.copytree(small_dir, moved)
    summary = json.loads((moved / "summary.json").read_text())
    summary["model_file"] = str(tmp_path / "gone.yaml")
    (moved / "summary.json").write_text(json.dumps(summary))
    out = runner.invoke(app, ["simulate", str(moved)])
    assert out.exit_code == EXIT_INVALID and "--model" in out.output
    ok = runner.invoke(app, ["simulate", str(moved), "--model", str(US_SMALL),
                             "--replications", "2"])
    assert ok.exit_code == 0, ok.output


def test_load_network_reports_every_problem(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("[]")
    with pytest.raises(InputError) as info:
        load_network(tmp_path)
    text = "\n".join(map(str, info.value.problems))
    assert "expected a JSON object" in text
    for name in ("assignments", "shipments", "hubs", "site_products"):
        assert f"{name}.csv: missing result table" in text


def test_cli_reads_settings_from_the_model_file(tiny_dir: Path, tmp_path: Path) -> None:
    """The model file's `simulation:` section drives the run; CLI options override it; a
    misspelt setting is an input error naming the file and line."""
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    model = tmp_path / "sim.yaml"
    model.write_text("extends: tiny.yaml\nsimulation:\n  days: 200\n  replications: 2\n"
                     "  postpone_probability: 0\n")
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", str(tiny_dir), "--model", str(model),
                              "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    settings = json.loads((tmp_path / "a" / "summary.json").read_text())["settings"]
    assert (settings["days"], settings["replications"]) == (200, 2)
    assert settings["postpone_probability"] == 0
    res = runner.invoke(app, ["simulate", str(tiny_dir), "--model", str(model), "--days", "50",
                              "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["settings"]["days"] == 50

    model.write_text("extends: tiny.yaml\nsimulation:\n  dayz: 200\n")
    res = runner.invoke(app, ["simulate", str(tiny_dir), "--model", str(model)])
    assert res.exit_code == EXIT_INVALID
    assert "sim.yaml" in res.output and "dayz" in res.output
    res = runner.invoke(app, ["simulate", str(tiny_dir), "--replications", "0"])
    assert res.exit_code == EXIT_INVALID and "--replications" in res.output


def test_solved_product_values_win_over_an_edited_dataset(tiny_dir: Path,
                                                          tmp_path: Path) -> None:
    """The simulation follows the parameters the solve used (the result's products.csv), and
    says so when the model's dataset has changed since: with a 30 h shelf life (24 h buffer)
    the 9.76 h lane wastes every attempt."""
    work = tmp_path / "res"
    shutil.copytree(tiny_dir, work)
    products = pd.read_csv(work / "products.csv")
    products.loc[products["product_id"] == "p1", "shelf_life_hours"] = 30.0
    products.to_csv(work / "products.csv", index=False)
    net = load_network(work)
    assert any("p1.shelf_life_hours" in w for w in net.warnings)
    assert net.products.at["p1", "shelf_budget_hours"] == 6.0
    s = _settings(**QUIET, replications=1, seed=2, max_replacements=0)
    o = run_replication(Static.build(net, s), s, 0)
    assert o.dose_patient.size > 10
    assert (o.dose_wasted == 1).all() and not o.dose_administered.any()


def test_split_starting_material_keeps_each_hub_at_the_model_load(tmp_path: Path) -> None:
    """tiny with a second hub and H1's capacity cut to 40 shipments: the model sends 20 of
    S1's 30 patients through H1 (a dose and the cells: 40 shipments, full) and 10 through H2
    (20). With no disruption each hub must carry that load in expectation; drawing every
    patient's cells through the busiest starting-material lane put 48 a year through H1
    (120 % of its capacity) and 10 through H2."""
    data = tmp_path / "two-hubs"
    shutil.copytree(TINY.parent / "tiny", data)
    hubs = pd.read_csv(data / "hubs.csv", dtype=str, keep_default_na=False)
    hubs.loc[0, "capacity_shipments_per_year"] = "40"
    hubs.loc[1] = ["H2", "Philadelphia hub", "3PL B", "PHL", "39.87", "-75.24", "cryogenic",
                   "40", "60000", "250", "18:00", "existing"]
    hubs.to_csv(data / "hubs.csv", index=False)
    model = tmp_path / "two-hubs.yaml"
    model.write_text("name: two-hubs\ndataset: two-hubs\n")
    net = load_network(_solve(model, tmp_path / "out"))
    reps = 100
    sim = simulate(net, _settings(**QUIET, replications=reps, seed=0))
    ships = sim.tables["hubs"]
    ships = ships[ships["kpi"] == "shipments_per_year"].set_index("hub_id")
    assert ships.at["H1", "model_shipments_per_year"] == pytest.approx(40.0)
    assert ships.at["H2", "model_shipments_per_year"] == pytest.approx(20.0)
    # a hub's cells and doses are two thinned Poisson counts of S1's 30 patients: variance
    # at most (1 + 1)^2 x 20 for H1 and 4 x 10 for H2, per replication
    for hub, model_load, var in (("H1", 40.0, 80.0), ("H2", 20.0, 40.0)):
        assert abs(ships.at[hub, "mean"] - model_load) <= 4 * math.sqrt(var / reps), hub


def test_a_share_s_interval_stays_within_0_and_100() -> None:
    """Two replications at 40 % and 100 % on schedule: mean 70 %, half-width 12.706 x
    42.43 / sqrt 2 = 381 points; the interval was -311..451 %, now 0..100. A utilisation
    may pass 100 % (overload), so its bound is left as computed."""
    from netopt.analysis.simulation.stats import summarise

    values = pd.DataFrame({"on_schedule_pct": [40.0, 100.0],
                           "hub_peak_day_utilisation_pct": [90.0, 130.0]})
    rows = summarise(values).set_index("kpi")
    half = t_quantile_975(1) * float(np.std([40.0, 100.0], ddof=1)) / math.sqrt(2)
    assert rows.at["on_schedule_pct", "mean"] == pytest.approx(70.0)
    assert (rows.at["on_schedule_pct", "ci_low"], rows.at["on_schedule_pct", "ci_high"]) \
        == (0.0, 100.0)
    peak_half = t_quantile_975(1) * float(np.std([90.0, 130.0], ddof=1)) / math.sqrt(2)
    assert rows.at["hub_peak_day_utilisation_pct", "ci_high"] == pytest.approx(
        110.0 + peak_half)
    assert 70.0 + half > 100.0  # what the share's bound was


def test_planned_vein_to_vein_is_that_of_the_lanes_the_network_uses() -> None:
    """The simulation's "model plan" vein-to-vein was site_products.csv's, the best over
    every plant that makes the product: on us-small 17.7 days (PL02, 16-day turnaround,
    unused) against 22.4 on the PL01 lanes every CAR-T patient took, a 5-day slip that was
    not there. Now the chosen delivery lanes', weighted by their doses: (10 x 20 + 30 x 24)
    / 40 = 23. Starting-material legs, lanes without a figure and lanes carrying nothing
    do not count."""
    from netopt.analysis.simulation.network import _planned_vein_to_vein

    shipments = pd.DataFrame({
        "leg": ["direct", "direct", "starting_material", "direct", "direct"],
        "site_id": ["S1", "S1", "S1", "S1", "S2"],
        "product_id": ["k", "k", "k", "k", "j"],
        "doses_per_year": [10.0, 30.0, 40.0, 0.0, 5.0],
        "vein_to_vein_days": [20.0, 24.0, 99.0, 5.0, math.nan]})
    assert _planned_vein_to_vein(shipments) == {("S1", "k"): pytest.approx(23.0)}


def test_an_autologous_partner_delivery_takes_the_plant_of_its_supply(tmp_path: Path) -> None:
    """tiny with S3's price ceiling raised and 90 % of patients within 100 km: S3 treats 17
    of Beta's patients through the partner P1 (no cryogenic class of its own). Reading that
    delivery lane ended in "internal error: KeyError: 'plant_id'": the supply row picked by
    partner, product and plant kept the plant in its index only. The lane now carries the
    plant that made the patient's cells, as the supply leg names it."""
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    model = tmp_path / "near.yaml"
    model.write_text("name: near\ndataset: tiny\nservice:\n  within_km: 100\n"
                     "  min_share: 0.9\nedits:\n  - table: sites\n    where: {site_id: S3}\n"
                     "    set: {price_ceiling_usd_per_dose: 1000000}\n")
    net = load_network(_solve(model, tmp_path / "out"))
    via = net.lanes[net.lanes["leg"] == "partner_delivery"]
    supply = pd.read_csv(tmp_path / "out" / "shipments.csv")
    supply = supply[supply["leg"] == "partner_supply"]
    assert via["site_id"].tolist() == ["S3"]
    assert via["plant_id"].tolist() == supply["plant_id"].tolist()
    assert via["partner_id"].tolist() == ["P1"] and via["hub_id"].tolist() == ["H1"]
