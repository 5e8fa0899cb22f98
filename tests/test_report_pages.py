"""Acceptance tests of the executive pages (issue #17): one cost figure everywhere, the map's
offline basemap and legend, the one-page report and its details appendix.

us-small is solved once for the module (about 20 s). Browser checks run headless Chromium with
every request sent to a proxy that does not exist, and record what the page asked for in a
NetLog: a page that requests anything beyond its own file fails.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openpyxl
import pandas as pd
import pytest

from netopt.report import write_reports
from netopt.report.basemap import REGIONS, region_of, simplify, state_outlines
from netopt.report.common import fmt_num, fmt_usd, network_cost_lines, truthy, yearly_cost
from netopt.results.tables import Results, cost_split, ordering_breakdown

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "models" / "us-small.yaml"
CHROMIUM = shutil.which("chromium")
NEEDS_CHROMIUM = pytest.mark.skipif(CHROMIUM is None, reason="Debian package `chromium` is "
                                    "not installed (apt-get install -y chromium)")
SIZES = ("1280,720", "1920,1080")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, small_solution) -> Path:  # noqa: ANN001
    """us-small solved (its own settings: threads 1, seed 0), saved and reported as `netopt
    solve` does."""
    out = tmp_path_factory.mktemp("small")
    result = copy.deepcopy(small_solution)
    result.write(out)
    write_reports(result, out)
    return out


# ---------------------------------------------------------------- pure functions

def test_cost_split_hand_computed() -> None:
    costs = pd.DataFrame({"term": ["site_fixed", "transport", "unserved_penalty",
                                   "elastic_kol", "ordering_and_inventory", "revenue", "cogs",
                                   "total"],
                          "usd_per_year": [100.0, 50.0, 30.0, 7.0, -20.0, -500.0, 200.0,
                                           -133.0]})
    split = cost_split(costs)
    assert split["network_cost_usd"] == pytest.approx(130.0)  # 100 + 50 - 20
    assert split["unserved_penalty_usd"] == pytest.approx(30.0)
    assert split["other_penalty_usd"] == pytest.approx(7.0)
    assert split["annual_cost_usd"] == pytest.approx(-133.0)


def test_ordering_breakdown_adds_up_to_the_term() -> None:
    tables = {
        "costs": pd.DataFrame({"term": ["ordering_and_inventory", "total"],
                               "usd_per_year": [-40.0, -40.0]}),
        "finance": pd.DataFrame({"ordering_replenishment_usd": [10.0, 5.0],
                                 "ordering_shipping_saved_usd": [-80.0, 0.0],
                                 "ordering_holding_usd": [12.0, 0.0],
                                 "ordering_expiries_usd": [6.0, 0.0],
                                 "ordering_capital_charge_usd": [3.0, 0.0],
                                 "ordering_returns_usd": [0.0, 0.0]})}
    parts = ordering_breakdown(tables)
    assert parts["replenishment"] == 15.0 and parts["shipping_saved"] == -80.0
    assert parts["tabulation"] == pytest.approx(-40.0 - (15 - 80 + 12 + 6 + 3))
    assert sum(v for k, v in parts.items() if k != "total") == pytest.approx(parts["total"])


def test_depot_stock_term_is_split_with_the_site_stock_not_beside_it() -> None:
    """finance.csv's depot rows carry parts too: the parts add up to both stock terms, the
    tabulation difference stays the pricing error (here 2), and the cost lines show the
    parts once instead of the depot term beside a tabulation line that cancels it."""
    tables = {
        "costs": pd.DataFrame({"term": ["transport", "ordering_and_inventory", "depot_stock",
                                        "total"],
                               "usd_per_year": [100.0, -40.0, -30.0, 30.0]}),
        "finance": pd.DataFrame({"ordering_replenishment_usd": [10.0, 20.0],
                                 "ordering_shipping_saved_usd": [-50.0, -60.0],
                                 "ordering_holding_usd": [0.0, 8.0],
                                 "ordering_expiries_usd": [0.0, 0.0],
                                 "ordering_capital_charge_usd": [0.0, 0.0],
                                 "ordering_returns_usd": [0.0, 0.0]})}
    parts = ordering_breakdown(tables)
    assert parts["total"] == -70.0
    assert parts["tabulation"] == pytest.approx(-70.0 - (30 - 110 + 8))
    lines = network_cost_lines(SimpleNamespace(tables=tables))  # the tables are all it reads
    labels = [label for label, _, _ in lines]
    assert "Depot stock" not in labels and "Ordering and inventory" not in labels
    assert labels.count("Replenishment shipments") == 1
    assert sum(usd for _, usd, _ in lines) == pytest.approx(30.0)


def test_simplify_keeps_corners_and_drops_collinear_points() -> None:
    line = np.array([[0, 0], [1, 0.001], [2, 0], [2, 1], [2, 2.0]])
    assert simplify(line, 0.01).tolist() == [[0, 0], [2, 0], [2, 2]]


def test_state_outlines_are_small_and_complete() -> None:
    states = state_outlines()
    codes = {code for code, _, _ in states}
    assert len(codes) == 52 and {"AK", "HI", "PR", "DC", "CA", "ME"} <= codes
    points = sum(len(ring) for _, _, rings in states for ring in rings)
    assert 2_000 < points < 15_000, points  # simplified: the national map stays small
    alaska = next(rings for code, _, rings in states if code == "AK")
    assert all(lon < -129 for ring in alaska for _, lon in ring)  # Aleutians kept west
    assert region_of(61.2, -149.9).code == "AK" and region_of(21.3, -157.8).code == "HI"
    assert region_of(18.4, -66.1).code == "PR" and region_of(40.7, -74.0) is None
    assert [r.code for r in REGIONS] == ["AK", "HI", "PR"]


# ---------------------------------------------------------------- one cost figure

def _money_m(value: float) -> str:
    return fmt_usd(value)


def test_network_cost_is_the_same_everywhere(folder: Path) -> None:
    summary = json.loads((folder / "summary.json").read_text())
    kpis = pd.read_csv(folder / "kpis.csv").set_index("kpi")["value"]
    costs = pd.read_csv(folder / "costs.csv")
    network = summary["network_cost_usd"]
    penalty = summary["unserved_penalty_usd"]
    assert kpis["network_cost_usd"] == pytest.approx(network, rel=1e-9)
    assert network + penalty == pytest.approx(summary["objective_usd"], rel=1e-6)
    assert penalty > 0  # us-small leaves patients unserved: the split matters here
    cash = costs[~costs["term"].isin(["total", "unserved_penalty"])]["usd_per_year"].sum()
    assert network == pytest.approx(cash, rel=1e-9)
    headline = fmt_usd(network)
    for page in ("report.html", "map.html", "details.html"):
        html = (folder / page).read_text()
        assert headline in html, f"{page} does not show the network cost {headline}"
        assert fmt_usd(network + penalty) not in html.split("Objective")[0], \
            f"{page} shows the objective (with the penalty) before the network cost"
    wb = openpyxl.load_workbook(folder / "network.xlsx", data_only=True)
    values = [c for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
              for c in row if isinstance(c, float)]
    assert any(abs(v - network) < 0.01 for v in values), "network.xlsx lacks the network cost"


@pytest.fixture(scope="module")
def compared(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The solved us-small read back as a comparison's scenario (as `netopt compare` builds
    its rows from a solve), with compare.csv, compare.html and compare.xlsx written."""
    from netopt.analysis import scenarios as sc
    from netopt.report.compare import write_comparison

    summary = json.loads((folder / "summary.json").read_text())
    run = sc.solved_run(sc.ScenarioSpec("us-small", str(SMALL), {}), Results.read(folder),
                        summary["settings"]["service"]["within_km"],
                        summary["settings"]["service"]["min_share"])
    comp = sc.build_comparison([run, run], title="us-small twice")
    out = tmp_path_factory.mktemp("compare")
    comp.write_tables(out)
    write_comparison(comp, out)
    return out


