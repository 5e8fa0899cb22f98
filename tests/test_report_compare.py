"""Tests for netopt.report.compare: compare.html and compare.xlsx from real tiny solves.

The Comparison is assembled here from solved Results the way netopt.analysis.scenarios documents it
(a stand-in dataclass with the same fields, so these tests do not depend on that module), with
three tiny variants (baseline, 3x incidence, Site One excluded) and one failed scenario.
"""

from __future__ import annotations

import importlib.util
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from netopt.data.case import load_case
from netopt.report.compare import compare_header, sheet_names, write_comparison
from netopt.results.pipeline import solve_case
from netopt.results.tables import Results

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
HOSTILE = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium")
VARIANTS = {
    "tiny-x3": "edits:\n  - table: products\n    scale: {incidence_per_100k: 3}\n",
    "tiny-no-s1": ("edits:\n  - table: sites\n    where: {site_id: S1}\n"
                   "    set: {status: excluded}\n"),
}
KPIS = ("patients_demand", "patients_served", "patients_unserved", "pct_within_travel_target",
        "sites_active", "hubs_active", "partners_active")


@dataclass
class Comparison:
    """Same fields as netopt.analysis.scenarios.Comparison."""

    rows: pd.DataFrame
    site_changes: pd.DataFrame
    sites: dict[str, pd.DataFrame]
    frontier: pd.DataFrame | None
    title: str = "Scenario comparison"


def _row(name: str, model: Path, r: Results) -> dict:
    s = r.summary
    row = {"scenario": name, "model_file": str(model), "status": s.get("status"), "reason": "",
           "objective_usd": s.get("objective_usd"), "gap": s.get("gap")}
    row.update({k: s.get(k) for k in KPIS})
    row.update(build_seconds=s.get("build_seconds"), solve_seconds=s.get("solve_seconds"))
    for term, usd in zip(r.tables["costs"]["term"], r.tables["costs"]["usd_per_year"],
                         strict=True):
        row[f"cost_{term}"] = usd
    return row


def _changes(sites: dict[str, pd.DataFrame]) -> pd.DataFrame:
    names = list(sites)
    base = sites[names[0]].set_index("site_id")["active"].astype(bool)
    out = []
    for name in names[1:]:
        t = sites[name]
        for r in t.to_dict("records"):
            was = bool(base.get(r["site_id"], False))
            if bool(r["active"]) != was:
                out.append({"scenario": name, **{k: r[k] for k in ("site_id", "name", "state",
                                                                   "latitude", "longitude")},
                            "change": "opened" if r["active"] else "closed"})
    return pd.DataFrame(out, columns=["scenario", "site_id", "name", "state", "latitude",
                                      "longitude", "change"])


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    folder = tmp_path_factory.mktemp("models")
    shutil.copy(TINY, folder / "tiny.yaml")
    shutil.copytree(TINY.parent / "tiny", folder / "tiny")
    models = {"tiny": folder / "tiny.yaml"}
    for name, body in VARIANTS.items():
        (folder / f"{name}.yaml").write_text(f"extends: tiny.yaml\nname: {name}\n{body}")
        models[name] = folder / f"{name}.yaml"
    rows, sites = [], {}
    for name, path in models.items():
        r = solve_case(load_case(path), threads=1, seed=0)
        rows.append(_row(name, path, r))
        sites[name] = r.tables["sites"]
    rows.append({"scenario": "broken", "model_file": "broken.yaml", "status": "infeasible",
                 "reason": "min_share 0.99 cannot be met within 10 km"})
    frame = pd.DataFrame(rows)
    return Comparison(frame, _changes(sites), sites, None, "Tiny scenarios")


def _hostile(c: Comparison) -> Comparison:
    """Every user string replaced by markup: names must be escaped, never rendered."""
    rename = {n: f"{HOSTILE}{n}" for n in c.rows["scenario"]}
    rows = c.rows.assign(scenario=c.rows["scenario"].map(rename),
                         reason=c.rows["reason"].map(lambda s: f"{HOSTILE}{s}" if s else s))
    sites = {rename[k]: v.assign(name=HOSTILE + v["name"]) for k, v in c.sites.items()}
    changes = c.site_changes.assign(scenario=c.site_changes["scenario"].map(rename),
                                    name=HOSTILE + c.site_changes["name"])
    return Comparison(rows, changes, sites, c.frontier, f"{HOSTILE} title")


FRONTIER = pd.DataFrame({
    "point": ["p0", "p1", "p2", "p3"],
    "min_share": [0.5, 0.7, 0.9, 0.99],
    "within_km": [250.0] * 4,
    "objective_usd": [200_000.0, 240_000.0, 330_000.0, math.nan],
    "pct_within_travel_target": [62.0, 75.0, 91.0, math.nan],
    "status": ["optimal", "optimal", "optimal", "infeasible"],
})


