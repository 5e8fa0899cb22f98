"""Dose cadence drives shipments (#15, item 3), on tiny hand-checked data.

Tiny (tests/data/tiny) with its product made a repeat-dose allogeneic therapy: 24 doses a
patient, 4 requested per shipment, 168 h shelf life and no handling buffer; S2 and S3
excluded, so all 30 patients go to S1. The lane L1 -> H1 -> S1 flies both legs (10 h fixed
each, 700 km/h, 1.1 x great circle at $1/km) and H1 handles each shipment for $300: about
20.2 h, which leaves about 147.8 h of shelf life at S1.

- every 3.5 days (84 h): 147.8 h spans one interval, so 2 doses a shipment (4 would need
  3 x 84 = 252 h), 12 shipments a patient, 360 a year;
- every 7 days (168 h): not one interval, so 1 dose a shipment: 24 a patient, 720 a year;
- with 400 h of shelf life the 4 requested doses fit (3 x 84 = 252 h <= 380 h): 180 a year.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from netopt.data.cadence import doses_within_life, shipments_per_dose, shipments_per_patient
from netopt.data.case import Case, load_case
from netopt.results.pipeline import solve_case
from tests.test_model import H1, L1, S1, costs, edit, km, tiny

TINY = Path(__file__).parent / "data" / "tiny"
DOSES = 24
PATIENTS = 30
#: one shipment plant -> hub -> site: air on both legs, plus H1's handling
ROUTE_USD = 1.1 * (km(L1, H1) + km(H1, S1))
HANDLING_USD = 300.0
TRANSIT_H = 20 + 1.1 * (km(L1, H1) + km(H1, S1)) / 700


def repeat_dose(interval_days: float, shelf_life_hours: float = 168.0) -> Case:
    case = edit(tiny(), "products", "p1", modality="allogeneic", doses_per_patient=DOSES,
                dose_interval_days=interval_days, treatment_weeks=DOSES * interval_days / 7,
                shelf_life_hours=shelf_life_hours, handling_buffer_hours=0.0,
                doses_per_shipment=4.0)
    for site in ("S2", "S3"):
        edit(case, "sites", site, status="excluded")
    return case


def test_cadence_rules_by_hand():
    """1 + floor(usable / interval) doses, capped at the request; whole shipments a year."""
    assert doses_within_life(4, 3.5, 147.8) == 2  # 84 h fits once in 147.8 h
    assert doses_within_life(4, 7, 147.8) == 1  # 168 h does not
    assert doses_within_life(4, 3.5, 252) == 4  # exactly 3 intervals: kept
    assert doses_within_life(4, 3.5, 251.9) == 3
    assert doses_within_life(4, 0, 10) == 4  # no interval: a single dose, as requested
    assert doses_within_life(4, 3.5, -5) == 1  # nothing left: one dose, given on arrival
    assert shipments_per_patient(24, 5) == 5  # 4 of 5 doses and one of 4
    assert shipments_per_patient(1, 4) == 1  # a shipment never carries two patients' doses
    assert shipments_per_patient(1.5, 1) == 1.5  # never more shipments than doses
    assert shipments_per_dose(24, 4, 3.5, 147.8) == pytest.approx(0.5)


@pytest.mark.parametrize(("interval", "life", "per_shipment"),
                         [(3.5, 168.0, 2), (7.0, 168.0, 1), (3.5, 400.0, 4)])
def test_interval_sets_shipments_and_their_cost(interval, life, per_shipment):
    assert 147 < life - TRANSIT_H < 148 or life == 400.0
    result = solve_case(repeat_dose(interval, life))
    assert result.summary["patients_unserved"] == pytest.approx(0.0, abs=1e-6)
    per_patient = DOSES / per_shipment
    shipments = PATIENTS * per_patient
    s = result.shipments.set_index("leg").loc["direct"]
    assert s["transit_hours"] == pytest.approx(TRANSIT_H, rel=1e-6)
    assert s["doses_per_year"] == pytest.approx(PATIENTS * DOSES, rel=1e-6)
    assert s["doses_per_shipment_requested"] == 4
    assert s["doses_per_shipment"] == per_shipment
    assert s["shipments_per_patient_year"] == pytest.approx(per_patient)
    assert s["shipments_per_year"] == pytest.approx(shipments, rel=1e-6)
    c = costs(result)
    assert c["transport"] == pytest.approx(shipments * ROUTE_USD, rel=1e-6)
    assert c["hub_handling"] == pytest.approx(shipments * HANDLING_USD, rel=1e-6)
    hub = result.hubs.set_index("hub_id").loc["H1"]
    assert hub["shipments_per_year"] == pytest.approx(shipments, rel=1e-6)
    p = result.products.set_index("product_id").loc["p1"]
    assert p["doses_per_shipment_requested"] == 4
    assert p["doses_per_shipment_max"] == min(4, 1 + (life // (interval * 24)))
    assert p["doses_per_shipment_kept"] == pytest.approx(per_shipment)
    assert p["shipments_per_patient_year"] == pytest.approx(per_patient)


def test_weekly_dosing_costs_exactly_the_extra_shipments():
    """Twice weekly -> weekly: 360 more shipments, each one route plus handling; nothing else
    moves (the same site, hub, doses and visits). Before #15 both cost the same: 180."""
    twice = solve_case(repeat_dose(3.5))
    weekly = solve_case(repeat_dose(7.0))
    extra = (720 - 360) * (ROUTE_USD + HANDLING_USD)
    assert weekly.summary["objective"] - twice.summary["objective"] == pytest.approx(
        extra, rel=1e-6)
    a, b = costs(twice), costs(weekly)
    for term in set(a) - {"transport", "hub_handling", "total"}:
        assert a[term] == pytest.approx(b.get(term, 0.0), abs=1e-6), term


