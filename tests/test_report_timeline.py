"""Tests for netopt.report.timeline: the launch-timeline section of the one-pager.

The timeline tables are built here by hand (synthetic, hand-checkable numbers in the documented
columns), so these tests do not depend on the multi-period solve: the tiny case is solved once
for a real single-period result and the timeline tables are added to it. Screenshots go to
pytest's tmp_path, never into the repository.
"""

from __future__ import annotations

import importlib.util
import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netopt.data.case import load_case
from netopt.report import write_reports
from netopt.report.common import fmt_usd
from netopt.report.details import render_details
from netopt.report.timeline import (
    NEGATIVE_COLOUR,
    POSITIVE_COLOUR,
    cash_flow_svg,
    gantt_svg,
    gantt_x,
    period_labels,
    stacked_area_svg,
    timeline_section,
)
from netopt.results.pipeline import solve_case
from netopt.results.tables import Results

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> \"q\" 'a' & b; "
CHROMIUM = shutil.which("chromium")
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian package `chromium` is not installed (apt-get install -y chromium); "
    "the offline screenshot check needs a headless browser")
URL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)
SVG_NS = "http://www.w3.org/2000/svg"


# ---------------------------------------------------------------- synthetic timelines

def _labels(n: int, start_year: int = 2027) -> list[str]:
    return [f"{start_year + i // 4} Q{i % 4 + 1}" for i in range(n)]


