"""Pooled stock at depots (issue #15 item 6) on a hand-made variant of the tiny dataset.

`a1` is an off-the-shelf allogeneic product kept in LN2 vapour (one dose, a year of shelf
life, 48 h schedule notice). Z1 (10 patients) is treated at S1 and Z2 (20) at S2, both
existing cryogenic centres. A plant order takes 40 h plus transit, so just-in-time misses the
notice and each dose must come from stock: consignment at the site ($12/dose/day, fortnightly
replenishment) or one pooled stock at partner P1 ($4/dose/day), 85.8 km from both sites, which
delivers within 4 h of an order.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyomo.environ as pyo
import pytest

from netopt.data.case import load_case
from netopt.inventory.ordering import option_cost, option_cost_parts
from netopt.inventory.perishable import stock_metrics
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver import highs
from netopt.solver.idle_stock import close_idle_stock
from netopt.solver.network_start import hold, network_of, release

TINY = Path(__file__).parent / "data" / "tiny"
PRODUCT = {
    "product_id": "a1", "name": "Off-the-shelf T cells", "modality": "allogeneic",
    "therapeutic_area": "oncology", "temperature_class": "cryogenic", "doses_per_patient": 1,
    "dose_interval_days": 0, "treatment_weeks": 0, "price_usd_per_dose": 200_000,
    "cogs_usd_per_dose": 30_000, "shelf_life_hours": 8760, "handling_buffer_hours": 24,
    "incidence_per_100k": 10, "max_patient_travel_km": 500, "doses_per_shipment": 1,
    "schedule_notice_hours": 48,
}
TERMS = ["product_id", "policy", "title_holder", "payment_terms_days", "returnable_fraction",
         "return_window_days", "restocking_fee_pct", "order_lead_time_hours",
         "review_period_days", "target_fill_rate", "holding_cost_usd_per_dose_day"]
POLICIES = [
    ["a1", "jit_per_patient", "manufacturer", 30, 0, 0, 0, 40, 7, 0.95, 5],
    ["a1", "consignment_at_site", "manufacturer", 30, 0, 0, 0, 40, 14, 0.95, 12],
    ["a1", "held_at_partner_with_jit_delivery", "manufacturer", 30, 0, 0, 0, 4, 14, 0.95, 4],
]


def make_case(root: Path, partner_fixed: float, partner_fee: float,
              policies: list[list] | None = None) -> Path:
    data = root / f"depot-{partner_fixed:g}-data"
    shutil.copytree(TINY, data)
    pd.DataFrame([PRODUCT]).to_csv(data / "products.csv", index=False)
    plants = pd.read_csv(data / "plants.csv")
    plants["products"] = "a1"
    plants.to_csv(data / "plants.csv", index=False)
    sites = pd.read_csv(data / "sites.csv", keep_default_na=False)
    sites.loc[sites["site_id"] == "S2", ["status", "certified_areas", "temperature_classes"]] = [
        "existing", "oncology", "cryogenic"]
    sites.loc[sites["site_id"] == "S3", "status"] = "excluded"
    sites.to_csv(data / "sites.csv", index=False)
    partners = pd.read_csv(data / "partners.csv")
    partners[["latitude", "longitude", "service_radius_km"]] = [40.05, -75.0, 150]
    partners[["annual_fixed_cost_usd", "cost_usd_per_dose"]] = [partner_fixed, partner_fee]
    partners.to_csv(data / "partners.csv", index=False)
    pd.DataFrame(policies or POLICIES, columns=TERMS).to_csv(data / "policies.csv",
                                                              index=False)
    model = root / f"depot-{partner_fixed:g}.yaml"
    model.write_text(f"name: depot\ndataset: {data.name}\n")
    return model


def _terms(case, policy: str):
    return next(t for t in case.policies.itertuples(index=False) if t.policy == policy)


def test_depot_cost_is_the_inventory_cost_of_the_pooled_demand(tmp_path: Path) -> None:
    """The partner's stock is tabulated for the sites' summed demand: life = shelf budget -
    fastest supply to the partner - its longest delivery leg; cost at each breakpoint =
    the inventory machinery's cost at that pooled volume. Pooling needs less stock than two
    site stocks: base stock for 30 doses/yr is below the sum for 10 and 20."""
    case = load_case(make_case(tmp_path, 20_000, 500))
    prep = prepare(case)
    depot = prep.depots.set_index(["kind", "depot_id", "product_id"]).loc[("partner", "P1", "a1")]
    supply = prep.partner_supply
    legs = prep.partner_links
    supply_h = float(supply.loc[supply["partner_id"] == "P1", "hours"].min())
    life = (8760 - 24 - supply_h - float(legs["leg_hours"].max())) / 24
    assert depot["life_days"].iloc[0] == pytest.approx(life)
    assert depot["lead_days"].iloc[0] == pytest.approx(supply_h / 24)
    t = _terms(case, "held_at_partner_with_jit_delivery")
    prod = prep.products.loc["a1"]
    cost = _supply_shipment(prep, "P1")
    for r in depot.itertuples():
        by_hand, _ = option_cost(t, prod, r.lo_patients or 1.0, life, supply_h / 24, cost, cost,
                                 1.0, 0.08, 0)
        assert r.cost_lo_usd == pytest.approx(by_hand, rel=1e-9)
    lead = supply_h / 24 + 4 / 24
    pooled = stock_metrics(30, life, 14, lead, 0.95).base_stock
    apart = stock_metrics(10, life, 14, lead, 0.95).base_stock + stock_metrics(
        20, life, 14, lead, 0.95).base_stock
    assert pooled < apart
    # no site option carries the partner's stock cost itself
    site_rows = prep.ordering[prep.ordering["policy"] == "held_at_partner_with_jit_delivery"]
    assert (site_rows["cost_lo_usd"] == 0).all() and (site_rows["cost_hi_usd"] == 0).all()


def test_partner_depot_serves_both_sites_when_cheaper(tmp_path: Path) -> None:
    """A cheap partner ($1k/yr, no fee): both sites order from its one pooled stock. Its
    finance row holds the stock for 30 patients/yr; the sites hold none."""
    result = solve_case(load_case(make_case(tmp_path, 1_000, 0)), gap=0.0)
    assert result.partners.set_index("partner_id").at["P1", "active"]
    fin = result.finance
    depot = fin[fin["row"] == "depot"]
    assert list(depot["depot_id"]) == ["P1"]
    assert depot["patients_per_year"].iloc[0] == pytest.approx(30.0)
    life, lead = depot["life_days"].iloc[0], depot["lead_days"].iloc[0] + 4 / 24
    assert depot["stock_level_doses"].iloc[0] == stock_metrics(30, life, 14, lead,
                                                               0.95).base_stock
    sites = fin[fin["row"] == "site"].set_index("site_id")
    # the manufacturer owns the partner's stock (its working capital on the depot row, at
    # cost of goods); what each hospital owes, 30 days of its $200k doses, is on its own row
    on_hand = depot["avg_inventory_doses"].iloc[0]
    assert depot["working_capital_manufacturer_usd"].iloc[0] == pytest.approx(
        on_hand * 30_000, rel=1e-9)
    for site, patients in (("S1", 10.0), ("S2", 20.0)):
        assert sites.at[site, "working_capital_manufacturer_usd"] == pytest.approx(
            patients * 200_000 * 30 / 365, rel=1e-6)
    assert set(sites["policy"]) == {"held_at_partner_with_jit_delivery"}
    assert set(sites["depot_id"]) == {"P1"} and (sites["stock_level_doses"] == 0).all()
    # the one-pager says which facility holds the stock, and for how many sites
    from netopt.report.onepager import facility_list

    assert "<td>Partner: a1 stock for 2 sites</td>" in facility_list(result)
    # and the map's partner popup
    from netopt.report.common import fmt_usd
    from netopt.report.maps import _facility_payloads, _Lookup

    partners = _facility_payloads(result, {}, _Lookup(result.sites, "site_id"),
                                  _Lookup(result.hubs, "hub_id"),
                                  _Lookup(result.partners, "partner_id"))["partners"]
    assert ["Pooled stock held", "a1 stock for 2 sites"] in partners[0]["pop"]
    # the partner's yearly cost counts its stock where it lies: holding at $4/dose/day,
    # expiries and the capital charge (finance.csv's depot row), beside contract and fee
    stock = sum(depot[f"ordering_{part}_usd"].iloc[0] for part in ("holding", "expiries",
                                                                   "capital_charge",
                                                                   "returns"))
    assert depot["ordering_holding_usd"].iloc[0] == pytest.approx(
        depot["avg_inventory_doses"].iloc[0] * 4 * 365, rel=1e-6)
    row = result.partners.set_index("partner_id").loc["P1"]
    assert row["depot_stock_usd_per_year"] == pytest.approx(stock, rel=1e-9) and stock > 0
    assert ["\u2003pooled stock: holding, expiries, capital", fmt_usd(stock)] in partners[0][
        "pop"]
    assert ["Cost/yr", fmt_usd(1_000 + stock)] in partners[0]["pop"]
    assert result.hubs["depot_stock_usd_per_year"].sum() == 0  # no hub holds any
    assert sites["patients_per_year"].sum() == pytest.approx(30.0)
    # the objective term is the depot's cost line at its pooled volume (30 is a breakpoint)
    terms = result.costs.set_index("term")["usd_per_year"]
    assert terms["depot_stock"] == pytest.approx(depot["model_cost_usd"].iloc[0], rel=1e-6)
    assert depot["model_cost_usd"].iloc[0] == pytest.approx(depot["exact_cost_usd"].iloc[0],
                                                            rel=1e-9)


def test_sites_keep_their_own_stock_when_the_partner_is_dearer(tmp_path: Path) -> None:
    """At $500k/yr the partner is never worth it: each site keeps consignment stock."""
    result = solve_case(load_case(make_case(tmp_path, 500_000, 500)), gap=0.0)
    assert not result.partners["active"].any()
    fin = result.finance
    assert "depot" not in set(fin["row"])
    assert set(fin["policy"]) == {"consignment_at_site"}
    assert set(fin["stock_point"]) == {"site"}
    assert (fin["stock_level_doses"] >= 1).all()
    assert "depot_stock" not in result.costs["term"].tolist() or math.isclose(
        result.costs.set_index("term").at["depot_stock", "usd_per_year"], 0.0, abs_tol=1e-6)


def test_hub_stock_is_pooled_over_the_sites_it_ships_to(tmp_path: Path) -> None:
    """held_at_hub instead of the partner: the one hub H1 keeps one stock for both sites,
    sized for 30 patients/yr, and each site's held-at-hub doses travel through it."""
    hub_terms = [POLICIES[0], POLICIES[1],
                 ["a1", "held_at_hub", "manufacturer", 30, 0, 0, 0, 4, 14, 0.95, 4]]
    case = load_case(make_case(tmp_path, 500_000, 500, hub_terms))
    result = solve_case(case, gap=0.0)
    fin = result.finance
    depot = fin[fin["row"] == "depot"]
    assert list(zip(depot["stock_point"], depot["depot_id"], strict=True)) == [("hub", "H1")]
    assert depot["patients_per_year"].iloc[0] == pytest.approx(30.0)
    sites = fin[fin["row"] == "site"]
    assert set(sites["policy"]) == {"held_at_hub"} and set(sites["depot_id"]) == {"H1"}


