"""Finance, resilience, comparison, sweep, Pareto and simulation pages: what they say, that
they open offline at 1280x720 and 1920x1080 with their legends on screen, that stacked bars
add up to the totals, and that analyses with --out leave the solved folder as it was.

us-small is solved once for the module (about 20 s); the scenario pages use the tiny model.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from pagecheck import CHROMIUM, Browser, inside
from typer.testing import CliRunner

from netopt.analysis import scenarios as sc
from netopt.cli.app import app
from netopt.report.compare import cost_compare_svg, write_comparison
from netopt.report.finance import expiry_bearers, render_finance
from netopt.results.tables import network_cost_usd, unserved_penalty_usd

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
SMALL = ROOT / "models" / "us-small.yaml"
SIZES = ((1280, 720), (1920, 1080))
NEEDS_CHROMIUM = pytest.mark.skipif(CHROMIUM is None, reason="Debian package `chromium` is "
                                    "not installed; the page checks need a headless browser")
runner = CliRunner()


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """us-small solved, then finance, resilience and simulate run with --out elsewhere."""
    base = tmp_path_factory.mktemp("pages")
    solved = base / "solved"
    res = runner.invoke(app, ["solve", str(SMALL), "--out", str(solved)])
    assert res.exit_code == 0, res.output
    before = _digest(solved)
    out = {"solved": solved}
    for name, args in (("finance", []), ("resilience", []),
                       ("simulate", ["--replications", "2", "--days", "60"])):
        out[name] = base / name
        res = runner.invoke(app, [name, str(solved), "--out", str(out[name]), *args])
        assert res.exit_code == 0, (name, res.output)
    out["changed"] = base / "changed.txt"
    after = _digest(solved)
    out["changed"].write_text("\n".join(sorted(
        n for n in set(before) | set(after) if before.get(n) != after.get(n))))
    return out


# ---------------------------------------------------------------- the solved folder

@pytest.mark.slow
def test_source_folder_unchanged_by_analyses_with_out(analysed: dict[str, Path]) -> None:
    changed = analysed["changed"].read_text().split()
    assert changed == []


@pytest.mark.slow
def test_analyses_in_the_folder_keep_its_report_linked(analysed: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """finance, resilience and simulate writing into the solved folder leave report.html
    linking each page they add, with the expiry and working-capital tiles pointing at
    finance.html; the manifest keeps report.html the solve's, with its new checksum."""
    import json
    import shutil

    from netopt.report import relink_report
    from netopt.report.onepager import render_report
    from netopt.results.folder import file_entry
    from netopt.results.tables import Results

    folder = tmp_path / "solved"
    shutil.copytree(analysed["solved"], folder)
    assert 'href="finance.html"' not in (folder / "report.html").read_text()
    pages = []
    for name, page, args in (("finance", "finance.html", []),
                             ("simulate", "simulation/simulation.html",
                              ["--replications", "2", "--days", "30"]),
                             ("resilience", "resilience.html", [])):
        res = runner.invoke(app, [name, str(folder), *args])
        assert res.exit_code == 0, (name, res.output)
        pages.append(page)
        report = (folder / "report.html").read_text()
        for linked in pages:
            assert f'href="{linked}"' in report and (folder / linked).is_file(), (name, linked)
    # every figure is the folder's own: the report is the one-pager of its tables
    assert report == render_report(Results.read(folder), pages=pages)
    finance_links = re.findall(r'<div class="kpi finance">.*?</div></div>', report)
    assert len(finance_links) == 2 and all('href="finance.html"' in t for t in finance_links)
    assert "expire per year" in finance_links[0] and "working capital" in finance_links[1]
    runs = json.loads((folder / "netopt-manifest.json").read_text())["runs"]
    owner = [r["command"] for r in runs for f in r["files"] if f["path"] == "report.html"]
    assert owner == ["solve"]
    listed = next(f for r in runs for f in r["files"] if f["path"] == "report.html")
    assert listed == file_entry(folder / "report.html", "report.html")
    assert [r["command"] for r in runs if "report.html" in r.get("updated", [])] == [
        "finance", "simulate", "resilience"]
    # a report the user changed is theirs: left alone
    (folder / "report.html").write_text(report + "<!-- mine -->")
    (folder / "finance.html").unlink()
    assert relink_report(folder, tmp_path / "empty") is None


