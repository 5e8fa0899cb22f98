"""Drop search on a rounded network (solver/local_search.py): hand-checked facility cases
and the national start path on us-small."""

from __future__ import annotations

import math
import time
from pathlib import Path

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.solver import highs
from netopt.solver.local_search import drop_facilities
from netopt.solver.network_start import hold, release
from netopt.solver.rounding import rounded_network

SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"

#: three hubs on a line at km 0, 10 and 20, fixed cost 100 each; customers at km 0, 1, 19, 20
#: with one unit of demand each, served by the nearest open hub at 10 a km; no hub open
#: leaves everyone unserved at 1000 each
HUBS = {"A": 0.0, "B": 10.0, "C": 20.0}
CUSTOMERS = (0.0, 1.0, 19.0, 20.0)


def _cost(network: dict) -> float | None:
    open_hubs = [h for h, on in network["g"].items() if on]
    if not open_hubs:
        return None  # as a restricted LP with every patient unserved is refused
    fixed = 100.0 * len(open_hubs)
    return fixed + sum(10 * min(abs(c - HUBS[h]) for h in open_hubs) for c in CUSTOMERS)


def _all_open() -> dict:
    return {"g": dict.fromkeys(HUBS, 1)}


def test_drop_search_closes_the_hub_nobody_needs() -> None:
    # all open: 300 + 10 (km 1 to A) + 10 (km 19 to C) = 320; without B: 220, the optimum
    # (closing A as well saves 100 but customers at km 0 and 1 then travel to B: 400)
    candidates = [(("g", "B"),), (("g", "A"),), (("g", "C"),)]
    network, cost, closed = drop_facilities(_all_open(), _cost, candidates,
                                            time.perf_counter() + 60)
    assert network["g"] == {"A": 1, "B": 0, "C": 1}
    assert cost == 220.0 and closed == 1
    assert _all_open()["g"]["B"] == 1  # the input is not changed


def test_drop_search_keeps_what_a_cheaper_closure_would_need() -> None:
    # customers at km 9, 10 and 11 only: all open 300 + 10 x (1 + 0 + 1) = 320; A closes
    # (220); B does not (C alone: 100 + 10 x 30 = 400); C closes (B alone: 100 + 20 = 120)
    def cost(network: dict) -> float | None:
        open_hubs = [h for h, on in network["g"].items() if on]
        if not open_hubs:
            return None
        return 100.0 * len(open_hubs) + sum(10 * min(abs(c - HUBS[h]) for h in open_hubs)
                                            for c in (9.0, 10.0, 11.0))
    network, value, closed = drop_facilities(
        _all_open(), cost, [(("g", "A"),), (("g", "B"),), (("g", "C"),)],
        time.perf_counter() + 60)
    assert network["g"] == {"A": 0, "B": 1, "C": 0} and value == 120.0 and closed == 2


def test_drop_search_stops_at_its_deadline() -> None:
    network, cost, closed = drop_facilities(_all_open(), _cost, [(("g", "B"),)],
                                            time.perf_counter() - 1)
    assert network == _all_open() and cost == 320.0 and closed == 0


def _restricted_mip(m, solver, settings, network) -> float:  # noqa: ANN001
    held = hold(m, network)
    try:
        res = highs._run(solver, m, settings, False, 120.0, solver="choose", mip_rel_gap=1e-6)
    finally:
        release(held)
    assert highs._has_solution(res)
    return float(res.incumbent_objective)


def test_drop_search_never_worsens_the_rounded_us_small_network() -> None:
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"  # the national default's path
    settings = case.config.solver
    m = build_model(prepare(case))
    solver = highs._Highs()
    highs.separate_linking(solver, m, settings, False, 120.0)
    rounded = rounded_network(m, highs.LP_OPEN_THRESHOLD)
    dropped = highs._drop_surplus(solver, m, settings, rounded, time.perf_counter() + 120)
    closed = [(name, i) for name, values in rounded.items() for i, on in values.items()
              if on and not dropped[name][i]]
    assert closed, "the LP rounded up keeps surplus on us-small too"
    assert all(dropped[name][i] <= rounded[name][i] for name in rounded
               for i in rounded[name])  # the search only closes
    before = _restricted_mip(m, solver, settings, rounded)
    after = _restricted_mip(m, solver, settings, dropped)
    assert after <= before * (1 + 1e-6) or math.isclose(after, before, rel_tol=1e-6)
