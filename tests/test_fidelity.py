"""Model fidelity where CGT networks bind (#15), each on tiny hand-checked data.

Tiny (tests/data/tiny): Z1 (10 patients/yr) and Z2 (20) all go to S1 (40.1, -74.0); hub H1
(Newark, 18:00 cut-off: no wait); plant L1 (Morris Plains NJ, 17-day turnaround). Transport:
ground 70 km/h + 4 h, $2/route km, circuity 1.25, up to 800 route km; air 700 km/h + 10 h,
$1/route km, circuity 1.1.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from netopt.data.case import Case, case_from_loaded
from netopt.data.config import Edit
from netopt.data.io import load_model
from netopt.results.pipeline import solve_case
from tests.test_model import H1, L1, S1, edit, km, tiny

L2 = (39.96, -82.99)  # Columbus OH
SMALL = Path(__file__).parents[1] / "models" / "us-small.yaml"


def ground(a: tuple, b: tuple) -> tuple[float, float]:
    """(hours, USD) of a ground leg."""
    route = 1.25 * km(a, b)
    assert route <= 800
    return 4 + route / 70, 2.0 * route


def air(a: tuple, b: tuple) -> tuple[float, float]:
    route = 1.1 * km(a, b)
    return 10 + route / 700, 1.0 * route


def with_second_plant(case: Case, capacity: float, turnaround: float = 16.0) -> Case:
    plants = case.tables["plants"]
    case.tables["plants"] = pd.concat([plants, pd.DataFrame([{
        "plant_id": "L2", "name": "Plant OH", "latitude": L2[0], "longitude": L2[1],
        "products": ("p1",), "capacity_doses_per_year": capacity,
        "turnaround_days": turnaround}])], ignore_index=True)
    return case


# ---------------------------------------------------------------- 1. plant choice


def test_full_plant_sends_patients_to_the_next_plant():
    """L1 makes 12 doses a year; the other 18 patients' cells go to L2 (Columbus, 16-day
    turnaround). H1 -> L2 is 1.25 x 744 km = 930 route km by ground, beyond its 800 km, so
    that leg flies. Transport per patient = inbound + outbound, each counted by hand."""
    case = with_second_plant(edit(tiny(), "plants", "L1", capacity_doses_per_year=12.0), 1000)
    result = solve_case(case)
    assert result.summary["patients_unserved"] == pytest.approx(0.0, abs=1e-6)
    plants = result.plants.set_index("plant_id")
    assert plants.at["L1", "doses_per_year"] == pytest.approx(12.0, rel=1e-6)
    assert plants.at["L1", "utilisation"] == pytest.approx(1.0, rel=1e-6)
    assert plants.at["L2", "patients_received_per_year"] == pytest.approx(18.0, rel=1e-6)
    h_s, c_s = ground(H1, S1)
    h_1, c_1 = ground(L1, H1)
    h_2, c_2 = air(L2, H1)
    transport = result.costs.set_index("term").at["transport", "usd_per_year"]
    assert transport == pytest.approx(12 * 2 * (c_s + c_1) + 18 * 2 * (c_s + c_2), rel=1e-6)
    # vein-to-vein per site and plant: cells in + turnaround + doses out
    s = result.shipments
    direct = s[s["leg"] == "direct"].set_index("plant_id")
    assert direct.at["L1", "vein_to_vein_days"] == pytest.approx(
        (2 * (h_s + h_1) + 17 * 24) / 24, rel=1e-6)
    assert direct.at["L2", "vein_to_vein_days"] == pytest.approx(
        (2 * (h_s + h_2) + 16 * 24) / 24, rel=1e-6)
    cells = s[s["leg"] == "starting_material"].set_index("plant_id")
    assert cells.at["L2", "shipments_per_year"] == pytest.approx(18.0, rel=1e-6)
    assert cells.at["L2", "transit_hours"] == pytest.approx(h_s + h_2, rel=1e-6)


def test_unserved_only_when_every_plant_is_full():
    """12 doses at L1 + 10 at L2 = 22 of 30 patients; 8 go unserved."""
    case = with_second_plant(edit(tiny(), "plants", "L1", capacity_doses_per_year=12.0), 10)
    result = solve_case(case)
    assert result.summary["patients_served"] == pytest.approx(22.0, rel=1e-6)
    assert result.summary["patients_unserved"] == pytest.approx(8.0, rel=1e-6)


def test_us_small_cart_repro_uses_the_second_plant():
    """#15 repro: us-small, CAR-T products only, PL01 capped at 200 doses. Before, 180
    patients went unserved ($62.5M) with PL02 idle; now PL02 takes them."""
    loaded, _ = load_model(SMALL)
    loaded.config.products = ["cart_onc", "cart_ai"]
    loaded.config.edits = [Edit(table="plants", where={"plant_id": "PL01"},
                                set={"capacity_doses_per_year": 200})]
    case, _ = case_from_loaded(loaded)
    result = solve_case(case)
    assert result.summary["patients_unserved"] < 1.0
    plants = result.plants.set_index("plant_id")
    assert plants.at["PL01", "doses_per_year"] <= 200 + 1e-6
    assert plants.at["PL02", "doses_per_year"] > 170
    assert result.summary["objective"] < 5e6