def test_pooled_base_stock_is_below_the_two_site_stocks(tmp_path: Path) -> None:
    """Same two sites, solved twice: with the cheap partner one pooled stock serves both (30
    patients/yr); with a dear one each keeps its own (10 and 20). The depot's base stock is
    below the sum of the two sites' and its expiries, write-offs and stock are reported on its
    own finance row, equal to the inventory machinery's at 30 patients; what the hospitals owe
    for their doses is on their rows."""
    case = load_case(make_case(tmp_path, 1_000, 0))
    pooled = solve_case(case, gap=0.0).finance
    apart = solve_case(load_case(make_case(tmp_path, 500_000, 500)), gap=0.0).finance
    depot = pooled[pooled["row"] == "depot"].iloc[0]
    assert depot["stock_level_doses"] < apart["stock_level_doses"].sum()
    t = _terms(case, "held_at_partner_with_jit_delivery")
    prod = prepare(case).products.loc["a1"]
    _, econ = option_cost(t, prod, 30.0, depot["life_days"], depot["lead_days"], 0.0, 0.0, 1.0,
                          0.08, 0)
    assert depot["expired_doses_per_year"] == pytest.approx(econ.wasted_doses_per_year)
    assert depot["manufacturer_writeoff_usd"] == pytest.approx(
        econ.manufacturer_write_off_usd_per_year)
    # the machinery's working capital counts the sites' receivables, which their rows carry
    sites = pooled[pooled["row"] == "site"]
    assert depot["working_capital_manufacturer_usd"] + sites[
        "working_capital_manufacturer_usd"].sum() == pytest.approx(
        econ.working_capital_manufacturer_usd)
    assert depot["working_capital_manufacturer_usd"] == pytest.approx(
        econ.inventory_value_usd)  # the manufacturer's stock at cost of goods
    assert depot["expired_usd"] == pytest.approx(econ.wasted_doses_per_year * 30_000)