def test_network_cost_is_the_same_in_the_comparison(folder: Path, compared: Path) -> None:
    network = json.loads((folder / "summary.json").read_text())["network_cost_usd"]
    rows = pd.read_csv(compared / "compare.csv")
    assert rows["network_cost_usd"].tolist() == pytest.approx([network] * 2, rel=1e-12)
    assert fmt_usd(network) in (compared / "compare.html").read_text()
    sheet = openpyxl.load_workbook(compared / "compare.xlsx")["Comparison"]
    head = [c.value for c in sheet[1]]
    col = head.index("network_cost_usd (USD/yr)")
    assert [r[col] for r in sheet.iter_rows(min_row=2, values_only=True)] == \
        pytest.approx([network] * 2, rel=1e-12)


def test_compare_bars_show_ordering_in_its_parts(folder: Path, compared: Path) -> None:
    """us-small stocks doses at hubs: its ordering-and-inventory term (negative: stock saves
    more shipping than it costs) is drawn as holding, expiries, capital charge,
    replenishment and the shipping saving, each explained, and every bar ends at the
    table's objective."""
    rows = pd.read_csv(compared / "compare.csv")
    parts = [c for c in rows.columns if c.startswith("ordering_") and c.endswith("_usd")]
    term = rows["cost_ordering_and_inventory"]
    assert (term < 0).all()
    assert rows[parts].sum(axis=1).to_numpy() == pytest.approx(term.to_numpy(), abs=1e-6)
    page = (compared / "compare.html").read_text()
    bars = re.findall(r'<g class="bar" data-scenario="[^"]*" data-total="([-0-9.]+)">(.*?)</g>',
                      page, re.S)
    assert len(bars) == 2
    for (total, body), objective in zip(bars, rows["objective_usd"], strict=True):
        segments = [float(v) for v in re.findall(r'data-usd="([-0-9.]+)"', body)]
        assert float(total) == pytest.approx(objective, abs=0.01)
        assert sum(segments) == pytest.approx(objective, abs=0.05)
        assert min(segments) == pytest.approx(rows["ordering_shipping_saved_usd"][0], abs=0.01)
        assert "Ordering and inventory" not in body
    for words in ("Inventory holding</b>: storing doses", "Expired doses</b>: doses that",
                  "Capital charge on stock</b>: cost of capital",
                  "Replenishment shipments</b>: bulk",
                  "Saving: per-patient shipping avoided</b>: the per-patient deliveries"):
        assert words in page, words
    # the one-pager's cost chart draws the same parts (the compare legend names them)
    report = (folder / "report.html").read_text()
    for label in ("Inventory holding", "Saving: per-patient shipping avoided"):
        assert f">{label}</text>" in report and f"</svg>{label}" in page


def test_compare_small_maps_have_outlines_and_captions(folder: Path, compared: Path) -> None:
    """Each scenario's map is drawn on the state outlines of the states it covers (us-small:
    AL, GA, NC, SC, TN and neighbours), and its caption says what changed in words."""
    summary = json.loads((folder / "summary.json").read_text())
    sites, hubs = int(summary["sites_active"]), int(summary["hubs_active"])
    page = (compared / "compare.html").read_text()
    figures = re.findall(r"<figure><figcaption>(.*?)</figcaption>(<svg.*?</svg>)</figure>", page,
                         re.S)
    assert len(figures) == 2
    for caption, svg in figures:
        outlines = re.search(r'<g fill="#fdfcf8" stroke="#a7b2bd"[^>]*>(.*?)</g>', svg, re.S)
        assert outlines and outlines.group(1).count("<path") >= 5, "no state outlines"
        assert f"{sites} active sites" in caption and f"{hubs} hubs" in caption
        assert not re.search(r"\b0 (opened|closed)|\u22120", caption), caption
    assert "the baseline: the others are compared with it" in figures[0][0]
    assert "same sites as the baseline" in figures[1][0]


def test_cost_chart_adds_up_to_the_network_cost(folder: Path) -> None:
    result = Results.read(folder)
    lines = network_cost_lines(result)
    total = sum(usd for _, usd, _ in lines)
    assert total == pytest.approx(json.loads((folder / "summary.json").read_text())
                                  ["network_cost_usd"], rel=1e-9)
    labels = [label for label, _, _ in lines]
    assert "Ordering and inventory" not in labels  # shown in its parts
    saving = [usd for label, usd, kind in lines if kind == "saving"]
    assert saving and all(v < 0 for v in saving)
    assert any(label.startswith("Saving: per-patient shipping") for label in labels)
    page = (folder / "report.html").read_text()
    assert "stock saves" in page and "Network cost (sum of the above)" in page
    details = (folder / "details.html").read_text()
    for words in ("Inventory holding", "Expired doses", "Capital charge",
                  "Replenishment shipments", "per-patient deliveries that stock replaces"):
        assert words in details


