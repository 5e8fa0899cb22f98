"""Every script in examples/ runs as documented and writes the files it promises.

Each example declares `OUTPUTS` (the files it writes into --out); new scripts are picked up
automatically. The strategist example is also checked against direct solves.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from openpyxl import load_workbook

import netopt

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
US_SMALL = ROOT / "models" / "us-small.yaml"

Run = tuple[subprocess.CompletedProcess, Path]


def _outputs(script: Path) -> list[str]:
    """The module-level OUTPUTS list, read without running the script."""
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "OUTPUTS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{script.name} declares no OUTPUTS list")


def _module(script: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(script.stem, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_example(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """Run a script once per test session (from an unrelated folder, as a user would)."""
    done: dict[str, Run] = {}

    def run(name: str) -> Run:
        if name not in done:
            work = tmp_path_factory.mktemp(Path(name).stem)
            out = work / "out"
            proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--out",
                                   str(out)], cwd=work, capture_output=True, text=True,
                                  timeout=600)
            done[name] = (proc, out)
        return done[name]

    return run


def test_the_documented_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"strategist_compare.py", "executive_onepager.py"} <= names
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    assert [n for n in sorted(names) if f"({n})" not in readme] == []


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_writes_what_it_promises(script: Path,
                                                  run_example: Callable[[str], Run]) -> None:
    assert ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))), "docstring"
    outputs = _outputs(script)
    proc, out = run_example(script.name)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for name in outputs:
        path = out / name
        assert path.is_file(), name
        if path.suffix == ".csv":
            assert len(pd.read_csv(path).columns) > 1, name
        elif path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
            assert len(text) > 2000 and "</html>" in text, name
        elif path.suffix == ".xlsx":
            sheets = load_workbook(path, read_only=True).worksheets
            assert any((ws.max_row or 0) > 1 for ws in sheets), name
        elif path.suffix == ".json":
            assert json.loads(path.read_text()), name
        else:
            assert path.stat().st_size > 0, name


def test_strategist_comparison_matches_direct_solves(
        run_example: Callable[[str], Run]) -> None:
    """compare.csv holds the two scenarios with the objectives of solving the example's own
    cases directly; the outage cannot beat the baseline's proven bound."""
    proc, out = run_example("strategist_compare.py")
    assert proc.returncode == 0, proc.stderr[-3000:]
    example = _module(ROOT / "examples" / "strategist_compare.py")
    rows = pd.read_csv(out / "compare.csv")
    assert rows["scenario"].tolist() == example.NAMES
    assert rows["status"].tolist() == ["optimal", "optimal"]
    base, outage = (netopt.solve(case) for case in example.scenario_cases(US_SMALL))
    assert rows["objective_usd"].tolist() == pytest.approx([base.objective, outage.objective],
                                                           rel=1e-9)
    assert outage.objective >= base.summary["bound"]
    assert not outage.hubs.set_index("hub_id").at["H09", "active"]  # H09 is ATL
    changes = pd.read_csv(out / "site_changes.csv")
    assert set(changes["scenario"]) <= {example.NAMES[1]}
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert all(name in page for name in example.NAMES)
    assert f"${outage.objective - base.objective:,.0f} a year" in proc.stdout


def test_executive_onepager_points_at_its_pages(run_example: Callable[[str], Run]) -> None:
    proc, out = run_example("executive_onepager.py")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"one-page report: {out / 'report.html'}" in proc.stdout
    assert f"interactive map: {out / 'map.html'}" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "us-small" and summary["status"] == "optimal"
    assert "us-small" in (out / "report.html").read_text(encoding="utf-8")