def make_timeline(n_periods: int = 12, n_existing: int = 3, n_new: int = 5,
                  n_never: int = 2, products: tuple[str, ...] = ("car_t", "gene"),
                  seed: int = 0) -> dict[str, pd.DataFrame]:
    """Timeline tables in the documented columns, with known activation periods.

    New site k may open from period 1 + k % 3 (its P&T committee + onboarding) and opens
    k // 2 periods after that, so some open as soon as they can and some are chosen later.
    """
    rng = np.random.default_rng(seed)
    labels = _labels(n_periods)
    states = ["TX", "CA", "NY", "FL", "IL", "OH", "GA", "MA"]
    rows = []
    for i in range(n_existing):
        rows.append({"site_id": f"E{i:03d}", "name": f"Existing Centre {i}",
                     "state": states[i % len(states)], "status": "existing",
                     "earliest_period": 0, "first_active_period": 0.0})
    for k in range(n_new):
        earliest = min(1 + k % 3, n_periods - 1)
        first = min(earliest + k // 2, n_periods - 1)
        rows.append({"site_id": f"N{k:03d}", "name": f"New Centre {k}",
                     "state": states[(k * 3) % len(states)], "status": "candidate",
                     "earliest_period": earliest, "first_active_period": float(first)})
    for j in range(n_never):
        rows.append({"site_id": f"X{j:03d}", "name": f"Never Centre {j}", "state": "WY",
                     "status": "candidate", "earliest_period": 2,
                     "first_active_period": math.nan})
    sites = pd.DataFrame(rows)
    sites["first_active_label"] = [labels[int(p)] if not math.isnan(p) else ""
                                   for p in sites["first_active_period"]]
    sites["products_offered_end"] = [";".join(products) if not math.isnan(p) else ""
                                     for p in sites["first_active_period"]]

    ramp = np.minimum(1.0, (np.arange(n_periods) + 1) / max(n_periods * 0.6, 1))
    prod_rows = []
    for p in range(n_periods):
        for j, pid in enumerate(products):
            demand = round(float(40 * (j + 1) * ramp[p] + rng.uniform(0, 3)), 3)
            served = round(demand * min(1.0, 0.55 + 0.05 * p), 3)
            prod_rows.append({"period": p, "label": labels[p], "product_id": pid,
                              "patients_demand": demand, "patients_served": served,
                              "patients_unserved": round(demand - served, 3)})
    prod = pd.DataFrame(prod_rows)

    active = [sum(1 for r in rows if not math.isnan(r["first_active_period"])
                  and r["first_active_period"] <= p) for p in range(n_periods)]
    per = prod.groupby("period")[["patients_demand", "patients_served",
                                  "patients_unserved"]].sum()
    revenue = per["patients_served"].to_numpy() * 90_000.0
    cost = 2_500_000.0 + 900_000.0 * np.array(active, dtype=float)
    cost[:4] += 12_000_000.0  # launch investment up front
    cash = revenue - cost
    factor = 1.0 / (1.10 ** (np.arange(n_periods) * 0.25))
    periods = pd.DataFrame({
        "period": range(n_periods), "label": labels,
        "start_date": [f"{2027 + p // 4}-{3 * (p % 4) + 1:02d}-01" for p in range(n_periods)],
        "years": 0.25, "patients_demand": per["patients_demand"].to_numpy(),
        "patients_served": per["patients_served"].to_numpy(),
        "patients_unserved": per["patients_unserved"].to_numpy(), "sites_active": active,
        "hubs_active": [2 + (p >= 4) for p in range(n_periods)], "revenue_usd": revenue,
        "cost_usd": cost, "cash_flow_usd": cash, "penalty_usd": 0.0,
        "discount_factor": factor,
        "discounted_cash_flow_usd": cash * factor,
    })
    return {"timeline_sites": sites, "timeline_periods": periods, "timeline_products": prod}


def with_timeline(result: Results, tables: dict[str, pd.DataFrame]) -> Results:
    """A copy of `result` carrying the timeline tables and summary keys."""
    periods = tables["timeline_periods"]
    summary = dict(result.summary)
    summary["timeline"] = {"periods": len(periods),
                           "npv_usd": float(periods["discounted_cash_flow_usd"].sum()),
                           "discount_rate": 0.10}
    return Results({**result.tables, **tables}, result.info, summary)


@pytest.fixture(scope="module")
def tiny() -> Results:
    return solve_case(load_case(TINY), threads=1, seed=0)


# ---------------------------------------------------------------- svg helpers

def _attrs(tag: str) -> dict[str, str]:
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def _tags(svg: str, name: str, cls: str | None = None) -> list[dict[str, str]]:
    out = [_attrs(t) for t in re.findall(rf"<{name}\b[^>]*>", svg)]
    return [a for a in out if cls is None or a.get("class") == cls]


def _rows_of(svg: str) -> list[tuple[str, dict[str, str]]]:
    """(site_id, active bar) per Gantt row, in drawing order."""
    return [(sid, _attrs(bar)) for sid, bar in re.findall(
        r'<g class="site" data-site="([^"]*)">.*?(<rect class="active"[^>]*>)', svg)]


# ---------------------------------------------------------------- Gantt

@pytest.mark.parametrize("dtype", ["float", "Int64"])  # Int64 + <NA>: as the solve writes it
def test_gantt_one_bar_per_activated_site_at_its_period(dtype: str) -> None:
    t = make_timeline(n_periods=12, n_existing=3, n_new=5, n_never=2)
    sites = t["timeline_sites"]
    sites["first_active_period"] = sites["first_active_period"].astype(dtype)
    sites["earliest_period"] = sites["earliest_period"].astype(dtype)
    svg = gantt_svg(t["timeline_sites"], t["timeline_periods"])
    rows = _rows_of(svg)
    activated = sites[sites["first_active_period"].notna()]
    assert sorted(sid for sid, _ in rows) == sorted(activated["site_id"])
    assert "X000" not in svg and "Never Centre" not in svg  # never active: no row
    assert len(_tags(svg, "rect", "active")) == len(activated)
    first = dict(zip(activated["site_id"], activated["first_active_period"], strict=True))
    end = gantt_x(12, 12)
    for sid, bar in rows:
        p = int(first[sid])
        assert float(bar["x"]) == pytest.approx(gantt_x(p, 12), abs=0.05), sid
        assert int(bar["data-period"]) == p
        assert float(bar["x"]) + float(bar["width"]) == pytest.approx(end, abs=0.15), sid
    # hand check: 12 periods over [250, 984] -> period 3 starts at 250 + 734 * 3 / 12
    assert gantt_x(3, 12) == pytest.approx(250 + 734 * 3 / 12, abs=0.05)


def test_gantt_order_and_wait_vs_chosen_later() -> None:
    t = make_timeline(n_periods=12, n_existing=3, n_new=5, n_never=0)
    svg = gantt_svg(t["timeline_sites"], t["timeline_periods"])
    order = [sid for sid, _ in _rows_of(svg)]
    s = t["timeline_sites"].set_index("site_id")
    existing = [i for i in order if s.loc[i, "status"] == "existing"]
    assert order[:len(existing)] == existing  # existing sites grouped on top
    later = order[len(existing):]
    keys = [(s.loc[i, "first_active_period"], s.loc[i, "state"], s.loc[i, "name"])
            for i in later]
    assert keys == sorted(keys)
    # N000: earliest 1, first 1 -> waits, no pale bar; N003: earliest 1, first 2 -> both
    groups = dict(re.findall(r'<g class="site" data-site="([^"]*)">(.*?)</g>', svg))
    assert 'class="wait"' in groups["N000"] and 'class="deferred"' not in groups["N000"]
    assert 'class="deferred"' in groups["N003"]
    deferred = _attrs(re.search(r'<rect class="deferred"[^>]*>', groups["N003"]).group(0))
    assert float(deferred["x"]) == pytest.approx(gantt_x(1, 12), abs=0.05)
    assert float(deferred["x"]) + float(deferred["width"]) == pytest.approx(gantt_x(2, 12),
                                                                             abs=0.15)
    assert 'class="wait"' not in groups["E000"]  # existing: nothing to wait for
    # existing and new bars are coloured apart
    fills = {sid: bar["fill"] for sid, bar in _rows_of(svg)}
    assert fills["E000"] != fills["N000"]
    # period labels on the axis: quarters per column, each year once
    assert svg.count(">Q1<") == 3 and all(f">{y}<" in svg for y in ("2027", "2028", "2029"))


def test_gantt_many_sites_stays_compact() -> None:
    t = make_timeline(n_periods=12, n_existing=100, n_new=60, n_never=5)
    svg = gantt_svg(t["timeline_sites"], t["timeline_periods"], max_rows=60)
    rows = _rows_of(svg)
    group = _tags(svg, "g", "site-group")
    assert len(group) == 1 and int(group[0]["data-count"]) == 100  # existing collapsed
    assert len(rows) == 59  # 60 rows budget minus the collapsed existing row
    more = re.search(r"\+ (\d+) more sites activated ([^<]*)<", svg)
    assert more and more.group(1) == "1" and more.group(2) == "2029 Q4"
    assert len(rows) + 1 + 100 == 160  # every activated site accounted for
    height = float(re.search(r'viewBox="0 0 \S+ (\S+)"', svg).group(1))
    assert height < 1000, "a national roll-out must stay one readable figure"


def test_gantt_without_activations() -> None:
    t = make_timeline(n_existing=0, n_new=0, n_never=3)
    svg = gantt_svg(t["timeline_sites"], t["timeline_periods"])
    assert "No site becomes active" in svg


# ---------------------------------------------------------------- stacked area

def test_stacked_area_top_equals_total_served() -> None:
    t = make_timeline(n_periods=12)
    prod = t["timeline_products"]
    names = {"car_t": "CAR-T", "gene": "Gene therapy"}
    svg = stacked_area_svg(prod, names)
    root = _tags(svg, "svg")[0]
    left, top, pw, ph = (float(v) for v in root["data-plot"].split())
    ymax = float(root["data-ymax"])
    areas = _tags(svg, "polygon", "area")
    assert [a["data-product"] for a in areas] == ["car_t", "gene"]  # product-table order
    n = 12
    pts = [tuple(map(float, p.split(","))) for p in areas[-1]["points"].split()]
    upper = pts[:n]
    total = prod.groupby("period")["patients_served"].sum().to_numpy()
    for i, (x, y) in enumerate(upper):
        assert x == pytest.approx(left + pw * (i + 0.5) / n, abs=0.06)
        assert ymax * (top + ph - y) / ph == pytest.approx(total[i], rel=1e-3, abs=0.05)
    # the first product's lower edge is the zero line
    lower = [tuple(map(float, p.split(","))) for p in areas[0]["points"].split()][n:]
    assert all(y == pytest.approx(top + ph, abs=0.01) for _, y in lower)
    # demand line on top and unserved band visible (demand > served in this timeline)
    demand = prod.groupby("period")["patients_demand"].sum().to_numpy()
    line = [tuple(map(float, p.split(","))) for p in _tags(svg, "polyline", "demand")[0]
            ["points"].split()]
    assert [ymax * (top + ph - y) / ph for _, y in line] == pytest.approx(demand, rel=1e-3)
    assert len(_tags(svg, "polygon", "unserved")) == 1
    assert "CAR-T" in svg and "Gene therapy" in svg and "unserved" in svg


def test_stacked_area_fully_served_has_no_unserved_band() -> None:
    t = make_timeline(n_periods=4)
    prod = t["timeline_products"].assign(patients_served=lambda d: d["patients_demand"],
                                         patients_unserved=0.0)
    svg = stacked_area_svg(prod, {})
    assert not _tags(svg, "polygon", "unserved")
    assert "100 % of demand served in 2027 Q4" in svg


# ---------------------------------------------------------------- cash flow

def test_cash_flow_bars_and_cumulative_npv() -> None:
    t = make_timeline(n_periods=6)
    cash = np.array([-10e6, -5e6, 4e6, 8e6, 12e6, 12e6])
    factor = np.array([1.0, 1.0, 1.0, 1.0, 0.75, 0.5])
    periods = t["timeline_periods"].assign(cash_flow_usd=cash, discount_factor=factor,
                                           discounted_cash_flow_usd=cash * factor)
    # NPV so far: -10, -15, -11, -3, +6, +12 ($M): pays back in period 4 (2028 Q1)
    svg = cash_flow_svg(periods)
    root = _tags(svg, "svg")[0]
    left, top, pw, ph = (float(v) for v in root["data-plot"].split())
    y0, y1 = float(root["data-y0"]), float(root["data-y1"])

    def value(y: float) -> float:
        return y0 + (y1 - y0) * (top + ph - y) / ph

    bars = _tags(svg, "rect", "cash")
    assert len(bars) == 6
    assert [b["fill"] for b in bars] == [NEGATIVE_COLOUR] * 2 + [POSITIVE_COLOUR] * 4
    zero = top + ph * (1 - (0 - y0) / (y1 - y0))
    for bar, cash in zip(bars, periods["cash_flow_usd"], strict=True):
        y, h = float(bar["y"]), float(bar["height"])
        tip = y if cash >= 0 else y + h  # the end away from the zero line
        assert value(tip) == pytest.approx(cash, rel=1e-3, abs=(y1 - y0) * 1e-3)
        assert (cash >= 0) == (abs(y + h - zero) < 0.05)
    cum = np.cumsum(periods["discounted_cash_flow_usd"].to_numpy())
    line = [tuple(map(float, p.split(","))) for p in _tags(svg, "polyline", "npv")[0]
            ["points"].split()]
    assert [value(y) for _, y in line] == pytest.approx(cum, rel=1e-3, abs=(y1 - y0) * 1e-3)
    assert cum == pytest.approx([-10e6, -15e6, -11e6, -3e6, 6e6, 12e6])
    assert "pays back in 2028 Q1" in svg and len(_tags(svg, "line", "payback")) == 1
    assert "NPV $12.0 M by the end of 2028 Q2" in svg
    # a launch that never pays back draws no payback marker
    never = cash_flow_svg(periods.assign(discounted_cash_flow_usd=-1e6))
    assert "pays back" not in never and "NPV -$6.0 M" in never


# ---------------------------------------------------------------- robustness

def test_period_labels_by_period_index() -> None:
    """Unsorted rows, a missing label and a gap still put each label in its own column."""
    frame = pd.DataFrame({"period": [2, 0, 3], "label": ["2027 Q3", "2027 Q1", None]})
    assert period_labels(frame) == ["2027 Q1", "P2", "2027 Q3", "P4"]
    assert period_labels(pd.DataFrame()) == []


def test_one_period_and_partial_tables() -> None:
    """A one-period timeline draws a band over the whole plot; missing columns do not crash."""
    t = make_timeline(n_periods=1, n_existing=2, n_new=0, n_never=0)
    svg = stacked_area_svg(t["timeline_products"], {})
    root = _tags(svg, "svg")[0]
    left, _, pw, _ = (float(v) for v in root["data-plot"].split())
    xs = {float(p.split(",")[0]) for a in _tags(svg, "polygon", "area")
          for p in a["points"].split()}
    assert sorted(xs) == pytest.approx([left, left + pw], abs=0.06)
    assert len(_tags(gantt_svg(t["timeline_sites"], t["timeline_periods"]), "rect",
                     "active")) == 2
    assert "No cash flow" in cash_flow_svg(t["timeline_periods"].drop(columns="cash_flow_usd"))
    assert "No patients" in stacked_area_svg(pd.DataFrame({"period": [0]}), {})
    bare = t["timeline_periods"][["period", "label"]]
    assert "Launch timeline" in timeline_section(
        Results({"timeline_periods": bare}, None, {}))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the one-pager

def test_report_has_section_only_with_timeline(tiny: Results) -> None:
    """The launch timeline is a section of details.html (the one-pager stays one page)."""
    plain = render_details(tiny)
    assert "Launch timeline" not in plain and timeline_section(tiny) == ""
    timed = with_timeline(tiny, make_timeline())
    page = render_details(timed)
    assert page.count("<h2>Launch timeline</h2>") == 1
    assert page.index("Launch timeline") > page.index("Active hubs and partners")
    assert page.index("Launch timeline") < page.index("Activated sites by state")
    for cls in ('class="gantt"', 'class="stacked"', 'class="cashflow"', "table class='timeline'"):
        assert page.count(cls) == 1, cls
    npv = timed.summary["timeline"]["npv_usd"]
    assert f'<div class="v">{fmt_usd(-npv)}</div>' in page  # a cost plan's net present cost
    assert page.count("<tr><td>2027 Q") == 4 and "<tr><td>2029 Q4</td>" in page
    # the rest of the page is the single-period appendix, but for what the objective is: the
    # plan's discounted total, not the year the cost table shows (it read "Objective (model
    # total)" beside the last period's annual cost)
    section = timeline_section(timed)
    assert "minimise the launch plan&#x27;s net present cost" in page
    assert "<td>Total of the year shown</td>" in page
    rest = page.replace(section + "\n", "")
    assert "Objective (model total)" not in rest and "minimise annual cost" not in rest
    assert len(rest.splitlines()) == len(plain.splitlines())
    assert not URL.search(page.replace(SVG_NS, "")), "report links to the web"


def test_the_one_pager_says_what_a_plan_or_a_margin_objective_is(tiny: Results) -> None:
    """A timeline's one-pager showed its last period's year as if it were the plan, and a
    margin run showed no margin: a line under the gap now states the plan's present value,
    its patients over the roll-out and which period the tiles show; or the year's margin."""
    from netopt.report.onepager import plan_note, render_report

    assert plan_note(tiny) == "" and "Launch plan" not in render_report(tiny)
    timed = with_timeline(tiny, make_timeline(n_periods=4))
    # a cost run's discounted cash flow is minus its cost: npv_usd = -objective
    timed.summary["timeline"].update(period_months=3, start="2027-01", patients_served=498.2,
                                     patients_unserved=201.8, last_period="2027 Q4",
                                     npv_usd=-4_200_000.0)
    line = plan_note(timed)
    assert ("<b>Launch plan</b>, 4 \u00d7 3 months from 2027-01: net present cost $4.2 M, "
            "discounted at 10 %/yr; 498 of 700 patients served over the roll-out") in line
    assert "network at its end (2027 Q4)" in line and line in render_report(timed)
    timed.summary["objective_sense"] = "margin"
    timed.summary["timeline"]["npv_usd"] = 127_000_000.0
    assert "net present value $127.0 M" in plan_note(timed)
    margin = Results(tiny.tables, tiny.info, {**tiny.summary, "objective_sense": "margin",
                                              "objective_usd": -2_500_000.0})
    assert ("<b>Margin</b> (revenue less network cost and unserved penalty): $2.5 M a year"
            in plan_note(margin))


def test_timeline_sheets_count_per_period(tiny: Results, tmp_path: Path) -> None:
    """A quarter's 7.5 patients were headed "(patients/yr)" and its cost "(USD)" beside
    "Revenue (USD/period)"."""
    import openpyxl

    from netopt.report.workbook import write_workbook

    book = openpyxl.load_workbook(write_workbook(with_timeline(tiny, make_timeline(4)),
                                                 tmp_path / "t.xlsx"))
    heads = [c.value for c in book["timeline_periods"][1]]
    assert "Patients served (patients/period)" in heads
    assert {"Cost (USD/period)", "Revenue (USD/period)"} <= set(heads)
    assert not any("/yr" in str(h) for h in heads)
    assert "Patients served (patients/period)" in [c.value for c in book["timeline_products"][1]]
    # the year's tables keep their yearly units
    assert "Patients (patients/yr)" in [c.value for c in book["sites"][1]]
    # and the summary says which year they are: the plan's last period
    shown = {r[0].value: r[1].value for r in book["summary"].iter_rows(max_col=2)}
    assert shown["Figures shown"].startswith("the launch plan's last period: network, costs")
    plain = openpyxl.load_workbook(write_workbook(tiny, tmp_path / "plain.xlsx"))
    assert "Figures shown" not in {r[0].value for r in plain["summary"].iter_rows(max_col=1)}


def test_npv_tile_flags_disagreement(tiny: Results) -> None:
    """The tile shows the solver's NPV (a cost plan's as its net present cost, as the
    one-pager says it); a different sum of cash flows is stated, not hidden."""
    timed = with_timeline(tiny, make_timeline())
    assert timed.summary["objective_sense"] == "cost"
    cash_npv = timed.summary["timeline"]["npv_usd"]
    assert "discounted cash flows sum to" not in timeline_section(timed)
    assert "net present cost, " in timeline_section(timed)
    timed.summary["timeline"]["npv_usd"] = cash_npv - 5e6
    section = timeline_section(timed)
    assert f'<div class="v">{fmt_usd(5e6 - cash_npv)}</div>' in section
    assert f"discounted cash flows sum to {fmt_usd(-cash_npv)}" in section
    del timed.summary["timeline"]
    assert f'<div class="v">{fmt_usd(-cash_npv)}</div>' in timeline_section(timed)
    timed.summary["objective_sense"] = "margin"  # a margin plan: its net present value
    assert f'<div class="v">{fmt_usd(cash_npv)}</div>' in timeline_section(timed)
    assert "net present value, " in timeline_section(timed)


def test_report_of_a_solved_timeline(tmp_path: Path) -> None:
    """End to end on the tiny case over four quarters: the tables the solve writes (Int64
    periods, <NA> for never) render, one Gantt row per activated site, NPV as solved."""
    from netopt.data.config import TimelineSettings

    case = load_case(TINY)
    case.config.timeline = TimelineSettings(periods=4, ramp_periods=2)
    solved = solve_case(case, threads=1, seed=0)
    solved.write(tmp_path)
    result = Results.read(tmp_path)
    ts = result.tables["timeline_sites"]
    active = ts[ts["first_active_period"].notna()]
    section = timeline_section(result)
    gantt = re.search(r'<svg[^>]*class="gantt".*?</svg>', section).group(0)
    rows = _rows_of(gantt)
    assert sorted(sid for sid, _ in rows) == sorted(active["site_id"])
    for sid, bar in rows:
        p = int(active.set_index("site_id").loc[sid, "first_active_period"])
        assert float(bar["x"]) == pytest.approx(gantt_x(p, 4), abs=0.05)
    npv = solved.summary["timeline"]["npv_usd"]
    assert f'<div class="v">{fmt_usd(-npv)}</div>' in section  # its net present cost
    assert "discounted cash flows sum to" not in section  # solver and cash flows agree
    served = result.tables["timeline_periods"]["patients_served"].sum()
    assert f"<div class=\"v\">{served:,.0f}</div>" in section


def test_hostile_timeline_strings_are_escaped(tiny: Results) -> None:
    t = make_timeline()
    for name in ("timeline_sites", "timeline_periods", "timeline_products"):
        df = t[name]
        for col in df.columns:
            if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
                df[col] = [HOSTILE + v if isinstance(v, str) else v for v in df[col]]
    page = render_details(with_timeline(tiny, t))
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_deterministic(tiny: Results) -> None:
    timed = with_timeline(tiny, make_timeline())
    assert timeline_section(timed) == timeline_section(timed)
    assert timeline_section(with_timeline(tiny, make_timeline())) == timeline_section(timed)


def test_saved_folder_round_trip(tiny: Results, tmp_path: Path) -> None:
    """`netopt report` reads the CSV folder: NaN first-active periods come back as floats."""
    timed = with_timeline(tiny, make_timeline())
    timed.write(tmp_path)
    back = Results.read(tmp_path)
    assert timeline_section(back) == timeline_section(timed)


# ---------------------------------------------------------------- browser (offline)

def _screenshot(page: Path, png: Path, size: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--hide-scrollbars", "--virtual-time-budget=4000", f"--screenshot={png}",
             f"--window-size={size}", page.as_uri()],
            capture_output=True, text=True, timeout=180, check=False)