# ---------------------------------------------------------------- one-pager content

def test_report_names_active_hubs_and_partners(folder: Path) -> None:
    page = (folder / "report.html").read_text()
    named = 0
    for name in ("hubs", "partners"):
        t = pd.read_csv(folder / f"{name}.csv")
        for facility in t.loc[t["active"].astype(bool), "name"]:
            assert str(facility) in page, f"{facility} missing from report.html"
            named += 1
    assert named >= 3
    assert 'href="details.html"' in page and 'href="map.html"' in page
    assert "State</th><th class='n'>Active" not in page  # the state table moved to details
    assert "State</th><th class='n'>Active" in (folder / "details.html").read_text()


def test_hub_costs_are_net_of_the_shipping_stock_replaces(folder: Path) -> None:
    """A hub's lanes price every dose per patient; the stock its sites hold replaces most of
    that shipping with bulk replenishments. Shared among hubs by doses, that change sums to
    finance.csv's, and the hubs' costs no longer add up to more than the network's."""
    hubs = pd.read_csv(folder / "hubs.csv")
    fin = pd.read_csv(folder / "finance.csv")
    costs = pd.read_csv(folder / "costs.csv").set_index("term")["usd_per_year"]
    direct = fin[(fin["row"] == "site") & (fin["route"] == "direct")]
    change = (direct["ordering_replenishment_usd"] + direct["ordering_shipping_saved_usd"]).sum()
    assert change < -1e6  # us-small's stock saves millions of per-patient shipping
    assert hubs["stock_shipping_usd_per_year"].sum() == pytest.approx(change, rel=1e-9)
    assert (hubs.loc[~hubs["active"], "stock_shipping_usd_per_year"] == 0).all()
    active = hubs[hubs["active"]]
    parts = ["fixed_cost_usd_per_year", "handling_cost_usd_per_year",
             "transport_cost_usd_per_year"]
    gross, net = active[parts].to_numpy().sum(), active[
        [*parts, "stock_shipping_usd_per_year"]].to_numpy().sum()
    assert net == pytest.approx(gross + change, rel=1e-9)
    assert net < costs["transport"] + costs["hub_handling"] + costs["hub_fixed"]


def test_hub_popups_list_cost_and_sites_served(folder: Path) -> None:
    """map.html: each active hub's pop-up carries its yearly cost and the names of the sites
    it serves (from hubs.csv and sites.csv)."""
    page = (folder / "map.html").read_text()
    hubs = pd.read_csv(folder / "hubs.csv", keep_default_na=False)
    names = dict(pd.read_csv(folder / "sites.csv")[["site_id", "name"]].values)
    active = hubs[hubs["active"].astype(str).str.lower() == "true"]
    assert len(active)
    for hub in active.itertuples(index=False):
        name = re.escape(json.dumps(hub.name))
        payload = json.loads(re.search(r'\{"ll":\[[^]]*\],"icon":"hub","tip":"[^"]*","name":'
                                       + name + r'.*?"pop":(\[\[.*?\]\])(?:,"rank":\d+)?\}',
                                       page).group(1))
        rows = [tuple(r) for r in payload]
        cost = hub.fixed_cost_usd_per_year + hub.handling_cost_usd_per_year + \
            hub.transport_cost_usd_per_year + hub.stock_shipping_usd_per_year
        assert ("Cost/yr", fmt_usd(cost)) in rows
        served = hub.sites_served.split(";")
        assert ("", f"Sites served ({len(served)})") in rows
        assert {names[s] for s in served} <= {r[0] for r in rows}


def test_alaska_hawaii_and_puerto_rico_get_insets(folder: Path) -> None:
    """Patients in Anchorage, Honolulu and San Juan put Alaska, Hawaii and Puerto Rico in
    insets of the one-pager's map (their lanes stay on the page), clipped to each inset."""
    from netopt.report.common import frame_bounds
    from netopt.report.maps import inset_regions
    from netopt.report.onepager import static_map_svg

    result = Results.read(folder)
    zones = result.tables["zones"]
    far = zones.iloc[:3].copy()
    far["latitude"], far["longitude"] = [61.22, 21.31, 18.47], [-149.9, -157.86, -66.11]
    far["state"] = ["AK", "HI", "PR"]
    far[zones.columns[0]] = [f"far{i}" for i in range(3)]
    tables = {**result.tables, "zones": pd.concat([zones, far], ignore_index=True)}
    wide = Results(tables, result.info, result.summary)
    assert [r["code"] for r in inset_regions(wide, frame_bounds(wide))] == ["AK", "HI", "PR"]
    svg = static_map_svg(wide)
    for code in ("AK", "HI", "PR"):
        assert f'clipPath id="inset-{code}"' in svg and f'clip-path="url(#inset-{code})"' in svg
    assert 'clipPath id="inset-' not in static_map_svg(result)  # the Southeast alone: none


def test_plants_are_drawn_above_the_hubs_near_them(folder: Path) -> None:
    """New Jersey's plants lie within 30 km of Newark's hub: drawn before the hub squares
    (one-pager) or stacked by latitude (Leaflet), they were hidden under them."""
    from netopt.report.common import HUB_COLOUR, PLANT_COLOUR
    from netopt.report.maps import PLANT_Z, _facility_payloads, _Lookup
    from netopt.report.onepager import static_map_svg

    result = Results.read(folder)
    hubs, plants = result.tables["hubs"], result.tables["plants"].copy()
    hub = hubs[hubs["active"].map(truthy).astype(bool)].iloc[0]
    plants.loc[0, ["latitude", "longitude"]] = [hub["latitude"] + 0.1, hub["longitude"]]
    plants.loc[1, "turnaround_days"] = 0.0  # as an off-the-shelf product's plant
    moved = Results({**result.tables, "plants": plants}, result.info, result.summary)
    svg = static_map_svg(moved)
    assert svg.rfind(f'fill="{PLANT_COLOUR}"') > svg.rfind(f'fill="{HUB_COLOUR}"') > 0
    fac = _facility_payloads(moved, {}, _Lookup(result.tables["sites"], "site_id"),
                             _Lookup(hubs, "hub_id"), _Lookup(result.tables["partners"],
                                                                "partner_id"))
    assert [p["z"] for p in fac["plants"]] == [PLANT_Z] * len(plants)
    popups = [dict(p["pop"]) for p in fac["plants"]]
    assert "Turnaround (days)" in popups[0] and "Turnaround (days)" not in popups[1]


