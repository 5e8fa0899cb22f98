"""Ordering policies in the network model and the finance outputs.

A small hand-checkable case: the tiny dataset (tests/data/tiny) with its CAR-T replaced by
`r1`, an allogeneic refrigerated product given twice weekly (24 doses, 4 per shipment, 10-day
shelf life), 20 patients per 100k (20 in Z1, 40 in Z2), and commercial terms offering
just-in-time, stock bought by the site, and consignment.
"""

from __future__ import annotations

import html
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from netopt.cli.app import app
from netopt.data.case import load_case
from netopt.inventory.ordering import option_cost, volume_grid
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver.diagnose import NothingToTreat

TINY = Path(__file__).parent / "data" / "tiny"
US_SMALL = Path(__file__).parents[1] / "models" / "us-small.yaml"
runner = CliRunner()

PRODUCT = {
    "product_id": "r1", "name": "Repeat-dose cell therapy", "modality": "allogeneic",
    "therapeutic_area": "oncology", "temperature_class": "refrigerated",
    "doses_per_patient": 24, "dose_interval_days": 3.5, "treatment_weeks": 12,
    "price_usd_per_dose": 4500, "cogs_usd_per_dose": 1200, "shelf_life_hours": 240,
    "handling_buffer_hours": 12, "incidence_per_100k": 20, "max_patient_travel_km": 500,
    "doses_per_shipment": 4, "schedule_notice_hours": 48,
}
TERMS = ["product_id", "policy", "title_holder", "payment_terms_days", "returnable_fraction",
         "return_window_days", "restocking_fee_pct", "order_lead_time_hours",
         "review_period_days", "target_fill_rate", "holding_cost_usd_per_dose_day"]


def make_case(root: Path, name: str = "fin", notice: float = 48.0, returnable: float = 0.5,
              window: float = 3.0, limit: float = 50_000.0, policies: list[str] | None = None,
              extra: str = "") -> Path:
    """Write the finance variant of the tiny dataset and a model file; return the model."""
    data = root / f"{name}-data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(TINY, data)
    pd.DataFrame([{**PRODUCT, "schedule_notice_hours": notice}]).to_csv(
        data / "products.csv", index=False)
    plants = pd.read_csv(data / "plants.csv")
    plants["products"] = "r1"
    plants.to_csv(data / "plants.csv", index=False)
    sites = pd.read_csv(data / "sites.csv", keep_default_na=False)
    sites["temperature_classes"] = "cryogenic;refrigerated"
    sites["price_ceiling_usd_per_dose"] = 1_000_000
    sites["max_stocking_loss_usd_per_year"] = limit
    sites.to_csv(data / "sites.csv", index=False)
    rows = [
        ["r1", "jit_per_patient", "manufacturer", 30, 0, 0, 0, 12, 7, 0.95, 3],
        ["r1", "stocked_at_site", "site", 30, returnable, window, 0, 12, 2, 0.95, 3],
        ["r1", "consignment_at_site", "manufacturer", 30, 0, 0, 0, 12, 2, 0.95, 3],
    ]
    pd.DataFrame(rows, columns=TERMS).to_csv(data / "policies.csv", index=False)
    model = root / f"{name}.yaml"
    allowed = f"finance:\n  policies: [{', '.join(policies)}]\n" if policies else ""
    model.write_text(f"name: {name}\ndataset: {data.name}\n{allowed}{extra}")
    return model


def costs(result) -> dict[str, float]:
    return result.costs.set_index("term")["usd_per_year"].to_dict()


def test_without_a_policies_table_every_site_orders_jit() -> None:
    result = solve_case(load_case(TINY.parent / "tiny.yaml"))
    assert "ordering_and_inventory" not in costs(result)
    fin = result.finance
    assert set(fin["policy"]) == {"jit_per_patient"}
    assert fin["patients_per_year"].sum() == pytest.approx(30.0)
    assert fin["expired_doses_per_year"].sum() == 0.0


