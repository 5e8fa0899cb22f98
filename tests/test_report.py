"""Tests for netopt.report: map, one-pager and workbook from solved results.

The tiny case solves instantly, so most checks run on it; the us-small case (about 20 s to
solve) is solved once per module for the `slow` tests. Screenshots go to pytest's tmp_path,
never into the repository.
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from netopt.data.case import load_case
from netopt.report import build_map, write_reports
from netopt.report.assets import asset_source, leaflet_assets
from netopt.report.workbook import header
from netopt.results.pipeline import solve_case
from netopt.results.tables import TABLE_NAMES, Results, network_cost_usd

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
SMALL = ROOT / "models" / "us-small.yaml"
OUTPUTS = ("map.html", "report.html", "details.html", "network.xlsx")
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> \"q\" 'a' & b; "
CHROMIUM = shutil.which("chromium")
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian package `chromium` is not installed (apt-get install -y chromium); "
    "the offline screenshot check needs a headless browser")
NODE = shutil.which("node")
NEEDS_NODE = pytest.mark.skipif(NODE is None, reason="node is not installed (apt-get install -y "
                                "nodejs); the map's name placement is JavaScript")
MAP_JS = ROOT / "netopt" / "report" / "templates" / "map.js"


def _solve(model: Path) -> Results:
    return solve_case(load_case(model), threads=1, seed=0)


@pytest.fixture(scope="module")
def tiny() -> Results:
    return _solve(TINY)


@pytest.fixture(scope="module")
def small(small_solution: Results) -> Results:  # us-small's own settings: threads 1, seed 0
    return copy.deepcopy(small_solution)


def _saved(result: Results, folder: Path) -> Results:
    """Round-trip through the CSV folder, as `netopt report` does."""
    result.write(folder)
    return Results.read(folder)


# ---------------------------------------------------------------- writing

def test_write_reports_tiny(tiny: Results, tmp_path: Path) -> None:
    paths = write_reports(tiny, tmp_path)
    assert [p.name for p in paths] == list(OUTPUTS)
    assert all(p.stat().st_size > 1000 for p in paths)
    page = (tmp_path / "report.html").read_text()
    details = (tmp_path / "details.html").read_text()
    assert "Site One" in details and "Activated sites by state" in details
    assert 'href="map.html"' in page and 'href="details.html"' in page


def test_working_capital_without_payment_terms_is_not_zero(tiny: Results,
                                                           tmp_path: Path) -> None:
    """tiny has no policies table: 30 patients at $400k a dose were billed on terms nobody
    gave, and every working-capital tile read $0 (as if paid on delivery)."""
    from netopt.report.finance import render_finance

    assert (tiny.finance["method"] == "none").all()
    write_reports(tiny, tmp_path)
    words = " ".join((tmp_path / "report.html").read_text(encoding="utf-8").split())
    assert "working capital: no policies table: payment terms unknown" in words
    page = render_finance(tiny.finance, pd.DataFrame(), "tiny")
    assert page.count("no policies table: payment terms unknown") == 5  # 4 holders' + charge


def test_build_map_returns_folium_map(tiny: Results) -> None:
    import folium

    m = build_map(tiny)
    assert isinstance(m, folium.Map)
    html = m.get_root().render()
    names = [json.loads(n) for n in re.findall(r'^\s*("(?:[^"\\]|\\.)*") : feature_group_',
                                               html, flags=re.MULTILINE)]
    assert names[:3] == ["US state outlines (offline)", "Patient zones \u2014 all products",
                         "Supply lanes (plant \u2192 hub \u2192 partner)"]
    for name in ("Treatment sites \u2014 active", "Treatment sites \u2014 closed / not chosen",
                 "3PL hubs \u2014 active", "3PL hubs \u2014 not active",
                 "Cold-storage partners \u2014 active", "Cold-storage partner \u2192 site links",
                 "Plants", "KOLs", "Last-mile lanes \u00b7 Test CAR-T",
                 "Zones \u00b7 Test CAR-T"):
        assert name in names, name
    # decisions first: inactive facilities, last miles and KOLs start switched off
    hidden = re.findall(r"(feature_group_\w+) = L\.featureGroup\(\s*\{\s*\}\s*\);", html)
    shown = set(re.findall(r"(feature_group_\w+)\.addTo\(map_\w+\)", html))
    assert len(hidden) == len(names) and 0 < len(shown) < len(names)


def test_map_title_counts_in_words(tiny: Results) -> None:
    """tiny activates one site and its one hub, no partner: '1 hub', not '1 hubs'."""
    from netopt.report.maps import _title_html

    title = _title_html(tiny, 250.0)
    assert "<b>1</b> site (0 new)" in title and "<b>1</b> hub</span>" in title
    assert "<b>0</b> partners</span>" in title
    assert "launch plan" not in title
    # a launch plan's map is its last period's network, and says so
    planned = Results(tiny.tables, tiny.info, {**tiny.summary, "timeline": {
        "periods": 8, "last_period": "2028 Q4"}})
    assert ("The launch plan's network at its last period, 2028 Q4, of 8 (figures at a year's "
            "rate)") in _title_html(planned, 250.0)


# ---------------------------------------------------------------- map: facility names

def _map_payloads(html: str) -> tuple[dict, list[dict]]:
    """The shared data (NX.init) and every layer's payload (NX.draw) of a rendered map."""
    shared = json.loads(re.search(r"NX\.init\(map_\w+, (.*)\);$", html, re.MULTILINE).group(1))
    specs = [json.loads(m) for m in re.findall(r"NX\.draw\(feature_group_\w+, map_\w+, (.*)\);$",
                                               html, flags=re.MULTILINE)]
    return shared, specs


