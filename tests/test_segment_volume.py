"""Segment volume cuts (model/ordering.py `separate_segment_volume`).

A site-product's ordering choice (option and volume segment) holds all of its patients in a
network, so the patients under any set S of choices come only from pairs whose patients go
under S. The LP breaks that by giving a site a tenth of a large stocked segment while it
keeps its own patients; the cut removes such a point, and never a network.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pyomo.environ as pyo
import pytest

from netopt.data.case import load_case
from netopt.model import ordering
from netopt.model.prepare import prepare
from netopt.solver import highs

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "models" / "us-small.yaml"




def _site_product(m: pyo.ConcreteModel) -> tuple[tuple, list[int], list[int]]:
    """A site-product with several choices and several pairs: its key, segments, pairs."""
    for key, segs in m.ord_segments.items():
        pairs = m.x_by_sk.get(key, [])
        if len(segs) >= 3 and len(pairs) >= 3:
            return key, segs, pairs
    raise AssertionError("us-small has no site-product with 3 choices and 3 pairs")


def test_subsets_are_every_proper_subset_or_each_choice_and_its_complement() -> None:
    rows = ordering._subsets(3)
    assert sorted(map(tuple, rows.astype(int).tolist())) == sorted(
        [(1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, 1)])
    big = ordering._subsets(ordering.MAX_SUBSET_SEGMENTS + 2)
    assert big.shape == (2 * (ordering.MAX_SUBSET_SEGMENTS + 2), ordering.MAX_SUBSET_SEGMENTS + 2)
    assert (big.sum(axis=1) >= 1).all() and (big.sum(axis=1) < big.shape[1]).all()


def test_a_tenth_of_a_stocked_segment_holding_the_sites_own_patients_is_cut(
        cleared_small: pyo.ConcreteModel) -> None:
    """The LP point: the site's first pair brings all its patients (x = d), the others none;
    nine tenths of the offer sit on the first choice with no patients, one tenth on the last
    choice with all of them. Only a tenth of the first pair's patients can go under the last
    choice: by hand, n_last <= d0 * z_last, violated by 0.9 d0."""
    m = cleared_small
    key, segs, pairs = _site_product(m)
    first, last = segs[0], segs[-1]
    d0 = m.patients_of_pair[pairs[0]]
    m.w[key].set_value(1.0)
    m.x[pairs[0]].set_value(d0)
    m.z[first].set_value(0.9)
    m.z[last].set_value(0.1)
    m.n[last].set_value(d0)
    before = len(m.ord_volume)
    cuts = ordering.separate_segment_volume(m)
    assert len(m.ord_volume) == before + len(cuts)
    ours = [c for c in cuts if any(v is m.n[last] for v in _variables(c))]
    assert ours, "no cut on the site-product set up here"
    worst = max(ours, key=lambda c: pyo.value(c.body) - pyo.value(c.upper))
    assert math.isclose(pyo.value(worst.body) - pyo.value(worst.upper), 0.9 * d0, rel_tol=1e-9)
    # the network that stocks: the last choice whole, all the site's patients under it
    m.z[first].set_value(0.0)
    m.z[last].set_value(1.0)
    for c in ours:
        assert pyo.value(c.body) <= pyo.value(c.upper) + 1e-9
    # the network that does not: the first choice whole, no patients under the last
    m.z[first].set_value(1.0)
    m.z[last].set_value(0.0)
    m.n[first].set_value(d0)
    m.n[last].set_value(0.0)
    for c in ours:
        assert pyo.value(c.body) <= pyo.value(c.upper) + 1e-9


def _variables(c: pyo.Constraint) -> list:
    from pyomo.core.expr.visitor import identify_variables

    return list(identify_variables(c.body))


def test_a_network_violates_no_cut(cleared_small: pyo.ConcreteModel) -> None:
    """Every site-product at a whole choice with all its patients under it: nothing to cut,
    whatever the patients per pair."""
    m = cleared_small
    for k, (key, segs) in enumerate(m.ord_segments.items()):
        pairs = m.x_by_sk.get(key, [])
        patients = 0.0
        for j, p in enumerate(pairs):
            m.x[p].set_value(m.patients_of_pair[p] * (j % 3) / 2)  # 0, half, all
            patients += m.x[p].value
        chosen = segs[k % len(segs)]
        m.z[chosen].set_value(1.0)
        m.n[chosen].set_value(patients)
    assert ordering.separate_segment_volume(m) == []


def test_cut_loop_with_the_cuts_keeps_the_optimum_and_lifts_the_lp(
        small_cut_loop: Callable[..., tuple]) -> None:
    """us-small linked lazily, so the cut loop runs: run to convergence, its LP with the cuts
    is higher than without them (the fully linked LP, test_linking, plus the facility cuts),
    and the MIP that follows has the same optimum."""
    lp_plain, m_plain, plain = small_cut_loop({"segment_cuts": False})
    lp_cut, m_cut, cut = small_cut_loop({"segment_cuts": True})
    assert len(m_plain.ord_volume) == 0 and len(m_cut.ord_volume) > 0
    assert lp_cut > lp_plain + 1.0  # k$: the cuts lift the LP
    assert math.isclose(cut, plain, rel_tol=3e-6)  # both within their 1e-6 gap


@pytest.mark.parametrize(("setting", "limit", "expected"), [
    (None, 60.0, False), (None, highs.SEGMENT_CUTS_MIN_SECONDS, True), (None, 600.0, True),
    (True, 60.0, True), (False, 600.0, False)])
def test_cuts_by_default_from_two_minutes_or_as_set(setting: bool | None, limit: float,
                                                    expected: bool) -> None:
    settings = load_case(SMALL).config.solver.model_copy(
        update={"segment_cuts": setting, "time_limit": limit})
    assert highs.segment_cuts(settings) is expected
    # a run with its own limit (evaluate, explain, N-1 re-solves) decides by that limit
    other = 600.0 if limit < highs.SEGMENT_CUTS_MIN_SECONDS else 30.0
    assert highs.segment_cuts(settings, other) is (
        setting if setting is not None else other >= highs.SEGMENT_CUTS_MIN_SECONDS)


def test_a_run_of_two_minutes_has_the_cuts_whatever_a_decomposition_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The cuts follow the run's limit: `--time-limit 120` after a facility check that spent
    a fraction of a second still has them (it ran without them, the remainder being 119.99 s),
    and 60 s after one that spent nothing does not; a setting of the model's own stands."""
    from netopt.results import pipeline
    from netopt.solver.info import SolveInfo

    seen = []

    def record(m, settings, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.append((settings.segment_cuts, kwargs["time_limit"]))
        return SolveInfo(status="no_solution", termination="maxTimeLimit", objective=None,
                         bound=None, gap=None, solve_seconds=0.0)

    monkeypatch.setattr(pipeline, "solve_model", record)
    prep = prepare(load_case(SMALL))
    for limit, spent, setting in ((120.0, 0.3, None), (60.0, 0.0, None), (600.0, 0.3, False)):
        solver = load_case(SMALL).config.solver.model_copy(
            update={"time_limit": limit, "segment_cuts": setting})
        pipeline._solve_milp(prep, None, solver, False, lambda _: None, spent, "HiGHS", None)
        assert solver.segment_cuts is setting  # the caller's settings (summary.json) unchanged
    assert seen == [(True, 119.7), (False, 60.0), (False, 599.7)]