def test_tabulated_cost_is_the_inventory_cost_at_each_breakpoint(tmp_path: Path) -> None:
    """Every option segment's end points are the manufacturer's cost recomputed by hand from
    the inventory figures: replenishments x shipment cost - planned doses x shipments per
    dose x shipment cost (the lane's transport and its hub's handling), plus (stock it owns)
    holding + expiries x COGS + capital x COGS. Shipments per dose follow the cadence: the
    lane (about 20 h) leaves 228 - 20 h of shelf life, which spans 2 intervals of 84 h, not
    the 3 that 4 doses a shipment need: 3 doses a shipment, 8 shipments for a patient's 24
    doses."""
    case = load_case(make_case(tmp_path))
    prep = prepare(case)
    options = prep.ordering
    stock = options[options["policy"] != "jit_per_patient"]
    assert len(stock) > 0
    terms = {r.policy: r for r in case.policies.itertuples(index=False)}
    prod = prep.products.loc["r1"]
    grid = volume_grid(case.config.finance.volume_breakpoints, 50.0)
    for r in stock.itertuples(index=False):
        # a segment cut where the site's stocking loss crosses its limit starts between two
        # breakpoints (read on its line there); its other end is one
        at_lo = r.lo_patients in grid
        assert at_lo or r.hi_patients in grid
        volume = (r.lo_patients or grid[1]) if at_lo else r.hi_patients
        tabulated = r.cost_lo_usd if at_lo else r.cost_hi_usd
        assert r.shipments_per_dose == pytest.approx(8 / 24)
        _, econ = option_cost(terms[r.policy], prod, volume, r.life_days, r.lead_days,
                              r.replenish_cost_usd, r.avoided_cost_usd, 8 / 24, 0.08, 0)
        s = econ.stock
        planned = volume * 24 - s.emergency_doses_per_year
        by_hand = (s.replenishments_per_year * r.replenish_cost_usd
                   - planned / 3 * r.avoided_cost_usd + 1200 * econ.returned_doses_per_year)
        if r.policy == "consignment_at_site":
            by_hand += (s.on_hand_doses * 3 * 365 + 1200 * econ.wasted_doses_per_year
                        + 0.08 * s.on_hand_doses * 1200)
        assert tabulated == pytest.approx(by_hand, rel=1e-9, abs=1e-6)


def test_stock_saves_the_hub_handling_of_the_shipments_it_replaces(tmp_path: Path) -> None:
    """The model charges hub handling per shipment apart from transport ($300 at tiny's H1),
    on every per-patient shipment of a site's lanes. Stock on site replaces those shipments
    by bulk replenishments through the same hub: both are priced at the lane's transport
    plus the hub's handling (S1: the $108.63 lane + $300 = $408.63 a shipment), not at the
    transport alone, which left a stocking site paying handling for shipments that no
    longer happen (about $30k a year at S2's 960 doses)."""
    prep = prepare(load_case(make_case(tmp_path)))
    lanes = prep.direct_lanes
    shipment = (lanes["cost_usd_per_shipment"]
                + lanes["hub_id"].map(prep.hubs["cost_usd_per_shipment"]))
    cheapest = shipment.groupby(lanes["site_id"]).min()
    stock = prep.ordering[prep.ordering["policy"] == "stocked_at_site"]
    assert set(stock["site_id"]) == {"S1", "S2", "S3"}
    for r in stock.itertuples(index=False):
        assert r.avoided_cost_usd == pytest.approx(cheapest[r.site_id], rel=1e-12)
        assert r.replenish_cost_usd == pytest.approx(cheapest[r.site_id], rel=1e-12)
    assert cheapest["S1"] == pytest.approx(lanes.loc[lanes["site_id"] == "S1",
                                                     "cost_usd_per_shipment"].min() + 300.0)


def test_more_ordering_options_never_cost_more(tmp_path: Path) -> None:
    jit = solve_case(load_case(make_case(tmp_path, "jit", policies=["jit_per_patient"])))
    every = solve_case(load_case(make_case(tmp_path, "all")))
    assert every.summary["objective"] <= jit.summary["objective"] * (1 + 1e-6)
    assert set(jit.finance["policy"]) == {"jit_per_patient"}


