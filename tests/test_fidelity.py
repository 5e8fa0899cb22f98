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
from netopt.report.details import render_details
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
    turnaround). Every leg flies (the cheapest mode that fits). Transport per patient =
    inbound + outbound, each counted by hand."""
    case = with_second_plant(edit(tiny(), "plants", "L1", capacity_doses_per_year=12.0), 1000)
    result = solve_case(case)
    assert result.summary["patients_unserved"] == pytest.approx(0.0, abs=1e-6)
    plants = result.plants.set_index("plant_id")
    assert plants.at["L1", "doses_per_year"] == pytest.approx(12.0, rel=1e-6)
    assert plants.at["L1", "utilisation"] == pytest.approx(1.0, rel=1e-6)
    assert plants.at["L2", "patients_received_per_year"] == pytest.approx(18.0, rel=1e-6)
    h_s, c_s = air(H1, S1)  # air is the cheaper mode on every leg of tiny (see test 2)
    h_1, c_1 = air(L1, H1)
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


def test_a_full_plant_says_what_one_more_dose_of_capacity_saves():
    """The same case: one more dose at L1 moves one patient's cells and dose from L2's legs
    to L1's (same site, same hub), so it saves 2 x (c_2 - c_1) a year, by hand. L2 has room:
    its capacity is worth nothing to this network."""
    case = with_second_plant(edit(tiny(), "plants", "L1", capacity_doses_per_year=12.0), 1000)
    plants = solve_case(case).plants.set_index("plant_id")
    _, c_1 = air(L1, H1)
    _, c_2 = air(L2, H1)
    assert c_2 > c_1
    assert plants.at["L1", "capacity_value_usd_per_dose"] == pytest.approx(2 * (c_2 - c_1),
                                                                           rel=1e-6)
    assert plants.at["L2", "capacity_value_usd_per_dose"] == 0.0


def test_details_page_says_what_a_plants_capacity_is_worth():
    """details.html's plants section: the saving where a dose of capacity is worth something,
    'room left' where the plant has room, 'full, but no patient for another dose' where it is
    full and the value is 0 (L2 making exactly the 18 doses its patients need)."""
    case = with_second_plant(edit(tiny(), "plants", "L1", capacity_doses_per_year=12.0), 1000)
    page = render_details(solve_case(case))
    section = page[page.index("<h2>Manufacturing plants</h2>"):]
    rows = section[:section.index("</table>")].split("<tr>")[2:]
    assert "Plant NJ" in rows[0] and "100%" in rows[0] and "$1.6 k a year" in rows[0], rows[0]
    assert "Plant OH" in rows[1] and "nothing: room left" in rows[1]
    exact = with_second_plant(edit(tiny(), "plants", "L1", capacity_doses_per_year=12.0), 18)
    page = render_details(solve_case(exact))
    section = page[page.index("<h2>Manufacturing plants</h2>"):]
    oh = section[:section.index("</table>")].split("<tr>")[3]
    assert "100%" in oh and ("nothing: full, but no patient for another dose" in oh
                             or "a year" in oh), oh


def test_a_plant_short_of_capacity_is_worth_the_patient_it_would_treat():
    """One plant, 12 doses for 30 patients: 18 go untreated at their lost margin
    (price - COGS = $300k a dose). One more dose treats one of them: the value is the margin
    less what serving that patient costs, and it is what the same network costs less when
    solved again with 13 doses (the dual against a re-solve)."""
    short = solve_case(edit(tiny(), "plants", "L1", capacity_doses_per_year=12.0))
    more = solve_case(edit(tiny(), "plants", "L1", capacity_doses_per_year=13.0))
    assert short.summary["patients_unserved"] == pytest.approx(18.0, rel=1e-6)
    assert more.summary["patients_unserved"] == pytest.approx(17.0, rel=1e-6)
    assert set(short.sites.loc[short.sites["active"], "site_id"]) == set(
        more.sites.loc[more.sites["active"], "site_id"])
    value = short.plants.set_index("plant_id").at["L1", "capacity_value_usd_per_dose"]
    assert 290_000 < value < 300_000
    assert value == pytest.approx(short.summary["objective_usd"] - more.summary["objective_usd"],
                                  rel=1e-6)


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


# ---------------------------------------------------------------- 2. transport mode


FAR = (40.1, -79.878)  # 500 km west of S1


def test_lane_too_slow_by_ground_flies():
    """#15 repro: plant and hub together 500 km from S1, a 16 h shelf budget. Ground takes
    4 h (plant -> hub) + 4 + 625/70 = 12.9 h: 16.9 h, too slow, and the lane was dropped.
    Air on the hub -> site leg takes 10 + 550/700 h: 14.8 h in all, at $550 instead of
    $1,250: the lane is kept, by air, and all 30 patients are served."""
    assert km(S1, FAR) == pytest.approx(500, abs=0.5)
    case = edit(tiny(), "products", "p1", modality="allogeneic", shelf_life_hours=16.0,
                handling_buffer_hours=0.0)
    edit(case, "hubs", "H1", latitude=FAR[0], longitude=FAR[1])
    edit(case, "plants", "L1", latitude=FAR[0], longitude=FAR[1])
    h_g, c_g = ground(FAR, S1)
    h_a, c_a = air(FAR, S1)
    assert 4 + h_g > 16 >= 4 + h_a and c_a < c_g
    result = solve_case(case)
    assert result.summary["patients_unserved"] == pytest.approx(0.0, abs=1e-6)
    s = result.shipments.set_index("site_id").loc["S1"]
    assert s["leg"] == "direct"
    assert (s["first_leg_mode"], s["last_leg_mode"], s["mode"]) == ("ground", "air", "air")
    assert s["first_leg_hours"] == pytest.approx(4.0)  # plant and hub together: fixed hours
    assert s["first_leg_cost_usd"] == pytest.approx(0.0)
    assert s["last_leg_hours"] == pytest.approx(h_a, rel=1e-6)
    assert s["last_leg_cost_usd"] == pytest.approx(c_a, rel=1e-6)
    assert s["transit_hours"] == pytest.approx(4 + h_a, rel=1e-6)
    assert s["cost_usd_per_shipment"] == pytest.approx(c_a, rel=1e-6)


def test_cheapest_mode_that_fits_per_leg():
    """With a loose budget the cheaper mode wins (air, $1.1 per great-circle km against
    ground's $2.5); give air a cost above ground's and the same lane goes by ground."""
    case = edit(tiny(), "products", "p1", modality="allogeneic", shelf_life_hours=100.0,
                handling_buffer_hours=0.0)
    result = solve_case(case)
    s = result.shipments.set_index("site_id").loc["S1"]
    assert (s["first_leg_mode"], s["last_leg_mode"]) == ("air", "air")
    dear = edit(tiny(), "products", "p1", modality="allogeneic", shelf_life_hours=100.0,
                handling_buffer_hours=0.0)
    transport = dear.tables["transport"]
    transport.loc[transport["mode"] == "air", "cost_usd_per_shipment_km"] = 3.0
    s = solve_case(dear).shipments.set_index("site_id").loc["S1"]
    assert (s["first_leg_mode"], s["last_leg_mode"]) == ("ground", "ground")
    assert s["cost_usd_per_shipment"] == pytest.approx(
        ground(L1, H1)[1] + ground(H1, S1)[1], rel=1e-6)


def test_the_mode_pair_is_chosen_by_cost_a_dose_not_a_shipment():
    """24 doses 5.3 days apart, 4 a shipment asked, 144 h of budget: all air (20.2 h) is
    cheapest a shipment but leaves room for 1 dose (24 shipments a patient); ground to H1
    then air (14.7 h) keeps 2 (12 shipments). With H1's $300 handling a shipment, the pair
    that keeps 2 costs less a year. Before, the lane took the cheapest pair a shipment and
    the optimum with air allowed ($621k) was dearer than with ground alone ($524k)."""
    def case(modes: tuple[str, ...]) -> Case:
        c = edit(tiny(), "products", "p1", modality="allogeneic", doses_per_patient=24,
                 dose_interval_days=5.3, treatment_weeks=24 * 5.3 / 7, shelf_life_hours=168.0,
                 handling_buffer_hours=24.0, doses_per_shipment=4.0)
        for site in ("S2", "S3"):
            edit(c, "sites", site, status="excluded")
        t = c.tables["transport"]
        c.tables["transport"] = t[t["mode"].isin(modes)].reset_index(drop=True)
        return c

    both, only_ground = solve_case(case(("ground", "air"))), solve_case(case(("ground",)))
    assert both.summary["objective"] <= only_ground.summary["objective"]
    lane = both.shipments.set_index("leg").loc["direct"]
    assert (lane["first_leg_mode"], lane["last_leg_mode"]) == ("ground", "air")
    hours = ground(L1, H1)[0] + air(H1, S1)[0]
    assert lane["transit_hours"] == pytest.approx(hours, rel=1e-6)
    assert lane["doses_per_shipment"] == 2 and lane["shipments_per_year"] == pytest.approx(360)
    assert both.costs.set_index("term").at["transport", "usd_per_year"] == pytest.approx(
        360 * (ground(L1, H1)[1] + air(H1, S1)[1]), rel=1e-6)


# ---------------------------------------------------------------- 4. costs once, flows everywhere


def test_starting_material_uses_hub_capacity_and_handling():
    """H1 handles 40 shipments a year. Each patient is 2 shipments through it (cells in,
    dose out), so only 20 of the 30 patients can be treated; handling = 40 x $300."""
    case = edit(tiny(), "hubs", "H1", capacity_shipments_per_year=40.0)
    result = solve_case(case)
    assert result.summary["patients_served"] == pytest.approx(20.0, rel=1e-6)
    hubs = result.hubs.set_index("hub_id")
    assert hubs.at["H1", "shipments_per_year"] == pytest.approx(40.0, rel=1e-6)
    assert result.costs.set_index("term").at["hub_handling", "usd_per_year"] == \
        pytest.approx(40 * 300, rel=1e-6)


def test_partner_delivery_is_timed_on_the_supply_in_use():
    """60 patients: S2 is served through P1. Two supply pairs reach P1: ground (fastest)
    and air (cheapest, so the one in use). The delivery row's hours are the air supply's
    plus the P1 -> S2 leg, and its vein-to-vein time follows; before, the row was timed on
    the ground supply that nothing used."""
    p1 = (40.05, -76.05)
    result = solve_case(edit(tiny(), "products", "p1", incidence_per_100k=20.0))
    s = result.shipments.set_index("leg")
    supply, delivery = s.loc["partner_supply"], s.loc["partner_delivery"]
    assert (supply["first_leg_mode"], supply["last_leg_mode"]) == ("air", "air")
    assert supply["transit_hours"] == pytest.approx(air(L1, H1)[0] + air(H1, p1)[0], rel=1e-6)
    assert ground(L1, H1)[0] + ground(H1, p1)[0] < supply["transit_hours"]
    assert delivery["transit_hours"] == pytest.approx(
        supply["transit_hours"] + air(p1, (40.1, -76.0))[0], rel=1e-6)
    cells = s.loc["starting_material"].set_index("site_id").at["S2", "transit_hours"]
    assert delivery["vein_to_vein_days"] == pytest.approx(
        (cells + 17 * 24 + delivery["transit_hours"]) / 24, rel=1e-6)


def test_partner_delivery_is_paid_once_in_the_partner_fee():
    """60 patients: S2 opens with partner P1 (tests/test_model.py). The partner -> site leg
    is in P1's $500 per dose; transport is exactly the plant lanes, partner supply and
    starting material in shipments.csv, none of it on the partner delivery."""
    result = solve_case(edit(tiny(), "products", "p1", incidence_per_100k=20.0))
    s = result.shipments
    delivery = s[s["leg"] == "partner_delivery"]
    assert len(delivery) and (delivery["cost_usd_per_shipment"] == 0).all()
    c = result.costs.set_index("term")["usd_per_year"]
    assert c["transport"] == pytest.approx(
        (s["shipments_per_year"] * s["cost_usd_per_shipment"]).sum(), rel=1e-6)
    assert c["partner_handling"] == pytest.approx(500 * delivery["doses_per_year"].sum())


def test_starting_material_is_priced_through_an_active_hub():
    """A second hub H2 next to S1 is the fastest for the cells but costs $1M a year to
    open; H1 stays the only active hub and carries the cells (before #15 the inbound leg was
    priced on the fastest hub, active or not)."""
    case = tiny()
    hubs = case.tables["hubs"]
    h2 = hubs.iloc[0].copy()
    h2["hub_id"], h2["latitude"], h2["longitude"] = "H2", 40.11, -74.01
    h2["annual_fixed_cost_usd"], h2["status"] = 1_000_000.0, "candidate"
    case.tables["hubs"] = pd.concat([hubs, h2.to_frame().T], ignore_index=True)
    result = solve_case(case)
    active = result.hubs.set_index("hub_id")["active"]
    assert bool(active["H1"]) and not bool(active["H2"])
    cells = result.shipments[result.shipments["leg"] == "starting_material"]
    assert set(cells["hub_id"]) == {"H1"}
    assert cells["shipments_per_year"].sum() == pytest.approx(30.0, rel=1e-6)
