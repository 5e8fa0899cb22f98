"""The facility decomposition (solver.method = facility) against hand-computed cases and the
plain MILP (the reference path) on OR-Library instances.

Benchmark files are read from ../shared/benchmarks or NETOPT_BENCHMARKS; those tests skip when
absent."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from netopt.data.case import load_case
from netopt.data.importers import (
    PUBLISHED_CAP,
    PUBLISHED_PMED,
    import_orlib_cap,
    import_orlib_pmed,
    parse_orlib_cap,
)
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver.benders import Benders, ClosestAssignment, FacilityData, TransportationLP
from netopt.solver.facility import solve_facility

REPO = Path(__file__).resolve().parents[1]
CAP_SMALL = ["cap41", "cap42", "cap43", "cap44", "cap51", "cap61", "cap62", "cap63", "cap64",
             "cap71", "cap72", "cap73", "cap74"]
PMED_SMALL = ["pmed1", "pmed2", "pmed3", "pmed4", "pmed5"]


def _tiny(capacity: float, max_open: int | None = None) -> FacilityData:
    """2 sites x 3 customers of demand 10; costs per unit. Site A (fixed 100) is cheap for
    customers 0 and 1, site B (fixed 60) for customer 2."""
    cost = np.array([[1.0, 2.0, 9.0],   # site A
                     [8.0, 7.0, 1.0]])  # site B
    site, cust = np.nonzero(np.ones_like(cost))
    return FacilityData(fixed=np.array([100.0, 60.0]), capacity=np.full(2, capacity),
                        demand=np.full(3, 10.0), penalty=np.full(3, np.inf), site=site,
                        customer=cust, cost=cost[site, cust], lower=np.zeros(2),
                        upper=np.ones(2), min_open=None, max_open=max_open)


def _brute_force(data: FacilityData) -> float:
    """Every network, its transportation LP: the optimum by enumeration."""
    best = np.inf
    sub = TransportationLP(data)
    for bits in itertools.product((0.0, 1.0), repeat=data.n_sites):
        y = np.array(bits)
        if data.max_open is not None and y.sum() > data.max_open:
            continue
        if data.capacity @ y < data.demand.sum():
            continue
        best = min(best, float(data.fixed @ y) + sub.evaluate(y).cost)
    return best


def test_uncapacitated_hand_computed() -> None:
    # both open: 100 + 60 + 10*(1 + 2 + 1) = 200; A alone: 100 + 10*(1+2+9) = 220;
    # B alone: 60 + 10*(8+7+1) = 220
    result = Benders(_tiny(capacity=30.0), gap=1e-9).solve(10.0)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(200.0)
    assert result.bound == pytest.approx(200.0)
    assert list(result.y) == [1.0, 1.0]
    assert result.stats["subproblem"] == "ClosestAssignment"


def test_capacitated_hand_computed() -> None:
    # capacity 20 per site: one site cannot hold 30 patients; both open: A serves 0 and 1,
    # B serves 2 -> 160 + 40 = 200. With max_open 1 nothing is feasible.
    data = _tiny(capacity=20.0)
    result = Benders(data, gap=1e-9).solve(10.0)
    assert result.stats["subproblem"] == "TransportationLP"
    assert result.status == "optimal"
    assert result.objective == pytest.approx(200.0) == pytest.approx(_brute_force(data))
    np.testing.assert_allclose(result.x.sum(), 30.0)


def test_capacity_changes_the_network() -> None:
    # fixed costs high, capacity 25: A alone cannot serve all (25 < 30) so both open
    data = _tiny(capacity=25.0)
    data.fixed = np.array([10.0, 500.0])
    result = Benders(data, gap=1e-9).solve(10.0)
    assert result.objective == pytest.approx(_brute_force(data))
    assert list(result.y) == [1.0, 1.0]
    # with B open anyway, everyone goes to its cheapest site: A holds 20, B 10
    assert result.objective == pytest.approx(510 + 10 + 20 + 10)
    # capacity 15: A holds 0 and half of 1 at 2 (10), B the rest of 1 at 7 and 2
    data.capacity = np.full(2, 15.0)
    result = Benders(data, gap=1e-9).solve(10.0)
    assert result.objective == pytest.approx(_brute_force(data))
    assert result.objective == pytest.approx(510 + 10 + 10 + 35 + 10)


@pytest.mark.parametrize("kind", ["closest", "transport"])
def test_cuts_are_tight_and_valid(kind: str) -> None:
    """A Benders cut equals the subproblem at the point it was made and is below it
    everywhere else (checked on random fractional networks)."""
    rng = np.random.default_rng(7)
    m, n = 5, 12
    site, cust = np.nonzero(np.ones((m, n)))
    cap = 40.0 if kind == "transport" else 1e6
    data = FacilityData(fixed=rng.uniform(10, 50, m), capacity=np.full(m, cap),
                        demand=rng.integers(1, 10, n).astype(float), penalty=np.full(n, 50.0),
                        site=site, customer=cust, cost=rng.uniform(1, 20, m * n),
                        lower=np.zeros(m), upper=np.ones(m))
    sub = ClosestAssignment(data) if kind == "closest" else TransportationLP(data)
    points = rng.uniform(0, 1, (6, m))
    for y in points:
        ev = sub.evaluate(y)
        made = sum(c.value(y) for c in ev.cuts)
        assert made == pytest.approx(ev.cost, rel=1e-7)
        for z in points:
            assert sum(c.value(z) for c in ev.cuts) <= sub.evaluate(z).cost * (1 + 1e-7) + 1e-7


def test_not_applicable_falls_back_to_milp() -> None:
    """tiny carries lane and hub costs on its assignments: the decomposition runs, cannot
    prove its network, and the plain MILP runs after it."""
    said: list[str] = []
    results = solve_case(load_case(REPO / "tests" / "data" / "tiny.yaml"), progress=said.append)
    assert results.summary["method"] == "milp"
    assert results.summary["status"] == "optimal"
    steps = [line.split(" (")[0] for line in said]
    assert steps.index("solving by facility decomposition") < steps.index("solving with HiGHS")
    # the whole model at the decomposition's network is the MILP's start, not thrown away
    assert results.summary["start"] == "facility"
    first = results.summary["stages"][0]
    assert first["stage"] == "facility start" and first["stopped"] == "optimal"
    assert results.summary["objective_usd"] <= first["objective_usd"] + 1e-6


def test_a_decomposition_that_does_not_apply_is_not_announced() -> None:
    """us-small's ordering options carry savings (negative costs): the decomposition does not
    apply, returns at once, and the user is not told of a method that never ran."""
    case = load_case(REPO / "models" / "us-small.yaml")
    said: list[str] = []
    assert solve_facility(prepare(case), case.config.solver, progress=said.append) is None
    assert said == []


# ---------------------------------------------------------------- OR-Library agreement


def _benchmarks() -> Path:
    env = os.environ.get("NETOPT_BENCHMARKS")
    return Path(env) if env else REPO.parent / "shared" / "benchmarks"


def _instance(kind: str, name: str) -> Path:
    path = _benchmarks() / kind / f"{name}.txt"
    if not path.exists():
        pytest.skip(f"benchmark file {path} not found (set NETOPT_BENCHMARKS to the folder "
                    "holding orlib-cap/ and orlib-pmed/)")
    return path


def _both(model: Path) -> dict[str, dict]:
    out = {}
    for method in ("milp", "facility"):
        case = load_case(model)
        case.config.solver = case.config.solver.model_copy(update={
            "method": method, "time_limit": 120.0, "mip_gap": 1e-9})
        said: list[str] = []
        out[method] = solve_case(case, progress=said.append).summary
        announced = any(line.startswith("solving by facility decomposition") for line in said)
        assert announced == (method == "facility"), said
    return out


@pytest.mark.parametrize("name", CAP_SMALL)
def test_methods_agree_on_cap(name: str, tmp_path: Path) -> None:
    got = _both(import_orlib_cap(_instance("orlib-cap", name), tmp_path))
    assert got["milp"]["method"] == "milp"
    assert got["facility"]["method"] == "facility"
    for summary in got.values():
        assert summary["status"] == "optimal"
        assert summary["objective"] == pytest.approx(PUBLISHED_CAP[name], rel=1e-6)
    assert got["facility"]["objective"] == pytest.approx(got["milp"]["objective"], rel=1e-9)
    assert got["facility"]["bound"] <= got["facility"]["objective"] * (1 + 1e-12)
    # the decomposition leads the facility method's stage account, then the whole model
    assert [(st["stage"], st["stopped"]) for st in got["facility"]["stages"]][:1] == [
        ("facility decomposition", "optimal")]
    assert got["facility"]["stages"][-1]["stage"] == "full MIP"
    assert got["facility"]["stopped_by_clock"] == []


@pytest.mark.parametrize("name", PMED_SMALL)
def test_methods_agree_on_pmed(name: str, tmp_path: Path) -> None:
    got = _both(import_orlib_pmed(_instance("orlib-pmed", name), tmp_path))
    assert got["facility"]["method"] == "facility"
    for summary in got.values():
        assert summary["status"] == "optimal"
        assert summary["objective"] == pytest.approx(PUBLISHED_PMED[name], rel=1e-9)
        assert summary["sites_active"] == load_case(
            import_orlib_pmed(_instance("orlib-pmed", name), tmp_path / "again")
        ).config.sites.max_active


def test_facility_result_reports_closed_sites_as_choices(tmp_path: Path) -> None:
    """The whole model is solved over the decomposition's network only; a site it leaves
    closed is still one that could have been chosen (no 'beyond reach' reason), and every
    patient is assigned."""
    file = _instance("orlib-cap", "cap41")
    results = solve_case(load_case(import_orlib_cap(file, tmp_path)))
    assert results.summary["method"] == "facility"
    closed = results.sites[~results.sites["active"]]
    assert len(closed) > 0
    assert (closed["reason"] == "").all(), closed["reason"].tolist()
    demand = parse_orlib_cap(file)[2]
    assert results.assignments["patients_per_year"].sum() == pytest.approx(demand.sum())