def test_jit_that_misses_the_schedule_notice_is_blocked_with_its_reason(tmp_path: Path) -> None:
    case = load_case(make_case(tmp_path, notice=6.0, policies=["jit_per_patient"]))
    prep = prepare(case)
    reasons = prep.blocked[prep.blocked["product_id"] == "r1"]["reason"]
    assert len(reasons) > 0
    assert all("schedule notice" in r for r in reasons)
    # no patient can be treated at all: an input problem, said in the same words
    with pytest.raises(NothingToTreat) as err:
        solve_case(case)
    assert len(err.value.reasons) == 1
    assert err.value.reasons[0].startswith("product r1: none of its 60.0 patients a year")
    assert "exceed the 6 h schedule notice" in err.value.reasons[0]


def test_stock_serves_patients_jit_cannot_reach_in_time(tmp_path: Path) -> None:
    result = solve_case(load_case(make_case(tmp_path, notice=6.0)))
    fin = result.finance
    assert result.summary["patients_served"] > 0
    assert "jit_per_patient" not in set(fin["policy"])
    assert (fin["fill_rate"] >= 0.95 - 0.05).all()  # the simulation's own noise aside


def test_a_site_refuses_stock_above_its_loss_limit(tmp_path: Path) -> None:
    prep = prepare(load_case(make_case(tmp_path, returnable=0.0, limit=0.0)))
    assert "stocked_at_site" not in set(prep.ordering["policy"])


def test_doses_that_expire_in_stock_take_the_plant_s_capacity(tmp_path: Path) -> None:
    """60 patients of 24 doses need 1,440 doses; S2 stocks its 40 patients' doses and some
    expire, which the plant makes too. With exactly 1,440 doses of capacity the plant cannot
    make them and every patient's doses: the expired ones displace patients one for 24
    doses (S2's stock stays the cheaper choice), and plants.csv says so."""
    def solve(name: str, capacity: float):  # noqa: ANN202
        model = make_case(tmp_path, name)
        plants = pd.read_csv(tmp_path / f"{name}-data" / "plants.csv")
        plants["capacity_doses_per_year"] = capacity
        plants.to_csv(tmp_path / f"{name}-data" / "plants.csv", index=False)
        return solve_case(load_case(model))

    loose, tight = solve("loose", 1e6), solve("tight", 1440.0)
    plant = loose.tables["plants"].iloc[0]
    assert plant["doses_per_year"] == pytest.approx(1440.0)
    expiring = plant["doses_expiring_in_stock_per_year"]
    stocked = loose.finance[loose.finance["policy"] == "stocked_at_site"]
    assert stocked["site_id"].tolist() == ["S2"]
    # the model's line between breakpoints, against the exact expiries at S2's 40 patients
    assert expiring == pytest.approx(stocked["expired_doses_per_year"].sum(), rel=0.05)
    assert plant["utilisation"] == pytest.approx((1440.0 + expiring) / 1e6)
    t = tight.tables["plants"].iloc[0]
    assert t["doses_expiring_in_stock_per_year"] == pytest.approx(expiring, rel=1e-6)
    assert t["doses_per_year"] + t["doses_expiring_in_stock_per_year"] == pytest.approx(1440.0)
    assert t["utilisation"] == pytest.approx(1.0)
    assert tight.summary["patients_served"] == pytest.approx(60.0 - expiring / 24, rel=1e-6)


