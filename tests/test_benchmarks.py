"""Published optima through the real pipeline: OR-Library instances imported as datasets.

Benchmark files are read from ../shared/benchmarks (next to the repository) or from
NETOPT_BENCHMARKS; they are never copied into the repo, and the tests skip when absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netopt.cli.importers import import_app
from netopt.data.case import load_case
from netopt.data.importers import (
    PUBLISHED_CAP,
    PUBLISHED_PMED,
    import_orlib_cap,
    import_orlib_pmed,
    parse_orlib_pmed,
    shortest_paths,
)
from netopt.results.pipeline import solve_case

REPO = Path(__file__).resolve().parents[1]
REL_TOL = 1e-6
CAP_SMALL = ["cap41", "cap42", "cap43", "cap44", "cap51", "cap61", "cap62", "cap63", "cap64",
             "cap71", "cap72", "cap73", "cap74"]
PMED_SMALL = ["pmed1", "pmed2", "pmed3", "pmed4", "pmed5"]


def _benchmarks() -> Path:
    env = os.environ.get("NETOPT_BENCHMARKS")
    return Path(env) if env else REPO.parent / "shared" / "benchmarks"


def _instance(kind: str, name: str) -> Path:
    path = _benchmarks() / kind / f"{name}.txt"
    if not path.exists():
        pytest.skip(f"benchmark file {path} not found (set NETOPT_BENCHMARKS to the folder "
                    "holding orlib-cap/ and orlib-pmed/)")
    return path


def _rel_err(value: float, expected: float) -> float:
    return abs(value - expected) / abs(expected)


@pytest.mark.parametrize("name", CAP_SMALL)
def test_orlib_cap_published_optimum(name: str, tmp_path: Path) -> None:
    model = import_orlib_cap(_instance("orlib-cap", name), tmp_path)
    results = solve_case(load_case(model))
    assert results.summary["status"] == "optimal"
    assert _rel_err(results.summary["objective"], PUBLISHED_CAP[name]) <= REL_TOL
    # neutral tables: only fixed site costs and the explicit assignment costs remain
    costs = results.costs.set_index("term")["usd_per_year"]
    others = costs.drop(["site_fixed", "patient_travel", "total"])
    assert (others == 0).all(), others[others != 0]
    assert results.summary["patients_unserved"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.slow  # 1-4 s each: HiGHS on 10,000 strongly linked pairs
@pytest.mark.parametrize("name", PMED_SMALL)
def test_orlib_pmed_published_optimum(name: str, tmp_path: Path) -> None:
    model = import_orlib_pmed(_instance("orlib-pmed", name), tmp_path)
    case = load_case(model)
    results = solve_case(case)
    assert results.summary["status"] == "optimal"
    assert _rel_err(results.summary["objective"], PUBLISHED_PMED[name]) <= REL_TOL
    assert int(results.sites["active"].sum()) == case.config.sites.max_active


def test_import_is_deterministic(tmp_path: Path) -> None:
    file = _instance("orlib-cap", "cap41")
    a = import_orlib_cap(file, tmp_path / "a").parent
    b = import_orlib_cap(file, tmp_path / "b").parent
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_cli_import_then_solve(tmp_path: Path) -> None:
    from netopt.cli.app import app

    runner = CliRunner()
    out = tmp_path / "cap41"
    res = runner.invoke(import_app, ["orlib-cap", str(_instance("orlib-cap", "cap41")),
                                     "--out", str(out)])
    assert res.exit_code == 0, res.output
    model = out / "model.yaml"
    assert model.exists()
    res = runner.invoke(app, ["solve", str(model), "--out", str(tmp_path / "res"),
                              "--no-report"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert _rel_err(summary["objective"], PUBLISHED_CAP["cap41"]) <= REL_TOL


# ---------------------------------------------------------------- malformed input
# (these need no benchmark files)

CAP_TINY = "2 2\n10 5.\n10 7.\n3 1.5 3.0\n4\n8. 2\n"


def test_cap_tiny_by_hand(tmp_path: Path) -> None:
    """2 facilities x 2 customers, capacity 10 each: serving both from one facility costs
    5 + 1.5 + 8 = 14.5 (facility 1) or 7 + 3 + 2 = 12 (facility 2): the optimum is 12."""
    file = tmp_path / "tiny.txt"
    file.write_text(CAP_TINY)
    results = solve_case(load_case(import_orlib_cap(file, tmp_path / "out")))
    assert results.summary["objective"] == pytest.approx(12.0, rel=1e-9)
    costs = (tmp_path / "out" / "assignment_costs.csv").read_text().splitlines()
    assert costs[1:] == ["C0001,F001,P1,0.5", "C0001,F002,P1,1", "C0002,F001,P1,2",
                         "C0002,F002,P1,0.5"]


def test_cap_truncated(tmp_path: Path) -> None:
    file = tmp_path / "bad.txt"
    file.write_text(CAP_TINY.rsplit(" ", 1)[0])  # drop the last cost
    with pytest.raises(ValueError, match="truncated"):
        import_orlib_cap(file, tmp_path / "out")


def test_cap_non_numeric(tmp_path: Path) -> None:
    file = tmp_path / "bad.txt"
    file.write_text(CAP_TINY.replace("1.5", "1,5x"))
    with pytest.raises(ValueError, match=r"'1,5x' is not a number.*customer 1's cost"):
        import_orlib_cap(file, tmp_path / "out")


def test_cap_trailing_tokens(tmp_path: Path) -> None:
    file = tmp_path / "bad.txt"
    file.write_text(CAP_TINY + "99\n")
    with pytest.raises(ValueError, match="unexpected token"):
        import_orlib_cap(file, tmp_path / "out")


def test_cap_symbolic_capacity_needs_argument(tmp_path: Path) -> None:
    file = tmp_path / "capx.txt"
    file.write_text(CAP_TINY.replace("10 5.", "capacity 5.").replace("10 7.", "capacity 7."))
    with pytest.raises(ValueError, match="pass a capacity"):
        import_orlib_cap(file, tmp_path / "out")
    model = import_orlib_cap(file, tmp_path / "out", capacity=10)
    assert "capacity_patients_per_year" in (model.parent / "sites.csv").read_text()
    assert ",10," in (model.parent / "sites.csv").read_text().splitlines()[1]


def test_pmed_truncated_and_non_numeric(tmp_path: Path) -> None:
    file = tmp_path / "bad.txt"
    file.write_text("3 2 1\n1 2 5\n2 3\n")
    with pytest.raises(ValueError, match="truncated"):
        import_orlib_pmed(file, tmp_path / "out")
    file.write_text("3 2 1\n1 2 5\n2 three 4\n")
    with pytest.raises(ValueError, match="'three' is not a number"):
        import_orlib_pmed(file, tmp_path / "out")
    file.write_text("3 2 1\n1 2 5\n2 4 4\n")
    with pytest.raises(ValueError, match="vertex 4"):
        import_orlib_pmed(file, tmp_path / "out")


def test_pmed_last_duplicate_edge_wins(tmp_path: Path) -> None:
    file = tmp_path / "g.txt"
    file.write_text("3 3 1\n1 2 5\n2 3 4\n2 1 1\n")
    n, p, edges = parse_orlib_pmed(file)
    assert (n, p) == (3, 1)
    assert edges == {(0, 1): 1.0, (1, 2): 4.0}
    d = shortest_paths(n, edges)
    assert d.tolist() == [[0, 1, 5], [1, 0, 4], [5, 4, 0]]


@pytest.mark.parametrize("args", [
    ["orlib-cap", "{missing}", "--out", "{out}"],
    ["orlib-cap", "{bad}", "--out", "{out}"],
    ["orlib-pmed", "{bad}", "--out", "{out}"],
])
def test_cli_bad_input_exits_2(args: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("2 2\n10 5.\n10 x\n")
    names = {"missing": str(tmp_path / "nope.txt"), "bad": str(bad), "out": str(tmp_path / "o")}
    res = CliRunner().invoke(import_app, [a.format(**names) for a in args])
    assert res.exit_code == 2, res.output
    assert "Invalid input" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output
