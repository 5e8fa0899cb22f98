"""Hand-checked small cases, one per constraint family, plus invariants of the results.

The tiny dataset (tests/data/tiny): zones Z1 (100k people) and Z2 (200k), product p1 (an
autologous oncology CAR-T, cryogenic, 10 patients per 100k), sites S1 (existing, certified,
cryogenic, capacity 50), S2 (candidate near Z2, refrigerated only, not certified) and S3
(candidate, price ceiling below the product price), one hub H1, one partner P1 near S2,
one plant L1.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from netopt.data.case import Case, load_case
from netopt.data.geography import haversine_km
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver.diagnose import Infeasible, NothingToTreat
from netopt.solver.highs import solve_model

TINY = Path(__file__).parent / "data" / "tiny.yaml"


def tiny(**settings) -> Case:
    """The tiny case with settings overridden as section__key=value."""
    case = load_case(TINY)
    for key, value in settings.items():
        if "__" in key:
            section, name = key.split("__")
            setattr(getattr(case.config, section), name, value)
        else:
            setattr(case.config, key, value)
    return case


def edit(case: Case, table: str, row_id: str, **values) -> Case:
    frame = case.tables[table]
    key = frame.columns[0]
    for col, val in values.items():
        frame.loc[frame[key] == row_id, col] = val
    return case


def costs(result) -> dict[str, float]:
    return result.costs.set_index("term")["usd_per_year"].to_dict()


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(haversine_km(a[0], a[1], b[0], b[1]))


Z1, Z2 = (40.0, -74.0), (40.0, -76.0)
S1, S2 = (40.1, -74.0), (40.1, -76.0)
H1, L1 = (40.69, -74.17), (40.85, -74.48)


def test_baseline_costs_by_hand():
    """30 patients all at S1 (the only eligible certified cryogenic site): every cost term
    recomputed from the inputs."""
    result = solve_case(tiny())
    c = costs(result)
    assert result.info.status == "optimal"
    assert c["site_fixed"] == pytest.approx(100_000)  # S1's annual fixed cost
    assert c["hub_fixed"] == pytest.approx(100_000)
    # 30 shipments out and 30 of starting material in, x $300
    assert c["hub_handling"] == pytest.approx(2 * 30 * 300)
    # the cheapest mode that fits each leg: air (1.1 x great circle at $1/km, + 10 h) beats
    # ground (1.25 x great circle at $2/km) at every distance and the 20 h lane fits 216 h;
    # outbound plant -> hub -> site and the starting material back site -> hub -> plant
    route = 1.1 * (km(L1, H1) + km(H1, S1)) * 1.0
    assert c["transport"] == pytest.approx(30 * 2 * route, rel=1e-6)
    per_leg = result.shipments.set_index("leg")["transport_usd_per_year"]
    assert per_leg["direct"] == pytest.approx(30 * route, rel=1e-6)
    assert per_leg["starting_material"] == pytest.approx(30 * route, rel=1e-6)
    # travel support: $0.60/km x road km x round trip x 2 visits (apheresis + infusion)
    travel = sum(n * 0.6 * 1.25 * km(z, S1) * 2 * 2 for n, z in ((10, Z1), (20, Z2)))
    assert c["patient_travel"] == pytest.approx(travel, rel=1e-6)
    assert c["unserved_penalty"] == pytest.approx(0.0)
    assert c["total"] == pytest.approx(result.summary["objective"], rel=1e-9)


def test_price_ceiling_blocks_site():
    prep = prepare(tiny())
    blocked = prep.blocked.set_index("site_id")["reason"]
    assert "price" in blocked["S3"]
    assert "S3" not in set(prep.pairs["site_id"])


def test_capacity_opens_candidate_with_onboarding_and_partner():
    """60 patients exceed S1's capacity of 50: S2 must open, be onboarded for oncology and
    get the cryogenic class: a partner ($20k + $500/dose) beats equipment ($90k/yr)."""
    case = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    result = solve_case(case)
    sites = result.sites.set_index("site_id")
    assert sites.at["S2", "active"]
    assert sites.at["S2", "onboarded_areas"] == "oncology"
    assert sites.at["S2", "partners_linked"] == "P1"
    assert sites.at["S2", "equipped_classes"] == ""
    assert sites.at["S1", "patients_per_year"] <= 50 + 1e-6
    assert result.summary["patients_unserved"] == pytest.approx(0.0, abs=1e-6)
    c = costs(result)
    assert c["onboarding"] == pytest.approx(80_000 / 5)
    assert c["site_activation"] == pytest.approx(200_000 / 5)
    assert c["partner_fixed"] == pytest.approx(20_000)
    doses_via_partner = result.partners.set_index("partner_id").at["P1", "doses_per_year"]
    assert c["partner_handling"] == pytest.approx(500 * doses_via_partner)


def test_equipment_when_partner_is_dearer():
    case = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    edit(case, "partners", "P1", annual_fixed_cost_usd=500_000.0)
    result = solve_case(case)
    sites = result.sites.set_index("site_id")
    assert sites.at["S2", "equipped_classes"] == "cryogenic"
    assert costs(result)["equipment"] == pytest.approx(90_000)


def test_min_volume_keeps_site_out():
    case = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    edit(case, "sites", "S2", min_patients_per_year=60.0)  # more than it could take
    result = solve_case(case)
    assert not result.sites.set_index("site_id").at["S2", "active"]
    assert result.summary["patients_unserved"] == pytest.approx(10.0, rel=1e-6)


def test_a_start_with_an_idle_site_open_is_not_reported_as_the_network():
    """HiGHS 1.16, handed a start with S2 open (it can treat nobody: its minimum volume is
    above its capacity), fixes S2 in presolve, proves the network without it optimal, and
    returns S2 still open in its values. The network loaded and reported is the one whose
    cost is the objective: S2 closed, the tables' total equal to the objective."""
    case = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    edit(case, "sites", "S2", min_patients_per_year=60.0)
    m = build_model(prepare(case))
    info = solve_model(m, case.config.solver, start_network={"y": {"S1": 1, "S2": 1}},
                       start_name="test")
    assert info.status == "optimal"
    assert round(m.y["S2"].value) == 0
    assert pyo.value(m.obj) == pytest.approx(info.objective, rel=1e-9)