def test_map_payload_has_what_name_placement_needs(tiny: Results) -> None:
    """map.js keeps names clear of every facility symbol from the payload alone: the place of
    each site, hub, partner, plant and KOL, the size and anchor of its icon or the radius and
    stroke of its circle; a named symbol's own box is its icon's."""
    shared, specs = _map_payloads(build_map(tiny).get_root().render())
    icons = shared["icons"]
    for key in ("hub", "hub_off", "partner", "partner_off", "plant", "kol", "kol_off"):
        w, h, (ax, ay) = icons[key]["w"], icons[key]["h"], icons[key]["anchor"]
        assert w > 0 and h > 0 and isinstance(ax, int | float) and isinstance(ay, int | float)
    symbols = [row for spec in specs if spec["kind"] == "icons" for row in spec["rows"]]
    circles = [row for spec in specs if spec["kind"] == "sites" for row in spec["rows"]]
    assert {r["icon"] for r in symbols} == {"hub", "partner_off", "plant", "kol"}
    assert len(circles) == 3  # Site One active, Site Two and Three not
    for row in symbols + circles:
        lat, lon = row["ll"]
        assert 39 < lat < 42 and -77 < lon < -73
    for row in circles:
        assert row["r"] > 0 and row["sw"] > 0
    named = [r for r in symbols if r.get("name")]
    assert [(r["name"], r["short"], r["icon"]) for r in named] == [("Newark hub", "EWR", "hub")]
    script = MAP_JS.read_text(encoding="utf-8")
    assert "mark(r, g, row.ll, iconBox(icon))" in script  # every icon drawn is a symbol
    assert "mark(r, g, row.ll, [-out, -out, out, out])" in script  # and every site circle


def test_zone_layer_demand_is_each_zones_own(tiny: Results) -> None:
    """The all-products zone layer shows each zone's demand from its own row of the zones
    table, also when a row before it is skipped (no coordinates: not on the map)."""
    from netopt.report.maps import _Lookup, _zone_payloads

    zones = tiny.tables["zones"].copy()
    ghost = zones.iloc[[0]].assign(zone_id="Z_GHOST", latitude=np.nan,
                                   patients_demand=999.0)
    twin = zones.iloc[[1]].assign(latitude=np.nan, patients_demand=888.0)  # same id
    zones = pd.concat([ghost, twin, zones], ignore_index=True)
    moved = Results({**tiny.tables, "zones": zones}, tiny.info, tiny.summary)
    products = dict(zip(tiny.tables["products"]["product_id"],
                        tiny.tables["products"]["name"], strict=True))
    shared, payloads = _zone_payloads(moved, _Lookup(tiny.tables["sites"], "site_id"),
                                      products, 250.0)
    (_, every), *_ = payloads
    own = dict(zip(tiny.tables["zones"]["name"], tiny.tables["zones"]["patients_demand"],
                   strict=True))
    assert every["rows"]
    for row in every["rows"]:
        name = shared["zones"][row[0]][0]
        assert row[1] == pytest.approx(max(own[name], row[2] + row[3]), abs=1e-3), name