def test_a_product_served_nowhere_is_named_under_the_title(folder: Path) -> None:
    """Every site's price ceiling under AAV's price: 15.8 patients a year, nobody treats them,
    and the one-pager listed states 'and 1 more' without naming the therapy."""
    from netopt.report.onepager import render_report, served_nowhere

    result = Results.read(folder)
    assert served_nowhere(result) == ""
    a, u = result.tables["assignments"], result.tables["unserved"]
    aav = a[a["product_id"] == "aav_gt"]
    lost = pd.DataFrame({
        "zone_id": aav["zone_id"], "zone_name": aav["zone_name"], "state": aav["state"],
        "product_id": "aav_gt", "patients_unserved": aav["patients_per_year"],
        "reason": [f"{n} site(s) within 800 km, none eligible: price above the site's price "
                   f"ceiling ({n} sites)" for n in range(20, 20 + len(aav))]})
    cut = Results({**result.tables, "assignments": a[a["product_id"] != "aav_gt"],
                   "unserved": pd.concat([u, lost], ignore_index=True)},
                  result.info, result.summary)
    line = served_nowhere(cut)
    names = dict(zip(result.tables["products"]["product_id"],
                     result.tables["products"]["name"], strict=True))
    assert (f"<b>Served nowhere:</b> {names['aav_gt']}, "
            f"{fmt_num(aav['patients_per_year'].sum())} patients/yr: price above the "
            "site&#x27;s price ceiling.</p>") in line
    assert line in render_report(cut)


def test_unserved_reasons_that_differ_in_a_count_are_one_row(folder: Path) -> None:
    """details.html listed one cause (every site's price ceiling under the price) in ten rows,
    one per site count; it now shows one row per product and cause, its largest wording."""
    from netopt.report.details import _unserved_table

    result = Results.read(folder)
    why = "{n} site(s) within 800 km, none eligible: price above the site's price ceiling"
    lost = pd.DataFrame({
        "zone_id": ["Z1", "Z2", "Z3", "Z4"], "zone_name": "", "state": "GA",
        "product_id": ["aav_gt", "aav_gt", "aav_gt", "aav_gt"],
        "patients_unserved": [1.5, 4.0, 0.5, 2.0],
        "reason": [why.format(n=27), why.format(n=24), why.format(n=27),
                   "no treatment site within 800 km (the product's max patient travel)"]})
    page = _unserved_table(Results({**result.tables, "unserved": lost}, result.info,
                                   result.summary)).replace("&#x27;", "'")
    rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td class='n'>([^<]*)</td>"
                      r"<td class='n'>(\d+)</td></tr>", page)
    assert rows == [(why.format(n=24) + " (figures differ by zone)", "6.0", "3"),
                    ("no treatment site within 800 km (the product's max patient travel)",
                     "2.0", "1")]


def test_site_popups_give_an_inbound_leg_only_to_autologous_products(folder: Path) -> None:
    """A site's pop-up read 'inbound 0 h' for off-the-shelf products, which carry no cells
    in; the CAR-T lines keep their inbound hours."""
    from netopt.report.maps import build_map

    page = build_map(Results.read(folder)).get_root().render()
    assert "inbound 0 h" not in page
    assert re.search(r"inbound [1-9][0-9,]* h", page)


def test_unserved_reasons_in_domain_words(folder: Path) -> None:
    reasons = " ".join(pd.read_csv(folder / "unserved.csv")["reason"].astype(str))
    for jargon in ("aggregation.cluster_km", "cluster_share_of_reach", "shelf_life_hours",
                   "max_vein_to_vein_days"):
        assert jargon not in reasons
    assert "group of nearby communities" in reasons


def test_report_links_finance_when_present(folder: Path, tmp_path: Path) -> None:
    from netopt.report.onepager import write_report

    result = Results.read(folder)
    assert "finance.html" not in write_report(result, tmp_path / "report.html").read_text()
    (tmp_path / "finance.html").write_text("<html></html>")
    assert 'href="finance.html"' in write_report(result, tmp_path / "report.html").read_text()


# ---------------------------------------------------------------- browser

def _chromium(url: str, *extra: str, netlog: Path | None = None) -> str:
    """Headless Chromium behind a dead proxy; returns stdout (the DOM with --dump-dom)."""
    with tempfile.TemporaryDirectory() as profile:
        args = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                "--hide-scrollbars", "--virtual-time-budget=8000", *extra]
        if netlog is not None:
            args.append(f"--log-net-log={netlog}")
        run = subprocess.run([*args, url], capture_output=True, text=True, timeout=180,
                             check=False)
    return run.stdout


