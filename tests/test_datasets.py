"""The shipped datasets are generator output: reproducible, schema-exact and never hand-drifted."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from netopt.data.builders import (
    SMALL_STATES,
    build_schema_readme,
    build_us,
    build_us_small,
    national_tables,
    patients_per_year,
    restrict_to_states,
)
from netopt.data.schema import LIST_SEPARATOR, TABLES, TEMPERATURE_CLASSES

REPO = Path(__file__).resolve().parent.parent
SHIPPED = {"us": REPO / "data" / "us", "us-small": REPO / "data" / "us-small"}
CSV_TABLES = (
    "products", "zones", "sites", "kols", "hubs", "partners", "plants", "equipment", "transport",
    "policies",
)
STATES_AND_DC = {
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL",
    "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE",
    "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VA", "VT", "WA", "WI", "WV", "WY",
}


@pytest.fixture(scope="module")
def us_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("us")
    build_us(out)
    return out


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("us-small")
    build_us_small(out)
    return out


def _read(folder: Path, name: str) -> pd.DataFrame:
    """As text, exactly as a user's loader sees it (no NaN guessing)."""
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: _read(folder, name) for name in CSV_TABLES}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_small_build_is_byte_identical(tmp_path: Path, small_dir: Path) -> None:
    written = build_us_small(tmp_path / "again")
    assert [p.name for p in written] == [f"{n}.csv" for n in CSV_TABLES] + ["README.md"]
    assert _files(tmp_path / "again") == _files(small_dir)


def test_national_build_is_byte_identical(tmp_path: Path, us_dir: Path) -> None:
    build_us(tmp_path / "again")
    assert _files(tmp_path / "again") == _files(us_dir)


@pytest.mark.parametrize("name", ["us", "us-small"])
def test_shipped_data_equals_fresh_build(name: str, us_dir: Path, small_dir: Path) -> None:
    fresh = us_dir if name == "us" else small_dir
    assert SHIPPED[name].is_dir(), f"run `python -m netopt.data.builders` to write data/{name}"
    assert _files(SHIPPED[name]) == _files(fresh), (
        f"data/{name} drifted from netopt/data/builders.py; rebuild with "
        "`python -m netopt.data.builders`"
    )


def test_schema_readme_equals_fresh_build(tmp_path: Path) -> None:
    """data/README.md (the input tables reference) is generated from netopt/data/schema.py."""
    fresh = build_schema_readme(tmp_path).read_bytes()
    assert (REPO / "data" / "README.md").read_bytes() == fresh, (
        "data/README.md drifted from netopt/data/schema.py; rebuild with "
        "`netopt data build-us` (or `python -m netopt.data.builders`)"
    )


def test_no_timestamps_or_crlf(us_dir: Path) -> None:
    for name, data in _files(us_dir).items():
        assert b"\r" not in data, name
        assert data.endswith(b"\n"), name


@pytest.mark.parametrize("folder", ["us", "us-small"])
def test_columns_match_schema_in_order(folder: str, us_dir: Path, small_dir: Path) -> None:
    root = us_dir if folder == "us" else small_dir
    for name in CSV_TABLES:
        assert list(_read(root, name).columns) == TABLES[name].names, name


@pytest.mark.parametrize("folder", ["us", "us-small"])
def test_values_respect_schema(folder: str, us_dir: Path, small_dir: Path) -> None:
    """Allowed values, min/max, required cells and unique keys, straight from schema.py."""
    tables = _tables(us_dir if folder == "us" else small_dir)
    for name, frame in tables.items():
        spec = TABLES[name]
        if spec.key:
            assert frame[spec.key].is_unique, (name, spec.key)
        for col in spec.columns:
            cells = frame[col.name]
            if col.required:
                assert (cells != "").all(), (name, col.name)
            filled = cells[cells != ""]
            if col.kind in ("float", "int"):
                values = filled.astype(float)
                assert values.map(math.isfinite).all(), (name, col.name)
                if col.kind == "int":
                    assert (values == values.round()).all(), (name, col.name)
                if col.min is not None:
                    above = values > col.min if col.min_exclusive else values >= col.min
                    assert above.all(), (name, col.name)
                if col.max is not None:
                    assert (values <= col.max).all(), (name, col.name)
            if col.allowed:
                items = (filled.str.split(LIST_SEPARATOR).explode() if col.kind == "list"
                         else filled)
                assert set(items) <= set(col.allowed), (name, col.name, set(items))
            if col.kind == "time":
                assert filled.str.fullmatch(r"([01]\d|2[0-3]):[0-5]\d").all(), (name, col.name)


def test_national_counts(us_dir: Path) -> None:
    t = _tables(us_dir)
    assert len(t["zones"]) >= 3000
    assert set(t["zones"]["state"]) == STATES_AND_DC
    assert (t["zones"]["population"].astype(float) >= 15_000).all()
    assert len(t["sites"]) >= 300
    status = t["sites"]["status"].value_counts()
    assert 90 <= status["existing"] <= 110
    assert 1 <= status["excluded"] <= 10
    assert t["sites"].loc[t["sites"]["status"] == "existing", "state"].nunique() >= 30
    assert len(t["hubs"]) >= 12
    assert len(t["partners"]) >= 25
    assert len(t["plants"]) >= 2
    assert 40 <= len(t["kols"]) <= 80
    assert set(t["equipment"]["temperature_class"]) == set(TEMPERATURE_CLASSES)
    assert set(t["transport"]["mode"]) == {"ground", "air"}