# ---------------------------------------------------------------- files and workbook

def test_writes_both_files(comparison: Comparison, tmp_path: Path) -> None:
    paths = write_comparison(comparison, tmp_path / "out")
    assert [p.name for p in paths] == ["compare.html", "compare.xlsx"]
    page = paths[0].read_text()
    assert "Tiny scenarios" in page and "tiny-no-s1" in page
    assert "min_share 0.99 cannot be met" in page  # failure reason shown
    assert page.count("<figure>") == len(comparison.rows)  # one small multiple per scenario
    assert "Cost of access" not in page  # no frontier given


def test_comparison_sheet_equals_rows(comparison: Comparison, tmp_path: Path) -> None:
    _, book = write_comparison(comparison, tmp_path)
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames[:2] == ["Comparison", "Site changes"]
    assert "Frontier" not in wb.sheetnames
    ws = wb["Comparison"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    values = list(ws.values)
    heads = [h.split(" (")[0] for h in values[0]]
    assert heads == list(comparison.rows.columns)
    assert compare_header("objective_usd") in values[0]
    for got, want in zip(values[1:], comparison.rows.itertuples(index=False), strict=True):
        for g, w in zip(got, want, strict=True):
            if isinstance(w, float) and math.isnan(w):
                assert g is None
            elif isinstance(w, int | float | np.number) and not isinstance(w, bool):
                assert g == pytest.approx(float(w), rel=1e-12, abs=1e-9)
            else:
                assert g == ("" if w is None else str(w)) or (g is None and not w)
    assert ws.cell(row=2, column=heads.index("objective_usd") + 1).number_format.startswith(
        '"$"')
    # one sheet per scenario with a sites table
    assert len(wb.sheetnames) == 4 + len(comparison.sites)


def test_site_change_counts(comparison: Comparison, tmp_path: Path) -> None:
    ch = comparison.site_changes
    assert set(ch["change"]) == {"opened", "closed"}  # the fixture exercises both
    _, book = write_comparison(comparison, tmp_path)
    rows = list(openpyxl.load_workbook(book)["Site changes"].values)[1:]
    assert len(rows) == len(ch)
    page = (tmp_path / "compare.html").read_text()
    body = page.split("Site changes relative to the baseline", 1)[1]
    for change in ("opened", "closed"):
        n = int((ch["change"] == change).sum())
        assert body.count(f"font-weight:600'>{change}</td>") == n
    # the map caption counts match too: tiny-no-s1 opens S2 and closes S1
    assert "sites: 1 opened, 1 closed" in page
    assert "\u22120" not in page  # no "-0 closed" caption


def test_a_site_from_another_dataset_is_told_apart(comparison: Comparison,
                                                   tmp_path: Path) -> None:
    """A site active in tiny-x3 that the baseline's data lacks: grey in the table, counted in
    the caption apart from the opened and closed ones."""
    names = list(comparison.sites)
    extra = comparison.sites[names[1]].iloc[[0]].assign(site_id="S9", name="Elsewhere",
                                                        active=True)
    sites = {**comparison.sites, names[1]: pd.concat([comparison.sites[names[1]], extra])}
    row = {"scenario": names[1], **{k: extra.iloc[0][k] for k in (
        "site_id", "name", "state", "latitude", "longitude")}, "change": "not in baseline"}
    changes = pd.concat([comparison.site_changes, pd.DataFrame([row])], ignore_index=True)
    write_comparison(replace(comparison, sites=sites, site_changes=changes), tmp_path)
    page = (tmp_path / "compare.html").read_text()
    assert "color:#5b6672;font-weight:600'>not in baseline</td>" in page
    assert "sites: 1 opened, 1 in one dataset only" in page  # tiny-x3 opens a site too
    assert "sites: 1 opened, 1 closed" in page  # tiny-no-s1 unchanged


def _table_rows(html: str) -> list[str]:
    table = html.split("Scenarios side by side", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr[ >].*?</tr>", table, re.S)[1:]  # body rows, header skipped


def test_differences_within_solver_gap_marked(comparison: Comparison, tmp_path: Path) -> None:
    """Hand-made figures: baseline $1,000,000 at a 1 % gap; +$15,000 at 0.5 % lies within
    the combined gaps (15,075), +$30,000 at 0.5 % does not (15,150). The first is greyed and
    marked, the second coloured as a result; without the rows' own columns the page
    computes the same, with them it shows what compare.csv says."""
    rows = comparison.rows.iloc[:3].copy()
    rows["objective_usd"] = [1_000_000.0, 1_015_000.0, 1_030_000.0]
    rows["gap"] = [0.01, 0.005, 0.005]
    names = list(rows["scenario"])
    sites = {n: comparison.sites[n] for n in names}
    page, _ = write_comparison(replace(comparison, rows=rows, sites=sites), tmp_path / "a")
    html = page.read_text()
    base, inside, outside = _table_rows(html)
    assert "within solver gap" not in base and ">base<" in base
    assert "class='n noise'" in inside and "within solver gap" in inside
    assert "\u2248 +$15 k" in inside
    assert "within solver gap" not in outside and "class='n pos'" in outside
    assert "may be solver noise" in html  # the note under the table says what it means

    flipped = rows.assign(vs_baseline_usd=[0.0, 15_000.0, 30_000.0],
                          within_solver_gap=[None, False, True])
    page, book = write_comparison(replace(comparison, rows=flipped, sites=sites),
                                  tmp_path / "b")
    _, inside, outside = _table_rows(page.read_text())
    assert "within solver gap" not in inside and "within solver gap" in outside
    sheet = list(openpyxl.load_workbook(book)["Comparison"].values)
    col = [h.split(" (")[0] for h in sheet[0]].index("within_solver_gap")
    assert [r[col] for r in sheet[1:]] == [None, False, True]


def test_time_limited_scenarios_tagged(comparison: Comparison, tmp_path: Path) -> None:
    """A row whose solve had stages ended by the clock is tagged with them beside its status;
    rows without (empty, or the column absent in older folders) are not."""
    rows = comparison.rows.iloc[:3].copy()
    rows["stopped_by_clock"] = ["", "strict kernel;full MIP", math.nan]
    sites = {n: comparison.sites[n] for n in rows["scenario"]}
    page, _ = write_comparison(replace(comparison, rows=rows, sites=sites), tmp_path / "a")
    base, clocked, third = _table_rows(page.read_text())
    assert "time-limited: strict kernel, full MIP" in clocked
    assert "time-limited" not in base and "time-limited" not in third
    assert "may give another network on a faster or slower machine" in page.read_text()
    old_page, _ = write_comparison(comparison, tmp_path / "b")  # no such column
    assert "time-limited" not in old_page.read_text()


def test_scenarios_solved_on_shared_cores_tagged(comparison: Comparison,
                                                 tmp_path: Path) -> None:
    """A row solved beside other work is tagged 'shared cores' (what was busy in its
    tooltip) and the page says what that means; rows on free cores, and older folders
    without the column, are not."""
    rows = comparison.rows.iloc[:3].copy()
    rows["cores_not_free"] = ["", "other work using 1.0 of its 2 cores", math.nan]
    sites = {n: comparison.sites[n] for n in rows["scenario"]}
    page, _ = write_comparison(replace(comparison, rows=rows, sites=sites), tmp_path / "a")
    base, busy, third = _table_rows(page.read_text())
    assert "title='other work using 1.0 of its 2 cores'>shared cores<" in busy
    assert "shared cores" not in base and "shared cores" not in third
    assert "on free cores the same inputs may give a cheaper network" in page.read_text()
    old_page, _ = write_comparison(comparison, tmp_path / "b")
    assert "shared cores" not in old_page.read_text()


def test_the_start_each_scenario_had_is_tagged(comparison: Comparison, tmp_path: Path) -> None:
    """A scenario started from the baseline's network, the kernel start or the staged start
    says so beside its status; one solved without a start does not."""
    rows = comparison.rows.iloc[:3].copy()
    rows["start"] = ["staged", "baseline", "none"]
    sites = {n: comparison.sites[n] for n in rows["scenario"]}
    page, _ = write_comparison(replace(comparison, rows=rows, sites=sites), tmp_path)
    staged, baseline, cold = _table_rows(page.read_text())
    assert "staged start" in staged and "baseline start" in baseline
    assert "start</span>" not in cold


def test_sheet_names_safe_and_unique() -> None:
    names = sheet_names(["a/b", "A/B", "x" * 40, "x" * 40, "comparison", "[q]*?:"],
                        ["Comparison"])
    assert all(len(n) <= 31 for n in names)
    assert len({n.lower() for n in names} | {"comparison"}) == len(names) + 1
    assert not any(re.search(r"[\[\]:*?/\\]", n) for n in names)


# ---------------------------------------------------------------- safety

def test_hostile_names_escaped(comparison: Comparison, tmp_path: Path) -> None:
    bad = _hostile(comparison)
    page, book = write_comparison(bad, tmp_path)
    html = page.read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Site One" in html  # site names
    assert "&lt;script&gt;alert(1)&lt;/script&gt;tiny-x3" in html  # scenario names
    assert "&lt;script&gt;alert(1)&lt;/script&gt;min_share" in html  # reasons
    wb = openpyxl.load_workbook(book)
    assert len(wb.sheetnames) == 4 + len(bad.sites)
    assert all(len(n) <= 31 for n in wb.sheetnames)


def test_no_external_resources(comparison: Comparison, tmp_path: Path) -> None:
    page, _ = write_comparison(replace(comparison, frontier=FRONTIER), tmp_path)
    html = page.read_text()
    assert not re.search(r"<script[^>]+src\s*=\s*[\"']?https?:", html, re.I)
    assert not re.search(r"<link[^>]+href\s*=\s*[\"']?https?:", html, re.I)
    assert "<script src=http" not in html and "<link href=http" not in html
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html, re.I)


# ---------------------------------------------------------------- frontier

def test_frontier_polyline(comparison: Comparison, tmp_path: Path) -> None:
    feasible = FRONTIER.iloc[:3]
    page, book = write_comparison(replace(comparison, frontier=feasible), tmp_path / "a")
    html = page.read_text()
    lines = re.findall(r'<polyline points="([^"]+)"', html)
    assert len(lines) == 1
    assert len(lines[0].split()) == len(feasible)
    assert "Frontier" in openpyxl.load_workbook(book).sheetnames

    page, _ = write_comparison(replace(comparison, frontier=FRONTIER), tmp_path / "b")
    html = page.read_text()
    (points,) = re.findall(r'<polyline points="([^"]+)"', html)
    assert len(points.split()) == 3  # the infeasible point has no cost: not on the line
    assert html.count('class="infeasible"') == 1
    # cost rises with access: y (SVG, grows downward) falls along the line
    ys = [float(p.split(",")[1]) for p in points.split()]
    assert ys == sorted(ys, reverse=True)


# ---------------------------------------------------------------- browser (offline)

@pytest.mark.skipif(CHROMIUM is None, reason="Debian package `chromium` is not installed; "
                    "the offline screenshot check needs a headless browser")
def test_screenshot_offline(comparison: Comparison, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("_report_tests",
                                                  ROOT / "tests" / "test_report.py")
    assert spec and spec.loader
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)  # reuse its dependency-free PNG decoder

    page, _ = write_comparison(replace(comparison, frontier=FRONTIER), tmp_path)
    png = tmp_path / "compare.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--proxy-server=127.0.0.1:9", f"--screenshot={png}", "--window-size=1400,1800",
             "--virtual-time-budget=5000", "--hide-scrollbars", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
    assert png.exists(), "no screenshot"
    pixels = helpers._png_pixels(png)
    assert pixels.std() > 8, "screenshot is blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 40


def test_scenario_maps_show_the_hubs_and_those_that_change() -> None:
    """A hub outage's map showed sites only: no hub, closed or opened. Active hubs are now
    squares, an opened one green-edged, a closed one hollow red; a hub neither uses is not
    drawn, and the shared frame reaches the hubs in use."""
    from netopt.report.common import HUB_COLOUR
    from netopt.report.compare import CLOSED_COLOUR, OPENED_COLOUR, scenario_map_svg, shared_bounds

    sites = pd.DataFrame({"site_id": ["S1"], "name": ["One"], "latitude": [35.0],
                          "longitude": [-86.0], "active": [True]})
    hubs = pd.DataFrame({"hub_id": ["H1", "H2", "H3"], "name": ["Memphis", "Louisville", "X"],
                         "latitude": [35.1, 38.2, 33.0], "longitude": [-90.0, -85.7, -84.0],
                         "active": [False, True, False]})
    changes = pd.DataFrame({"kind": ["hub", "hub"], "facility_id": ["H1", "H2"],
                            "name": ["Memphis", "Louisville"], "change": ["closed", "opened"]})
    bounds = shared_bounds([sites, hubs[hubs["active"]]])
    assert bounds[1][0] >= 38.2  # Louisville, north of every site, is in the frame
    svg = scenario_map_svg(sites, pd.DataFrame(), bounds, hubs=hubs, hub_changes=changes)
    squares = re.findall(r'<rect x="[\d.-]+" y="[\d.-]+" width="9" height="9" '
                         r'fill="([^"]+)" stroke="([^"]+)"', svg)
    assert sorted(squares) == sorted([("#fff", CLOSED_COLOUR), (HUB_COLOUR, OPENED_COLOUR)])
    assert "Memphis (H1): closed" in svg and "X (H3)" not in svg