def _supply_shipment(prep, partner: str) -> float:  # noqa: ANN001
    """The partner's cheapest supply shipment with its hub's handling (H1: $300): stock at
    the partner replaces per-patient supply shipments through the hub by bulk ones, and the
    model charges the hub's handling on both."""
    supply = prep.partner_supply[prep.partner_supply["partner_id"] == partner]
    handling = supply["hub_id"].map(prep.hubs["cost_usd_per_shipment"]).fillna(0.0)
    assert (handling[supply["hub_id"] == "H1"] == 300.0).all()
    return float((supply["cost_usd_per_shipment"] + handling).min())


def test_without_pooling_each_site_pays_its_own_depot_stock(tmp_path: Path) -> None:
    """finance.pooled_depots: false - the partner option is priced per site (its own stock
    at the partner), so no depot line exists and the site rows carry the stock cost."""
    model = make_case(tmp_path, 1_000, 0)
    model.write_text(model.read_text() + "finance:\n  pooled_depots: false\n")
    prep = prepare(load_case(model))
    assert prep.depots.empty
    rows = prep.ordering[prep.ordering["policy"] == "held_at_partner_with_jit_delivery"]
    assert (rows["cost_lo_usd"] != 0).any()
    result = solve_case(load_case(model), gap=0.0)
    assert "depot" not in set(result.finance["row"])