def _place_names(cases: list[dict]) -> list[list[dict | None]]:
    """map.js's own NX.placeNames, run in node on each {names, blocked, view}."""
    script = ('const fs = require("fs"), vm = require("vm");'
              "const ctx = {performance: {now: () => 0}}; vm.createContext(ctx);"
              'vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), ctx);'
              'const cases = JSON.parse(fs.readFileSync(0, "utf8"));'
              "process.stdout.write(JSON.stringify(cases.map("
              "c => ctx.NX.placeNames(c.names, c.blocked, c.view))));")
    run = subprocess.run([NODE or "node", "-e", script, str(MAP_JS)], input=json.dumps(cases),
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(run.stdout)


def _box(x: float, y: float, own: list[float]) -> dict[str, float]:
    return {"left": x + own[0], "top": y + own[1], "right": x + own[2], "bottom": y + own[3]}


def _hits(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] \
        and b["top"] < a["bottom"]


HUB = [-10, -10, 10, 10]  # the active hub icon: 20 x 20 px around its place
LEADER_REACH = 68  # map.js LEADER_PX: the farthest a name is set off beyond its symbol
DIAMOND = [-10.5, -10.5, 10.5, 10.5]  # the active partner icon
VIEW = {"left": 0, "top": 0, "right": 1000, "bottom": 800}


@NEEDS_NODE
def test_name_moves_off_a_partner_symbol() -> None:
    """The national default's defect: the Ontario hub's name, on the right of its symbol, lay
    over the Long Beach partner's diamond. A name that would cover a symbol takes the next
    side of its own symbol (left here, then above, below, the corners); a second name keeps
    clear of the first one too; near the window's edge a name turns inward."""
    name = {"x": 400, "y": 100, "own": HUB, "w": 180, "h": 15}
    partner = _box(460, 104, DIAMOND)  # lower right of the hub, under its name's usual place
    alone, blocked, two, edge = _place_names([
        {"names": [name], "blocked": [], "view": VIEW},
        {"names": [name], "blocked": [_box(400, 100, HUB), partner], "view": VIEW},
        {"names": [name, {**name, "y": 110}],
         "blocked": [], "view": VIEW},
        {"names": [{**name, "x": 900}], "blocked": [], "view": VIEW}])
    assert alone == [{"side": "right", "left": 13, "top": -7, "short": False}]  # 3 px right
    assert blocked == [{"side": "left", "left": -193, "top": -7, "short": False}]  # 180 + 3
    assert _hits({"left": 413, "top": 93, "right": 593, "bottom": 108}, partner)  # the defect
    assert [p["side"] for p in two] == ["right", "left"]  # below the first one's right
    assert edge[0]["side"] == "left"


@NEEDS_NODE
def test_name_ringed_by_symbols_is_set_off_with_a_leader_line() -> None:
    """Symbols on every side of a hub (a dense metro area at national zoom: Newark among the
    New York sites): its name goes farther out, where nothing lies, joined to its symbol by
    a leader line, rather than over a symbol or nowhere. 20 px beyond the hub's box, the
    first distance tried: on the right the name (x 133-193) hits the ring's right column
    (x 131-149), on the left likewise, above it (y 52-67, 10 + 20 + the 3-px gap + 15 above
    the place) clears the ring's top row (y 71-89)."""
    ring = [_box(100 + dx, 100 + dy, [-9, -9, 9, 9])
            for dx in (-40, -20, 0, 20, 40) for dy in (-20, 0, 20) if (dx, dy) != (0, 0)]
    (placed,) = _place_names([{"names": [{"x": 100, "y": 100, "own": HUB, "w": 60, "h": 15}],
                               "blocked": ring, "view": VIEW}])
    (at,) = placed
    assert (at["side"], at["left"], at["top"], at["short"]) == ("above", -30, -48, False)
    name = {"left": 100 - 30, "top": 100 - 48, "right": 100 + 30, "bottom": 100 - 33}
    assert not any(_hits(name, box) for box in ring)
    # from the middle of the hub's top edge to the middle of the name's bottom edge
    assert at["leader"] == [0, -10, 0, -33]


@NEEDS_NODE
def test_name_with_no_free_place_near_its_symbol_is_dropped() -> None:
    """Nothing free within the leader's reach (68 px beyond the hub's box) nor beside it: the
    name is hidden (null) rather than laid over a symbol; its tooltip still names it. A name
    that fits beside its symbol draws no leader."""
    crowd = [{"left": 0, "top": 0, "right": 1000, "bottom": 88},
             {"left": 0, "top": 112, "right": 1000, "bottom": 800},
             {"left": 0, "top": 88, "right": 88, "bottom": 112},
             {"left": 112, "top": 88, "right": 1000, "bottom": 112}]
    hub = {"x": 100, "y": 100, "own": HUB, "w": 60, "h": 15, "short": {"w": 20, "h": 15}}
    hidden, free = _place_names([{"names": [hub], "blocked": crowd, "view": VIEW},
                                 {"names": [hub], "blocked": [], "view": VIEW}])
    assert hidden == [None]
    assert "leader" not in free[0]


@NEEDS_NODE
def test_names_get_room_by_rank() -> None:
    """Two hubs, one above the other, whose names fit only in the band between them (right of
    both), and only one of them: the lower rank takes it whatever the drawing order, and the
    other gives way to its airport code beside its symbol; without ranks, drawing order
    decides."""
    upper = {"x": 400, "y": 100, "own": HUB, "w": 180, "h": 15, "short": {"w": 30, "h": 15}}
    lower = {**upper, "y": 140}
    blocked = [_box(400, 100, HUB), _box(400, 140, HUB),
               {"left": 0, "top": 0, "right": 389, "bottom": 800},  # left of both
               {"left": 389, "top": 0, "right": 1000, "bottom": 88},  # above
               {"left": 389, "top": 152, "right": 1000, "bottom": 800},  # below
               {"left": 450, "top": 88, "right": 1000, "bottom": 110},  # room for a code only
               {"left": 450, "top": 130, "right": 1000, "bottom": 152}]  # the same
    plain, ranked = _place_names([
        {"names": [upper, lower], "blocked": blocked, "view": VIEW},
        {"names": [{**upper, "rank": 1}, {**lower, "rank": 0}], "blocked": blocked,
         "view": VIEW}])
    assert [(p["side"], p["short"]) for p in plain] == [("below right", False),
                                                        ("right", True)]
    assert [(p["side"], p["short"]) for p in ranked] == [("right", True),
                                                         ("above right", False)]


def test_partners_then_costlier_hubs_rank_first() -> None:
    """The order both maps give names room in (maps._rank_names): partners, then hubs by
    yearly cost; a row without a name (an inactive facility) gets no rank."""
    from netopt.report.maps import _rank_names

    cheap, dear, off, partner = ({"name": "Cheap hub"}, {"name": "Dear hub"}, {"name": ""},
                                 {"name": "Partner"})
    _rank_names([(1, 500.0, cheap), (1, 900.0, dear), (1, 2000.0, off), (0, 80.0, partner)])
    assert (partner["rank"], dear["rank"], cheap["rank"]) == (0, 1, 2)
    assert "rank" not in off


def test_short_names() -> None:
    from netopt.report.maps import _short_name

    assert _short_name("Ontario CA cold-chain hub (ONT)", "ONT") == "ONT"
    assert _short_name("Memphis hub", "MEM") == "MEM"  # the airport code, when there is one
    assert _short_name("Los Angeles cold-storage partner (Long Beach)") == "Long Beach"
    assert _short_name("Cold store") == "" and _short_name("Plant (NJ) east") == ""
    assert _short_name("EWR", "EWR") == ""  # no shorter than the name


# ------------------------------------------------------- the one-pager's static map names

LABEL = re.compile(r'<text x="([-\d.]+)" y="([-\d.]+)" text-anchor="(\w+)">([^<]*)</text>')


def _labels(marks, symbols=(), panels=(), width=400.0, height=300.0):  # noqa: ANN001, ANN202
    """place_labels on a hand-made scene at scale 1 (symbols of half size 8): (name, x, y,
    anchor) per label shown."""
    from netopt.report.onepager import place_labels

    out = place_labels(marks, width, height, 1.0, symbols, panels, half=8.0)
    return [(m[4], float(m[1]), float(m[2]), m[3]) for m in map(LABEL.match, out)]


def test_text_width_uses_the_bold_font_metrics() -> None:
    from netopt.report.onepager import _text_width

    # Helvetica bold: H 722, u 611, b 611 thousandths of the 12-px font size
    assert _text_width("Hub", 1.0) == pytest.approx(12 * (722 + 611 + 611) / 1000)
    assert _text_width("Hub", 2.0) == pytest.approx(2 * _text_width("Hub", 1.0))
    assert _text_width("WWW", 1.0) > 3 * _text_width("iii", 1.0)  # not a width per letter
    assert _text_width("\u00e9", 1.0) == pytest.approx(12.0)  # outside ASCII: one em


def test_static_label_takes_the_first_free_side() -> None:
    # free scene: right of the symbol, 2 px beyond its box (100 + 8 + 2); a 13.5-px line
    # centred on the mark, its baseline 2.6 px above the line's bottom (100 + 6.75 - 2.6)
    assert _labels([(100.0, 100.0, "Hub", "")]) == [("Hub", 110.0, 104.2, "start")]
    # a site on the right: the name goes left, anchored at its right end (it grows away)
    site = (113.0, 95.0, 123.0, 105.0)
    assert _labels([(100.0, 100.0, "Hub", "")], [site]) == [("Hub", 90.0, 104.2, "end")]
    # a symbol 1 px beyond the name's box is too close for the name's white outline
    near = (111.0 + 23.3, 95.0, 140.0, 105.0)  # "Hub" is 23.3 px wide
    assert _labels([(100.0, 100.0, "Hub", "")], [near])[0][3] == "end"
    # right and left taken: above, centred, its line 2 px above the symbol (92 - 2 - 2.6)
    left = (70.0, 95.0, 87.0, 105.0)
    assert _labels([(100.0, 100.0, "Hub", "")], [site, left]) == [
        ("Hub", 100.0, 87.4, "middle")]
    # the edge of the map counts as taken: a mark at the right edge names itself on the left
    assert _labels([(395.0, 100.0, "Hub", "")])[0][3] == "end"


def test_static_labels_never_cover_symbols_or_each_other() -> None:
    from netopt.report.onepager import _text_width

    marks = [(100.0 + 14 * i, 100.0 + 9 * (i % 3), f"Hub number {i}", f"H{i}")
             for i in range(12)]
    symbols = [(x - 8, y - 8, x + 8, y + 8) for x, y, _, _ in marks]
    placed = _labels(marks, symbols)
    assert placed, "nothing named"
    boxes = []
    for name, x, y, anchor in placed:
        w = _text_width(name, 1.0)
        x0 = {"start": x, "end": x - w, "middle": x - w / 2}[anchor]
        boxes.append((x0, y + 2.6 - 13.5, x0 + w, y + 2.6))
    for i, a in enumerate(boxes):
        assert a[0] >= 0 and a[1] >= 0 and a[2] <= 400 and a[3] <= 300
        for b in [*boxes[i + 1:], *symbols]:
            assert not (a[0] < b[2] - 1e-6 and b[0] < a[2] - 1e-6
                        and a[1] < b[3] - 1e-6 and b[1] < a[3] - 1e-6), (a, b)


#: a corridor at y 92-108 between blocks above, below, left (x < 90) and right (x > 139.5)
CORRIDOR = [(0.0, 50.0, 200.0, 90.0), (0.0, 110.0, 200.0, 150.0), (0.0, 90.0, 88.0, 110.0),
            (141.0, 90.0, 200.0, 110.0)]


def test_static_label_falls_back_to_its_short_form_then_hides() -> None:
    hub = (100.0, 100.0, "Ontario CA cold-chain hub", "ONT")
    # room for "ONT" (25.3 px) on the right, not for the full name
    assert _labels([hub], CORRIDOR) == [("ONT", 110.0, 104.2, "start")]
    # no short form, or no room for it either: the name is left out (the table names it)
    assert _labels([(*hub[:3], "")], CORRIDOR) == []
    assert _labels([hub], [*CORRIDOR, (124.0, 92.0, 140.0, 108.0)]) == []


def test_static_full_names_are_placed_before_short_forms() -> None:
    # A's full name fits nowhere, its short "A" only right of it (x 110-118.7); B's name "B"
    # fits only left of B (x 111.3-120): the same place. Full names go first, so B is named
    # and A, whose short form then finds no room, is not - in mark order it would be the
    # other way round
    a, b = (100.0, 100.0, "Atlanta cold-chain hub", "A"), (130.0, 100.0, "B", "")
    walls = [(0.0, 50.0, 200.0, 91.5), (0.0, 108.5, 200.0, 150.0), (0.0, 90.0, 89.5, 110.0),
             (141.0, 90.0, 200.0, 110.0), (92.0, 92.0, 108.0, 108.0), (122.0, 92.0, 138.0, 108.0)]
    assert _labels([a], walls) == [("A", 110.0, 104.2, "start")]
    assert _labels([a, b], walls) == [("B", 120.0, 104.2, "end")]


def test_static_label_keeps_to_its_panel_and_beside_a_symbol_at_its_place() -> None:
    inset = (0.0, 200.0, 150.0, 300.0)  # Alaska's inset at the bottom left
    # a mark in the inset near its right frame: the name stays inside, on the left
    assert _labels([(130.0, 250.0, "Anchorage hub", "")], panels=[inset])[0][3] == "end"
    # a mark on the main map just above the inset: its name neither beside it, across the
    # frame, nor below it, in the inset, but above (baseline 195 - 8 - 2 - 2.6)
    assert _labels([(50.0, 195.0, "Hub", "")], panels=[inset]) == [("Hub", 50.0, 182.4, "middle")]
    # a larger site drawn at the hub's place: the name goes beside the site, not on it
    big = (88.0, 88.0, 112.0, 112.0)
    assert _labels([(100.0, 100.0, "Hub", "")], [big]) == [("Hub", 114.0, 104.2, "start")]


@NEEDS_NODE
def test_crowded_name_gives_way_to_its_short_form() -> None:
    """A name with no free place shows its short form (a hub's airport code) where that fits,
    but only after every full name has had its turn; with no short form it is set off beyond
    the walls with a leader line (36 px beyond its symbol's box on the left: 20 px still
    reaches the wall at x 360-380)."""
    walls = [_box(370, 100, [-10, -60, 10, 60]), _box(460, 100, [-10, -60, 10, 60])]
    hub = {"x": 400, "y": 100, "own": HUB, "w": 180, "h": 15, "short": {"w": 28, "h": 15}}
    (alone, set_off) = _place_names([
        {"names": [hub], "blocked": walls, "view": VIEW},
        {"names": [{**hub, "short": None}], "blocked": walls, "view": VIEW}])
    assert alone == [{"side": "right", "left": 13, "top": -7, "short": True}]
    # x 171-351, clear of the wall; the leader from the hub's left edge to the name's right
    assert set_off == [{"side": "left", "left": -229, "top": -7, "short": False,
                        "leader": [-10, 1, -49, 1]}]
    # room for one 28-px name, on the right only: a later full name wins over a short form
    lids = [{"left": 380, "top": 70, "right": 450, "bottom": 90},
            {"left": 380, "top": 110, "right": 450, "bottom": 130}]
    small = {"x": 400, "y": 100, "own": HUB, "w": 28, "h": 15, "short": None}
    (both,) = _place_names([{"names": [hub, small], "blocked": walls + lids, "view": VIEW}])
    # and the first one's code is then set off above, clear of the walls and the lids
    # (x 386-414, y 52-67: 20 px beyond the hub's box, the nearest first)
    assert both == [{"side": "above", "left": -14, "top": -48, "short": True,
                     "leader": [0, -10, 0, -33]},
                    {"side": "right", "left": 13, "top": -7, "short": False}]


@NEEDS_NODE
def test_placed_names_never_cover_a_symbol_or_each_other() -> None:
    """A crowded hand-made scene (a fixed pseudo-random map of 60 site circles and 25 named
    hubs): every name placed overlaps no symbol, no other name and no blocked box, stays in
    the view and touches its own symbol's side, or, set off, lies within the leader's reach
    with a leader from its symbol's box to its own; crowding moves some names, shortens
    some and sets off some."""
    seed = 12345

    def rand() -> float:
        nonlocal seed
        seed = (1103515245 * seed + 12345) % 2**31
        return seed / 2**31

    view = {"left": 0, "top": 0, "right": 800, "bottom": 500}
    sites = [_box(800 * rand(), 500 * rand(), [-8, -8, 8, 8]) for _ in range(60)]
    names = [{"x": round(780 * rand() + 10), "y": round(480 * rand() + 10), "own": HUB,
              "w": round(60 + 120 * rand()), "h": 15, "short": {"w": 28, "h": 15}}
             for _ in range(25)]
    title = {"left": 0, "top": 0, "right": 300, "bottom": 80}
    hubs = [_box(n["x"], n["y"], HUB) for n in names]
    blocked = [*sites, *hubs, title]
    (placed,) = _place_names([{"names": names, "blocked": blocked, "view": view}])
    boxes = []
    for n, at in zip(names, placed, strict=True):
        if at is None:
            continue
        w = n["short"]["w"] if at["short"] else n["w"]
        box = {"left": n["x"] + at["left"], "top": n["y"] + at["top"]}
        box |= {"right": box["left"] + w, "bottom": box["top"] + n["h"]}
        assert view["left"] <= box["left"] and box["right"] <= view["right"]
        assert view["top"] <= box["top"] and box["bottom"] <= view["bottom"]
        assert not any(_hits(box, b) for b in blocked + boxes), (n, at)
        own = _box(n["x"], n["y"], HUB)  # within 3 px (+ rounding) of its own symbol
        reach = 4 + (LEADER_REACH if "leader" in at else 0)  # or set off, up to 68 px more
        assert box["left"] - own["right"] <= reach and own["left"] - box["right"] <= reach
        assert box["top"] - own["bottom"] <= reach and own["top"] - box["bottom"] <= reach
        if "leader" in at:  # from the edge of its symbol's box to the edge of its name's
            x0, y0, x1, y1 = (v + c for v, c in zip(at["leader"], (n["x"], n["y"]) * 2,
                                                     strict=True))
            assert own["left"] <= x0 <= own["right"] and own["top"] <= y0 <= own["bottom"]
            assert box["left"] - 1 <= x1 <= box["right"] + 1
            assert box["top"] - 1 <= y1 <= box["bottom"] + 1
        boxes.append(box)
    sides = {at["side"] for at in placed if at}
    short = sum(1 for at in placed if at and at["short"])
    set_off = sum(1 for at in placed if at and "leader" in at)
    assert len(boxes) >= 10 and len(sides) >= 3, (len(boxes), sides)
    assert 0 < short < len(boxes) and 0 < set_off < len(boxes), (short, set_off)


@pytest.mark.slow
def test_write_reports_small(small: Results, tmp_path: Path) -> None:
    saved = _saved(small, tmp_path)
    paths = write_reports(saved, tmp_path)
    assert [p.name for p in paths] == list(OUTPUTS)
    page = (tmp_path / "map.html").read_text()
    n_zones = len(saved.tables["zones"])
    assert page.count('"kind":"zones"') == 1 + len(saved.tables["products"])
    assert n_zones > 200


# ---------------------------------------------------------------- offline assets

def test_leaflet_assets_are_packaged() -> None:
    assets = leaflet_assets()
    assert set(assets) == {"leaflet.js", "leaflet.css"}
    assert "Leaflet 1." in assets["leaflet.js"]
    assert "url(images/" not in assets["leaflet.css"]  # icons inlined as data URIs
    assert "XStatic-Leaflet" in asset_source()


CDN_TAG = re.compile(r"<(?:script[^>]*\ssrc|link[^>]*\shref)\s*=\s*[\"']?(?:https?:)?//",
                     re.IGNORECASE)


def test_no_cdn_links(tiny: Results, tmp_path: Path) -> None:
    write_reports(tiny, tmp_path)
    for name in ("map.html", "report.html"):
        page = (tmp_path / name).read_text()
        assert not CDN_TAG.search(page), f"{name} loads a script or stylesheet from the web"
        assert "cdn.jsdelivr" not in page and "code.jquery" not in page
    assert "L.map(" in (tmp_path / "map.html").read_text()


# ---------------------------------------------------------------- workbook

def _check_workbook(folder: Path) -> None:
    wb = openpyxl.load_workbook(folder / "network.xlsx")
    assert wb.sheetnames == ["summary", *TABLE_NAMES]
    names = dict(pd.read_csv(folder / "products.csv")[["product_id", "name"]].values)
    for name in TABLE_NAMES:
        csv = pd.read_csv(folder / f"{name}.csv", keep_default_na=False, na_values=[""])
        if "product_id" in csv.columns and name != "products":  # the name beside the id
            csv.insert(list(csv.columns).index("product_id") + 1, "product_name",
                       csv["product_id"].map(names))
        ws = wb[name]
        rows = list(ws.iter_rows(values_only=True))
        assert list(rows[0]) == [header(c) for c in csv.columns], name
        assert not any("_" in h for h in rows[0]), (name, rows[0])  # words, not code names
        assert len(rows) - 1 == len(csv), name
        assert ws.freeze_panes == "B2", name
        (table,) = ws.tables.values()  # an Excel table: filters and banded rows
        assert table.ref.startswith("A1:") and table.tableStyleInfo.showRowStripes, name
        for j, col in enumerate(csv.columns, start=1):  # every numeric column is formatted
            if len(csv) and pd.api.types.is_numeric_dtype(csv[col]) \
                    and not pd.api.types.is_bool_dtype(csv[col]):
                fmt = ws.cell(row=2, column=j).number_format
                assert fmt != "General" or pd.isna(csv[col].iloc[0]), (name, col)
        body = pd.DataFrame(rows[1:], columns=list(csv.columns)) if len(csv) else None
        for col in csv.columns:
            if body is None:
                continue
            if pd.api.types.is_bool_dtype(csv[col]):
                assert body[col].tolist() == csv[col].tolist(), (name, col)
            elif pd.api.types.is_numeric_dtype(csv[col]):
                want = float(csv[col].fillna(0).sum())
                got = float(pd.to_numeric(body[col]).fillna(0).sum())
                assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), (name, col)
            else:
                want = ["" if pd.isna(v) else str(v) for v in csv[col]]
                got = ["" if v is None or pd.isna(v) else str(v) for v in body[col]]
                assert got == want, (name, col)
    costs = pd.read_csv(folder / "costs.csv")
    total = float(costs.loc[costs["term"] == "total", "usd_per_year"].iloc[0])
    sheet = list(wb["summary"].iter_rows(values_only=True))
    summary = {r[0]: r[1] for r in sheet if r[0]}
    network = network_cost_usd(costs)
    assert math.isclose(summary["Network cost + penalties (USD/yr)"], total, rel_tol=1e-9)
    # one objective row, named by what it measures (a margin run's and a plan's differ)
    assert [k for k in summary if str(k).startswith("Objective value")] == [
        "Objective value (annual cost)"]
    assert math.isclose(summary["Objective value (annual cost)"], total, rel_tol=1e-9)
    assert math.isclose(summary["Network cost (cash, USD/yr)"], network, rel_tol=1e-9)
    assert math.isclose(summary["Network cost (cash)"], network, rel_tol=1e-9)
    # the margin block names its lines as details.html does, not by their term ids
    assert {"Revenue", "Cost of goods", "Margin"} <= set(summary)
    assert not {"revenue", "cogs", "margin", "site_fixed"} & set(summary)
    # the chart's lines (ordering and inventory in its parts) add up to the network cost
    head = next(i for i, r in enumerate(sheet) if r[0] == "Network cost by line")
    end = next(i for i, r in enumerate(sheet) if r[0] == "Network cost (cash, USD/yr)")
    lines = [r[1] for r in sheet[head + 1:end]]
    assert math.isclose(sum(lines), network, rel_tol=1e-9, abs_tol=1e-6)
    assert "ordering_and_inventory" not in [r[0] for r in sheet[head + 1:end]]
    (chart,) = wb["summary"]._charts  # the cost chart draws those lines and their sum
    ref = chart.series[0].val.numRef.f
    assert ref.endswith(f"$B${head + 2}:$B${end + 1}"), ref
    kpis = wb["kpis"]
    counts = [r for r in kpis.iter_rows(min_row=2) if r[2].value in ("sites", "hubs")]
    assert counts and all(r[1].number_format == "#,##0" for r in counts)
    # number formats: currency on money, percent on utilisation
    sites = wb["sites"]
    heads = [c.value for c in sites[1]]
    util = heads.index(header("utilisation")) + 1
    assert sites.cell(row=2, column=util).number_format == "0.0%"
    costs_ws = wb["costs"]
    assert "$" in costs_ws.cell(row=2, column=2).number_format