PROBE = """<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    function box(sel) {
      var el = document.querySelector(sel);
      if (!el) { return null; }
      var r = el.getBoundingClientRect();
      return [r.left, r.top, r.right, r.bottom];
    }
    var out = {w: window.innerWidth, h: window.innerHeight,
               scrollW: document.documentElement.scrollWidth,
               legend: box(".nx-legend") || box(".legend"), head: box(".nx-head"),
               insets: box(".nx-insets"), layers: box(".leaflet-control-layers"),
               names: Array.prototype.map.call(
                 document.querySelectorAll(".nx-name span"), function (el) {
                   var r = el.getBoundingClientRect();
                   return [r.left, r.top, r.right, r.bottom, el.style.visibility !== "hidden"];
                 }),
               // the one-pager's static map: its names and its symbols (sites, facilities)
               pageNames: Array.prototype.map.call(document.querySelectorAll(
                 "figure.netmap svg .names text"), function (el) {
                   var r = el.getBoundingClientRect();
                   return [r.left, r.top, r.right, r.bottom];
                 }),
               pageSymbols: Array.prototype.map.call(document.querySelectorAll(
                 "figure.netmap svg .symbols > *"), function (el) {
                   var r = el.getBoundingClientRect();
                   return [r.left, r.top, r.right, r.bottom];
                 }),
               // facility symbols of the main map: icons (hub, partner, plant, KOL), sites
               symbols: Array.prototype.filter.call(document.querySelectorAll(
                 ".leaflet-marker-pane .nx-icon, .leaflet-nxSites-pane path"), function (el) {
                   return !el.closest(".nx-insets");
                 }).map(function (el) {
                   var r = el.getBoundingClientRect();
                   return [r.left, r.top, r.right, r.bottom];
                 })};
    var pre = document.createElement("pre");
    pre.id = "probe";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }, 500);
});
</script>"""


def _probe(page: Path, size: str) -> dict:
    """Layout facts of `page` at a window size, recorded by a script in a copy of it."""
    copy = page.with_name(f"probe-{page.name}")
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>", 1))
    dom = _chromium(copy.as_uri(), f"--window-size={size}", "--dump-dom")
    copy.unlink()
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert match, f"{page.name}: layout probe did not run"
    return json.loads(match.group(1).replace("&quot;", '"'))


#: NetLog traffic annotation of requests a page makes (Blink's resource loader); Chromium's
#: own background calls (update checks, time sync) carry other annotations and are ignored
PAGE_REQUEST = 101845102


def _requests(netlog: Path) -> list[str]:
    """URLs the page itself asked the network for (file: and data: are the page)."""
    text = netlog.read_text(errors="replace")
    urls = {m.group(2) for m in re.finditer(r'"traffic_annotation":(\d+),"url":"([^"]+)"', text)
            if int(m.group(1)) == PAGE_REQUEST}
    return sorted(u for u in urls if not u.startswith(("file:", "data:", "about:", "blob:")))


@NEEDS_CHROMIUM
def test_request_detector_sees_a_leaking_page(tmp_path: Path) -> None:
    """The offline check can fail: a page with a CDN script and a tile is caught."""
    page = tmp_path / "leak.html"
    page.write_text('<html><body><img src="https://tiles.invalid/1/2/3.png">'
                    '<script src="https://cdn.invalid/x.js"></script></body></html>')
    netlog = tmp_path / "net.json"
    _chromium(page.as_uri(), f"--screenshot={tmp_path / 'shot.png'}", netlog=netlog)
    assert _requests(netlog) == ["https://cdn.invalid/x.js", "https://tiles.invalid/1/2/3.png"]


@NEEDS_CHROMIUM
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", ["map.html", "report.html", "details.html"])
def test_pages_fit_and_stay_offline(folder: Path, tmp_path: Path, page: str, size: str) -> None:
    facts = _probe(folder / page, size)
    w, h = facts["w"], facts["h"]
    width, height = (int(v) for v in size.split(","))
    # --dump-dom keeps some window chrome: the viewport is at most the window (a stricter test)
    assert w == width and 0.75 * height <= h <= height, (w, h)
    assert facts["scrollW"] <= w, f"{page} scrolls sideways at {size}"
    if page == "map.html":
        left, top, right, bottom = facts["legend"]
        assert left >= 0 and right <= w and top >= 0 and bottom <= h, \
            f"legend outside the {size} window: {facts['legend']}"
        hl, ht, hr, hb = facts["head"]
        assert hr < left or hb < top, "title box overlaps the legend"
        shown = [tuple(n[:4]) for n in facts["names"] if n[4]]
        assert shown, "no facility is named on the map"
        assert len(facts["symbols"]) > 20, "facility symbols not found on the map"
        for i, a in enumerate(shown):  # names never overlap each other, the title or legend
            assert a[0] >= 0 and a[2] <= w and a[1] >= 0 and a[3] <= h, f"name off screen: {a}"
            for b in [*shown[i + 1:], facts["head"], facts["legend"]]:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), \
                    f"facility names overlap at {size}: {a} {b}"
            for b in facts["symbols"]:  # nor hide a site, hub, partner or plant
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), \
                    f"a facility name covers a symbol at {size}: {a} {b}"
    elif page == "report.html":
        left, _, right, _ = facts["legend"]
        assert left >= 0 and right <= w
        names, symbols = facts["pageNames"], facts["pageSymbols"]
        assert names and len(symbols) > 10, "static map: no names or symbols found"
        for i, a in enumerate(names):  # as drawn, in the browser's own font
            for b in [*names[i + 1:], *symbols]:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), \
                    f"a name on the one-pager's map covers a name or symbol at {size}: {a} {b}"
    netlog = tmp_path / "net.json"
    _chromium((folder / page).as_uri(), f"--window-size={size}",
              f"--screenshot={tmp_path / 'shot.png'}", netlog=netlog)
    assert (tmp_path / "shot.png").stat().st_size > 10_000
    assert netlog.exists()
    assert _requests(netlog) == [], f"{page} requested the network"


@NEEDS_CHROMIUM
def test_map_draws_state_outlines_offline(folder: Path) -> None:
    dom = _chromium((folder / "map.html").as_uri(), "--window-size=1280,720", "--dump-dom")
    assert "data-render-ms" in dom
    assert "US state outlines (offline)" in dom
    assert "Census Bureau" in dom  # attribution of the boundary data
    hubs = pd.read_csv(folder / "hubs.csv")
    for name in hubs.loc[hubs["active"].astype(bool), "name"]:  # placed or hidden by map.js
        assert re.search(f"<span[^>]*>{re.escape(name)}</span>", dom), f"no label for {name}"


