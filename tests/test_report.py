"""Tests for netopt.report: map, one-pager and workbook from solved results.

The tiny case solves instantly, so most checks run on it; the us-small case (about 20 s to
solve) is solved once per module for the `slow` tests. Screenshots go to pytest's tmp_path,
never into the repository.
"""

from __future__ import annotations

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


def _solve(model: Path) -> Results:
    return solve_case(load_case(model), threads=1, seed=0)


@pytest.fixture(scope="module")
def tiny() -> Results:
    return _solve(TINY)


@pytest.fixture(scope="module")
def small() -> Results:
    return _solve(SMALL)


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
    assert math.isclose(summary["Objective (network cost + penalties, USD/yr)"], total,
                        rel_tol=1e-9)
    assert math.isclose(summary["Network cost (cash, USD/yr)"], network, rel_tol=1e-9)
    assert math.isclose(summary["Network cost (cash)"], network, rel_tol=1e-9)
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
