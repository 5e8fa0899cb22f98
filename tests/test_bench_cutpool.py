"""bench/bench_cutpool.py's pieces on tiny data: every column is given the family and site it
belongs to, cuts are sorted by what they link, and the LPs it reports are the fully linked LP
(the eagerly linked model's) and, with HiGHS's root cuts on top, a bound no higher than the
optimum."""

from __future__ import annotations

import importlib.util
import sys
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
SMALL = REPO / "models" / "us-small.yaml"


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_cutpool", REPO / "bench" / "bench_cutpool.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _lazy_tiny():
    case = load_case(TINY)
    case.config.solver.strong_linking = "lazy"  # the national model's linking
    m = build_model(prepare(case))
    solver = _Highs()
    solver.set_instance(m)
    return case, m, solver


def test_columns_carry_their_family_and_site_and_cuts_sort_by_what_they_link() -> None:
    bench = _bench()
    _, m, solver = _lazy_tiny()
    columns = bench.columns_of(solver, m)
    col = solver._pyomo_var_to_solver_var_map
    for p in m.P:
        j = col[id(m.x[p])]
        assert (columns.family[j], columns.site[j]) == ("x", m.pair_sk[p][0])
    for (s, _k), v in m.w.items():
        assert (columns.family[col[id(v)]], columns.site[col[id(v)]]) == ("w", s)
    for v in m.g.values():
        assert (columns.family[col[id(v)]], columns.site[col[id(v)]]) == ("g", "")

    pair = next(iter(m.P))
    s, k = m.pair_sk[pair]
    x, w, y = col[id(m.x[pair])], col[id(m.w[s, k])], col[id(m.y[s])]
    other = next(p for p in m.P if m.pair_sk[p][0] != s)
    hub = col[id(next(iter(m.g.values())))]
    assert bench.kind_of(np.array([x, w]), columns) == "linking"
    assert bench.kind_of(np.array([x, y]), columns) == "linking"
    assert bench.kind_of(np.array([x, w, y]), columns) == "one site"
    assert bench.kind_of(np.array([x, col[id(m.x[other])]]), columns) == "network"
    assert bench.kind_of(np.array([x, hub]), columns) == "network"
    segments = [i for i in m.ORD if m.ord_sk[i][0] == s]
    if segments:
        zn = [col[id(m.z[i])] for i in segments] + [col[id(m.n[i])] for i in segments]
        assert bench.kind_of(np.array([*zn, x]), columns) == "segment"
        assert bench.kind_of(np.array([*zn, x, w]), columns) == "one site"


@pytest.mark.slow  # us-small's root cut rounds and its solve: about 25 s
def test_fully_linked_lp_is_the_eager_models_and_root_cuts_stay_below_the_optimum() -> None:
    bench = _bench()
    case = load_case(SMALL)  # tiny closes before a root cut round ends: no pool
    case.config.solver.strong_linking = "lazy"
    m = build_model(prepare(case))
    solver = _Highs()
    solver.set_instance(m)
    arrays = model_arrays(solver._solver_model)
    links = bench.linking_rows(m, solver)
    assert len(links[0]) == len(m.P)
    pool = bench.root_pool(arrays, seconds=60, seed=0)
    assert pool is not None
    count = len(pool.start) - 1
    assert count > 0
    columns = bench.columns_of(solver, m)
    kinds = [bench.kind_of(pool.cut(c), columns) for c in range(count)]
    assert set(kinds) <= set(bench.KINDS)
    linked, _ = bench.lp_with(arrays, links, pool, np.array([], int))

    case.config.solver.strong_linking = True  # every row x <= patients x offer built
    eager = _Highs()
    eager.set_instance(build_model(prepare(case)))
    eager_arrays = model_arrays(eager._solver_model)
    n = eager_arrays["num_col"]
    h = bench.highs_from_arrays(eager_arrays)
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
    h.run()
    assert linked == pytest.approx(h.getInfo().objective_function_value, rel=1e-9)

    # HiGHS's cuts are valid: on top of the linked LP they lift it, never past a network
    with_cuts, _ = bench.lp_with(arrays, links, pool, np.arange(count))
    network = solve_case(case, time_limit=60, seed=0).info.objective
    assert linked - 1e-6 <= with_cuts <= network + 1e-6