def test_a_site_that_cannot_reach_its_stock_s_least_volume_says_so(tmp_path: Path) -> None:
    """Just-in-time misses the 6-h notice; stock bought by the site stays within its $36,000
    loss limit only from 41.3 patients a year, and half the demand (30 patients) is all any
    site can reach. No patient can be served, and sites.csv and unserved.csv said nothing
    or "serving costs more than the unserved penalty", which was not the cause."""
    case = load_case(make_case(tmp_path, notice=6.0, limit=36_000.0,
                               policies=["jit_per_patient", "stocked_at_site"],
                               extra="demand_scale: 0.5\n"))
    least = prepare(case).ordering.groupby("site_id")["lo_patients"].min()
    assert (least > 30.0).all()
    result = solve_case(case)
    assert result.summary["patients_served"] == pytest.approx(0.0, abs=1e-6)
    for r in result.sites.itertuples():
        assert r.reason == (
            f"cannot offer r1: no ordering option works at the 30.0 patients a year it can "
            f"reach: the least any allows is {least[r.site_id]:.1f} (stocked_at_site: the "
            "least volume at which its stock reaches the fill rate and the site's stocking "
            "loss stays within its max_stocking_loss_usd_per_year of $36,000)")
    assert result.unserved["patients_unserved"].sum() == pytest.approx(30.0)
    assert result.unserved["reason"].str.startswith(
        "3 site(s) in reach, none with an ordering option at its volume: S1: no ordering "
        "option works").all()
    full = solve_case(load_case(make_case(tmp_path, "full", notice=6.0, limit=36_000.0,
                                          policies=["jit_per_patient", "stocked_at_site"])))
    assert full.summary["patients_served"] > 41 and (full.sites["reason"].fillna("") == "").all()


def test_explain_names_the_too_few_patients_reason(tmp_path: Path) -> None:
    """`netopt explain` on such a site printed the capacity and lane limits but not the one
    that keeps it shut (sites.csv had it): its reasons came from prepare's alone."""
    from netopt.analysis.explain import explain_site

    case = load_case(make_case(tmp_path, notice=6.0, limit=36_000.0,
                               policies=["jit_per_patient", "stocked_at_site"],
                               extra="demand_scale: 0.5\n"))
    result = solve_case(case)
    why = explain_site(case, result, "S1").limits  # locked open: forced closed
    assert [w for w in why if w.startswith("not eligible: cannot offer r1: no ordering option "
                                           "works at the 30.0 patients a year")], why
    # closed, it cannot be forced open (it was "infeasible: a hard requirement...")
    closed = explain_site(case, result, "S2")
    assert closed.action == "cannot be chosen" and closed.forced_cost_usd is None
    assert closed.limits == [result.sites.set_index("site_id").at["S2", "reason"]]
    assert closed.limits[0].startswith("cannot offer r1: no ordering option works")


def test_the_loss_limit_is_kept_where_the_site_s_volume_lies_not_at_its_segment_end(
        tmp_path: Path) -> None:
    """S2 takes 40 patients. Its stocking loss is over a $40,000 limit at the 30-patient
    breakpoint but within it at 40 (it falls with volume here: fewer expiries per dose), so
    the segment 30-50 is cut where its loss line crosses the limit, not dropped: S2 stocks,
    and the network is the one a $50,000 limit gives (within it at every volume)."""
    case = load_case(make_case(tmp_path, "tight", limit=40_000.0))
    prep = prepare(case)
    terms = {r.policy: r for r in case.policies.itertuples(index=False)}["stocked_at_site"]
    prod = prep.products.loc["r1"]
    s2 = prep.ordering[(prep.ordering["site_id"] == "S2")
                       & (prep.ordering["policy"] == "stocked_at_site")]
    seg = s2[s2["hi_patients"] > 30].iloc[0]

    def loss(volume: float) -> float:
        _, econ = option_cost(terms, prod, volume, seg.life_days, seg.lead_days,
                              seg.replenish_cost_usd, seg.avoided_cost_usd,
                              seg.shipments_per_dose, 0.08, 0)
        return float(econ.site_loss_usd_per_year)

    at30, at100 = loss(30.0), loss(100.0)
    assert at30 > 40_000 > loss(40.0)
    at50 = at30 + (at100 - at30) * (50 - 30) / (100 - 30)  # the segment ends at capacity 50
    cross = 30 + (40_000 - at30) / (at50 - at30) * 20
    assert seg.lo_patients == pytest.approx(cross) and seg.hi_patients == 50.0
    assert 30 < cross <= 40
    tight = solve_case(case)
    loose = solve_case(load_case(make_case(tmp_path, "loose", limit=50_000.0)))
    assert tight.summary["objective"] == pytest.approx(loose.summary["objective"], rel=1e-9)
    row = tight.finance[(tight.finance["site_id"] == "S2")
                        & (tight.finance["product_id"] == "r1")].iloc[0]
    assert row["policy"] == "stocked_at_site" and row["patients_per_year"] == pytest.approx(40)


