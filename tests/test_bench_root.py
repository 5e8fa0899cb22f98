"""bench/bench_root.py's pieces on tiny data: the model it hands HiGHS is the linked model, and
the start it builds from a solved network is that network, priced to its objective."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from netopt.data.case import load_case
from netopt.results.pipeline import solve_case

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny.yaml"


def _bench_root():
    spec = importlib.util.spec_from_file_location("bench_root", REPO / "bench" / "bench_root.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_start_is_the_solved_network_and_highs_proves_it_from_there(capsys) -> None:
    bench = _bench_root()
    case = load_case(TINY)
    case.config.solver.strong_linking = "lazy"  # the national model's linking, as the worker's
    solved = solve_case(case, time_limit=30, seed=0)
    assert solved.info.status == "optimal"
    arrays, start, value = bench.linked_model_with_start(case, solved.network)
    # every decision held at the network's values: the LP prices exactly that network
    assert value == pytest.approx(solved.info.objective, rel=1e-6)
    assert len(start) == arrays["num_col"]
    # the model handed to HiGHS is the free one, not the network held
    free = (arrays["integrality"] == 1) & (arrays["col_lower"] == 0) & (arrays["col_upper"] == 1)
    assert free.sum() >= sum(len(v) for v in solved.network.values()) // 2
    bench.bound_over_time(arrays, start, seconds=20, threads=1, parallel="choose", seed=0)
    out = [line.strip() for line in capsys.readouterr().out.splitlines()]
    end = next(line for line in out if line.startswith("end "))
    bound, network = (float(x.replace(",", "")) for x in end.split()[2:4])
    # HiGHS proves the tiny model's optimum, which is the network the pipeline found
    assert network == pytest.approx(solved.info.objective * 1e3, abs=1.0)  # printed in $
    assert network * (1 - 1e-4) - 1.0 <= bound <= network + 1.0  # HiGHS's gap: 1e-4
    assert out[-1].startswith("status Optimal")