def test_workbook_matches_csv_tiny(tiny: Results, tmp_path: Path) -> None:
    saved = _saved(tiny, tmp_path)
    write_reports(saved, tmp_path)
    _check_workbook(tmp_path)


def test_workbook_objective_is_named_by_its_basis(tiny: Results, tmp_path: Path) -> None:
    """A margin run's objective is cost less revenue, a launch plan's its discounted horizon
    total: the summary sheet called both "network cost + penalties, USD/yr" beside a second,
    different row of that name."""
    from netopt.report.workbook import write_workbook

    def rows(summary: dict) -> dict:
        path = write_workbook(Results(tiny.tables, tiny.info, {**tiny.summary, **summary}),
                              tmp_path / f"{len(summary)}.xlsx")
        sheet = openpyxl.load_workbook(path)["summary"].iter_rows(values_only=True)
        return {r[0]: r[1:3] for r in sheet if r[0] and str(r[0]).startswith("Objective value")}

    assert rows({"objective_sense": "margin", "objective": -5e6}) == {
        "Objective value (annual cost less revenue)": (-5e6, "USD/yr")}
    plan = {"periods": 4, "period_months": 3, "start": "2027-01", "discount_rate": 0.1}
    assert rows({"timeline": plan, "objective": 4.2e7, "x": 1}) == {
        "Objective value (launch timeline total: 4 \u00d7 3 months from 2027-01, discounted at "
        "10 %/yr)": (4.2e7, "USD")}


