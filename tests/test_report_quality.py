"""The one-pager says how far its network can be from the best one (report.quality_note).

Hand-made summaries give the figures; the tiny case checks the sentence lands in the page
and survives the round trip through the results folder.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from netopt.data.case import load_case
from netopt.report.common import fmt_usd
from netopt.report.onepager import quality_note, render_report
from netopt.results.pipeline import solve_case
from netopt.results.tables import Results

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny() -> Results:
    return solve_case(load_case(TINY), threads=1, seed=0)


def _with(result: Results, **summary: object) -> Results:
    return dataclasses.replace(result, summary={**result.summary, **summary})


def _plain(note: str) -> str:
    return re.sub(r"<[^>]+>", "", note)


def test_optimal_network_states_its_slack_in_money_and_share(tiny: Results) -> None:
    note = quality_note(_with(tiny, status="optimal", objective_usd=100_000_000.0,
                              bound_usd=99_600_000.0, gap=0.004))
    assert 'class="quality"' in note  # not the warning colour
    assert _plain(note) == ("Optimal within the solver's tolerance: at most $400 k (0.4 %) "
                            "above the least-cost network.")


def test_time_limited_network_names_the_gap_and_the_stages_the_clock_ended(
        tiny: Results) -> None:
    note = quality_note(_with(tiny, status="feasible", objective_usd=140_745_894.16,
                              bound_usd=138_351_584.81, gap=0.017011575, solve_seconds=60.262,
                              stopped_by_clock=["strict kernel", "full MIP"]))
    assert 'class="quality warn"' in note
    assert _plain(note) == (
        "Not proven optimal: the best network found in 60 s is at most $2.4 M (1.7 %) above "
        "the least-cost network. Scenarios that differ by less than that cannot be told "
        "apart. The time limit stopped the search (strict kernel, full MIP): a longer one "
        "may find a cheaper network.")


def test_a_run_on_busy_cores_says_free_ones_may_do_better(tiny: Results) -> None:
    """summary.json `cores_not_free`: the solve shared the machine, so its network is not what
    the same run gives on free cores; a proven optimum needs no such word."""
    busy = "other work using 1.0 of its 2 cores"
    note = _plain(quality_note(_with(tiny, status="feasible", objective_usd=141_237_634.43,
                                     bound_usd=138_228_000.0, gap=0.0213, solve_seconds=60.4,
                                     stopped_by_clock=["full MIP"], cores_not_free=busy)))
    assert note.endswith("a longer one may find a cheaper network. The machine was busy "
                         "during the solve (other work using 1.0 of its 2 cores): on free "
                         "cores the same run may find a cheaper network.")
    proven = _plain(quality_note(_with(tiny, status="optimal", objective_usd=100.0,
                                       bound_usd=100.0, gap=0.0, cores_not_free=busy)))
    assert "busy" not in proven


def test_gap_met_without_the_clock_says_nothing_of_a_longer_limit(tiny: Results) -> None:
    note = _plain(quality_note(_with(tiny, status="feasible", objective_usd=10_000.0,
                                     bound_usd=9_000.0, gap=0.1, solve_seconds=2.4,
                                     stopped_by_clock=[])))
    assert note.endswith("$1 k (10.0 %) above the least-cost network. Scenarios that differ "
                         "by less than that cannot be told apart.")
    assert "in 2 s" in note


def test_margin_objective_is_bounded_from_above(tiny: Results) -> None:
    # the model minimises cost less revenue: a margin is a negative objective, the bound
    # below it
    note = _plain(quality_note(_with(tiny, status="optimal", objective_sense="margin",
                                     objective_usd=-50_000_000.0, bound_usd=-50_020_000.0,
                                     gap=0.0004)))
    assert "at most $20 k (0.04 %) below the highest-margin network" in note


@pytest.mark.parametrize("missing", [{"bound_usd": None, "bound": None}, {"gap": None},
                                     {"gap": float("nan")}])
def test_no_bound_is_said_plainly(tiny: Results, missing: dict) -> None:
    note = quality_note(_with(tiny, status="feasible", **missing))
    assert _plain(note).startswith("Not proven: the solver gave no bound")


def test_page_carries_the_note_under_its_title_after_the_round_trip(
        tiny: Results, tmp_path: Path) -> None:
    """tiny solves to optimality: its own figures, read back from the results folder."""
    tiny.write(tmp_path)
    back = Results.read(tmp_path)
    html = render_report(back)
    note = quality_note(back)
    slack = abs(back.summary["objective_usd"] - back.summary["bound_usd"])
    assert back.summary["status"] == "optimal" and note.startswith('<p class="quality">')
    assert note in html and html.index(note) < html.index('<section class="kpis">')
    assert html.index("</h1>") < html.index(note)
    assert f"at most {fmt_usd(slack)} (" in _plain(note)


def test_a_launch_timeline_is_bounded_over_its_horizon(tiny: Results) -> None:
    """A timeline's objective is the plan's present value over its periods, not a year's
    cost: the note says so rather than sit beside the yearly headline as if it were one."""
    settings = {**tiny.summary.get("settings", {}), "timeline": {"periods": 12}}
    note = _plain(quality_note(_with(tiny, status="optimal", objective_usd=300_000_000.0,
                                     bound_usd=299_000_000.0, gap=1 / 300, settings=settings)))
    assert "at most $1.0 M (0.3 %) above the least-cost plan (net present cost over the " \
           "horizon)" in note
