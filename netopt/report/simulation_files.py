"""Write a simulation: tidy CSV tables, summary.json, simulation.html and the workbook sheet
(on a copy of the solve's workbook).

Nothing written depends on the clock or the machine (but the manifest's time stamp), so the
same inputs and seed give byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..analysis.simulation import SimulationResult
from ..results.folder import Run, results_folder

TABLES = ("kpis", "products", "hubs", "site_products", "delays", "replications")
HTML_FILE = "simulation.html"
WORKBOOK_FILE = "network.xlsx"


def write_simulation(sim: SimulationResult, out: Path, workbook: Path | None = None,
                     workbook_out: Path | None = None) -> list[Path]:
    """Write every table as CSV plus summary.json and simulation.html into `out`, as one run
    added to what the folder holds (see results/folder.py). When `workbook` (the solve's
    network.xlsx) exists, a copy of it with a `simulation` sheet is saved as `workbook_out`
    (default: out/network.xlsx); the solve's own workbook is never changed. `workbook_out`
    elsewhere is for a caller staging a larger run (`netopt simulate` puts the sheet in
    RESULT_DIR/network.xlsx). Returns the paths written."""
    from .simulation import append_simulation_sheet, write_simulation_report

    net = sim.network
    run = Run("simulate", model=net.model_name, model_file=str(net.model_file),
              source=str(net.result_dir))
    with results_folder(Path(out), run, attach=True) as staging:
        folder = staging.dir
        paths = []
        if workbook is not None and workbook.is_file():
            target = workbook_out or folder / WORKBOOK_FILE
            if not staging.nested and not target.is_relative_to(folder):
                raise ValueError(f"{target}: a workbook copy goes inside {out}")
            if append_simulation_sheet(sim, workbook, save_as=target):
                paths.append(target)
            else:
                sim.warnings.append(f"{workbook}: not a readable workbook; no sheet added")
        for name in TABLES:
            path = folder / f"{name}.csv"
            sim.tables[name].to_csv(path, index=False, lineterminator="\n")
            paths.append(path)
        path = folder / "summary.json"
        path.write_text(json.dumps(summary_dict(sim), indent=2, allow_nan=False) + "\n")
        paths.append(path)
        paths.append(write_simulation_report(sim, folder / HTML_FILE))
    return staging.final(paths)


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