def test_workbook_sheet_is_the_same_whoever_writes_it(tiny: Results, tmp_path: Path) -> None:
    """network.xlsx is written by XlsxWriter, a sheet added after the solve by openpyxl
    (append_table_sheet): one layout, so a table sheet reads the same either way."""
    from netopt.report.workbook import append_table_sheet, with_product_names, write_workbook

    made = write_workbook(tiny, tmp_path / "network.xlsx")
    frame = with_product_names(tiny.tables["sites"], {})
    assert append_table_sheet(made, "sites again", frame)
    wb = openpyxl.load_workbook(made)
    new, added = wb["sites"], wb["sites again"]
    assert new.max_row == added.max_row == len(frame) + 1
    assert new.max_column == added.max_column == len(frame.columns)
    for a, b in zip(new.iter_rows(), added.iter_rows(), strict=True):
        for x, y in zip(a, b, strict=True):
            assert x.value == y.value, x.coordinate
            if x.value is not None:
                assert x.number_format == y.number_format, x.coordinate
            assert x.font.b == y.font.b, x.coordinate
            assert (x.fill.fgColor.rgb or "")[-6:] == (y.fill.fgColor.rgb or "")[-6:]
    for cell in (new["A1"], added["A1"]):  # the header styled: white bold on dark blue
        assert cell.font.b and (cell.font.color.rgb or "")[-6:] == "FFFFFF"
        assert cell.fill.fgColor.rgb[-6:] == "0B2F5B" and cell.alignment.vertical == "center"
    assert new.freeze_panes == added.freeze_panes == "B2"
    (t1,), (t2,) = new.tables.values(), added.tables.values()
    assert t1.ref == t2.ref and t1.tableStyleInfo.name == t2.tableStyleInfo.name
    assert t1.displayName != t2.displayName  # table names stay unique in the workbook
    for letter, dim in added.column_dimensions.items():  # XlsxWriter stores width + 0.71
        if dim.width and letter in new.column_dimensions:
            assert abs(new.column_dimensions[letter].width - dim.width) < 1, letter


