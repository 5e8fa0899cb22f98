"""Sites given by 'City, ST' are placed through the offline gazetteer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from netopt.data.case import load_case
from netopt.data.problems import InputError

TINY = Path(__file__).parent / "data"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY / "tiny", tmp_path / "tiny")
    shutil.copy(TINY / "tiny.yaml", tmp_path / "tiny.yaml")
    return tmp_path


def _place_site(project: Path, location: str) -> None:
    path = project / "tiny" / "sites.csv"
    sites = pd.read_csv(path, dtype=str, keep_default_na=False)
    sites["location"] = ""
    sites.loc[sites["site_id"] == "S2", ["latitude", "longitude", "location"]] = ["", "",
                                                                                  location]
    sites.to_csv(path, index=False)


def test_site_placed_by_city_name(project: Path) -> None:
    _place_site(project, "Harrisburg, PA")
    case = load_case(project / "tiny.yaml")
    s2 = case.sites.set_index("site_id").loc["S2"]
    assert s2["latitude"] == pytest.approx(40.27, abs=0.05)
    assert s2["longitude"] == pytest.approx(-76.88, abs=0.05)


def test_unknown_city_names_row_column_and_close_matches(project: Path) -> None:
    _place_site(project, "Harrisbrg, PA")
    with pytest.raises(InputError) as err:
        load_case(project / "tiny.yaml")
    problem = next(p for p in err.value.problems if p.column == "location")
    assert problem.file.endswith("sites.csv") and problem.row == 3
    assert "Harrisburg, PA" in problem.message


def test_a_bare_city_name_of_several_states_is_a_warning(project: Path) -> None:
    """'Rochester' with no state was placed at Rochester, NY, silently, 1,600 km from a
    Minnesota user's network. It is still placed there (the most populous), with a warning
    naming the others; 'Rochester, MN' and a name only one state has are silent."""
    _place_site(project, "Rochester")
    case = load_case(project / "tiny.yaml")
    (warning,) = [p for p in case.warnings if p.column == "location"]
    assert warning.row == 3 and warning.file.endswith("sites.csv")
    assert warning.message.startswith("no state given: placed at Rochester, NY, the most "
                                      "populous of")
    assert "Rochester, MN" in warning.message
    assert case.sites.set_index("site_id").at["S2", "latitude"] == pytest.approx(43.15,
                                                                                 abs=0.1)
    for named in ("Rochester, MN", "Harrisburg, PA"):
        _place_site(project, named)
        assert not [p for p in load_case(project / "tiny.yaml").warnings
                    if p.column == "location"]


def test_site_placed_by_zip_code(project: Path) -> None:
    """A 5-digit ZIP is placed at its centroid from the zipcodes package's bundled table
    (Harrisburg's 17101: 40.26 N, 76.88 W), offline."""
    _place_site(project, "17101")
    case = load_case(project / "tiny.yaml")
    s2 = case.sites.set_index("site_id").loc["S2"]
    assert s2["latitude"] == pytest.approx(40.26, abs=0.05)
    assert s2["longitude"] == pytest.approx(-76.88, abs=0.05)


def test_unknown_zip_names_row_column_and_nearby_codes(project: Path) -> None:
    _place_site(project, "99999")
    with pytest.raises(InputError) as err:
        load_case(project / "tiny.yaml")
    problem = next(p for p in err.value.problems if p.column == "location")
    assert problem.file.endswith("sites.csv") and problem.row == 3
    assert "unknown place '99999'; did you mean: 99950 (Ketchikan, AK)" in problem.message


def test_dose_count_inconsistent_with_cadence_is_a_warning(project: Path) -> None:
    """Twice weekly for 12 weeks is about 24 doses; 1 dose is flagged (a warning, so the
    model still loads; --strict would refuse it)."""
    path = project / "tiny" / "products.csv"
    products = pd.read_csv(path, dtype=str, keep_default_na=False)
    products[["dose_interval_days", "treatment_weeks"]] = ["3.5", "12"]
    products.to_csv(path, index=False)
    case = load_case(project / "tiny.yaml")
    warning = next(p for p in case.warnings if p.column == "doses_per_patient")
    assert warning.row == 2 and "about 24 doses" in warning.message
    with pytest.raises(InputError):
        load_case(project / "tiny.yaml", strict=True)


def _edit(project: Path, table: str, change) -> None:
    path = project / "tiny" / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame)
    frame.to_csv(path, index=False)


