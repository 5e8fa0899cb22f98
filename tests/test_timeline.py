"""Multi-period launch timeline (issue #9): calendar and lead times by hand, the tiny case
over eight quarters against hand-computed figures, invariants of the timeline tables.

Tiny case (see tests/test_model.py): S1 existing and certified (capacity 50), S2 a candidate
near Z2 that needs onboarding for oncology and a cryogenic partner, S3 priced out. With
incidence 20 per 100k there are 60 patients a year: S1 takes 50, the other 10 need S2.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netopt.data.builders import committee_months
from netopt.data.case import Case, load_case
from netopt.data.config import JcodeSettings, TimelineSettings
from netopt.data.problems import InputError, errors
from netopt.model.build import build_model
from netopt.model.calendar import (
    calendar,
    earliest_period,
    factors,
    group_periods,
    next_meeting,
    period_label,
    plan_timeline,
    s_curve,
)
from netopt.model.prepare import prepare
from netopt.model.timeline import build_timeline_model
from netopt.results.pipeline import solve_case
from netopt.solver.diagnose import Infeasible
from netopt.solver.highs import solve_model

TINY = Path(__file__).parent / "data" / "tiny.yaml"
QUARTERS = 8


def tiny(patients_per_100k: float = 20.0, **timeline) -> Case:
    """The tiny case with an eight-quarter timeline (no discount unless given)."""
    case = load_case(TINY)
    case.tables["products"].loc[:, "incidence_per_100k"] = patients_per_100k
    settings = {"periods": QUARTERS, "discount_rate": 0.0} | timeline
    case.config.timeline = TimelineSettings(**settings)
    case.config.solver.mip_gap = 0.0
    return case


def set_site(case: Case, site: str, **values: object) -> Case:
    sites = case.tables["sites"]
    for column, value in values.items():
        sites[column] = sites[column].astype(object)
        sites.loc[sites["site_id"] == site, column] = [value]
    return case


# ---------------------------------------------------------------- calendar and lead times


def test_calendar_labels_dates_and_discount() -> None:
    periods = calendar(TimelineSettings(periods=5, start="2027-01", discount_rate=0.10))
    assert [p.label for p in periods] == ["2027 Q1", "2027 Q2", "2027 Q3", "2027 Q4",
                                          "2028 Q1"]
    assert periods[4].start == dt.date(2028, 1, 1)
    assert periods[0].discount_factor == 1.0  # discounted from each period's start
    assert periods[4].discount_factor == pytest.approx(1 / 1.10)
    assert periods[2].weight == pytest.approx(0.25 / 1.10 ** 0.5)
    assert period_label(dt.date(2027, 2, 1), 3) == "2027-02"  # not a calendar quarter
    assert period_label(dt.date(2027, 7, 1), 6) == "2027 H2"
    assert period_label(dt.date(2029, 1, 1), 12) == "2029"


def test_earliest_period_is_next_meeting_plus_lead_time() -> None:
    q = TimelineSettings(periods=12, start="2027-01")
    assert next_meeting(dt.date(2027, 1, 1), (10,)) == dt.date(2027, 10, 1)
    assert next_meeting(dt.date(2027, 11, 1), (1, 4, 7, 10)) == dt.date(2028, 1, 1)
    # Q4 meeting (1 Oct 2027) + 90 days = 30 Dec 2027: the first quarter starting after it
    assert earliest_period(q, (10,), 90) == 4  # 2028 Q1
    assert earliest_period(q, (10,), 120) == 5  # 29 Jan 2028 -> 2028 Q2
    assert earliest_period(q, (1,), 90) == 1  # 1 Jan + 90 days = 1 Apr: starts that day
    assert earliest_period(q, tuple(range(1, 13)), 0) == 0


def test_ramp_and_jcode_factors() -> None:
    settings = TimelineSettings(periods=6, ramp_periods=4, ramp={"a": [0.2, 0.6]},
                                jcode={"b": JcodeSettings(period=2, adoption_before_jcode=0.5,
                                                          price_factor_before_jcode=0.8)})
    demand, price = factors(settings, ["a", "b"])
    assert demand["a"].tolist() == [0.2, 0.6, 0.6, 0.6, 0.6, 0.6]  # the last value holds
    curve = [s_curve(t, 4) for t in range(6)]
    assert curve[3:] == [1.0, 1.0, 1.0] and curve[0] == pytest.approx(0.15625)
    assert demand["b"].tolist() == pytest.approx([c * (0.5 if t < 2 else 1.0)
                                                  for t, c in enumerate(curve)])
    assert price["b"].tolist() == [0.8, 0.8, 1.0, 1.0, 1.0, 1.0]


def test_identical_periods_share_a_block() -> None:
    demand = pd.DataFrame({"a": [0.5, 1, 1, 1, 1, 1]})
    price = pd.DataFrame({"a": [1.0] * 6})
    assert group_periods(demand, price, {"S": 3}, 0) == [[0], [1, 2], [3, 4, 5]]
    assert group_periods(demand, price, {}, 0, merge=False) == [[t] for t in range(6)]


def test_committee_months_of_the_shipped_data_are_derived_not_drawn() -> None:
    assert committee_months(0, existing=True) == ";".join(str(m) for m in range(1, 13))
    assert committee_months(1, existing=True) == "2;5;8;11"
    assert committee_months(5, existing=False) == "3;6;9;12"
    sites = load_case(Path(__file__).parents[1] / "models" / "us-small.yaml").sites
    assert all(1 <= int(m) <= 12 for months in sites["committee_months"] for m in months)


# ---------------------------------------------------------------- the three tests


def test_one_period_equals_the_single_period_model() -> None:
    """A one-year period at discount factor 1 is the single-period model: same optimum."""
    for objective in ("cost", "margin"):
        case = tiny(periods=1, period_months=12, discount_rate=0.10)
        case.config.objective = objective
        prep = prepare(case)
        single = solve_model(build_model(prep), case.config.solver)
        plan = plan_timeline(prep)
        assert plan.groups == [[0]]
        multi = solve_model(build_timeline_model(plan), case.config.solver)
        assert multi.objective == pytest.approx(single.objective, rel=1e-9)
    # and through the pipeline: periods: 1 is the ordinary run, without timeline tables
    result = solve_case(tiny(periods=1))
    assert "timeline_periods" not in result.tables
    assert "timeline" not in result.summary


def test_site_whose_committee_meets_in_q4_serves_no_one_before_q4_plus_lead_time() -> None:
    """S2's committee meets only in October; + 120 onboarding days = 29 Jan 2028, so S2 can
    take patients from 2028 Q2 (period 5). Until then S1's capacity (50) leaves 10 of the
    60 patients a year unserved: 2.5 a quarter."""
    case = set_site(tiny(), "S2", committee_months=("10",), onboarding_days=120.0)
    result = solve_case(case)
    sites = result.timeline_sites.set_index("site_id")
    assert sites.at["S2", "earliest_period"] == 5
    assert sites.at["S2", "first_active_period"] == 5
    assert sites.at["S2", "first_active_label"] == "2028 Q2"
    assert sites.at["S1", "first_active_period"] == 0  # existing, certified: from launch
    periods = result.timeline_periods.set_index("period")
    assert periods["patients_unserved"].tolist() == pytest.approx([2.5] * 5 + [0.0] * 3,
                                                                  abs=1e-6)
    assert periods["sites_active"].tolist() == [1] * 5 + [2] * 3
    # S2 needs the cryogenic partner: contracted from the period S2 treats
    assert periods["partners_active"].tolist() == [0] * 5 + [1] * 3
    # why they wait, per period: the site that treats them later and its lead time
    reasons = result.timeline_products["unserved_reason"].tolist()
    assert reasons[:5] == ["2.5 patients wait for sites that offer it later: Site Two (from "
                           "2028 Q2: committee and onboarding lead time)"] * 5
    assert reasons[5:] == [""] * 3
    # the 2.5 patients a quarter are priced by the unserved penalty, which is not cash: it
    # has its own column and stays out of the cost, the cash flow and the NPV
    penalty = float(prepare(case).products.at["p1", "penalty_usd_per_patient"])
    assert periods["penalty_usd"].tolist() == pytest.approx([2.5 * penalty] * 5 + [0.0] * 3)
    assert periods["cash_flow_usd"].to_numpy() == pytest.approx(-periods["cost_usd"].to_numpy())
    tl = result.summary["timeline"]
    assert tl["npv_usd"] == pytest.approx(periods["cash_flow_usd"].sum())  # no discount
    assert tl["penalty_npv_usd"] == pytest.approx(12.5 * penalty)
    assert tl["npv_usd"] - tl["penalty_npv_usd"] == pytest.approx(-result.summary["objective"])
    # the last quarter serves everyone: its cost is the steady network's year over four
    assert periods["cost_usd"].iloc[-1] == pytest.approx(
        0.25 * result.costs.set_index("term")["usd_per_year"].drop("total").sum())


def test_no_patient_at_s2_before_its_earliest_period() -> None:
    """At the model level: every pair of S2 carries zero patients in earlier blocks."""
    case = set_site(tiny(), "S2", committee_months=("10",), onboarding_days=120.0)
    plan = plan_timeline(prepare(case))
    m = build_timeline_model(plan)
    assert solve_model(m, case.config.solver).status == "optimal"
    s2 = [i for i, s in enumerate(plan.prep.pairs["site_id"]) if s == "S2"]
    for j, group in enumerate(plan.groups):
        served = sum(m.period[j].x[i].value or 0.0 for i in s2)
        if group[-1] < 5:
            assert served == pytest.approx(0.0, abs=1e-9)
        else:
            assert served == pytest.approx(10.0, rel=1e-6)


def test_delaying_the_jcode_never_raises_npv() -> None:
    """Margin objective, 30 patients a year all served at S1: a J-code arriving in period j
    costs, in each of the j quarters before it, (1 - adoption) x 30 patients' contribution
    and the price cut on the patients who are treated; nothing else changes."""
    adoption, price_factor, price, cogs = 0.6, 0.9, 400_000.0, 100_000.0
    npv = {}
    for j in (0, 1, 3, 5, QUARTERS):
        case = tiny(10.0, jcode={"p1": JcodeSettings(
            period=j, adoption_before_jcode=adoption, price_factor_before_jcode=price_factor)})
        case.config.objective = "margin"
        npv[j] = solve_case(case).summary["timeline"]["npv_usd"]
    values = [npv[j] for j in sorted(npv)]
    assert all(b <= a + 1e-6 for a, b in zip(values, values[1:], strict=False))
    # variable cost per patient (transport, hub handling, patient travel) of the single run
    base = load_case(TINY)
    base.config.objective = "margin"
    costs = solve_case(base).costs.set_index("term")["usd_per_year"]
    variable = (costs["transport"] + costs["hub_handling"] + costs["patient_travel"]) / 30
    per_quarter = 0.25 * 30 * ((1 - adoption) * (price - cogs - variable)
                               + adoption * price * (1 - price_factor))
    for j, value in npv.items():
        assert npv[0] - value == pytest.approx(j * per_quarter, rel=1e-6)


# ---------------------------------------------------------------- invariants


@pytest.fixture(scope="module")
def ramped():
    """Tiny over eight quarters with a ramp, a late J-code and a 10 % discount rate."""
    case = tiny(ramp_periods=4, discount_rate=0.10,
                jcode={"p1": JcodeSettings(period=3, adoption_before_jcode=0.7,
                                           price_factor_before_jcode=0.9)})
    case.config.objective = "margin"
    return case, solve_case(case)


def test_activation_never_goes_back(ramped) -> None:
    case, result = ramped
    active = result.timeline_periods["sites_active"].to_numpy()
    assert (np.diff(active) >= 0).all() and active[-1] == 2
    plan = plan_timeline(prepare(case))
    m = build_timeline_model(plan)
    solve_model(m, case.config.solver)
    for name in ("y", "o", "e"):
        for j in list(m.B)[1:]:
            now, before = getattr(m.period[j], name), getattr(m.period[j - 1], name)
            assert all((now[k].value or 0) >= (before[k].value or 0) - 1e-9 for k in now)


def test_served_within_demand_every_period(ramped) -> None:
    _, result = ramped
    for table in (result.timeline_periods, result.timeline_products):
        assert (table["patients_served"] <= table["patients_demand"] + 1e-6).all()
        assert (table["patients_served"] + table["patients_unserved"]).to_numpy() == \
            pytest.approx(table["patients_demand"].to_numpy(), abs=1e-6)
    # ramp x adoption: 60 patients/yr x S-curve(4) x 0.7 before the J-code, per quarter
    shares = [s_curve(t, 4) * (0.7 if t < 3 else 1.0) for t in range(QUARTERS)]
    assert result.timeline_periods["patients_demand"].tolist() == pytest.approx(
        [60 * 0.25 * s for s in shares])


def test_npv_is_the_sum_of_discounted_cash_flows(ramped) -> None:
    _, result = ramped
    periods = result.timeline_periods
    npv = result.summary["timeline"]["npv_usd"]
    assert npv == pytest.approx(periods["discounted_cash_flow_usd"].sum(), rel=1e-7)
    assert periods["cash_flow_usd"].to_numpy() == pytest.approx(
        (periods["revenue_usd"] - periods["cost_usd"]).to_numpy())
    assert periods["discount_factor"].to_numpy() == pytest.approx(
        1.1 ** (-0.25 * np.arange(QUARTERS)))
    # the last period's ordinary tables: 60 patients a year, the network at the end
    assert result.summary["patients_served"] == pytest.approx(60.0)
    assert result.summary["timeline"]["periods"] == QUARTERS


def test_merging_identical_periods_is_exact(ramped) -> None:
    case, result = ramped
    prep = prepare(case)
    merged, full = plan_timeline(prep), plan_timeline(prep, merge=False)
    assert len(merged.groups) < len(full.groups) == QUARTERS
    a = solve_model(build_timeline_model(merged), case.config.solver)
    b = solve_model(build_timeline_model(full), case.config.solver)
    assert a.objective == pytest.approx(b.objective, rel=1e-9)
    assert -a.objective * 1000 == pytest.approx(result.summary["timeline"]["npv_usd"])


def test_same_seed_same_result(ramped) -> None:
    case, first = ramped
    again = solve_case(case)
    for name in ("timeline_sites", "timeline_periods", "timeline_products", "sites"):
        pd.testing.assert_frame_equal(first.tables[name], again.tables[name])


def test_timeline_tables_round_trip(ramped, tmp_path: Path) -> None:
    from netopt.results.tables import Results

    _, result = ramped
    result.write(tmp_path)
    back = Results.read(tmp_path)
    sites = back.timeline_sites.set_index("site_id")
    assert sites.at["S2", "first_active_label"] == result.timeline_sites.set_index(
        "site_id").at["S2", "first_active_label"]
    assert np.isnan(sites.at["S3", "first_active_period"])  # never active: blank
    assert back.timeline_products.columns[-1] == "unserved_reason"
    assert list(back.timeline_periods.columns) == [
        "period", "label", "start_date", "years", "patients_demand", "patients_served",
        "patients_unserved", "sites_active", "hubs_active", "partners_active", "revenue_usd",
        "cost_usd",
        "cash_flow_usd", "penalty_usd", "discount_factor", "discounted_cash_flow_usd"]


# ---------------------------------------------------------------- requirements and errors


def test_requirement_before_the_sites_are_ready_is_explained() -> None:
    """Everyone within 50 km needs S2, which is ready only in 2027 Q3."""
    case = tiny()
    case.config.service.within_km = 50.0
    case.config.service.min_share = 1.0
    with pytest.raises(Infeasible) as err:
        solve_case(case)
    text = " ".join(err.value.reasons)
    assert "2027 Q1 to 2027 Q2: service level: product p1" in text
    case.config.timeline = case.config.timeline.model_copy(
        update={"requirements_from_period": 2})
    result = solve_case(case)
    assert result.timeline_sites.set_index("site_id").at["S2", "first_active_period"] == 2


def test_patients_untreated_before_their_site_is_ready_blame_its_lead_time() -> None:
    """Every patient must be treated, but S2 (committee in October, 120 onboarding days) can
    take the 10 a year that S1's capacity of 50 leaves only from 2028 Q2. The reason names
    S2's lead time and the inputs behind it, not capacity alone (a planner would raise S1's
    capacity or look for another site), and how to let the roll-out leave them."""
    case = set_site(tiny(), "S2", committee_months=("10",), onboarding_days=120.0)
    case.config.service.allow_unserved = False
    with pytest.raises(Infeasible) as err:
        solve_case(case)
    assert err.value.reasons == [
        "2027 Q1 to 2028 Q1: unserved demand not allowed, but 10.00 patients/yr of p1 in 1 "
        "zone(s) cannot be served: the sites within reach that offer it now (Site One) cannot "
        "take them all; not ready: Site Two from 2028 Q2 (P&T committee and onboarding lead "
        "time: sites.csv committee_months, onboarding_days). service.allow_unserved: true lets "
        "the roll-out leave them untreated at their penalty — Beta, PA"]
    # S2 ready from launch: S1 and S2 take them all, and the plan solves
    case = set_site(tiny(), "S2", committee_months=tuple(str(i) for i in range(1, 13)),
                    onboarding_days=0.0)
    case.config.service.allow_unserved = False
    assert solve_case(case).timeline_periods["patients_unserved"].max() == pytest.approx(
        0.0, abs=1e-6)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    proj = tmp_path / "proj"
    shutil.copytree(TINY.parent / "tiny", proj / "tiny")
    (proj / "pyproject.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(proj)
    return proj


def test_unknown_products_in_the_timeline_name_the_yaml_line(project: Path) -> None:
    (project / "model.yaml").write_text(
        "dataset: tiny\n"
        "timeline:\n"
        "  periods: 4\n"
        "  ramp:\n"
        "    p9: [0.5, 1]\n"
        "  jcode:\n"
        "    p1: {period: 2}\n"
        "    px: {period: 1}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_case("model.yaml")
    found = sorted((p.file, p.row, p.column, p.value) for p in errors(info.value.problems))
    assert found == [("model.yaml", 5, "timeline.ramp", "p9"),
                     ("model.yaml", 8, "timeline.jcode", "px")]


def test_bad_committee_month_names_the_row(project: Path) -> None:
    sites = project / "tiny" / "sites.csv"
    frame = pd.read_csv(sites, dtype=str, keep_default_na=False)
    frame["committee_months"] = ["1;7", "13", ""]
    frame.to_csv(sites, index=False)
    (project / "model.yaml").write_text("dataset: tiny\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_case("model.yaml")
    assert [(p.row, p.column, p.value) for p in errors(info.value.problems)] == [
        (3, "committee_months", "13")]


def test_one_period_timeline_settings_are_pointed_out(project: Path) -> None:
    (project / "model.yaml").write_text(
        "dataset: tiny\ntimeline:\n  ramp_periods: 4\n", encoding="utf-8")
    case = load_case("model.yaml")
    assert [(p.row, p.column, p.severity) for p in case.warnings] == [
        (3, "timeline.ramp_periods", "warning")]


def test_blank_committee_months_default_to_quarterly() -> None:
    case = load_case(TINY)
    assert case.sites["committee_months"].tolist() == [("1", "4", "7", "10")] * 3