def test_unserved_penalty_is_lost_margin():
    case = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    edit(case, "sites", "S2", min_patients_per_year=60.0)
    result = solve_case(case)
    assert costs(result)["unserved_penalty"] == pytest.approx(10 * (400_000 - 100_000))


def test_max_active_sites():
    case = edit(tiny(sites__max_active=1), "products", "p1", incidence_per_100k=20.0)
    result = solve_case(case)
    assert result.summary["sites_active"] == 1
    assert result.summary["patients_unserved"] == pytest.approx(10.0, rel=1e-6)


def test_service_level_opens_near_site():
    """Everyone within 50 km: Z2 (170 km from S1) needs S2."""
    result = solve_case(tiny(service__within_km=50.0, service__min_share=1.0))
    assert result.sites.set_index("site_id").at["S2", "active"]
    assert result.kpis.set_index("kpi").at["pct_within_travel_target", "value"] == \
        pytest.approx(100.0)


def test_kol_requirement_onboards_the_kol_site():
    case = tiny(kols__mode="require")
    kols = case.tables["kols"]
    case.tables["kols"] = pd.concat([kols, pd.DataFrame([{
        "kol_id": "K2", "name": "Dr Two", "therapeutic_area": "oncology", "site_id": "S2",
        "weight": 1.0}])], ignore_index=True)
    result = solve_case(case)
    sites = result.sites.set_index("site_id")
    assert sites.at["S2", "active"] and sites.at["S2", "onboarded_areas"] == "oncology"
    assert result.kols["covered"].all()