def _place_everything(project: Path) -> None:
    """Every table that has coordinates given by location instead (and zones' states)."""
    def hubs(d):
        d[["latitude", "longitude", "airport_code"]] = ""
        d["location"] = "EWR"

    def zones(d):
        d[["latitude", "longitude", "state"]] = ""
        d["location"] = ["Newark, NJ", "17101"]

    def kols(d):
        d["site_id"] = ""
        d["location"] = "Lancaster, PA"

    def plants(d):
        d[["latitude", "longitude"]] = ""
        d["location"] = "07960"

    def partners(d):
        d[["latitude", "longitude"]] = ""
        d["location"] = "Lancaster, PA"

    for table, change in (("hubs", hubs), ("zones", zones), ("kols", kols),
                          ("plants", plants), ("partners", partners)):
        _edit(project, table, change)


def test_location_places_hubs_partners_plants_zones_and_kols(project: Path) -> None:
    import airportsdata
    import zipcodes

    from netopt.data.geography import Gazetteer

    _place_everything(project)
    case = load_case(project / "tiny.yaml")
    assert case.warnings == []  # no "column not in the schema; it is ignored"
    ewr = airportsdata.load("IATA")["EWR"]
    hub = case.hubs.iloc[0]
    assert (hub["latitude"], hub["longitude"]) == pytest.approx((ewr["lat"], ewr["lon"]),
                                                                abs=1e-5)
    assert hub["airport_code"] == "EWR"
    newark = Gazetteer.default().lookup("Newark, NJ")
    harrisburg = zipcodes.matching("17101")[0]
    zones = case.zones.set_index("zone_id")
    assert zones.loc["Z1", ["latitude", "longitude"]].tolist() == pytest.approx(
        [newark.latitude, newark.longitude], abs=1e-5)
    assert zones.loc["Z2", ["latitude", "longitude"]].tolist() == pytest.approx(
        [float(harrisburg["lat"]), float(harrisburg["long"])], abs=1e-5)
    assert zones["state"].tolist() == ["NJ", "PA"]  # derived from the places
    morristown = zipcodes.matching("07960")[0]
    assert case.plants.iloc[0]["latitude"] == pytest.approx(float(morristown["lat"]), abs=1e-5)
    assert case.partners.iloc[0]["longitude"] == pytest.approx(-76.31, abs=0.01)
    # Lancaster, PA lies 27 km from S2 (40.1 N, 76.0 W) and ~170 km from the other sites
    assert case.kols.iloc[0]["site_id"] == "S2"
    places = case.places.set_index(["table", "row"])
    assert len(places) == 6
    assert places.loc[("kols", 2), "used"] == "site S2 (nearest, 27 km)"
    assert places.loc[("zones", 3), "used"] == "coordinates and state"


def test_describe_locations_lists_every_place(project: Path) -> None:
    from typer.testing import CliRunner

    from netopt.cli.app import app

    _place_everything(project)
    result = CliRunner().invoke(app, ["data", "describe", str(project / "tiny.yaml"),
                                      "--locations"], env={"NO_COLOR": "1", "COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Places resolved from location cells (6)" in text
    assert "Newark Liberty International" in text and "(EWR)" in text  # may wrap
    assert "40.69248" in text and "-74.16869" in text  # EWR to 5 decimals
    assert "Harrisburg, PA 17101" in text and "Morristown, NJ 07960" in text


def test_location_beside_coordinates_is_not_a_warning(project: Path) -> None:
    """A location column next to coordinates that agree with it is used (checked), not
    reported as an ignored column."""
    _edit(project, "hubs", lambda d: d.__setitem__("location", "EWR"))
    _edit(project, "plants", lambda d: d.__setitem__("location", "Morristown, NJ"))
    case = load_case(project / "tiny.yaml")
    assert case.warnings == []
    assert case.hubs.iloc[0]["latitude"] == 40.69  # the coordinates given win


def test_with_changes_warning_points_at_the_edit(project: Path) -> None:
    """A warning about a cell a with_changes edit wrote names that edit, not the data file."""
    import netopt

    case = netopt.load(project / "tiny.yaml")
    changed = case.with_changes(edits=[
        {"table": "sites", "where": {"site_id": "S3"}, "set": {"kol_count": 0}},
        {"table": "sites", "where": {"site_id": "S3"},
         "set": {"certified_areas": "hematolgy"}}])
    (warning,) = changed.warnings
    assert (warning.file, warning.row, warning.column) == ("with_changes edits[1]", None,
                                                           "set.certified_areas")
    assert warning.message.endswith("tiny/sites.csv, row 4, as set by this edit: "
                                    "therapeutic area 'hematolgy' is not used by any product "
                                    "or KOL")
