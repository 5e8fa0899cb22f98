"""Write a simulation: tidy CSV tables, summary.json, simulation.html and the workbook sheet.

Nothing written depends on the clock or the machine, so the same inputs and seed give
byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..analysis.simulation import SimulationResult

TABLES = ("kpis", "products", "hubs", "site_products", "delays", "replications")
HTML_FILE = "simulation.html"
WORKBOOK_FILE = "network.xlsx"


def write_simulation(sim: SimulationResult, out: Path,
                     workbook: Path | None = None) -> list[Path]:
    """Write every table as CSV plus summary.json and simulation.html into `out`; append a
    `simulation` sheet to `workbook` when it exists. Returns the paths written."""
    from .simulation import append_simulation_sheet, write_simulation_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TABLES:
        path = out / f"{name}.csv"
        sim.tables[name].to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    path = out / "summary.json"
    path.write_text(json.dumps(summary_dict(sim), indent=2, allow_nan=False) + "\n")
    paths.append(path)
    paths.append(write_simulation_report(sim, out / HTML_FILE))
    if workbook is not None and workbook.is_file():
        if append_simulation_sheet(sim, workbook):
            paths.append(workbook)
        else:
            sim.warnings.append(f"{workbook}: not a readable workbook; no sheet added")
    return paths


def summary_dict(sim: SimulationResult) -> dict:
    """What was simulated and the headline KPIs (means), for scripts and comparisons."""
    kpis = {k: (None if v != v else v)  # NaN -> null
            for k, v in zip(sim.tables["kpis"]["kpi"], sim.tables["kpis"]["mean"], strict=True)}
    net = sim.network
    return {
        "model": net.model_name,
        "result_dir": str(net.result_dir),
        "model_file": str(net.model_file),
        "settings": sim.settings.model_dump(mode="json"),
        "flows": int(len(net.flows)),
        "lanes": int(len(net.lanes)),
        "warnings": list(sim.warnings),
        "kpis": kpis,
    }