def test_a_big_replenishment_is_several_shipments() -> None:
    """replenishment_doses_per_shipment = 5: a fortnightly restock of ~38 doses (1,000 doses a
    year) is 8 shipments, each priced like one; blank keeps one shipment per restock."""
    from types import SimpleNamespace

    from netopt.inventory.ordering import replenishment_shipments

    stock = SimpleNamespace(replenishments_per_year=365 / 14, received_doses_per_year=1_000.0)
    per_restock = 1_000 / (365 / 14)  # 38.4 doses
    assert replenishment_shipments(stock, pd.Series(
        {"replenishment_doses_per_shipment": 5.0})) == pytest.approx(
        365 / 14 * math.ceil(per_restock / 5))
    assert replenishment_shipments(stock, pd.Series(
        {"replenishment_doses_per_shipment": float("nan")})) == pytest.approx(365 / 14)


def test_depot_saves_the_shipping_the_lanes_price_after_the_dose_cadence(
        tmp_path: Path) -> None:
    """A four-dose course given 3.5 days apart, two doses per shipment (a year of shelf
    life keeps both): the lanes price 2 shipments a patient, 0.5 per dose. The depot's
    stock saves exactly those per-dose supply shipments - planned doses x 0.5 x the supply
    lane's cost - never one shipment per dose (which would credit shipping the lanes never
    charged) nor 2 per dose (doses per shipment read as shipments per dose)."""
    model = make_case(tmp_path, 1_000, 0)
    data = model.parent / "depot-1000-data"
    course = {**PRODUCT, "doses_per_patient": 4, "dose_interval_days": 3.5,
              "treatment_weeks": 2, "doses_per_shipment": 2}
    pd.DataFrame([course]).to_csv(data / "products.csv", index=False)
    case = load_case(model)
    prep = prepare(case)
    supply = prep.partner_supply[prep.partner_supply["partner_id"] == "P1"]
    assert set(supply["shipments_per_dose"]) == {0.5}
    depot = prep.depots[prep.depots["depot_id"] == "P1"]
    assert set(depot["shipments_per_dose"]) == {0.5}
    cost = _supply_shipment(prep, "P1")
    t = _terms(case, "held_at_partner_with_jit_delivery")
    prod = prep.products.loc["a1"]
    r = depot.iloc[1]
    parts, econ = option_cost_parts(t, prod, r["lo_patients"], r["life_days"], r["lead_days"],
                                    cost, cost, 0.5, 0.08, 0)
    assert sum(parts.values()) == pytest.approx(r["cost_lo_usd"], rel=1e-9)
    planned = 4 * r["lo_patients"] - econ.stock.emergency_doses_per_year
    assert parts["shipping_saved"] == pytest.approx(-planned * 0.5 * cost)
    # what the supply lanes charge for the same doses bounds the saving
    assert -parts["shipping_saved"] <= 4 * r["lo_patients"] * 0.5 * cost + 1e-9


HUB_ONLY = [POLICIES[0], ["a1", "held_at_hub", "manufacturer", 30, 0, 0, 0, 4, 14, 0.95, 4]]


def course_case(tmp_path: Path) -> Path:
    """The depot case with a four-dose course (3.5 days apart, two doses a shipment asked)
    and the hub's stock as the only option that meets the notice (just-in-time takes 40 h
    plus transit): both sites draw every dose from H1's pooled stock."""
    model = make_case(tmp_path, 500_000, 500, HUB_ONLY)
    course = {**PRODUCT, "doses_per_patient": 4, "dose_interval_days": 3.5,
              "treatment_weeks": 2, "doses_per_shipment": 2}
    pd.DataFrame([course]).to_csv(model.parent / "depot-500000-data" / "products.csv",
                                  index=False)
    return model