# ---------------------------------------------------------------- one headline figure

def test_network_cost_is_objective_minus_penalty() -> None:
    costs = pd.DataFrame({"term": ["site_fixed", "unserved_penalty", "ordering_and_inventory",
                                   "total"],
                          "usd_per_year": [1000.0, 250.0, -100.0, 1150.0]})
    assert unserved_penalty_usd(costs) == 250.0
    assert network_cost_usd(costs) == 900.0
    assert network_cost_usd(costs[costs["term"] != "total"]) == 900.0  # no total row
    # the network cost is the sum of the cash terms, whatever a total row says
    assert network_cost_usd(costs[costs["term"] != "unserved_penalty"]) == 900.0


# ---------------------------------------------------------------- finance

def test_expired_hub_doses_are_the_distributors() -> None:
    """100 doses a year expire in distributor-owned hub stock at $1,200 cost of goods: the
    distributor bears them, the manufacturer writes off nothing."""
    f = pd.DataFrame([{
        "site_id": "S1", "site_name": "One", "state": "GA", "product_id": "p", "policy":
        "held_at_hub", "title_holder": "distributor", "patients_per_year": 50.0,
        "doses_per_year": 500.0, "expired_doses_per_year": 100.0, "expired_usd": 120_000.0,
        "manufacturer_writeoff_doses": 0.0, "manufacturer_writeoff_usd": 0.0,
        "site_expired_doses": 0.0, "distributor_expired_doses": 100.0, "site_loss_usd": 0.0,
        "distributor_loss_usd": 125_000.0, "avg_inventory_value_usd": 9_000.0,
        "holding_cost_usd": 500.0, "working_capital_manufacturer_usd": 1.0,
        "working_capital_distributor_usd": 9_000.0, "working_capital_site_usd": 0.0,
        "capital_charge_usd": 720.0, "stock_level_doses": 12, "fill_rate": 0.95}])
    b = expiry_bearers(f)
    assert b[["holder", "stock_point"]].values.tolist() == [["distributor", "hub"]]
    assert b.iloc[0]["expired_doses_per_year"] == 100.0
    assert b.iloc[0]["cogs_usd"] == pytest.approx(120_000.0)
    assert b.iloc[0]["loss_usd"] == 125_000.0
    page = render_finance(f, pd.DataFrame(), "m", {"p": "Product P"})
    assert "100 of the 100 doses that expire each year (100%) expire at 3PL hubs on the " \
        "distributor&#x27;s books" in page
    assert "Product P" in page


def test_returned_doses_are_the_manufacturer_s_at_cost_of_goods() -> None:
    """A site bought its stock at $4,500 a dose ($1,200 cost of goods); of 100 doses that
    expire a year it returns 80 for full credit. The manufacturer loses 80 x $1,200 = $96,000:
    the $360,000 of credits give back what the site was billed (the page called that a $0.4 M
    loss). The 20 doses the site keeps are its own loss, outside the model's cost."""
    f = pd.DataFrame([{
        "site_id": "S1", "site_name": "One", "state": "GA", "product_id": "p", "policy":
        "stocked_at_site", "title_holder": "site", "patients_per_year": 50.0,
        "doses_per_year": 500.0, "expired_doses_per_year": 100.0, "expired_usd": 120_000.0,
        "returned_doses_per_year": 80.0, "return_credit_usd": 360_000.0,
        "manufacturer_writeoff_doses": 80.0, "manufacturer_writeoff_usd": 360_000.0,
        "site_expired_doses": 20.0, "distributor_expired_doses": 0.0,
        "site_loss_usd": 90_000.0, "distributor_loss_usd": 0.0,
        "avg_inventory_value_usd": 9_000.0, "holding_cost_usd": 500.0,
        "working_capital_manufacturer_usd": 1.0, "working_capital_distributor_usd": 0.0,
        "working_capital_site_usd": 9_000.0, "capital_charge_usd": 720.0,
        "stock_level_doses": 12, "fill_rate": 0.95}])
    b = expiry_bearers(f).set_index("holder")
    assert b.at["manufacturer", "loss_usd"] == pytest.approx(96_000.0)
    assert b.at["manufacturer", "credit_usd"] == pytest.approx(360_000.0)
    assert b.at["site", "loss_usd"] == pytest.approx(90_000.0)
    assert b.at["site", "cogs_usd"] == pytest.approx(24_000.0)
    page = " ".join(render_finance(f, pd.DataFrame(), "m", {"p": "Product P"}).split())
    assert ("80.0 of the 100 doses that expire each year (80%) expire at sites and fall to the "
            "manufacturer (80.0 of them returned by the sites that bought them): a loss of "
            "$96 k a year to the manufacturer at cost of goods. The $360 k of return credits "
            "it pays for them give back what the sites were billed") in page
    assert "the 20.0 doses sites keep ($24 k at cost of goods) are the sites&#x27; loss" in page