def test_shelf_life_removes_lanes_and_explains_unserved():
    """Every lane too long for the shelf life: no patient can be treated, which is an input
    problem (it was a result with nobody served), in the words unserved.csv would use."""
    case = edit(tiny(), "products", "p1", shelf_life_hours=30.0)  # 30 - 24 buffer < transit
    with pytest.raises(NothingToTreat) as err:
        solve_case(case)
    assert "shelf life" in err.value.reasons[0]


def test_infeasible_names_zones_products_and_requirement():
    case = edit(tiny(service__allow_unserved=False), "products", "p1", shelf_life_hours=30.0)
    with pytest.raises(Infeasible) as err:
        solve_case(case)
    text = " ".join(err.value.reasons)
    assert "p1" in text and "shelf life" in text
    assert "Alpha" in text and "Beta" in text  # the zones that cannot be served


def test_infeasible_service_level_is_explained():
    case = tiny(service__within_km=5.0, service__min_share=0.99)
    with pytest.raises(Infeasible) as err:
        solve_case(case)
    assert any("service level" in r and "p1" in r for r in err.value.reasons)


@pytest.mark.parametrize(("within_km", "share", "expected"), [
    # every zone is within 500 km of S1, whose capacity of 5 is the whole shortfall
    (500.0, 1.0, "at most 5.0 can be (every patient lives within reach of an eligible site, "
                 "but the other rules (capacity, minimum volumes, site counts or budget) keep "
                 "those sites from treating enough of them)"),
    # within 100 km Beta's 20 patients have no site; they explain 20 of the 25 missing
    (100.0, 1.0, "at most 5.0 can be (20.0 patients/yr in 1 zone(s) (Beta, PA): no eligible "
                 "site within 100 km (service.within_km); the other 5.0 patients/yr live "
                 "within reach of eligible sites that the other rules"),
    # at 50 % the rule lets 15 go, so Beta's 20 explain only 5 of the 10 missing
    (100.0, 0.5, "needs 50% of its 30.0 patients/yr (15.0) treated within 100 km, but at most "
                 "5.0 can be (20.0 patients/yr in 1 zone(s) (Beta, PA): no eligible site "
                 "within 100 km (service.within_km); the other 5.0 patients/yr live"),
])
def test_a_service_shortfall_is_accounted_for_in_full(within_km: float, share: float,
                                                       expected: str):
    """S2 excluded, S3 priced out: S1 alone (capacity 5) can treat within the target. The
    reason must account for all of the need - 5 patients, not name zones that hold a few."""
    case = edit(tiny(service__within_km=within_km, service__min_share=share), "sites", "S1",
                capacity_patients_per_year=5.0)
    case = edit(case, "sites", "S2", status="excluded")
    with pytest.raises(Infeasible) as err:
        solve_case(case)
    (reason,) = [r for r in err.value.reasons if r.startswith("service level")]
    assert expected in reason, reason


def test_infeasible_budget_is_explained():
    with pytest.raises(Infeasible) as err:
        solve_case(tiny(budget_fixed_usd=1_000.0))
    assert any("budget" in r for r in err.value.reasons)


def test_margin_objective_is_revenue_minus_cost():
    cost_run = solve_case(tiny())
    margin_run = solve_case(tiny(objective="margin"))
    c = costs(margin_run)
    assert c["revenue"] == pytest.approx(-30 * 400_000)
    assert c["cogs"] == pytest.approx(30 * 100_000)
    assert margin_run.summary["objective"] == pytest.approx(
        cost_run.summary["objective"] - 30 * (400_000 - 100_000), rel=1e-9)


def test_strong_and_aggregated_linking_agree():
    case = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    a = solve_case(case, gap=0.0)
    case.config.solver.strong_linking = False
    b = solve_case(case, gap=0.0)
    assert a.summary["objective"] == pytest.approx(b.summary["objective"], rel=1e-9)


# ---------------------------------------------------------------- invariants


def _optimum(case: Case) -> float:
    return solve_case(case, gap=0.0).summary["objective"]


def test_adding_a_candidate_site_never_raises_cost():
    base = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    without = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    edit(without, "sites", "S2", status="excluded")
    assert _optimum(base) <= _optimum(without) + 1e-6