def test_single_dose_product_keeps_one_shipment_per_patient():
    result = solve_case(tiny())  # autologous CAR-T, 1 dose, no interval
    s = result.shipments.set_index("leg").loc["direct"]
    assert s["shipments_per_year"] == pytest.approx(30.0, rel=1e-6)
    assert s["doses_per_shipment"] == s["doses_per_shipment_requested"] == 1


def test_validation_warns_at_the_row_and_does_not_fail(tmp_path: Path):
    """4 doses every 3.5 days need 252 h; 168 - 12 h buffer = 156 h keeps 2 (one interval
    of 84 h, and fewer on lanes over 156 - 84 = 72 h)."""
    data = tmp_path / "tiny"
    shutil.copytree(TINY, data)
    products = pd.read_csv(data / "products.csv")
    second = products.iloc[0].copy()
    second["product_id"], second["name"] = "p2", "Repeat dose"
    products = pd.concat([products, second.to_frame().T], ignore_index=True)
    products = products.assign(
        modality=["autologous", "allogeneic"], doses_per_patient=[1, 24],
        dose_interval_days=[0, 3.5], treatment_weeks=[0, 12], shelf_life_hours=[240, 168],
        handling_buffer_hours=[24, 12], doses_per_shipment=[1, 4])
    products.to_csv(data / "products.csv", index=False)
    plants = pd.read_csv(data / "plants.csv")
    plants["products"] = "p1;p2"
    plants.to_csv(data / "plants.csv", index=False)
    model = tmp_path / "m.yaml"
    model.write_text("name: m\ndataset: tiny\n")
    case = load_case(model)
    found = [w for w in case.warnings if w.column == "doses_per_shipment"]
    assert len(found) == 1
    w = found[0]
    assert (Path(w.file).name, w.row, w.value, w.severity) == (
        "products.csv", 3, "4", "warning")
    assert "252 h" in w.message and "156 h" in w.message
    assert "at most 2 dose(s) per shipment" in w.message and "over 72 h" in w.message