@pytest.mark.slow
def test_finance_page_marks_todays_return_policy(analysed: dict[str, Path]) -> None:
    tradeoff = pd.read_csv(analysed["finance"] / "return_tradeoff.csv", keep_default_na=False)
    # us-small: rdc_rx may be stocked at sites with 50 % returnable within 30 days
    now = tradeoff.loc[tradeoff["current_policy_products"] == "rdc_rx", "returnable_fraction"]
    assert now.tolist() == [0.5]
    page = (analysed["finance"] / "finance.html").read_text()
    assert 'class="current"' in page and "today: Allogeneic repeat-dose" in page
    finance = pd.read_csv(analysed["solved"] / "finance.csv")
    hub = finance[finance["policy"] == "held_at_hub"]
    assert hub["distributor_expired_doses"].sum() > 0  # hub stock does expire ...
    assert hub["distributor_loss_usd"].sum() > 0  # ... and someone bears it


@NEEDS_CHROMIUM
def test_long_finance_table_prints_short(tmp_path: Path) -> None:
    """300 site-products print on a few pages (the first 30 rows), yet all sort on screen."""
    rows = pd.DataFrame({
        "site_id": [f"S{i:03d}" for i in range(300)], "site_name": [f"Site {i}" for i in
                                                                   range(300)],
        "state": "GA", "product_id": "p", "policy": "jit_per_patient",
        "title_holder": "manufacturer", "patients_per_year": [float(i) for i in range(300)],
        "doses_per_year": 1.0, "expired_doses_per_year": 0.0, "expired_usd": 0.0,
        "manufacturer_writeoff_usd": 0.0, "site_loss_usd": 0.0, "avg_inventory_value_usd": 0.0,
        "holding_cost_usd": 0.0, "working_capital_manufacturer_usd": 1.0,
        "working_capital_distributor_usd": 0.0, "working_capital_site_usd": 0.0,
        "stock_level_doses": 0, "fill_rate": 1.0})
    page = tmp_path / "finance.html"
    page.write_text(render_finance(rows, pd.DataFrame(), "many"))
    browser = Browser()
    try:
        tab = browser.open(page, 1280, 720)
        assert tab.pdf_pages(tmp_path / "finance.pdf") <= 3
        # sorting by patients (a number) puts the largest first
        tab.eval("document.querySelectorAll('#by-site th')[5].click()")
        assert tab.eval("document.querySelector('#by-site tbody tr td').textContent") \
            == "Site 299"
        tab.eval("const f = document.querySelector('input.filter'); f.value = 'Site 12';"
                 "f.dispatchEvent(new Event('input'))")
        shown = tab.eval("[...document.querySelectorAll('#by-site tbody tr')]"
                         ".filter(r => !r.hidden).length")
        assert shown == 13  # every word matches: Site 12, 112, 120-129 and 212
    finally:
        browser.close()


# ---------------------------------------------------------------- resilience