@NEEDS_CHROMIUM
def test_map_insets_show_their_own_region_only(folder: Path, tmp_path: Path) -> None:
    """Alaska's inset is a window around Alaska, wider than it: a hub in British Columbia
    (54 N, 127 W: outside Alaska's bounds, inside that window) showed there as a square cut
    by the inset's caption, and every other facility was drawn in the inset too, off its
    window (ten here). An inset draws the symbols of its region only; the main map still
    draws every hub, and the inset Alaska's outline and the Anchorage patients."""
    from netopt.report.maps import write_map

    result = Results.read(folder)
    zones, hubs = result.tables["zones"], result.tables["hubs"].copy()
    anchorage = zones.iloc[:1].copy()
    anchorage["latitude"], anchorage["longitude"], anchorage["state"] = 61.22, -149.9, "AK"
    anchorage[zones.columns[0]] = "far0"
    moved = hubs.index[hubs["active"].astype(str).str.lower() == "true"][0]
    hubs.loc[moved, ["latitude", "longitude"]] = [54.0, -127.0]
    tables = {**result.tables, "zones": pd.concat([zones, anchorage], ignore_index=True),
              "hubs": hubs}
    page = write_map(Results(tables, result.info, result.summary), tmp_path / "map.html")
    probe = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  function count(sel) { return document.querySelectorAll(sel).length; }
  var pre = document.createElement("pre"); pre.id = "probe";
  pre.textContent = JSON.stringify({
    inset: count(".nx-inset-ak .nx-icon"), zones: count(".nx-inset-ak path"),
    main: Array.prototype.filter.call(document.querySelectorAll(".nx-icon"),
      function (el) { return !el.closest(".nx-insets"); }).length});
  document.body.appendChild(pre); }, 500); });