def test_raising_capacity_never_raises_cost():
    low = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    high = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    edit(high, "sites", "S1", capacity_patients_per_year=80.0)
    assert _optimum(high) <= _optimum(low) + 1e-6


@pytest.fixture(scope="module")
def small_result(small_solution):  # noqa: ANN001 - the shared solve (conftest.py)
    case = load_case(Path(__file__).parents[1] / "models" / "us-small.yaml")
    return case, copy.deepcopy(small_solution)


def test_small_results_respect_limits(small_result):
    case, result = small_result
    a = result.assignments
    # every patient within the product's travel limit
    assert (a["travel_km"] <= a["max_travel_km"] + 1e-6).all()
    # every shipment within shelf life after the handling buffer
    s = result.shipments
    direct = s[s["leg"] != "partner_supply"]
    assert (direct["transit_hours"] + direct["handling_buffer_hours"]
            <= direct["shelf_life_hours"] + 1e-6).all()
    # site capacity respected
    sites = result.sites
    assert (sites["patients_per_year"] <= sites["capacity_patients_per_year"] + 1e-6).all()
    assert (sites["chair_hours_used"] <= sites["chair_hours_per_year"] + 1e-6).all()
    # no patient at an inactive site, no site treats a product it is not offering
    active = set(sites.loc[sites["active"], "site_id"])
    assert set(a["site_id"]) <= active


def test_small_flows_balance(small_result):
    case, result = small_result
    products = result.products.set_index("product_id")
    a = result.assignments.groupby(["site_id", "product_id"])["patients_per_year"].sum()
    doses_needed = a * a.index.get_level_values("product_id").map(
        products["doses_per_patient"]).to_numpy()
    s = result.shipments[result.shipments["leg"] != "partner_supply"]
    delivered = s.groupby(["site_id", "product_id"])["doses_per_year"].sum()
    joined = pd.concat([doses_needed.rename("need"), delivered.rename("got")], axis=1).fillna(0)
    np.testing.assert_allclose(joined["need"], joined["got"], rtol=1e-6, atol=1e-6)
    # served + unserved = demand
    summary = result.summary
    assert summary["patients_served"] + summary["patients_unserved"] == pytest.approx(
        summary["patients_demand"], rel=1e-6)


def test_same_seed_same_network(small_result):
    case, first = small_result
    second = solve_case(load_case(Path(__file__).parents[1] / "models" / "us-small.yaml"))
    for name in ("sites", "assignments", "shipments", "costs"):
        pd.testing.assert_frame_equal(first.tables[name], second.tables[name])


def test_vein_to_vein_reported_and_limited():
    prep = prepare(tiny())
    sp = prep.site_products.set_index(["site_id", "product_id"])
    v2v = sp.at[("S1", "p1"), "vein_to_vein_days"]
    # inbound hours + 17 turnaround days + outbound hours
    expected = (sp.at[("S1", "p1"), "inbound_hours"] + 17 * 24
                + sp.at[("S1", "p1"), "best_outbound_hours"]) / 24
    assert v2v == pytest.approx(expected)
    assert 17 < v2v < 19
    limited = prepare(tiny(service__max_vein_to_vein_days=17.0))
    assert limited.site_products.empty
    assert limited.no_option["reason"].str.contains(
        "no lane fits the shelf life or the vein-to-vein limit", regex=False).all()
    assert limited.no_option["reason"].str.contains("vein-to-vein limit of 17 d").all()


def test_starting_material_needs_cryo_when_too_slow():
    """Fresh apheresis must reach the plant within starting_material_hours; otherwise the
    site must cryopreserve (hold or equip the cryogenic class)."""
    case = edit(tiny(), "products", "p1", starting_material_hours=1.0)
    prep = prepare(case)
    sp = prep.site_products.set_index(["site_id", "product_id"])
    assert sp.at[("S1", "p1"), "needs_cryo_at_site"]
    result = solve_case(case)
    assert result.summary["patients_served"] == pytest.approx(30.0)