@pytest.mark.slow
def test_resilience_loss_split_adds_up(analysed: dict[str, Path]) -> None:
    t = pd.read_csv(analysed["resilience"] / "resilience.csv")
    assert len(t)
    split = t["network_cost_increase_usd"] + t["penalty_increase_usd"]
    assert split.to_numpy() == pytest.approx(t["cost_increase_usd"].to_numpy(), rel=1e-9,
                                             abs=1e-3)
    page = (analysed["resilience"] / "resilience.html").read_text()
    top = t.iloc[0]
    assert top["name"] in page and "single point" in page


# ---------------------------------------------------------------- comparison

@pytest.fixture(scope="module")
def comparisons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Comparison, sweep and Pareto pages of the tiny model."""
    base = tmp_path_factory.mktemp("cmp")
    out = {}
    for name, comp in (
            ("compare", sc.sweep(TINY, {"service.within_km": [300.0, 40.0]}, workers=1)),
            ("sweep", sc.sweep(TINY, {"hubs.max_active": [1, 0]}, workers=1)),
            ("pareto", sc.pareto(TINY, [0.0, 0.5, 1.0], workers=1))):
        folder = base / name
        comp.write_tables(folder)
        write_comparison(comp, folder)
        out[name] = folder
    return out


def _bars(page: str) -> list[tuple[str, float, list[float]]]:
    out = []
    for scen, total, body in re.findall(
            r'<g class="bar" data-scenario="([^"]*)" data-total="([-0-9.]+)">(.*?)</g>', page,
            re.S):
        out.append((scen, float(total), [float(v) for v in re.findall(r'data-usd="([-0-9.]+)"',
                                                                       body)]))
    return out


def test_stacked_bars_add_up_with_a_negative_term() -> None:
    """Hand-made: 600 + 300 + penalty 200 - 150 ordering saving = 950 per the table."""
    rows = pd.DataFrame({"scenario": ["a", "b"], "status": ["optimal", "optimal"],
                         "objective_usd": [950.0, 1000.0],
                         "cost_transport": [600.0, 700.0], "cost_hub_fixed": [300.0, 300.0],
                         "cost_unserved_penalty": [200.0, 0.0],
                         "cost_ordering_and_inventory": [-150.0, 0.0],
                         "cost_total": [950.0, 1000.0]})
    bars = _bars(cost_compare_svg(rows))
    assert [(s, t) for s, t, _ in bars] == [("a", 950.0), ("b", 1000.0)]
    assert sum(bars[0][2]) == pytest.approx(950.0) and -150.0 in bars[0][2]
    assert sum(bars[1][2]) == pytest.approx(1000.0)


def test_pooled_depot_stock_is_drawn_once_in_the_ordering_parts() -> None:
    """With pooled depots the ordering parts (finance.csv's site and depot rows) add up to
    ordering and inventory plus depot stock: 1,000 + (-100 - 400) + 50 = 550. The depot term
    had been drawn a second time beside its parts (a $16.1M scenario's bar read $12.1M)."""
    rows = pd.DataFrame({"scenario": ["pooled"], "status": ["optimal"],
                         "objective_usd": [550.0], "cost_transport": [1000.0],
                         "cost_ordering_and_inventory": [-100.0],
                         "cost_depot_stock": [-400.0], "cost_unserved_penalty": [50.0],
                         "ordering_shipping_saved_usd": [-700.0],
                         "ordering_holding_usd": [180.0], "ordering_tabulation_usd": [20.0],
                         "cost_total": [550.0]})
    ((_, total, parts),) = _bars(cost_compare_svg(rows))
    assert total == pytest.approx(550.0) and sum(parts) == pytest.approx(550.0)
    assert -400.0 not in parts and -700.0 in parts


def test_two_savings_under_one_bar_are_told_apart() -> None:
    """Shipping saved and a negative stock pricing approximation were drawn, and shown in
    the legend, in the same green hatch. Each saving now has its own stripe colour, in the
    strip and in the legend."""
    rows = pd.DataFrame({"scenario": ["a"], "status": ["optimal"], "objective_usd": [850.0],
                         "cost_transport": [1000.0], "cost_ordering_and_inventory": [-150.0],
                         "ordering_shipping_saved_usd": [-100.0],
                         "ordering_tabulation_usd": [-50.0], "cost_total": [850.0]})
    page = cost_compare_svg(rows)
    strips = re.findall(r'fill="url\(#(saving-\d)\)" stroke="(#[0-9a-f]{6})" '
                        r'data-usd="([-0-9.]+)"', page)
    assert sorted(strips) == [("saving-0", "#59a14f", "-100.00"),
                              ("saving-1", "#7f7f7f", "-50.00")]
    legend = page[page.index("cost-legend"):]
    for colour in ("#59a14f", "#7f7f7f"):
        assert f'stroke="{colour}" stroke-width="3"' in legend


def test_compare_bars_add_up_to_the_table(comparisons: dict[str, Path]) -> None:
    rows = pd.read_csv(comparisons["compare"] / "compare.csv")
    page = (comparisons["compare"] / "compare.html").read_text()
    bars = {s: (t, parts) for s, t, parts in _bars(page)}
    ok = rows[rows["status"].isin(["optimal", "feasible"])]
    assert len(ok) and len(bars) == len(ok)
    for r in ok.itertuples(index=False):
        total, parts = bars[r.scenario]
        assert total == pytest.approx(r.objective_usd, abs=0.01)
        assert sum(parts) == pytest.approx(r.cost_total, abs=0.05)
        assert r.network_cost_usd == pytest.approx(r.objective_usd - r.unserved_penalty_usd)


def test_compare_names_hubs_that_change(comparisons: dict[str, Path]) -> None:
    """tiny's only hub H1 closes when hubs.max_active is 0."""
    changes = pd.read_csv(comparisons["sweep"] / "facility_changes.csv")
    assert changes[["kind", "facility_id", "change"]].values.tolist() == [["hub", "H1",
                                                                          "closed"]]
    page = (comparisons["sweep"] / "compare.html").read_text()
    name = changes.iloc[0]["name"]
    assert f"hub closed: {name}" in page
    import openpyxl

    sheet = openpyxl.load_workbook(comparisons["sweep"] / "compare.xlsx")["Hub and partner "
                                                                          "changes"]
    assert {"hub", "H1", "closed"} <= set(list(sheet.values)[1])


def test_compare_labels_come_from_model_names() -> None:
    assert sc.scenario_name(TINY) == "tiny"
    assert sc.scenario_name(SMALL) == "us-small"


def test_pareto_page_opens_with_its_frontier(comparisons: dict[str, Path]) -> None:
    page = (comparisons["pareto"] / "compare.html").read_text()
    assert page.index("Cost of access") < page.index("Scenarios side by side")


# ---------------------------------------------------------------- in the browser

#: chart legends: HTML legend rows, and the key line inside a simulation chart
LEGENDS = ".legend, .chart-legend"


def _check_page(browser: Browser, page: Path, shots: Path) -> None:
    for width, height in SIZES:
        tab = browser.open(page, width, height)
        try:
            png = tab.screenshot(shots / f"{page.parent.name}-{page.stem}-{width}.png")
            assert png.stat().st_size > 10_000, f"{page.name} at {width}: blank screenshot"
            assert tab.remote_requests() == [], f"{page.name} asks the network"
            assert tab.eval("document.documentElement.scrollWidth") <= width + 1, \
                f"{page.name} scrolls sideways at {width}"
            legends = tab.boxes(LEGENDS)
            assert legends, f"{page.name}: no chart legend"
            for i in range(len(legends)):
                tab.eval(f"document.querySelectorAll({LEGENDS!r})[{i}].scrollIntoView()")
                box = tab.boxes(LEGENDS)[i]
                assert box["width"] > 0 and inside(box, width, height), (page.name, width, box)
                assert box["height"] <= 100, (page.name, width, "legend wraps word by word")
        finally:
            tab.close()


@NEEDS_CHROMIUM
def test_scenario_pages_offline(comparisons: dict[str, Path], tmp_path: Path) -> None:
    browser = Browser()
    try:
        for name in ("compare", "sweep", "pareto"):
            _check_page(browser, comparisons[name] / "compare.html", tmp_path)
    finally:
        browser.close()


@NEEDS_CHROMIUM
def test_infeasible_reason_wraps_in_full_and_captions_read(
        comparisons: dict[str, Path], tmp_path: Path) -> None:
    """A 1,500-character infeasibility reason is on the page in full, wrapped inside the
    window (no sideways scroll); the small maps' captions are at least 11 px and fit."""
    from netopt.analysis.scenarios import Comparison
    from netopt.report.compare import render_comparison

    reason = "; ".join(f"service level: product p{i} needs 99% of its patients treated "
                       f"within 60 km, but at most {i} can be (zones Atlanta, GA and "
                       f"{i} more): no eligible site within 60 km" for i in range(12))
    assert len(reason) > 1_500
    rows = pd.DataFrame({"scenario": ["base", "strict"], "status": ["optimal", "infeasible"],
                         "reason": ["", reason], "objective_usd": [100.0, math.nan],
                         "cost_transport": [100.0, math.nan], "cost_total": [100.0, math.nan]})
    page = tmp_path / "compare.html"
    page.write_text(render_comparison(Comparison(rows, pd.DataFrame(), {}, None, "t")))
    browser = Browser()
    try:
        tab = browser.open(page, 1280, 720)
        assert tab.eval("document.querySelector('.reason').textContent") == reason
        (box,) = tab.boxes(".reason")
        assert inside({**box, "top": 0, "bottom": 0}, 1280, 720) and box["height"] > 60
        assert tab.eval("document.documentElement.scrollWidth") <= 1280
        tab.close()
        tab = browser.open(comparisons["sweep"] / "compare.html", 1280, 720)
        sizes = tab.eval("[...document.querySelectorAll('.multiples figcaption')].map(e => "
                         "parseFloat(getComputedStyle(e).fontSize))")
        assert sizes and min(sizes) >= 11
        assert all(b["right"] <= 1280 for b in tab.boxes(".multiples figcaption"))
        tab.close()
    finally:
        browser.close()


@pytest.mark.slow
@NEEDS_CHROMIUM
def test_analysis_pages_offline(analysed: dict[str, Path], tmp_path: Path) -> None:
    browser = Browser()
    try:
        _check_page(browser, analysed["finance"] / "finance.html", tmp_path)
        _check_page(browser, analysed["resilience"] / "resilience.html", tmp_path)
        _check_page(browser, analysed["simulate"] / "simulation.html", tmp_path)
    finally:
        browser.close()


def test_simulation_charts_use_names_uncut() -> None:
    from netopt.report.simulation import bar_chart_svg, box_plot_svg

    long = "Autologous CAR-T (refractory lupus)"
    q = {"p5": 20.0, "p25": 21.0, "p50": 22.0, "p75": 23.0, "p95": 24.0}
    box = box_plot_svg([(long, q, 17.6)], title="t")
    assert f">{long}</text>" in box
    ticks = re.findall(r'text-anchor="middle" fill="[^"]+">([\d,.]+)</text>', box)
    assert ticks == ["16", "18", "20", "22", "24"]  # whole days, round steps (p95 24)
    hubs = ["Atlanta cold-chain hub (ATL)", "Charlotte cold-chain hub (CLT)", "Raleigh-Durham "
            "cold-chain hub (RDU)", "Memphis cold-chain hub (MEM)"]
    svg = bar_chart_svg(hubs, [5.0, 10.0, 7.0, 1.0], title="t", unit="%", width=480)
    assert ">Atlanta cold-chain hub (ATL)</text>" in svg and "rotate(-35" in svg
    from netopt.report.simulation import kpi_words

    assert [kpi_words(k) for k in ("dose_delay_p90_days", "waste_cost_usd_per_year",
                                   "hub_closed_days_per_year", "on_schedule_pct")] == [
        "Dose delay P90", "Waste cost per year", "Hub closed days per year", "On schedule"]