def test_products(us_dir: Path) -> None:
    p = _read(us_dir, "products").set_index("product_id")
    assert list(p.index) == ["cart_onc", "cart_ai", "aav_gt", "rdc_rx", "islet_ca", "allo_vst"]
    # The brief's portfolio: both CAR-Ts cryogenic, AAV on dry ice, the repeat-dose product
    # at 2-8 °C, plus an islet product at controlled ambient so all four classes are in play.
    assert set(p["temperature_class"]) == set(TEMPERATURE_CLASSES)
    assert 373_000 <= float(p.at["cart_onc", "price_usd_per_dose"]) <= 487_000
    assert 2_000_000 <= float(p.at["aav_gt", "price_usd_per_dose"]) <= 3_500_000
    rdc = p.loc["rdc_rx"]
    weeks, interval = float(rdc["treatment_weeks"]), float(rdc["dose_interval_days"])
    assert float(rdc["doses_per_patient"]) == weeks * 7 / interval
    assert (p["unserved_penalty_usd_per_patient"] == "").all()
    # the off-the-shelf cryogenic product kept in stock (depots pool it): allogeneic, LN2,
    # a year of shelf life, needed at shorter notice than a plant order can meet
    allo = p.loc["allo_vst"]
    assert (allo["modality"], allo["temperature_class"]) == ("allogeneic", "cryogenic")
    assert float(allo["shelf_life_hours"]) >= 8_760
    assert float(allo["schedule_notice_hours"]) <= 48


def test_products_cover_the_temperature_classes_sites_and_hubs_hold(us_dir: Path) -> None:
    """Every product's class must be storable somewhere in the network, or it can't be served."""
    t = _tables(us_dir)
    for cls in t["products"]["temperature_class"]:
        assert t["hubs"]["temperature_classes"].str.contains(cls).any(), cls
        assert t["sites"]["temperature_classes"].str.contains(cls).any(), cls


def test_demand_is_realistic() -> None:
    patients = patients_per_year(national_tables())
    assert 2_000 <= patients["cart_onc"] <= 10_000
    assert patients["cart_ai"] < patients["cart_onc"]
    assert 50 <= patients["aav_gt"] <= 1_000
    assert patients["rdc_rx"] > patients["cart_ai"]


def test_sites_prices_and_kols(us_dir: Path) -> None:
    t = _tables(us_dir)
    sites, kols, products = t["sites"], t["kols"], t["products"].set_index("product_id")
    ceiling = sites["price_ceiling_usd_per_dose"].astype(float)
    assert (ceiling >= float(products.at["rdc_rx", "price_usd_per_dose"])).all()
    aav = float(products.at["aav_gt", "price_usd_per_dose"])
    assert 0 < (ceiling < aav).sum() < len(sites), "some, not all, sites refuse the AAV price"
    existing = sites[sites["status"] == "existing"]
    assert (existing["certified_areas"] == "oncology").all()
    assert existing["temperature_classes"].str.contains("cryogenic").all()
    # KOL rows and kol_count agree, and KOLs only sit at sites that can be used.
    assert set(kols["site_id"]) <= set(sites["site_id"])
    usable = set(sites.loc[sites["status"] != "excluded", "site_id"])
    assert set(kols["site_id"]) <= usable
    per_site = kols["site_id"].value_counts()
    counts = sites.set_index("site_id")["kol_count"].astype(int)
    assert counts[counts > 0].sort_index().to_dict() == per_site.sort_index().to_dict()
    assert set(kols["therapeutic_area"]) <= set(products["therapeutic_area"])


def test_small_is_the_national_data_filtered(us_dir: Path, small_dir: Path) -> None:
    us, small = _tables(us_dir), _tables(small_dir)
    assert set(small["zones"]["state"]) == set(SMALL_STATES)
    assert 150 <= len(small["zones"]) <= 350
    assert 20 <= len(small["sites"]) <= 40
    assert (small["sites"]["status"] == "existing").any()
    assert len(small["hubs"]) >= 4
    assert len(small["partners"]) >= 5
    assert small["plants"].equals(us["plants"])
    assert small["products"].equals(us["products"])
    assert set(small["kols"]["site_id"]) <= set(small["sites"]["site_id"])
    for name in ("zones", "sites", "kols", "hubs", "partners"):
        key = TABLES[name].key
        merged = small[name].merge(us[name], on=key, suffixes=("", "_us"))
        assert len(merged) == len(small[name]), name
        for col in TABLES[name].names:
            if col != key:
                assert (merged[col] == merged[f"{col}_us"]).all(), (name, col)
    kept = set(small["sites"]["site_id"])
    assert set(us["kols"].loc[us["kols"]["site_id"].isin(kept), "kol_id"]) == set(
        small["kols"]["kol_id"]
    )


def test_restrict_keeps_every_zone_of_the_region() -> None:
    tables = national_tables()
    small = restrict_to_states(tables, ["VT"])  # a state with zones but no site
    assert len(small["zones"]) == (tables["zones"]["state"] == "VT").sum() > 0
    assert small["sites"].empty and small["kols"].empty and small["partners"].empty
    assert small["products"].equals(tables["products"])