@NEEDS_CHROMIUM
def test_screenshot_timeline_section(tiny: Results, tmp_path: Path) -> None:
    """Render only the section (with the report CSS) and check it is drawn, in colour."""
    spec = importlib.util.spec_from_file_location("_report_tests",
                                                  ROOT / "tests" / "test_report.py")
    assert spec and spec.loader
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)  # reuse its dependency-free PNG decoder

    timed = with_timeline(tiny, make_timeline(n_existing=6, n_new=14, n_never=3))
    write_reports(timed, tmp_path / "out")
    page = (tmp_path / "out" / "details.html").read_text()
    section = timeline_section(timed)
    assert section in page
    head = page[:page.index("<main>") + len("<main>")]  # the page's own CSS
    solo = tmp_path / "timeline.html"
    solo.write_text(head + section + "</main></body></html>")
    png = tmp_path / "timeline.png"
    _screenshot(solo, png, "1100,1900")
    assert png.exists(), "no screenshot"
    px = helpers._png_pixels(png)
    assert px.std() > 8
    colours = {tuple(c) for c in px.reshape(-1, 3)[::7]}
    assert len(colours) > 40
    green = np.array([0x11, 0xa3, 0x6a])
    navy = np.array([0x0b, 0x2f, 0x5b])
    assert (np.abs(px.astype(int) - green).sum(axis=2) < 12).sum() > 500, "no new-site bars"
    assert (np.abs(px.astype(int) - navy).sum(axis=2) < 12).sum() > 500, "no existing bars"