def test_doses_from_a_hubs_stock_ship_at_their_aged_cadence(tmp_path: Path) -> None:
    """Fresh from the plant, a dose has almost a year left at the site: the lane keeps two
    doses a shipment (0.5 shipments per dose). Drawn from H1's stock it may have waited
    floor(life) = 363 days there (issued oldest first, outdated only at the end of its last
    usable day), which leaves a few hours: not one 84 h interval, so one dose a shipment."""
    prep = prepare(load_case(course_case(tmp_path)))
    depot = prep.depots.iloc[0]
    lanes = prep.direct_lanes.set_index("site_id")
    supply_h = 24 * depot["lead_days"]
    budget = 8760 - 24
    assert depot["life_days"] == pytest.approx(
        (budget - supply_h - lanes["last_leg_hours"].max()) / 24)
    assert math.floor(depot["life_days"]) == 363
    for site, lane in lanes.iterrows():
        fresh = budget - lane["hours"]
        aged = budget - supply_h - 24 * 363 - lane["last_leg_hours"]
        assert fresh >= 84 and lane["shipments_per_dose"] == 0.5, site
        assert 0 < aged < 84 and lane["stock_shipments_per_dose"] == 1.0, site
        assert lane["stock_doses_per_shipment"] == 1.0


def test_aged_stock_costs_the_shipments_it_loses(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dose (10 patients x 4 at S1, 20 x 4 at S2) comes from H1's stock. Aged, each
    hub -> site delivery carries one dose instead of two: half a shipment more per dose, each
    paying its hub -> site leg and H1's $300 handling. The objective is above the one priced
    at the lane's cadence (doses issued fresh) by exactly that, the hub's shipments double
    to 120 and shipments.csv says the doses come from the stock."""
    model = course_case(tmp_path)
    aged = solve_case(load_case(model), gap=0.0)
    import netopt.model.prepare as prepare_module

    monkeypatch.setattr(prepare_module, "max_issue_age_days", lambda life: life * 0.0)
    fresh = solve_case(load_case(model), gap=0.0)
    lanes = prepare(load_case(model)).direct_lanes.set_index("site_id")
    doses = {"S1": 40.0, "S2": 80.0}
    by_hand = sum(n * 0.5 * (lanes.at[s, "last_leg_cost_usd"] + 300) for s, n in doses.items())
    assert aged.summary["objective"] - fresh.summary["objective"] == pytest.approx(by_hand,
                                                                                   rel=1e-6)
    cost = {name: r.costs.set_index("term")["usd_per_year"] for name, r in
            (("aged", aged), ("fresh", fresh))}
    assert cost["aged"]["hub_handling"] - cost["fresh"]["hub_handling"] == pytest.approx(
        120 * 0.5 * 300)
    assert cost["aged"]["depot_stock"] == pytest.approx(cost["fresh"]["depot_stock"])
    ship = aged.shipments.set_index("site_id")
    assert ship["from_depot_stock"].all()
    assert list(ship.loc[["S1", "S2"], "doses_per_year"]) == pytest.approx([40.0, 80.0])
    assert (ship["doses_per_shipment"] == 1).all()
    assert ship["shipments_per_year"].sum() == pytest.approx(120.0)
    assert fresh.shipments["shipments_per_year"].sum() == pytest.approx(60.0)
    assert aged.hubs.set_index("hub_id").at["H1", "shipments_per_year"] == pytest.approx(120.0)
    # transport per row as the objective counts it: the 60 extra shipments pay the hub ->
    # site leg only, not the whole route (before, shipments x route cost overstated it)
    for r in (aged, fresh):
        assert r.shipments["transport_usd_per_year"].sum() == pytest.approx(
            r.costs.set_index("term").at["transport", "usd_per_year"], rel=1e-9)
        assert r.hubs["transport_cost_usd_per_year"].sum() == pytest.approx(
            r.shipments["transport_usd_per_year"].sum(), rel=1e-9)
    extra = sum(n * 0.5 * lanes.at[s, "last_leg_cost_usd"] for s, n in doses.items())
    assert (aged.shipments["transport_usd_per_year"].sum()
            - fresh.shipments["transport_usd_per_year"].sum()) == pytest.approx(extra, rel=1e-9)
    # finance.csv's depot row: its deliveries as shipments.csv counts them (120 aged, 60
    # fresh; it counted 60 for both), plus the same replenishments of the same stock
    replenished = {}
    for name, r in (("aged", aged), ("fresh", fresh)):
        depot = r.finance[r.finance["row"] == "depot"]
        assert len(depot) == 1
        replenished[name] = (depot["shipments_per_year"].iloc[0]
                             - r.shipments["shipments_per_year"].sum())
    assert replenished["aged"] > 1 and replenished["aged"] == pytest.approx(replenished["fresh"])
    # the map's plant -> H1 trunk carries the stock's bulk replenishments, not a shipment
    # a dose (it read 120 shipments a year)
    from netopt.report.maps import _lane_payloads, _Lookup

    trunk = next(seg for seg in _lane_payloads(
        aged, {}, _Lookup(aged.plants, "plant_id"), _Lookup(aged.hubs, "hub_id"),
        _Lookup(aged.partners, "partner_id"), _Lookup(aged.sites, "site_id"))["a1"]
        if "trunk" in seg["pop"][0][1])
    shown = dict(trunk["pop"])
    assert shown["Of which into the hub's pooled stock"] == "120"
    assert float(shown["Shipments/yr (its stock's in bulk replenishments)"]) == pytest.approx(
        replenished["aged"], abs=0.05)
    # explain says what limits the site's deliveries: the doses' age at H1, not the lane
    from netopt.analysis.explain import _site_limits

    lane = next(line for line in _site_limits(prepare(load_case(model)), "S1", "a1", aged)
                if line.startswith("lane a1"))
    assert lane.endswith("doses drawn from H1's stock have aged there: 1 dose(s) a shipment, "
                         "not the 2 asked")
    fresh_lane = " ".join(_site_limits(prepare(load_case(model)), "S1", "a1", fresh))
    assert "aged" not in fresh_lane and "drawn from H1's stock, 2 a shipment" in fresh_lane


def two_hub_stock_case(tmp_path: Path) -> Path:
    """The depot case with a second hub H2 beside S2 (H1 is beside S1), both locked open,
    and stock held at a hub ($12/dose/day) as the cheap option (the partner is dear)."""
    terms = [POLICIES[0], POLICIES[1],
             ["a1", "held_at_hub", "manufacturer", 30, 0, 0, 0, 4, 14, 0.95, 12]]
    model = make_case(tmp_path, 500_000, 500, terms)
    hubs_csv = model.parent / "depot-500000-data" / "hubs.csv"
    hubs = pd.read_csv(hubs_csv)
    h2 = hubs.iloc[0].copy()
    h2[["hub_id", "name", "latitude", "longitude"]] = ["H2", "Reading hub", 40.12, -75.95]
    pd.concat([hubs, h2.to_frame().T]).to_csv(hubs_csv, index=False)
    model.write_text(model.read_text() + "hubs:\n  lock_open: [H1, H2]\n")
    return model


def test_closing_idle_depot_stock_closes_its_expired_doses_at_each_plant(
        tmp_path: Path) -> None:
    """With a second plant making a1, a depot's expired doses are split between the plants
    (flows.py); closing an idle depot's stock must zero its split too, or the loaded
    solution breaks the split row and plants.csv charges a plant for a closed depot."""
    model = two_hub_stock_case(tmp_path)
    plants_csv = model.parent / "depot-500000-data" / "plants.csv"
    plants = pd.read_csv(plants_csv)
    second = plants.iloc[0].copy()
    second[["plant_id", "name", "latitude", "longitude"]] = ["L2", "Plant PA", 40.3, -75.5]
    pd.concat([plants, second.to_frame().T]).to_csv(plants_csv, index=False)
    case = load_case(model)
    m = build_model(prepare(case))
    highs.solve_model(m, case.config.solver.model_copy(update={"mip_gap": 0.0}))
    h2 = next(k for k in m.DEPOT if round(m.hold[k].value) == 0)  # the depot left idle
    assert (*h2, "L2") in m.expired_at
    first = next(i for i in m.DSEG if m.depot_seg_key[i] == h2
                 and m.prep.depots.at[i, "lo_patients"] == 0)
    m.hold[h2].set_value(1)
    m.zd[first].set_value(1)  # as a stopped MIP could leave it, its split consistent
    line, plant = m.expired_points[h2]
    assert plant is None and pyo.value(line) > 0
    m.expired_at[(*h2, "L1")].set_value(pyo.value(line))
    assert close_idle_stock(m) > 0
    assert [m.expired_at[(*h2, p)].value for p in ("L1", "L2")] == [0, 0]
    for row in m.expired_split.values():
        assert pyo.value(row.body) == pytest.approx(0.0, abs=1e-9)


def test_a_hub_depot_s_stock_nets_that_hub_s_cost(tmp_path: Path) -> None:
    """Pooled stock at a hub replaces per-patient plant-to-hub shipping with bulk
    replenishments: hubs.csv's stock_shipping_usd_per_year carries the depot rows' change
    (site rows of pooled options are zero), so the hubs' costs are net of it."""
    result = solve_case(load_case(two_hub_stock_case(tmp_path)))
    fin, hubs = result.finance, result.hubs.set_index("hub_id")
    depots = fin[(fin["row"] == "depot") & (fin["route"] == "hub")]
    assert len(depots)
    for hub, rows in depots.groupby("depot_id"):
        change = (rows["ordering_replenishment_usd"] + rows["ordering_shipping_saved_usd"]).sum()
        assert change != 0
        assert hubs.at[hub, "stock_shipping_usd_per_year"] == pytest.approx(change, rel=1e-9)
        # and the stock's cost where it lies is the hub's too
        held = sum(rows[f"ordering_{part}_usd"].sum() for part in ("holding", "expiries",
                                                                   "capital_charge", "returns"))
        assert held > 0
        assert hubs.at[hub, "depot_stock_usd_per_year"] == pytest.approx(held, rel=1e-9)
    every = (fin["ordering_replenishment_usd"] + fin["ordering_shipping_saved_usd"]).sum()
    assert hubs["stock_shipping_usd_per_year"].sum() == pytest.approx(every, rel=1e-9)


def test_idle_depot_stock_is_closed_in_a_loaded_solution(tmp_path: Path) -> None:
    """A stopped MIP can hold stock nobody draws on: H2's stock held on its first segment
    (0-1 patients, flat at c_H2(1)) with no patient is closed and its cost is returned;
    H1's stock, which serves both sites, stays. The solve reports the cost of the solution
    it leaves loaded."""
    case = load_case(two_hub_stock_case(tmp_path))
    m = build_model(prepare(case))
    info = highs.solve_model(m, case.config.solver.model_copy(update={"mip_gap": 0.0}))
    h1, h2 = ("hub", "H1", "a1"), ("hub", "H2", "a1")
    assert round(m.hold[h1].value) == 1 and round(m.hold[h2].value) == 0
    first = next(i for i in m.DSEG if m.depot_seg_key[i] == h2
                 and m.prep.depots.at[i, "lo_patients"] == 0)
    m.hold[h2].set_value(1)
    m.zd[first].set_value(1)
    c_h2_1 = m.prep.depots.at[first, "cost_lo_usd"]
    assert c_h2_1 > 0
    assert close_idle_stock(m) * 1000 == pytest.approx(c_h2_1)
    assert m.hold[h2].value == 0 and m.zd[first].value == 0
    assert round(m.hold[h1].value) == 1
    assert close_idle_stock(m) == 0.0
    assert info.objective == pytest.approx(sum(pyo.value(e) for e in m.cost_terms.values()),
                                           rel=1e-9)


def test_a_depot_option_needs_a_depot_holding_stock(tmp_path: Path) -> None:
    """S1 choosing the hub stock option while neither hub holds stock of the product is
    infeasible (its patients would have nowhere to come from); with H2 holding it is not."""
    case = load_case(two_hub_stock_case(tmp_path))
    m = build_model(prepare(case))
    option = next(i for i in m.ORD if m.ord_sk[i] == ("S1", "a1")
                  and m.prep.ordering.at[i, "policy"] == "held_at_hub")
    m.z[option].fix(1)
    m.hold["hub", "H1", "a1"].fix(0)
    m.hold["hub", "H2", "a1"].fix(0)
    assert highs.solve_model(m, case.config.solver).status == "infeasible"
    m.hold["hub", "H2", "a1"].fix(1)
    assert highs.solve_model(m, case.config.solver).has_solution


def test_depot_segment_repair_serves_the_patients_a_low_segment_left_out(
        tmp_path: Path) -> None:
    """An incumbent like HiGHS's first ones on the national default: both sites chose H1's
    stock, but H1 sits on its 3-10 patient segment, so 20 of the 30 patients go unserved.
    The repair holds every decision but the depots' segments and re-solves: H1 moves up and
    everyone is served. By hand: the unserved penalty falls by 20 x $170k (the lost margin,
    $200k - $30k COGS) and the depot's cost goes from c_H1(10) to c_H1(30); the repaired
    objective is the optimum with those decisions held (solved directly)."""
    case = load_case(two_hub_stock_case(tmp_path))
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0})
    m = build_model(prepare(case))
    h1, h2 = ("hub", "H1", "a1"), ("hub", "H2", "a1")
    low = next(i for i in m.DSEG if m.depot_seg_key[i] == h1
               and m.prep.depots.at[i, "lo_patients"] == 3)
    hub_option = [i for i in m.ORD if m.prep.ordering.at[i, "policy"] == "held_at_hub"]
    for v in [m.zd[low], *(m.z[i] for i in hub_option)]:
        v.fix(1)
    m.hold[h2].fix(0)
    solver = highs._Highs()
    res = highs._run(solver, m, settings, False, 60.0, solver="choose")
    res.solution_loader.load_vars()
    assert sum(v.value for v in m.u.values()) == pytest.approx(20.0)
    before = {term: pyo.value(e) for term, e in m.cost_terms.items()}
    m.zd[low].unfix()
    repaired = highs._repair_depot_segments(solver, m, settings, False,
                                            float(res.incumbent_objective))
    after = {term: pyo.value(e) for term, e in m.cost_terms.items()}
    assert sum(v.value for v in m.u.values()) == pytest.approx(0.0, abs=1e-6)
    assert sum(m.nd[i].value for i in m.DSEG if m.depot_seg_key[i] == h1) == pytest.approx(30)
    depots = m.prep.depots.set_index(["depot_id", "lo_patients"])
    c_10, c_30 = depots.at[("H1", 10.0), "cost_lo_usd"], depots.at[("H1", 30.0), "cost_lo_usd"]
    assert (before["unserved_penalty"] - after["unserved_penalty"]) * 1000 == pytest.approx(
        20 * 170_000)
    assert (after["depot_stock"] - before["depot_stock"]) * 1000 == pytest.approx(c_30 - c_10)
    assert repaired == pytest.approx(sum(after.values()), rel=1e-9)
    held = hold(m, {k: v for k, v in network_of(m).items() if k != "zd"})
    res = highs._run(highs._Highs(), m, settings, False, 60.0, solver="choose")
    release(held)
    assert repaired == pytest.approx(float(res.incumbent_objective), rel=1e-9)