def test_workbook_takes_tables_excel_would_refuse(tiny: Results, tmp_path: Path) -> None:
    """Tables added through the API with names or headers Excel refuses as they are: a sheet
    called like the summary, two long names alike in their first 31 characters, headers
    equal ignoring case (also after their column code), a control character. Each gets a
    sheet of its own with its header row and an Excel table."""
    from netopt.report.workbook import write_workbook

    extra = {
        "Summary": pd.DataFrame({"a": [1.0], "A": [2.0], "a [A]": [3.0]}),
        "x" * 40: pd.DataFrame({"b\x01c": ["one"]}),
        "x" * 35: pd.DataFrame({"d": [4]}),
    }
    wb = openpyxl.load_workbook(write_workbook(
        Results({**tiny.tables, **extra}, tiny.info, tiny.summary), tmp_path / "n.xlsx"))
    added = wb.sheetnames[-3:]
    assert added == ["Summary (2)", "x" * 31, "x" * 27 + " (2)"]
    assert len({n.lower() for n in wb.sheetnames}) == len(wb.sheetnames)
    heads = [c.value for c in wb["Summary (2)"][1]]
    assert len({h.lower() for h in heads}) == 3 and all(heads)
    assert [c.value for c in wb["x" * 31][1]] == ["Bc"]
    assert [c.value for c in wb["x" * 31][2]] == ["one"]
    names = [t.displayName.lower() for ws in wb.worksheets for t in ws.tables.values()]
    assert len(names) == len(set(names)) == len(wb.sheetnames) - 1  # every table sheet