def test_chair_hours_bind():
    """S1 has 5,000 chair hours; at 200 h per dose it can treat 25 of the 30 patients."""
    case = edit(tiny(), "products", "p1", chair_hours_per_dose=200.0)
    result = solve_case(case)
    sites = result.sites.set_index("site_id")
    assert sites.at["S1", "chair_hours_used"] == pytest.approx(5_000, rel=1e-6)
    assert sites.at["S1", "patients_per_year"] == pytest.approx(25.0, rel=1e-6)


def test_autologous_doses_come_back_from_the_plant_that_received_the_cells():
    """A patient's own cells return from the plant that received them, partner route
    included: with a second plant (Columbus OH) and L1 capped at 12 doses, L2 takes the other
    48 patients' cells, and per site and plant the doses out equal the patients in (before
    #15 every site was tied to its fastest plant and 48 patients went unserved)."""
    case = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    edit(case, "plants", "L1", capacity_doses_per_year=12.0)
    plants = case.tables["plants"]
    case.tables["plants"] = pd.concat([plants, pd.DataFrame([{
        "plant_id": "L2", "name": "Plant OH", "latitude": 39.96, "longitude": -82.99,
        "products": ("p1",), "capacity_doses_per_year": 1000.0, "turnaround_days": 17.0}])],
        ignore_index=True)
    result = solve_case(case)
    assert set(result.site_products["plants"]) == {"L1;L2"}
    assert result.summary["patients_served"] == pytest.approx(60.0, rel=1e-6)
    s = result.shipments
    cells = s[s["leg"] == "starting_material"].groupby(["site_id", "plant_id"])[
        "shipments_per_year"].sum()
    doses = s[s["leg"].isin(["direct", "partner_delivery"])].groupby(["site_id", "plant_id"])[
        "doses_per_year"].sum()
    pd.testing.assert_series_equal(cells, doses, check_names=False, rtol=1e-6)
    released = result.plants.set_index("plant_id")["doses_per_year"]
    assert released["L1"] == pytest.approx(12.0, rel=1e-6)
    assert released["L2"] == pytest.approx(48.0, rel=1e-6)


def test_locked_sites_above_max_active_is_explained():
    case = edit(tiny(sites__max_active=1, sites__lock_open=["S2"]), "products", "p1",
                incidence_per_100k=20.0)
    with pytest.raises(Infeasible) as err:
        solve_case(case)
    assert any("max_active = 1 but 2 sites are locked open" in r for r in err.value.reasons)


def test_hub_outage_never_cheaper_on_small(small_result):
    """Taking out the busiest hub (default settings, nearest-hub pruning included) never
    lowers the optimal cost: hubs are ranked among all hubs before excluded ones drop out."""
    _, base = small_result
    busiest = base.hubs.sort_values("shipments_per_year", ascending=False).iloc[0]["hub_id"]
    case = load_case(Path(__file__).parents[1] / "models" / "us-small.yaml")
    hubs = case.tables["hubs"]
    hubs.loc[hubs["hub_id"] == busiest, "status"] = "excluded"
    outage = solve_case(case)
    # both solves stop within the 0.5 % gap: compare the outage's bound with the base cost
    assert outage.summary["objective"] >= base.summary["bound"] - 1e-6


