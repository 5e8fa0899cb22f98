"""A row's state and coordinates are checked against each other and the United States.

Tiny's zones are Z1 (NY, 40.0, -74.0) and Z2 (PA, 40.0, -76.0); its site S1 is in NY at
(40.1, -74.0), its plant L1 at (40.85, -74.48). Swapped, Z2 would be at latitude -76
(Antarctica, within the latitude range); S1 without its minus sign at longitude 74 (Asia).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netopt.data.case import load_case
from netopt.data.problems import InputError
from netopt.data.states import check_states, in_us

TINY = Path(__file__).parent / "data"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY / "tiny", tmp_path / "tiny")
    (tmp_path / "model.yaml").write_text("dataset: tiny\n")
    return tmp_path


def _edit(project: Path, table: str, old: str, new: str) -> None:
    path = project / "tiny" / f"{table}.csv"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _problems(project: Path) -> list[str]:
    with pytest.raises(InputError) as err:
        load_case(project / "model.yaml")
    return [str(p) for p in err.value.problems]


def test_swapped_zone_coordinates_are_an_error_at_the_row(project: Path) -> None:
    _edit(project, "zones", "Z2,Beta,PA,40.0,-76.0", "Z2,Beta,PA,-76.0,40.0")
    (problem,) = _problems(project)
    assert "zones.csv, row 3, column 'latitude'" in problem
    assert "swapped (latitude 40, longitude -76)" in problem


def test_swapped_plant_coordinates_are_an_error_without_a_state(project: Path) -> None:
    _edit(project, "plants", "40.85,-74.48", "-74.48,40.85")
    (problem,) = _problems(project)
    assert "plants.csv, row 2, column 'latitude'" in problem and "Antarctica" in problem


def test_a_longitude_without_its_minus_sign_contradicts_the_state(project: Path) -> None:
    _edit(project, "sites", "S1,Site One,NY,40.1,-74.0", "S1,Site One,NY,40.1,74.0")
    (problem,) = _problems(project)
    assert "sites.csv, row 2, column 'longitude'" in problem
    assert "state is NY" in problem and "lose its minus sign" in problem


def test_a_misspelt_state_is_a_warning_that_names_the_code(project: Path) -> None:
    _edit(project, "zones", "Z1,Alpha,NY", "Z1,Alpha,Ny")
    case = load_case(project / "model.yaml")
    (warning,) = [str(p) for p in case.warnings]
    assert "zones.csv, row 2, column 'state'" in warning and "did you mean 'NY'?" in warning


def test_a_zone_inside_another_state_is_a_warning_that_names_it(project: Path) -> None:
    """Z2 at (40.0, -76.0) lies in Pennsylvania, 31 km north of Maryland's border: labelled
    MD, its patients would take Maryland's incidence rate and Pennsylvania's travel."""
    _edit(project, "zones", "Z2,Beta,PA", "Z2,Beta,MD")
    case = load_case(project / "model.yaml")
    (warning,) = [str(p) for p in case.warnings]
    assert "zones.csv, row 3, column 'state'" in warning
    assert "state is MD" in warning and "lies in Pennsylvania (PA)" in warning


def test_a_site_inside_another_state_is_said_to_be_placed_there() -> None:
    import pandas as pd

    sites = pd.DataFrame({"state": ["MD"], "latitude": [40.0], "longitude": [-76.0]})
    (warning,) = check_states({"sites": sites}, {"sites": "sites.csv"})
    assert warning.severity == "warning" and warning.column == "state" and warning.row == 2
    assert "it is reported in MD and placed in PA" in warning.message


def test_a_point_near_its_own_border_or_offshore_passes() -> None:
    """3 km north of the Mason-Dixon line and labelled MD (a geocoded border town), and a
    coastal centroid off New Jersey's shore labelled NY: neither is contradicted."""
    import pandas as pd

    zones = pd.DataFrame({"state": ["MD", "NY", "PA"], "latitude": [39.75, 40.1, 40.0],
                          "longitude": [-76.0, -74.0, -76.0]})
    assert check_states({"zones": zones}, {"zones": "zones.csv"}) == []


def test_places_abroad_and_territories_pass() -> None:
    """A plant in Switzerland has no state to contradict; Puerto Rico and Guam are US codes;
    a dataset without any US code (Canadian provinces) is not checked against them."""
    import pandas as pd

    files = {t: f"{t}.csv" for t in ("zones", "sites", "plants")}
    tables = {
        "plants": pd.DataFrame({"latitude": [47.4], "longitude": [8.5]}),
        "sites": pd.DataFrame({"state": ["PR", "GU", "NY"], "latitude": [18.4, 13.5, 40.7],
                               "longitude": [-66.1, 144.8, -74.0]}),
        "zones": pd.DataFrame({"state": ["ON", "QC"], "latitude": [43.7, 46.8],
                               "longitude": [-79.4, -71.2]}),
    }
    assert check_states(tables, files) == []


@pytest.mark.parametrize(("lat", "lon", "inside"), [
    (40.7, -74.0, True), (21.3, -157.9, True), (64.8, -147.7, True), (51.9, 176.6, True),
    (18.4, -66.1, True), (40.7, 74.0, False), (-74.0, 40.7, False), (51.5, -0.1, False)])
def test_the_us_boxes(lat: float, lon: float, inside: bool) -> None:
    """New York, Honolulu, Fairbanks, Adak (west of the antimeridian), San Juan; and not
    New York's mirror images or London."""
    assert in_us(lat, lon) is inside