def test_generous_returns_mean_more_stocking_sites_and_higher_writeoffs(tmp_path: Path) -> None:
    """JIT cannot meet the notice, so each site either stocks (if its loss is acceptable) or
    takes consignment stock. Generous returns move the loss to the manufacturer."""
    strict = solve_case(load_case(make_case(tmp_path, "strict", notice=6.0, returnable=0.0,
                                            window=0.0)))
    generous = solve_case(load_case(make_case(tmp_path, "generous", notice=6.0,
                                              returnable=1.0, window=3.0)))
    s, g = strict.summary, generous.summary
    assert g["sites_stocking"] > s["sites_stocking"]
    assert g["manufacturer_writeoff_usd"] > s["manufacturer_writeoff_usd"]


def test_compare_prints_stocking_sites_and_writeoffs(tmp_path: Path) -> None:
    strict = make_case(tmp_path, "strict", notice=6.0, returnable=0.0, window=0.0)
    generous = make_case(tmp_path, "generous", notice=6.0, returnable=1.0, window=3.0)
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["compare", str(strict), str(generous), "--out", str(out),
                              "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "owning" in res.output and "write-offs" in res.output  # headers fold
    rows = pd.read_csv(out / "compare.csv")
    assert {"sites_stocking", "manufacturer_writeoff_usd"} <= set(rows.columns)
    assert rows.set_index("scenario").at["generous", "sites_stocking"] > \
        rows.set_index("scenario").at["strict", "sites_stocking"]


def test_finance_command_writes_page_and_tradeoff(tmp_path: Path) -> None:
    model = make_case(tmp_path, notice=6.0)
    out = tmp_path / "res"
    res = runner.invoke(app, ["solve", str(model), "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["finance", str(out)])
    assert res.exit_code == 0, res.output
    page = (out / "finance.html").read_text()
    assert "http" not in page.replace("http://www.w3.org", "")
    tradeoff = pd.read_csv(out / "return_tradeoff.csv")
    assert tradeoff["returnable_fraction"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    # each site's share, on the page and in the terminal: S2 from 56 %, S1 from 75 %
    shares = pd.read_csv(out / "return_thresholds.csv")
    assert shares["returnable_fraction_to_stock"].tolist() == [0.56, 0.75]
    assert "0 of 2 site-products whose product may be stocked at the site would stock at " \
        "today's terms; 2 more would at a higher returnable share (1 from 56%, 1 from 75%)" \
        in html.unescape(page)
    assert "a higher returnable share would win 2 site-product(s): S2 r1 from 56%, S1 r1 " \
        "from 75%" in " ".join(res.output.split())
    # more generous returns never make a site less willing to stock
    assert tradeoff["site_products_willing"].is_monotonic_increasing
    from openpyxl import load_workbook

    assert "finance" in load_workbook(out / "network.xlsx", read_only=True).sheetnames


def test_each_site_s_returnable_share_to_stock_is_where_its_loss_meets_its_limit(
        tmp_path: Path) -> None:
    """Without a restocking fee a site's loss falls linearly to 0 as the returnable share
    goes from 0 to 1: loss(f) = loss(0) x (1 - f). A site stocks from the first whole per
    cent where that is within its $50k limit: ceil(100 x (1 - 50k / loss(0))) %. S1
    ($198.9k at 0) needs 75 %, S2 ($112.8k) 56 %; the trade-off's grid counts the same."""
    from netopt.analysis.finance import priced, return_tradeoff, stock_offers, stocking_thresholds

    case = load_case(make_case(tmp_path, notice=6.0))
    result = solve_case(case)
    prep = prepare(case)
    table = stocking_thresholds(prep, result.finance).set_index("site_id")
    assert list(table.index) == ["S2", "S1"]  # by the share they need
    for offer in stock_offers(prep, result.finance):
        loss0 = priced(offer, 0.0, prep)[1].site_loss_usd_per_year
        assert priced(offer, 1.0, prep)[1].site_loss_usd_per_year == pytest.approx(0.0)
        need = math.ceil(100 * (1 - 50_000 / loss0)) / 100
        row = table.loc[offer.site_id]
        assert row["returnable_fraction_to_stock"] == pytest.approx(need)
        assert row["current_returnable_fraction"] == 0.5 and row["why_not"] == ""
        econ = priced(offer, need, prep)[1]
        assert row["site_loss_usd"] == pytest.approx(loss0 * (1 - need), rel=1e-6)
        assert row["site_loss_usd"] <= 50_000 < loss0 * (1 - need + 0.01)
        assert row["manufacturer_writeoff_usd"] == pytest.approx(
            econ.manufacturer_write_off_usd_per_year)
    assert table["returnable_fraction_to_stock"].tolist() == [0.56, 0.75]
    grid = return_tradeoff(prep, result.finance, fractions=(0.55, 0.56, 0.74, 0.75))
    # today's 0.5 is swept too: 0.5, 0.55, 0.56, 0.74, 0.75
    assert grid["site_products_willing"].tolist() == [0, 0, 1, 1, 2]
    # a 20 % restocking fee on what goes back leaves a loss at 100 % returnable: with a $1
    # limit no share wins the site, and the reason names the loss and the limit
    model = make_case(tmp_path, "fee", notice=6.0, limit=1.0)
    terms_csv = model.parent / "fee-data" / "policies.csv"
    terms = pd.read_csv(terms_csv, dtype={"restocking_fee_pct": float})
    terms.loc[terms["policy"] == "stocked_at_site", "restocking_fee_pct"] = 0.2
    terms.to_csv(terms_csv, index=False)
    case = load_case(model)
    never = stocking_thresholds(prepare(case), solve_case(case).finance)
    assert never["returnable_fraction_to_stock"].isna().all() and len(never) == 2
    assert all(why.startswith("its loss at 100 % returnable, $") and why.endswith(
        "a year, is above its limit of $1") for why in never["why_not"])


def test_finance_command_on_a_missing_folder_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["finance", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "not found" in res.output
    assert "Traceback" not in res.output


def test_finance_command_names_a_cell_that_is_not_a_number(tmp_path: Path) -> None:
    """A finance.csv edited by hand with text in a numeric column ended in 'internal error:
    TypeError: Invalid value '0.0' for dtype 'str'', exit 1. The cell is named, exit 2."""
    out = tmp_path / "res"
    assert runner.invoke(app, ["solve", str(make_case(tmp_path)), "--out", str(out),
                               "--no-report"]).exit_code == 0
    path = out / "finance.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[0, "expired_doses_per_year"] = "abc"
    table.to_csv(path, index=False)
    res = runner.invoke(app, ["finance", str(out)], env={"COLUMNS": "300"})
    assert res.exit_code == 2, res.output
    assert (f"{path}, row 2, column 'expired_doses_per_year': expected a number (found 'abc')"
            in " ".join(res.output.split()))
    assert "internal error" not in res.output and not (out / "finance.html").exists()


def test_finance_command_on_results_it_cannot_read_in_full(tmp_path: Path) -> None:
    """Four ways a finance run went wrong (review):
    - a finance.csv without a column the page needs was an internal error (KeyError), exit 1:
      now the column is named, exit 2, nothing written;
    - without the model file the trade-off was skipped, yet the page said "No product in
      scope may be stocked at sites" and return_tradeoff.csv was one empty byte: now the
      page says why it was not computed and no CSV is written;
    - RESULT_DIR given as a file was blamed on an --out never given;
    - an --out holding a dataset's tables was written into."""
    import json

    out = tmp_path / "res"
    assert runner.invoke(app, ["solve", str(make_case(tmp_path)), "--out", str(out),
                               "--no-report"]).exit_code == 0
    env = {"COLUMNS": "300"}
    # whether the site accepts to stock is asked only where it takes title (review: False
    # on consignment rows read as a refusal)
    rows = pd.read_csv(out / "finance.csv", keep_default_na=False)
    asked = rows["policy"] == "stocked_at_site"
    assert asked.any() and (~asked).any()  # the case has rows of both kinds
    assert set(rows.loc[~asked, "site_accepts_stocking"]) <= {""}
    assert set(rows.loc[asked, "site_accepts_stocking"]) <= {"True", "False"}
    lacking = tmp_path / "lacking"
    shutil.copytree(out, lacking)
    table = pd.read_csv(lacking / "finance.csv")
    table.drop(columns=["working_capital_manufacturer_usd"]).to_csv(lacking / "finance.csv",
                                                                    index=False)
    res = runner.invoke(app, ["finance", str(lacking)], env=env)
    assert res.exit_code == 2, res.output
    assert "no column 'working_capital_manufacturer_usd'" in " ".join(res.output.split())
    assert "internal error" not in res.output
    assert not (lacking / "finance.html").exists()

    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    summary = json.loads((moved / "summary.json").read_text())
    summary["model_file"] = str(tmp_path / "gone.yaml")
    (moved / "summary.json").write_text(json.dumps(summary))
    res = runner.invoke(app, ["finance", str(moved)], env=env)
    assert res.exit_code == 0, res.output
    assert "return-policy trade-off skipped" in res.output
    page = (moved / "finance.html").read_text()
    assert "Not computed: the model file" in page and "No product in scope" not in page
    assert not (moved / "return_tradeoff.csv").exists()

    res = runner.invoke(app, ["finance", str(out / "summary.json")], env=env)
    assert res.exit_code == 2 and "RESULT_DIR: " in res.output and "--out" not in res.output
    data = tmp_path / "fin-data"
    before = sorted(p.name for p in data.iterdir())
    res = runner.invoke(app, ["finance", str(out), "--out", str(data)], env=env)
    assert res.exit_code == 2 and "holds input tables" in res.output
    assert sorted(p.name for p in data.iterdir()) == before


@pytest.mark.parametrize(("row", "column", "value", "message"), [
    (0, "title_holder", "site", "jit_per_patient needs title with manufacturer or distributor"),
    (1, "title_holder", "manufacturer", "stocked_at_site needs title with site"),
])
def test_bad_terms_name_file_row_and_column(tmp_path: Path, row: int, column: str, value: str,
                                            message: str) -> None:
    model = make_case(tmp_path)
    policies = tmp_path / "fin-data" / "policies.csv"
    frame = pd.read_csv(policies)
    frame.loc[row, column] = value
    frame.to_csv(policies, index=False)
    res = runner.invoke(app, ["validate", str(model)])
    assert res.exit_code == 2
    assert f"policies.csv, row {row + 2}, column '{column}'" in res.output
    assert message in res.output


def test_stock_of_an_autologous_product_is_refused(tmp_path: Path) -> None:
    model = make_case(tmp_path)
    products = tmp_path / "fin-data" / "products.csv"
    frame = pd.read_csv(products)
    frame.loc[0, "modality"] = "autologous"
    frame.to_csv(products, index=False)
    res = runner.invoke(app, ["validate", str(model)])
    assert res.exit_code == 2
    assert "policies.csv, row 3, column 'policy'" in res.output
    assert "cannot be stocked" in res.output


def test_us_small_has_finance_rows_for_every_active_site_and_product(small_solved) -> None:  # noqa: ANN001
    result = small_solved
    served = result.assignments.groupby(["site_id", "product_id"])["patients_per_year"].sum()
    served = served[served > 1e-6]
    rows = result.finance
    sites = rows[rows["row"] == "site"]
    fin = sites.groupby(["site_id", "product_id"])["patients_per_year"].sum()
    assert set(fin.index) == set(served.index)
    for key, patients in served.items():
        assert fin[key] == pytest.approx(patients, rel=1e-6, abs=1e-6)
    # a site served from a depot's pooled stock holds none; the depot row has the fill rate
    pooled = sites["depot_id"].fillna("").astype(str).ne("")
    assert (sites.loc[pooled, "stock_point"].isin(["hub", "partner"])).all()
    assert not sites.loc[~pooled, "fill_rate"].isna().any()
    assert (sites.loc[pooled, "stock_level_doses"] == 0).all()
    depots = rows[rows["row"] == "depot"]
    assert (depots["fill_rate"] >= 0.95 - 0.05).all()
    for (kind, depot, k), grp in sites[pooled].groupby(["stock_point", "depot_id", "product_id"]):
        if ";" in depot:
            continue  # split over two depots: each depot row has its own share
        row = depots[(depots["depot_id"] == depot) & (depots["product_id"] == k)]
        assert row["patients_per_year"].iloc[0] >= grp["patients_per_year"].sum() - 1e-6, kind
    assert math.isfinite(rows["working_capital_manufacturer_usd"].sum())
    # shipments at the lanes' cadence: per-patient ones are shipments.csv's deliveries, and
    # stock held at a hub adds its replenishments to per-dose deliveries of two rdc_rx doses
    legs = result.shipments[result.shipments["leg"] == "direct"]
    delivered = legs.groupby(["site_id", "product_id"])["shipments_per_year"].sum()
    jit = sites[sites["policy"] == "jit_per_patient"]
    assert len(jit) > 5
    for r in jit.itertuples():
        assert r.shipments_per_year == pytest.approx(delivered[(r.site_id, r.product_id)],
                                                     rel=1e-6)
    options = prepare(load_case(US_SMALL)).ordering
    held = sites[(sites["policy"] == "held_at_hub") & ~pooled]
    assert len(held) and (held["product_id"] == "rdc_rx").all()
    for r in held.itertuples():
        per = options[(options["site_id"] == r.site_id) & (options["product_id"] == r.product_id)
                      & (options["policy"] == r.policy)]["replenish_cost_usd"].iloc[0]
        assert r.shipments_per_year - delivered[(r.site_id, r.product_id)] == pytest.approx(
            r.ordering_replenishment_usd / per, rel=1e-6)
        assert r.shipments_per_year < r.doses_per_year  # two doses a delivery


def test_expiring_doses_a_plant_makes_for_points_it_does_not_supply_are_counted() -> None:
    """Two plants can supply site S1's stock of k; only P1 ships its patients' doses (100),
    and P1 is full at 100 doses. The model books S1's 12 expiring doses to P2, which has
    room and lanes to S1: shared by the doses each ships, P1 would read 112 of 100, so the
    model's split stands, and plants.csv says that P2 makes all 12 for stock it does not
    supply (the national default: 5,975 doses at Thousand Oaks for Summit's sites)."""
    from types import SimpleNamespace

    from netopt.results.tables import expiring_by_plant

    m = SimpleNamespace(expired_points={("site", "S1", "k"): (12.0, None)},
                        expired_at={("site", "S1", "k", "P1"): SimpleNamespace(value=0.0),
                                    ("site", "S1", "k", "P2"): SimpleNamespace(value=12.0)})
    shipments = pd.DataFrame({"leg": ["direct"], "site_id": ["S1"], "hub_id": ["H1"],
                              "product_id": ["k"], "plant_id": ["P1"],
                              "partner_id": [""], "doses_per_year": [100.0]})
    split, elsewhere = expiring_by_plant(m, shipments, {"P1": 100.0, "P2": 1000.0})
    assert split == {"P1": 0.0, "P2": 12.0} and elsewhere == {"P2": 12.0}
    # with room at P1 the doses it ships decide: all 12 are P1's, none made elsewhere
    split, elsewhere = expiring_by_plant(m, shipments, {"P1": 200.0, "P2": 1000.0})
    assert split == {"P1": 12.0, "P2": 0.0} and elsewhere == {}