def test_cryopreserved_starting_material_through_one_hub_while_another_keeps_it_fresh():
    """Per hub, not per plant: H1's 08:00 cut-off makes the cells 19.8 h late for a 12-h
    fresh limit, so through H1 they travel cryopreserved (S1 holds the cryogenic class).
    A second hub H2 with an 18:00 cut-off keeps them fresh but costs $1M a year. Before, the
    fresh lane through H2 hid H1's cryopreserved one, and the network paid for H2 (4.8x the
    cost): adding a hub nobody needs must leave the optimum as it was."""
    def case(with_h2: bool) -> Case:
        c = edit(tiny(), "products", "p1", starting_material_hours=12.0)
        edit(c, "hubs", "H1", order_cutoff_local="08:00")
        if with_h2:
            hubs = c.tables["hubs"]
            h2 = hubs[hubs["hub_id"] == "H1"].assign(
                hub_id="H2", name="Fast dear hub", order_cutoff_local="18:00",
                annual_fixed_cost_usd=1_000_000.0, status="candidate")
            c.tables["hubs"] = pd.concat([hubs, h2], ignore_index=True)
        return c

    lanes = prepare(case(True)).inbound_lanes
    lanes = lanes[lanes["site_id"] == "S1"].set_index("hub_id")
    assert bool(lanes.at["H1", "needs_cryo"]) and not bool(lanes.at["H2", "needs_cryo"])
    assert lanes.at["H2", "hours"] <= 12.0 < lanes.at["H1", "hours"] - 24.0
    alone, both = solve_case(case(False)), solve_case(case(True))
    assert both.summary["objective"] == pytest.approx(alone.summary["objective"], rel=1e-9)
    active = both.hubs.set_index("hub_id")["active"]
    assert bool(active["H1"]) and not bool(active["H2"])
    cells = both.shipments[both.shipments["leg"] == "starting_material"]
    assert set(cells["hub_id"]) == {"H1"}


def test_a_slow_cryopreserved_lane_never_makes_the_doses_fly_dearer():
    """Under a 19.5-day vein-to-vein limit, a far hub H2 (refrigerated only, so it carries
    only starting material) offers S1 a cryopreserved inbound lane 24 h+ slower than H1's
    fresh one. Timing the lanes back on it left only ground for S1's doses ($247 a
    shipment) where the fresh lane alone keeps air ($109): the fresh set is kept."""
    case = edit(tiny(service__max_vein_to_vein_days=19.5), "products", "p1",
                starting_material_hours=12.0)
    hubs = case.tables["hubs"]
    far = hubs[hubs["hub_id"] == "H1"].assign(
        hub_id="H2", name="Far hub", latitude=40.44, longitude=-80.0,
        temperature_classes=("refrigerated",), status="candidate")
    case.tables["hubs"] = pd.concat([hubs, far], ignore_index=True)
    prep = prepare(case)
    lanes = prep.direct_lanes.set_index("site_id").loc[["S1"]]
    assert list(lanes["hub_id"]) == ["H1"]
    assert (lanes["first_leg_mode"].iat[0], lanes["last_leg_mode"].iat[0]) == ("air", "air")
    assert lanes["cost_usd_per_shipment"].iat[0] == pytest.approx(
        1.1 * (km(L1, H1) + km(H1, S1)), rel=1e-6)
    inbound = prep.inbound_lanes[prep.inbound_lanes["site_id"] == "S1"]
    assert list(inbound["hub_id"]) == ["H1"] and not inbound["needs_cryo"].any()


def test_a_plant_short_of_the_doses_is_named_when_no_patient_may_go_unserved():
    """Tiny's one plant L1 released 0 doses: every p1 patient is unserved, which the settings
    forbid. The reasons name the plant's shortfall (it read only "capacity or facility
    limits") and, from the closest network, the plant used to the full."""
    case = edit(tiny(service__allow_unserved=False), "plants", "L1", capacity_doses_per_year=0.0)
    with pytest.raises(Infeasible) as err:
        solve_case(case)
    patients = float(prepare(case).demand["patients"].sum())
    assert (f"plants: p1 needs {patients:,.0f} doses/yr but the plants that make it (L1) "
            "release at most 0") in err.value.reasons
    assert "limits used to the full where patients go unserved: plant L1 makes its " \
        "capacity of 0 doses/yr (doses released and doses that expire in stock)" \
        in err.value.reasons


def test_a_site_count_that_leaves_patients_unserved_is_named():
    """sites.max_active 0 with existing sites closable: a valid setting that serves nobody.
    The diagnosis names the count as the limit reached."""
    case = tiny(service__allow_unserved=False, sites__existing="closable", sites__max_active=0)
    with pytest.raises(Infeasible) as err:
        solve_case(case)
    assert ("limits used to the full where patients go unserved: sites.max_active = 0 is "
            "reached") in err.value.reasons
