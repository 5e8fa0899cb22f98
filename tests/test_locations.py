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