def test_the_service_tile_names_the_period_from_which_it_holds() -> None:
    """Service at 100 %, 67 % then 33 % read '>= 90 % from 2027 Q1': the first period alone.
    The tile names the period from which every later one serves 90 % or more."""
    from netopt.report.timeline import _from_then_on

    labels = ["Q1", "Q2", "Q3", "Q4"]
    assert _from_then_on([3, 3, 3, 3], [3, 2, 1, 1], labels) is None
    assert _from_then_on([3, 3, 3, 3], [3, 1, 3, 2.9], labels) == "Q3"
    assert _from_then_on([0, 3, 3, 3], [0, 3, 3, 3], labels) == "Q2"  # no demand yet


def test_unserved_penalty_is_named_not_counted_as_cash(tiny: Results) -> None:
    """A plan that leaves patients untreated: the tile and the one-pager give the cash NPV
    and name the penalty the objective adds; the period table shows it in its own column."""
    from netopt.report.onepager import plan_note

    tables = make_timeline()
    periods = tables["timeline_periods"]
    periods["penalty_usd"] = 400_000.0 * periods["patients_unserved"]
    timed = with_timeline(tiny, tables)
    penalty = float((periods["penalty_usd"] * periods["discount_factor"]).sum())
    assert penalty > 1e6
    timed.summary["timeline"]["patients_unserved"] = float(periods["patients_unserved"].sum())
    section = timeline_section(timed)
    cash_npv = timed.summary["timeline"]["npv_usd"]
    assert f'<div class="v">{fmt_usd(-cash_npv)}</div>' in section  # the cash, not cash + penalty
    words = f"the objective adds {fmt_usd(penalty)} of penalty (not cash)"
    assert words in section and "Unserved penalty (not cash)" in section
    assert words in plan_note(timed)
    # none where every patient is served
    served = with_timeline(tiny, make_timeline())
    assert "penalty (not cash)" not in timeline_section(served) + plan_note(served)