BUILD_POOLED_US_SMALL = """
import hashlib, sys
from pathlib import Path
import yaml
from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
root, out = Path(sys.argv[1]), Path(sys.argv[2])
cfg = yaml.safe_load((root / "models" / "us-small.yaml").read_text())
cfg.pop("products")  # all six, allo_vst among them
cfg["finance"] = {"pooled_depots": True}
cfg["dataset"] = str(root / "data" / "us-small")
out.write_text(yaml.safe_dump(cfg))
m = build_model(prepare(load_case(out)))
rows = [str(m.depot_hi[i].expr) for i in m.DSEG]
print(len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
"""


def test_depot_rows_do_not_depend_on_the_process_string_hashing(tmp_path: Path) -> None:
    """Every process hashes strings with its own seed, and a set of sites or demand points
    iterates in that order: summing a depot's reach over one gave segment bounds that differed
    in their last bits, and us-small with pooled depots stopped at 0.5 % on a different
    network in each worker of a batch (serial $16,607,307, Dask worker $16,607,195). The
    depot rows must be the same bytes whatever the seed."""
    root = Path(__file__).resolve().parents[1]
    seen = set()
    for seed in ("1", "2", "3"):
        proc = subprocess.run(
            [sys.executable, "-c", BUILD_POOLED_US_SMALL, str(root), str(tmp_path / "m.yaml")],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True)
        count, digest = proc.stdout.split()
        assert int(count) > 0  # us-small's depots have volume segments to compare
        seen.add(digest)
    assert len(seen) == 1


