"""bench/bench_root.py's pieces on tiny data: the model it hands HiGHS is the linked model with
the solve's bounds, and the start it builds from a solved network is that network, feasible
there and priced to its objective."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver.arrays import model_arrays
from netopt.solver.highs import _Highs

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny.yaml"


def _bench_root():
    spec = importlib.util.spec_from_file_location("bench_root", REPO / "bench" / "bench_root.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("with_cuts", [False, True])
def test_start_is_the_solved_network_and_highs_proves_it_from_there(with_cuts, capsys,
                                                                    monkeypatch) -> None:
    bench = _bench_root()
    case = load_case(TINY)
    case.config.solver.strong_linking = "lazy"  # the national model's linking, as the worker's
    solved = solve_case(case, time_limit=30, seed=0)
    assert solved.info.status == "optimal"
    arrays, start, cost = bench.linked_model_with_start(case, solved.network, with_cuts)
    # every decision held at the network's values: the LP is that network's cost
    assert cost == pytest.approx(solved.info.objective, rel=1e-9)
    assert bench.violation(arrays, start) <= 1e-6
    # the model handed over has the bounds of the model as built, not the network held
    fresh = _Highs()
    fresh.set_instance(build_model(prepare(case)))
    built = model_arrays(fresh._solver_model)
    assert np.array_equal(arrays["col_lower"], built["col_lower"])
    assert np.array_equal(arrays["col_upper"], built["col_upper"])
    assert arrays["num_row"] >= built["num_row"]  # plus the loop's linking rows (and cuts)

    monkeypatch.setattr(bench, "CHECKPOINTS", (0,))  # a line at HiGHS's first callback
    bench.bound_over_time(arrays, start, seconds=20, threads=1, parallel="choose", seed=0)
    out = [line.strip() for line in capsys.readouterr().out.splitlines()]
    first = next(line for line in out if line.startswith("0 "))
    end = next(line for line in out if line.startswith("end "))
    first_bound, first_network = (float(x.replace(",", "")) for x in first.split()[1:3])
    bound, network = (float(x.replace(",", "")) for x in end.split()[2:4])
    # from its first callback HiGHS holds the start: the network, never above it
    assert first_network == pytest.approx(solved.info.objective * 1e3, abs=1.0)  # printed in $
    assert first_bound <= first_network + 1.0
    # and it proves the tiny model's optimum, which is that network
    assert network == pytest.approx(solved.info.objective * 1e3, abs=1.0)
    assert network * (1 - 1e-4) - 1.0 <= bound <= network + 1.0  # HiGHS's gap: 1e-4
    assert out[-1].startswith("status Optimal")