</script>"""
    page.write_text(page.read_text().replace("</body>", probe + "</body>", 1))
    dom = _chromium(page.as_uri(), "--window-size=1280,720", "--dump-dom")
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert match, "the probe did not run"
    seen = json.loads(match.group(1).replace("&quot;", '"'))
    assert seen["inset"] == 0  # no facility of the lower 48 in Alaska's inset
    assert seen["zones"] > 0  # Alaska's outline and the Anchorage patients are drawn
    assert seen["main"] >= int((hubs["active"].astype(str).str.lower() == "true").sum())


@NEEDS_CHROMIUM
def test_report_prints_on_one_letter_page(folder: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    _chromium((folder / "report.html").as_uri(), "--no-pdf-header-footer",
              f"--print-to-pdf={pdf}")
    data = pdf.read_bytes()
    pages = re.findall(rb"/Type\s*/Page(?!s)", data)
    assert len(pages) == 1, f"report.html prints on {len(pages)} pages"
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert box and (float(box.group(1)), float(box.group(2))) == pytest.approx((612, 792)), \
        "not US Letter portrait"


def _crowded(result: Results) -> Results:
    """us-small as crowded as a national network: 19 active hubs with long names spread over
    the region, a two-line description, unserved patients in many states, each with a reason
    as long as the national page's."""
    hubs = result.tables["hubs"]
    extra = []
    for i in range(19 - int(hubs["active"].astype(bool).sum())):
        row = hubs.iloc[i % len(hubs)].copy()
        row["hub_id"], row["active"] = f"HX{i:02d}", True
        row["name"] = f"Extra regional cold-chain hub {i:02d} (X{i:02d})"
        row["latitude"] = float(row["latitude"]) + 0.6 * ((i % 5) - 2)
        row["longitude"] = float(row["longitude"]) + 0.7 * ((i // 5) - 2)
        extra.append(row)
    tables = dict(result.tables)
    tables["hubs"] = pd.concat([hubs, pd.DataFrame(extra)], ignore_index=True)
    partners = tables["partners"].copy()  # an active partner whose name takes two lines
    partners.loc[partners.index[0], ["active", "name"]] = \
        [True, "Salt Lake City cold-storage partner (West Valley City)"]
    tables["partners"] = partners
    summary = dict(result.summary)
    settings = dict(summary.get("settings") or {})
    settings["description"] = "A long description of the network " * 6
    summary["settings"] = settings
    # a short run on a busy machine: the banner's longest form, three lines on paper
    summary.update(status="feasible", gap=0.126, solve_seconds=15.6,
                   stopped_by_clock=["linking cut loop", "narrow kernel", "closing MIP",
                                     "strict kernel", "full MIP"],
                   cores_not_free="other work using 1.0 of its 2 cores")
    unserved = tables["unserved"].copy()  # reasons as long as the national page's
    unserved["reason"] = ("no treatment site within 150 km (the product's max patient "
                          "travel) and no partner in reach of the sites beyond it, "
                          "whose lanes exceed the shelf life")
    tables["unserved"] = unserved
    return Results(tables, result.info, summary)


def test_crowded_list_keeps_rows_for_partners(folder: Path) -> None:
    """On a crowded page the partners (cheap, few, and what a reader looks for) keep up to
    two of the six rows; the costliest hubs fill the rest and the others go in one line."""
    from netopt.report.onepager import facility_list

    crowded = _crowded(Results.read(folder))
    partners = crowded.tables["partners"].copy()
    assert len(partners) >= 3, "us-small has fewer than three partners"

    def with_active(k: int) -> str:
        p = partners.copy()
        p["active"] = [i < k for i in range(len(p))]
        p["fixed_cost_usd_per_year"] = [1000.0 * (i + 1) for i in range(len(p))]
        p["handling_cost_usd_per_year"] = 0.0
        p["name"] = [f"Cold store {i}" for i in range(len(p))]
        return facility_list(Results({**crowded.tables, "partners": p}, crowded.info,
                                     crowded.summary))

    def rows(html: str) -> list[tuple[str, str]]:
        return re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>", html)

    one = with_active(1)
    assert "Active hubs and partners: 20, 6 of them in rows</h2>" in one
    assert [r for r in rows(one) if r[1] == "Partner"] == [("Cold store 0", "Partner")]
    assert len(rows(one)) == 6 and "14 more: " in one
    three = with_active(3)  # the two costliest partners in rows, the third in the line
    assert "Active hubs and partners: 22, 6 of them in rows</h2>" in three
    assert [r[0] for r in rows(three) if r[1] == "Partner"] == ["Cold store 2", "Cold store 1"]
    assert "16 more: " in three  # the cheapest partner is counted there (named in details)
    assert "the 6 costliest of 19</h2>" in with_active(0)  # no partner: as before
    # a partner holding pooled stock is named for it and keeps its row all the same (it
    # fell into the line once its role named the stock)
    fin = crowded.tables["finance"]
    depot, site = fin.iloc[:1].copy(), fin.iloc[:1].copy()
    depot[["row", "depot_id", "product_id", "route"]] = ["depot", partners.at[0, "partner_id"],
                                                         "cart_onc", "partner"]
    site[["row", "depot_id", "product_id"]] = ["site", partners.at[0, "partner_id"],
                                               "cart_onc"]
    crowded.tables["finance"] = pd.concat([fin, depot, site])
    held = rows(with_active(1))
    assert [r for r in held if r[1].startswith("Partner")] == [
        ("Cold store 0", "Partner: cart_onc stock for 1 site")]


@NEEDS_CHROMIUM
def test_crowded_report_still_prints_on_one_page(folder: Path, tmp_path: Path) -> None:
    """The one-pager stays one page when a network has many hubs: it lists the costliest by
    name and the rest in one line (every name still on the page), and map labels that would
    overlap are left out."""
    from netopt.report.onepager import write_report

    crowded = _crowded(Results.read(folder))
    page = write_report(crowded, tmp_path / "report.html",
                        pages=["finance.html", "resilience.html", "simulation/simulation.html"])
    html = page.read_text()
    hubs = crowded.tables["hubs"]
    active = hubs.loc[hubs["active"].astype(bool), "name"].astype(str).tolist()
    named = [n for n in active if n in html]
    others = re.search(r"and (\d+) others \(all in details\)", html)
    assert len(named) + (int(others.group(1)) if others else 0) == 19
    assert len(named) >= 12 and "Active hubs and partners: 20, 6 of them in rows" in html
    assert "14 more: " in html and "Salt Lake City cold-storage partner" in html
    labels = re.findall(r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="(start|end|middle)">'
                        r"([^<]*)</text>", html)
    assert 3 <= len(labels) < 19  # crowded: some labels give way
    pdf = tmp_path / "report.pdf"
    _chromium(page.as_uri(), "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes())) == 1



# ---------------------------------------------------------------- figures in words


def test_usd_keeps_the_hundreds_under_ten_thousand() -> None:
    """A dose's price or cost of goods is a few thousand dollars: $4,500 is not "$4 k"."""
    assert [fmt_usd(v) for v in (4_500, 1_200, -2_500, 9_940, 9_960, 58_364, 950, 1.5e6,
                                 1_000, 3_020)] == [
        "$4.5 k", "$1.2 k", "-$2.5 k", "$9.9 k", "$10 k", "$58 k", "$950", "$1.5 M", "$1 k",
        "$3 k"]
    assert [fmt_usd(v) for v in (-3.9e-11, -0.4, -0.6)] == ["$0", "$0", "-$1"]


def test_an_amount_too_small_to_show_is_not_written_as_zero() -> None:
    """details.html listed unserved groups of 0.03 patients as "0.0": a row that seemed to
    have no reason to be there."""
    from netopt.report.common import fmt_num

    assert [fmt_num(v) for v in (0.0, 0.03, 0.05, 0.049, 12.34, 1234.5)] == [
        "0.0", "<0.1", "0.1", "<0.1", "12.3", "1,234"]
    assert fmt_num(0.004, digits=2) == "<0.01"


def test_details_list_hubs_and_partners_costliest_first(folder: Path) -> None:
    """As the one-pager does: the page lists each kind by yearly cost, not by id."""
    from netopt.report.details import facilities_table

    result = Results.read(folder)
    hubs = result.tables["hubs"].copy()
    active = [i for i, a in zip(hubs.index, hubs["active"], strict=True) if truthy(a)]
    assert len(active) >= 3  # with two, id order would put them in this order too
    hubs.loc[active[0], "fixed_cost_usd_per_year"] = 9e8  # the first id becomes the costliest
    hubs.loc[active[-1], "fixed_cost_usd_per_year"] = 8e8
    html = facilities_table(Results({**result.tables, "hubs": hubs}, result.info,
                                    result.summary))
    names = re.findall(r"<tr><td>(.*?)</td><td>3PL hub</td><td class='n'>(.*?)</td>", html)
    assert [n for n, _ in names[:2]] == [hubs.at[active[0], "name"], hubs.at[active[-1], "name"]]
    costs = sorted((yearly_cost(r, "hubs") for r in hubs.loc[active].to_dict("records")),
                   reverse=True)
    assert [usd for _, usd in names] == [fmt_usd(c) for c in costs]


def test_details_say_what_every_cost_term_is(folder: Path) -> None:
    """Every cost line on details.html says what it is, and transport and hub handling say
    they are counted before the deliveries stock gives back: on the national default they
    alone exceed the network cost."""
    html = (folder / "details.html").read_text()
    table_html = html.split("<table class='costs'>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td class='n'>.*?</td><td>(.*?)</td></tr>",
                      table_html)
    assert len(rows) >= 8
    assert all(note for _, note in rows), [label for label, note in rows if not note]
    notes = dict(rows)
    assert "stock gives part back below" in notes["Transport"]
    assert "stock gives part back below" in notes["Hub handling"]


def test_working_capital_tile_says_it_is_mostly_receivables() -> None:
    """The manufacturer's working capital is its receivables plus the stock it owns: the
    national default's $338.1 M is $337.4 M of 30-day receivables and $0.7 M of stock, so the
    tile must not read as capital tied up in doses."""
    from netopt.report.onepager import _working_capital_words

    fin = pd.DataFrame({"title_holder": ["manufacturer", "manufacturer", "distributor", "site"],
                        "avg_inventory_value_usd": [500_000.0, 230_000.0, 30_000.0, 90_000.0]})
    k = {"working_capital_manufacturer_usd": 338_130_000.0, "working_capital_site_usd": 0.0}
    assert _working_capital_words(fin, k) == (
        "working capital: $337.4 M receivables, $730 k stock")
    k["working_capital_site_usd"] = 40_000.0  # sites' stock beyond what they owe
    assert _working_capital_words(fin, k).endswith(", $40 k at sites")
    k["working_capital_distributor_usd"] = 30_000.0  # the hub stock a distributor owns
    assert _working_capital_words(fin, k) == (
        "working capital: $337.4 M receivables, $730 k stock, $30 k at distributors, $40 k at "
        "sites")


def test_sites_tile_counts_the_active_sites_that_treat_no_one() -> None:
    from netopt.report.onepager import _idle_words

    sites = pd.DataFrame({"active": [True, True, True, False],
                          "patients_per_year": [0.0, 0.3, 12.0, 0.0]})
    assert _idle_words(sites) == "; 1 treat no one"
    assert _idle_words(sites.assign(patients_per_year=1.0)) == ""


def test_rest_line_counts_a_site_two_hubs_serve_once(folder: Path) -> None:
    """The one-pager's last line sums the hubs it does not list: their sites are counted
    once each, not once per hub (the national page said 75 for 68 sites)."""
    from netopt.report.onepager import facility_list

    crowded = _crowded(Results.read(folder))
    hubs = crowded.tables["hubs"].copy()
    active = [i for i, a in zip(hubs.index, hubs["active"], strict=True) if truthy(a)]
    hubs["sites_served"] = ""
    for j, i in enumerate(active):  # every hub serves S1 and one site of its own
        hubs.loc[i, "sites_served"] = f"S1;SX{j:02d}"
        hubs.loc[i, "fixed_cost_usd_per_year"] = 1e6 * (len(active) - j)
    html = facility_list(Results({**crowded.tables, "hubs": hubs}, crowded.info,
                                 crowded.summary))
    rest = re.search(r"<tr class='note'>.*?</tr>", html).group(0)
    hidden = int(re.search(r"(\d+) more: ", rest).group(1))  # all hubs: the partner is listed
    assert hidden >= 2
    assert re.findall(r"<td class='n'>(\d+)</td>", rest) == [str(hidden + 1)]


def test_details_name_the_zone_cells_as_configured() -> None:
    from netopt.report.details import _cells

    assert _cells({"cluster_km": 0, "cluster_share_of_reach": 0.15}) == (
        "cells of 15 % of each product's max patient travel")
    assert _cells({"cluster_km": 25, "cluster_share_of_reach": 0.15}).endswith(
        ", at least 25 km")
    assert _cells({"cluster_km": 25, "cluster_share_of_reach": 0}) == "25 km cells"
    assert _cells({}) == "none (one demand point per zone)"


def test_workbook_headers_give_each_money_and_dose_column_its_unit() -> None:
    from netopt.report.workbook import header

    assert [header(c) for c in ("first_leg_cost_usd", "fixed_cost_usd_per_year",
                                "transport_usd_per_year", "stock_level_doses",
                                "site_expired_doses", "covering_patients_per_year")] == [
        "First leg cost (USD/shipment)", "Fixed cost (USD/yr)", "Transport (USD/yr)",
        "Stock level (doses)", "Site expired (doses/yr)", "Covering patients (patients/yr)"]


def test_carried_sheets_keep_what_a_user_saved_in_excel(tmp_path: Path) -> None:
    """A sheet saved by Excel keeps equal widths as one column range, merged cells and row
    heights: carried into a rebuilt workbook, they stay; an unreadable workbook carries
    nothing and leaves the new one as written."""
    from openpyxl import Workbook, load_workbook

    from netopt.report.workbook import carry_sheets

    old, new = tmp_path / "old.xlsx", tmp_path / "new.xlsx"
    book = Workbook()
    ws = book.active
    ws.title = "resilience"
    ws["A1"] = "Single points of failure"
    ws.merge_cells("A1:C1")
    ws["B3"] = 1234.5
    ws["B3"].number_format = '"$"#,##0'
    dim = ws.column_dimensions["B"]
    dim.width, dim.min, dim.max = 30, 2, 4  # B:D as one range
    ws.row_dimensions[2].height = 40
    book.save(old)
    fresh = Workbook()
    fresh.active.title = "summary"
    fresh.save(new)

    assert carry_sheets(old, new, ["resilience", "simulation"]) == ["resilience"]
    got = load_workbook(new)
    assert got.sheetnames == ["summary", "resilience"]
    sheet = got["resilience"]
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A1:C1"]
    assert [(d.min, d.max, d.width) for d in sheet.column_dimensions.values()] == [(2, 4, 30)]
    assert sheet.row_dimensions[2].height == 40
    assert (sheet["B3"].value, sheet["B3"].number_format) == (1234.5, '"$"#,##0')

    old.write_text("not a workbook")
    assert carry_sheets(old, new, ["resilience"]) == []
    assert load_workbook(new).sheetnames == ["summary", "resilience"]


def test_the_map_frame_holds_the_plants_hubs_and_partners() -> None:
    """A regional case (zones and sites in Minnesota and Wisconsin, the plant in Chicago):
    the frame was drawn around zones and active sites only, so the plant lay off the map
    and its lane ran off the edge. It now holds active hubs, partners and the plants, with
    a margin of 3 % of its larger span on regions 3 degrees tall or more; an inactive hub
    or an idle plant far away does not stretch it."""
    from netopt.report.common import FRAME_PAD_SHARE, frame_bounds

    def places(ids, lat, lon, active=None):  # noqa: ANN001, ANN202
        frame = pd.DataFrame({"id": ids, "latitude": lat, "longitude": lon})
        return frame if active is None else frame.assign(active=active)

    tables = {
        "zones": places(["Z1", "Z2"], [46.8, 44.9], [-92.1, -93.3]),
        "sites": places(["S1", "S2"], [44.98, 43.0], [-93.27, -87.9], [True, False]),
        "hubs": places(["H1", "H2"], [42.95, 33.6], [-87.9, -84.4], [True, False]),
        "partners": places(["P1"], [44.0], [-88.0], [False]),
        "plants": places(["PL1", "PL2"], [41.85, 33.92], [-87.65, -118.42]).assign(
            doses_per_year=[120.0, 0.0]),  # El Segundo ships nothing: not in the frame
    }
    (south, west), (north, east) = frame_bounds(Results(tables, None, {}))
    margin = FRAME_PAD_SHARE * max(46.8 - 41.85, -87.65 + 93.3)
    assert south == pytest.approx(41.85 - margin)  # the plant, not a zone or site
    assert north == pytest.approx(46.8 + margin)
    assert west == pytest.approx(-93.3 - margin) and east == pytest.approx(-87.65 + margin)