def test_why_patients_wait_joins_periods_with_the_same_reason() -> None:
    """Consecutive periods with the same reason (counts and sites still to come aside) make
    one row with their total; a new reason, a gap or another product starts a row; a served
    period shows nothing."""
    from netopt.report.timeline import waiting_table

    wait = "{:.1f} patients wait for sites that offer it later: {}(from 2027 Q4: lead time)"
    products = pd.DataFrame({
        "period": [0, 1, 2, 3, 0, 1, 2, 3],
        "label": ["2027 Q1", "2027 Q2", "2027 Q3", "2027 Q4"] * 2,
        "product_id": ["a"] * 4 + ["b"] * 4,
        "patients_unserved": [2.0, 3.0, 1.0, 0.0, 0.0, 4.0, 0.0, 4.0],
        "unserved_reason": [wait.format(2, "S1 (from 2027 Q2), S2 "), wait.format(3, "S2 "),
                            "as at the plan's end: reach", "",
                            "", "as at the plan's end: reach", "",
                            "as at the plan's end: reach"]})
    page = waiting_table(products, {"a": "Product A", "b": "Product B"})
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td class='n'>(.*?)</td><td>(.*?)</td>",
                      page)
    assert rows == [
        ("2027 Q1 \u2013 2027 Q2", "Product A", "5.0",  # the sites still to come at first
         "wait for sites that offer it later (as of 2027 Q1): S1 (from 2027 Q2), S2 (from "
         "2027 Q4: lead time)"),
        ("2027 Q3", "Product A", "1.0", "as at the plan&#x27;s end: reach"),
        ("2027 Q2", "Product B", "4.0", "as at the plan&#x27;s end: reach"),
        ("2027 Q4", "Product B", "4.0", "as at the plan&#x27;s end: reach")]
    served = products.assign(patients_unserved=0.0, unserved_reason="")
    assert waiting_table(served, {}) == ""
    assert waiting_table(products.drop(columns="unserved_reason"), {}) == ""  # older folder
