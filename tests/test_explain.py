"""Why each site was, or was not, chosen (issue #15 item 7), on the tiny dataset (see
test_model.py): sites.csv's reason column and `netopt explain`.

At the optimum S1 (existing, $100k/yr) treats all 30 patients. S2 (candidate) would cost
$200k / 5 yr activation + $80k/yr + $80k / 5 yr onboarding for oncology + partner P1 ($20k/yr,
$500/dose) for the cryogenic class; S3's price ceiling ($300k) is below the price ($400k).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_model import TINY, edit, tiny
from typer.testing import CliRunner

from netopt.analysis.explain import explain_site, moved_patients
from netopt.cli.app import app
from netopt.data.problems import InputError
from netopt.results.pipeline import solve_case


@pytest.fixture(scope="module")
def solved():
    return solve_case(tiny(), gap=0.0)


def test_sites_csv_says_why_a_site_cannot_be_chosen():
    case = edit(tiny(), "sites", "S2", status="excluded")
    reasons = solve_case(case).sites.set_index("site_id")["reason"]
    assert reasons["S1"] == ""
    assert reasons["S2"].startswith("excluded")
    assert reasons["S3"] == "cannot be chosen - p1: price above the site's price ceiling"
    # S3 with a ceiling above the price lies 85 km from either zone: beyond a 50 km reach
    far = edit(tiny(), "products", "p1", max_patient_travel_km=50.0)
    edit(far, "sites", "S3", price_ceiling_usd_per_dose=1e6)
    reasons = solve_case(far).sites.set_index("site_id")["reason"]
    assert reasons["S1"] == "" and reasons["S2"] == ""
    assert reasons["S3"].startswith("cannot be chosen - p1: beyond reach (no patients within")


def test_a_partner_of_another_class_does_not_make_it_a_lane_problem():
    """S2 has no cryogenic equipment row and its one partner in range, P1, holds ultra-low
    only: the reason is the class, not the lanes (S2's lane takes about 20 h of a 216-h
    budget). Before, any partner in range made it "no lane within shelf life"."""
    case = edit(tiny(), "partners", "P1", temperature_classes=["ultra_low"])
    equipment = case.tables["equipment"]
    case.tables["equipment"] = equipment[equipment["temperature_class"] != "cryogenic"]
    reasons = solve_case(case).sites.set_index("site_id")["reason"]
    assert reasons["S2"] == ("cannot be chosen - p1: site cannot hold cryogenic (no equipment "
                             "row, no partner of that class in range)")


def test_a_missing_hub_class_or_mode_is_not_blamed_on_the_shelf_life():
    """A new user's case reported every site "no lane within shelf life" (a 96-h budget
    against 11-18 h routes) when no hub carried the product's class, or when no mode reached
    a leg: they lengthened the shelf life and nothing changed. The reason now names the
    input to fix. tiny with H1 not handling cryogenic, then with every mode's max_km at
    10 km (the plant -> hub leg alone is longer), then with a 2-h shelf life (the lanes
    exist and take longer)."""
    from netopt.model.prepare import prepare

    def reason(case) -> str:  # noqa: ANN001
        blocked = prepare(case).blocked
        return blocked.loc[blocked["site_id"] == "S1", "reason"].iloc[0]

    case = edit(tiny(), "hubs", "H1", temperature_classes=["ultra_low"])
    case.tables["partners"] = case.tables["partners"].iloc[0:0]
    assert reason(case) == "no hub near the site handles cryogenic (hubs.csv temperature_classes)"
    case = tiny()
    case.tables["partners"] = case.tables["partners"].iloc[0:0]
    case.tables["transport"]["max_km"] = 10.0  # p1 is autologous: the cells' leg goes first
    assert reason(case) == ("no inbound lane for starting material: no transport mode "
                            "reaches (every site -> hub or hub -> plant leg is longer than "
                            "each mode's max_km, transport.csv)")
    case.tables["products"]["autologous"] = False
    case.tables["products"]["modality"] = "allogeneic"
    assert reason(case).startswith("no transport mode reaches: every plant -> hub")
    case = edit(tiny(), "products", "p1", shelf_life_hours=26.0)
    case.tables["partners"] = case.tables["partners"].iloc[0:0]
    assert reason(case) == "no lane within shelf life"


def test_a_locked_existing_site_that_can_offer_nothing_is_a_warning(caplog):
    """S1 is existing (locked open by default); with its price ceiling under p1's price it
    can offer nothing and is left closed. The user is told at solve time, not only in
    sites.csv; a site that can offer something is not named."""
    import logging

    from netopt.model.prepare import prepare

    case = edit(tiny(), "sites", "S1", price_ceiling_usd_per_dose=1.0)
    with caplog.at_level(logging.WARNING, logger="netopt.model.prepare"):
        prepare(case)
    held = [r.getMessage() for r in caplog.records if "held open" in r.getMessage()]
    assert held == ["site S1 is held open (existing, sites.existing: locked) but can offer no "
                    "product (price above the site's price ceiling): it is left closed"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="netopt.model.prepare"):
        prepare(tiny())
    assert not [r for r in caplog.records if "held open" in r.getMessage()]


@pytest.mark.parametrize("redesign", [False, True], ids=["held", "redesign"])
def test_forced_open_costs_exactly_its_fixed_costs(solved, redesign):
    """Each patient costs more at S2 than at S1, so S2 forced open treats nobody and adds
    exactly $40k + $80k + $16k + $20k = $156k: the partner P1 it needs for the cryogenic
    class opens with it (held: P1 is one of the facilities S2's links use)."""
    ex = explain_site(tiny(), solved, "S2", redesign=redesign)
    assert ex.action == "forced open"
    assert ex.method == ("redesign" if redesign else "held")
    assert ex.status == "optimal"
    assert ex.baseline_cost_usd == pytest.approx(ex.solved_cost_usd, rel=1e-9)
    assert ex.difference_usd == pytest.approx(156_000, abs=1)
    terms = ex.costs.set_index("term")["difference_usd"]
    assert terms["site_activation"] == pytest.approx(40_000)
    assert terms["site_fixed"] == pytest.approx(80_000)
    assert terms["onboarding"] == pytest.approx(16_000)
    assert terms["partner_fixed"] == pytest.approx(20_000)
    assert terms.drop("total").sum() == pytest.approx(terms["total"], abs=1)
    assert ex.moves.empty
    assert ex.limits[0] == "forced open: it must offer at least one product; it offers p1"


def test_offers_the_held_network_drops_are_named():
    """us-small's 30-s solve kept three cart_onc offers of 2 patients each that the held
    network, re-optimised to optimality, drops: explain's figures for S053 (0 patients)
    then contradicted sites.csv (2) without a word. The changes are listed."""
    from types import SimpleNamespace

    from netopt.analysis.explain import _held_changes

    def result(offers: dict[str, str], patients: dict[tuple[str, str], float]):
        sites = pd.DataFrame({"site_id": list(offers), "active": True,
                              "products_offered": list(offers.values())})
        rows = [{"site_id": s, "product_id": k, "patients_per_year": n}
                for (s, k), n in patients.items()]
        return SimpleNamespace(sites=sites, assignments=pd.DataFrame(rows))

    solved = result({"S045": "aav_gt;cart_onc", "S053": "cart_onc", "S138": ""},
                    {("S045", "aav_gt"): 4.1, ("S045", "cart_onc"): 2.0, ("S053", "cart_onc"): 2.0})
    held = result({"S045": "aav_gt", "S053": "", "S138": "cart_onc"},
                  {("S045", "aav_gt"): 4.1, ("S138", "cart_onc"): 4.0})
    assert _held_changes(solved, held) == {
        "drops": ["S045 cart_onc (2.0 patients/yr as solved)",
                  "S053 cart_onc (2.0 patients/yr as solved)"],
        "adds": ["S138 cart_onc"]}
    assert _held_changes(solved, solved) == {}


def test_forced_open_takes_its_minimum_volume(solved):
    """With a minimum of 12 patients a year, S2 forced open must take 12 of S1's 30: the
    first limit says the flip asked for it, since its cost is no longer S2's fixed cost."""
    case = edit(tiny(), "sites", "S2", min_patients_per_year=12)
    ex = explain_site(case, solve_case(case, gap=0.0), "S2")
    assert ex.limits[0] == ("forced open: it must offer at least one product, at its "
                            "min_patients_per_year of 12 or more; it offers p1")
    assert ex.moves["patients_per_year"].sum() == pytest.approx(12.0)
    assert set(ex.moves["to_site"]) == {"S2"}


@pytest.mark.parametrize("redesign", [False, True], ids=["held", "redesign"])
def test_forced_closed_moves_everyone_to_s2(solved, redesign):
    """Closing S1 sends Z1's 10 and Z2's 20 patients to S2, whose 30 doses pay P1 $500
    (held: S2 is S1's neighbour, so it may open)."""
    ex = explain_site(tiny(), solved, "S1", redesign=redesign)
    assert ex.action == "forced closed"
    moves = ex.moves.set_index("zone_id")
    assert set(moves["from_site"]) == {"S1"} and set(moves["to_site"]) == {"S2"}
    assert moves.at["Z1", "patients_per_year"] == pytest.approx(10.0)
    assert moves.at["Z2", "patients_per_year"] == pytest.approx(20.0)
    terms = ex.costs.set_index("term")["difference_usd"]
    assert terms["site_fixed"] == pytest.approx(80_000 - 100_000)
    assert terms["partner_handling"] == pytest.approx(30 * 500)
    assert any(line.startswith("locked open") for line in ex.limits)
    assert any(line.startswith("capacity: 30.0 of 50.0") for line in ex.limits)


def test_capacity_binding_is_reported():
    """At 20 patients per 100k (60 patients) S1 runs full: its capacity binds."""
    case = edit(tiny(), "products", "p1", incidence_per_100k=20.0)
    result = solve_case(case, gap=0.0)
    ex = explain_site(edit(tiny(), "products", "p1", incidence_per_100k=20.0), result, "S1")
    assert "capacity: 50.0 of 50.0 patients/yr - binds" in ex.limits


def test_site_that_cannot_be_chosen_needs_no_solve(solved):
    ex = explain_site(tiny(), solved, "S3")
    assert ex.action == "cannot be chosen" and ex.forced_cost_usd is None
    assert ex.limits == ["cannot be chosen - p1: price above the site's price ceiling"]
    with pytest.raises(InputError):
        explain_site(tiny(), solved, "S9")


def test_moved_patients_matches_losers_to_gainers():
    import pandas as pd

    cols = ["zone_id", "zone_name", "product_id", "site_id", "patients_per_year"]
    base = pd.DataFrame([("Z", "Zed", "k", "A", 5.0), ("Z", "Zed", "k", "B", 1.0)], columns=cols)
    forced = pd.DataFrame([("Z", "Zed", "k", "C", 3.0), ("Z", "Zed", "k", "B", 2.0)],
                          columns=cols)
    moves = moved_patients(base, forced)
    got = {(r.from_site, r.to_site): r.patients_per_year for r in moves.itertuples()}
    assert got == {("A", "C"): 3.0, ("A", "B"): 1.0, ("A", "unserved"): 1.0}


def test_explain_command(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["solve", str(tmp_path / "tiny.yaml"), "--out", str(out),
                                   "--no-report"])
    assert run.exit_code == 0, run.output
    run = CliRunner().invoke(app, ["explain", str(out), "S2", "--product", "p1"])
    assert run.exit_code == 0, run.output
    assert "forced open" in run.output and "+156,000" in run.output
    run = CliRunner().invoke(app, ["explain", str(out), "S9"])
    assert run.exit_code == 2 and "unknown site" in run.output
    run = CliRunner().invoke(app, ["explain", str(tmp_path), "S1"])
    assert run.exit_code == 2 and "not found" in run.output


def test_evaluate_and_explain_refuse_a_launch_timeline(tmp_path: Path):
    """A launch timeline opens sites period by period: a held network of one steady-state
    year, or one site flipped in it, means nothing there. evaluate and explain answered for
    the steady state under the timeline's name; now exit 2, naming the setting. A timeline
    result held in a steady-state model is its network at the end of the roll-out, and its
    own objective (a horizon total) is not printed as a year's cost. An evaluation into
    the folder it holds would replace that network: exit 2."""
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    timeline = tmp_path / "tl.yaml"
    timeline.write_text("extends: tiny.yaml\nname: tl\ntimeline:\n  periods: 2\n")
    runner = CliRunner()
    env = {"NO_COLOR": "1", "COLUMNS": "300"}
    plain, rollout = tmp_path / "plain", tmp_path / "rollout"
    for model, out in ((tmp_path / "tiny.yaml", plain), (timeline, rollout)):
        run = runner.invoke(app, ["solve", str(model), "--out", str(out), "--no-report"])
        assert run.exit_code == 0, run.output
    said = "but this model has a launch timeline of 2 periods"
    run = runner.invoke(app, ["evaluate", str(plain), str(timeline), "--out",
                              str(tmp_path / "e1"), "--no-report"], env=env)
    assert run.exit_code == 2, run.output
    assert "column 'timeline.periods': evaluate holds one network" in run.output
    assert said in run.output and not (tmp_path / "e1").exists()
    run = runner.invoke(app, ["explain", str(rollout), "S2"], env=env)
    assert run.exit_code == 2, run.output
    assert "explain flips one site" in run.output and said in run.output
    run = runner.invoke(app, ["resilience", str(rollout)], env=env)
    assert run.exit_code == 2, run.output
    assert "resilience takes one facility out" in run.output and said in run.output
    run = runner.invoke(app, ["evaluate", str(rollout), str(tmp_path / "tiny.yaml"), "--out",
                              str(tmp_path / "e2"), "--no-report"], env=env)
    assert run.exit_code == 0, run.output
    assert "(the end of its 2-period launch timeline)" in run.output
    assert "in its own model" not in run.output
    run = runner.invoke(app, ["evaluate", str(plain), str(tmp_path / "tiny.yaml"), "--out",
                              str(plain), "--no-report"], env=env)
    assert run.exit_code == 2 and "is the result folder itself" in run.output
    assert "evaluated_network" not in (plain / "summary.json").read_text()


def test_moved_patients_when_one_side_treats_nobody():
    """Every patient of the solved network unserved in the flipped one (and back)."""
    import pandas as pd

    cols = ["zone_id", "zone_name", "product_id", "site_id", "patients_per_year"]
    base = pd.DataFrame([("Z", "Zed", "k", "A", 5.0)], columns=cols)
    none = pd.DataFrame(columns=cols)
    out = moved_patients(base, none)
    assert out[["from_site", "to_site", "patients_per_year"]].values.tolist() == [
        ["A", "unserved", 5.0]]
    back = moved_patients(none, base)
    assert back[["from_site", "to_site"]].values.tolist() == [["unserved", "A"]]


def test_held_network_on_us_small(small_solved):  # noqa: ANN001 - us-small solved
    """us-small, a closed candidate forced open with the network held: both sides solved to
    optimality; the held side, re-optimised around the site, never costs more than the solved
    network (which it contains); the site's neighbours are the nearest that share patients."""
    from netopt.analysis.explain import NEIGHBOURS
    from netopt.data.case import load_case

    case = load_case(Path(__file__).parents[1] / "models" / "us-small.yaml")
    result = small_solved
    sites = result.sites
    closed = sites.loc[~sites["active"].astype(bool), "site_id"]  # S111, S118, ...
    ex = explain_site(case, result, closed.iloc[0])
    assert ex.method == "held" and ex.action == "forced open"
    assert ex.status == "optimal" and ex.gap is not None and ex.gap <= 1e-6
    assert ex.baseline_cost_usd <= ex.solved_cost_usd * (1 + 1e-9)
    assert 0 < len(ex.neighbours) <= NEIGHBOURS and ex.site_id not in ex.neighbours
    terms = ex.costs.set_index("term")["difference_usd"]
    assert terms["total"] == pytest.approx(ex.difference_usd, abs=1)
    fixed = float(case.sites.set_index("site_id").at[ex.site_id, "annual_fixed_cost_usd"])
    assert terms["site_fixed"] == pytest.approx(fixed)  # the flip opened it, nothing else


def test_network_in_its_own_model_starts_from_its_ordering_policies(small_solved) -> None:  # noqa: ANN001
    """us-small (stocked and consignment products): the held solve starts from the result's
    ordering choice per site-product (its policy, at the segment holding its patients), so
    it never ends dearer than the solve it evaluates, which stopped at its own gap, and
    every offer it keeps keeps its policy (it may drop an offer nobody needs)."""
    from netopt.analysis.evaluate import evaluate_network, ordering_start
    from netopt.data.case import load_case
    from netopt.model.build import build_model
    from netopt.model.prepare import prepare

    case = load_case(Path(__file__).parents[1] / "models" / "us-small.yaml")
    m = build_model(prepare(case))
    held = ordering_start(m, small_solved)["z"]
    sites = small_solved.finance[small_solved.finance["row"] == "site"]
    policy = {(r.site_id, r.product_id): (r.policy, r.patients_per_year)
              for r in sites.itertuples()}
    options = m.prep.ordering
    ones = [i for i, v in held.items() if v == 1]
    assert len(ones) > 0 and len({m.ord_sk[i] for i in ones}) == len(ones)
    for i in ones:  # the result's policy, at a segment holding its patients
        chosen, patients = policy[m.ord_sk[i]]
        assert options.at[i, "policy"] == chosen
        assert options.at[i, "lo_patients"] - 1e-6 <= patients <= options.at[
            i, "hi_patients"] + 1e-6
    for i in m.ORD:  # every other option of those site-products held at 0
        if m.ord_sk[i] in {m.ord_sk[j] for j in ones} and i not in ones:
            assert held[i] == 0
    result = evaluate_network(case, small_solved).result
    assert result.info.start == "ordering"
    assert result.info.objective <= small_solved.info.objective * (1 + 1e-9)
    again = {(r.site_id, r.product_id): r.policy
             for r in result.finance[result.finance["row"] == "site"].itertuples()}
    assert again.items() <= {k: p for k, (p, _) in policy.items()}.items()


def test_a_locked_site_keeps_its_lock_when_one_offer_is_flipped(solved):
    """S1 is existing and locked open: closing its offer of p1 leaves it open, paying its
    $100k, while S2 opens for the 30 patients ($80k + $40k + $16k + P1's $20k and $15k, and
    the longer trips): held and redesign agree to the cent (tiny solves exactly both ways)."""
    held = explain_site(tiny(), solved, "S1", "p1")
    whole = explain_site(tiny(), solved, "S1", "p1", redesign=True)
    assert held.method == "held" and held.status == "optimal"
    assert held.difference_usd == pytest.approx(whole.difference_usd, abs=0.01)
    terms = held.costs.set_index("term")["difference_usd"]
    assert terms["site_fixed"] == pytest.approx(80_000)  # S2's, S1's $100k still paid
    assert terms["partner_fixed"] == pytest.approx(20_000)


def _solved_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the tiny case (model file and dataset) and its solved result folder, for
    tests that change the inputs after the solve."""
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    model = tmp_path / "tiny.yaml"
    shutil.copy(TINY, model)
    out = tmp_path / "r"
    assert CliRunner().invoke(app, ["solve", str(model), "--out", str(out),
                                    "--no-report"]).exit_code == 0
    return model, out


def test_an_analysis_says_when_the_inputs_changed_since_the_solve(tmp_path: Path) -> None:
    """S1's capacity lowered from 50 to 10 after the solve: explain and resilience re-solved
    today's inputs against the solved network without a word (a baseline of $6.2M against
    the solve's $235k). Unchanged inputs give no warning."""
    model, out = _solved_copy(tmp_path)
    runner = CliRunner()
    # the analyses' own settings and where the files lie are not the case's inputs
    model.write_text(model.read_text(encoding="utf-8").replace(
        "dataset: tiny", f"dataset: {tmp_path / 'tiny'}") + "simulation:\n  days: 90\n",
        encoding="utf-8")
    quiet = runner.invoke(app, ["explain", str(out), "S1"], env={"COLUMNS": "300"})
    assert quiet.exit_code == 0 and "changed since" not in quiet.output
    sites = tmp_path / "tiny" / "sites.csv"
    text = sites.read_text(encoding="utf-8")
    sites.write_text(text.replace("S1,Site One,NY,40.1,-74.0,existing,oncology,cryogenic,50,",
                                  "S1,Site One,NY,40.1,-74.0,existing,oncology,cryogenic,10,"),
                     encoding="utf-8")
    assert sites.read_text(encoding="utf-8") != text
    for command in (["explain", str(out), "S1"], ["resilience", str(out)],
                    ["simulate", str(out), "--replications", "2", "--days", "30"]):
        loud = runner.invoke(app, command, env={"COLUMNS": "300"})
        assert loud.exit_code == 0, loud.output
        assert "or its dataset" in loud.output and (
            "changed since this result was solved" in loud.output
            or "differ from the inputs this result was solved with" in loud.output)


def test_a_binding_budget_is_reported():
    """60 % of the patients within 100 km needs S2 beside S1: fixed costs S1 $100k + S2
    $80k + its activation $40k and onboarding $16k a year + H1 $100k + P1 $20k = $356,000.
    At that budget it binds (and is said to, as sites.max_active is); a dollar more leaves
    it slack."""
    for budget, binds in ((356_000.0, True), (357_000.0, False)):
        case = tiny(budget_fixed_usd=budget, service__min_share=0.6,
                    service__within_km=100.0)
        ex = explain_site(case, solve_case(case, gap=0.0), "S1")
        line = next(x for x in ex.limits if x.startswith("budget_fixed_usd"))
        assert "fixed costs $356,000 a year" in line
        assert line.endswith(" - binds") is binds


def test_an_active_site_excluded_since_the_solve_is_exit_2(tmp_path: Path) -> None:
    """S1, the solved network's one site, set to excluded after the solve: explain S1 ended
    in an internal error (KeyError: Index 'S1' is not valid for indexed component 'y'),
    exit 1. It is now an input problem naming the site, exit 2."""
    model, out = _solved_copy(tmp_path)
    runner = CliRunner()
    sites = tmp_path / "tiny" / "sites.csv"
    sites.write_text(sites.read_text(encoding="utf-8").replace(
        "S1,Site One,NY,40.1,-74.0,existing,", "S1,Site One,NY,40.1,-74.0,excluded,"),
        encoding="utf-8")
    run = runner.invoke(app, ["explain", str(out), "S1"], env={"COLUMNS": "300"})
    assert run.exit_code == 2, run.output
    assert "site 'S1' is active in the solved network but excluded in the model" in run.output
    assert "internal error" not in run.output


def test_an_active_site_that_can_offer_nothing_since_the_solve_is_an_input_problem(
        tmp_path: Path) -> None:
    """S1 active in the solved network, its price ceiling lowered to $1 since: the model has
    no decision of it (no product it may offer), so explain had the same KeyError on 'y'
    (also from `netopt.explain(result, 'S1', case=other)`). It names the site and why."""
    model, out = _solved_copy(tmp_path)
    sites = tmp_path / "tiny" / "sites.csv"
    table = pd.read_csv(sites, keep_default_na=False)
    table.loc[table["site_id"] == "S1", "price_ceiling_usd_per_dose"] = 1
    table.to_csv(sites, index=False)
    run = CliRunner().invoke(app, ["explain", str(out), "S1"], env={"COLUMNS": "300"})
    assert run.exit_code == 2, run.output
    text = " ".join(run.output.split())
    assert ("site 'S1' is active in the solved network but the model as it is now has no "
            "decision for it (cannot be chosen - p1: price above the site's price ceiling): "
            "solve again, then explain") in text
    assert "internal error" not in run.output


@pytest.mark.parametrize("redesign", [False, True])
def test_a_flip_that_breaks_a_requirement_names_it(redesign: bool) -> None:
    """Every patient within 100 km: S1 and S2 are both needed, so S1 cannot close. explain
    said only 'a hard requirement (KOL, service level, limits, budget) cannot be met'; it
    now names the one, as an infeasible solve's diagnosis does: without S1 at most 20 of the
    30 patients a year are treated within 100 km."""
    case = tiny(service__min_share=1.0, service__within_km=100.0)
    ex = explain_site(case, solve_case(case, gap=0.0), "S1", redesign=redesign)
    assert ex.status == "infeasible"
    assert ex.limits == [
        "no solution with the site forced closed (infeasible): service level: product p1 "
        "needs 100% of its 30.0 patients/yr (30.0) treated within 100 km, but at most 20.0 "
        "can be (every patient lives within reach of an eligible site, but the other rules "
        "(capacity, minimum volumes, site counts or budget) keep those sites from treating "
        "enough of them)"]