def test_hub_stock_sized_per_site_is_still_at_the_hub(tmp_path: Path) -> None:
    """`finance.pooled_depots: false`: the hub keeps a stock for S1 alone (30 patients/yr, the
    row's own base stock), so finance.csv says the doses wait at the hub, with no depot id
    (nothing is pooled), not at the site."""
    hub_terms = [POLICIES[0], POLICIES[1],
                 ["a1", "held_at_hub", "manufacturer", 30, 0, 0, 0, 4, 14, 0.95, 4]]
    model = make_case(tmp_path, 500_000, 500, hub_terms)
    model.write_text(model.read_text() + "finance:\n  pooled_depots: false\n")
    fin = solve_case(load_case(model), gap=0.0).finance
    assert "depot" not in set(fin["row"])
    row = fin[fin["policy"] == "held_at_hub"].iloc[0]
    assert (row["stock_point"], row["depot_id"]) == ("hub", "")
    assert row["stock_level_doses"] >= 1 and row["fill_rate"] >= 0.95


def test_a_partner_route_without_stock_is_priced_as_just_in_time(tmp_path: Path) -> None:
    """A site-product on the partner route whose option holds no stock (an autologous
    product, or a product whose lanes price every dose): its doses are scheduled per patient,
    so its finance row is just-in-time's, fill rate 1 and nothing on hand, as the
    just-in-time rows say. (It read 0: the option's name sent it to the stock evaluation
    with no shelf life.)"""
    from netopt.results.finance import PARTNER, _row

    prep = prepare(load_case(make_case(tmp_path, 20_000, 500)))
    row = _row(prep, ("S1", "a1"), None, PARTNER, 10.0, {})
    jit = _row(prep, ("S1", "a1"), None, "jit_per_patient", 10.0, {})
    assert row["stock_point"] == "none" and row["fill_rate"] == 1.0
    assert row["stock_level_doses"] == 0 and row["expired_doses_per_year"] == 0
    assert row["working_capital_manufacturer_usd"] == pytest.approx(
        jit["working_capital_manufacturer_usd"])