@pytest.mark.slow
def test_workbook_matches_csv_small(small: Results, tmp_path: Path) -> None:
    saved = _saved(small, tmp_path)
    write_reports(saved, tmp_path)
    _check_workbook(tmp_path)


# ---------------------------------------------------------------- escaping

def _hostile(result: Results) -> Results:
    """Every string cell prefixed with markup (ids keep their suffix so joins still work)."""
    tables = {}
    for name, df in result.tables.items():
        df = df.copy()
        for col in df.columns:
            if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
                df[col] = [v if not isinstance(v, str) else HOSTILE + v for v in df[col]]
        tables[name] = df
    summary = dict(result.summary)
    summary["model"] = HOSTILE + "model"
    summary["status"] = HOSTILE
    settings = dict(summary.get("settings") or {})
    settings["description"] = HOSTILE + "description"
    settings["name"] = "=HYPERLINK(\"http://x\")"
    summary["settings"] = settings
    return Results(tables, result.info, summary)


def test_hostile_strings_are_escaped(tiny: Results, tmp_path: Path) -> None:
    bad = _hostile(tiny)
    bad.tables["sites"].loc[0, "name"] = "=1+1"
    write_reports(bad, tmp_path)
    for name in ("map.html", "report.html"):
        page = (tmp_path / name).read_text()
        assert "<script>alert(1)" not in page, name
        assert "<img src=x" not in page, name
        assert "</script><img" not in page, name
    report = (tmp_path / "report.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    wb = openpyxl.load_workbook(tmp_path / "network.xlsx")
    cell = wb["sites"]["B2"]
    assert cell.value == "=1+1" and cell.data_type == "s"  # text, not a formula
    assert wb["sites"]["B3"].value.startswith("<script>")


@pytest.mark.slow
def test_hostile_strings_small(small: Results, tmp_path: Path) -> None:
    write_reports(_hostile(small), tmp_path)
    for name in ("map.html", "report.html"):
        assert "<script>alert(1)" not in (tmp_path / name).read_text()


# ---------------------------------------------------------------- browser (offline)

def _png_pixels(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA PNG (no Pillow needed) into an (h, w, channels) array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, chunk = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:
            cur = (np.cumsum(line.reshape(width, bpp), axis=0) % 256).ravel()
        elif f == 2:
            cur = (line + prev) % 256
        else:
            cur = np.zeros(stride, dtype=np.int32)
            lst, up = line.tolist(), prev.tolist()
            res = cur.tolist()
            for i in range(stride):
                a = res[i - bpp] if i >= bpp else 0
                b = up[i]
                if f == 3:
                    res[i] = (lst[i] + (a + b) // 2) & 255
                else:
                    c = up[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                    res[i] = (lst[i] + pred) & 255
            cur = np.array(res, dtype=np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)[:, :, :3]


def _chromium(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with every request forced through a proxy that does not exist."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--hide-scrollbars", "--virtual-time-budget=8000", *extra, url],
            capture_output=True, text=True, timeout=180, check=False)


def _screenshot(page: Path, png: Path, size: str = "1000,700") -> np.ndarray:
    _chromium(page.as_uri(), f"--screenshot={png}", f"--window-size={size}")
    assert png.exists(), f"no screenshot of {page.name}"
    return _png_pixels(png)


def _assert_drawn(pixels: np.ndarray, what: str) -> None:
    h, w, _ = pixels.shape
    area = pixels[h // 6: h - h // 6, w // 8: w - w // 4]  # clear of title and legend
    colours = len(np.unique(area.reshape(-1, 3), axis=0))
    assert area.std() > 8, f"{what}: screenshot is blank (std {area.std():.1f})"
    assert colours > 40, f"{what}: only {colours} colours drawn"


@NEEDS_CHROMIUM
def test_screenshots_offline_tiny(tiny: Results, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_reports(tiny, out)
    _assert_drawn(_screenshot(out / "map.html", tmp_path / "map.png"), "map.html")
    _assert_drawn(_screenshot(out / "report.html", tmp_path / "report.png"), "report.html")
    dom = _chromium((out / "map.html").as_uri(), "--dump-dom").stdout
    assert "data-render-ms" in dom, "map script did not finish"
    assert "leaflet-container" in dom


@NEEDS_CHROMIUM
def test_hostile_map_dom_offline(tiny: Results, tmp_path: Path) -> None:
    """Layer names and the legend reach the DOM as HTML: hostile names must stay text."""
    write_reports(_hostile(tiny), tmp_path)
    dom = _chromium((tmp_path / "map.html").as_uri(), "--dump-dom").stdout
    assert "data-render-ms" in dom, "map script did not finish"
    assert "&lt;img src=x" in dom  # shown as text in the layer control / legend
    assert "<img src=\"x\"" not in dom and "<img src=x" not in dom


@pytest.mark.slow
@NEEDS_CHROMIUM
def test_screenshots_offline_small(small: Results, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_reports(small, out)
    _assert_drawn(_screenshot(out / "map.html", tmp_path / "map.png", "1400,900"), "map.html")
    _assert_drawn(_screenshot(out / "report.html", tmp_path / "report.png", "1400,900"),
                  "report.html")
