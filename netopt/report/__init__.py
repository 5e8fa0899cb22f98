"""Reports of a solved network: interactive map, one-page HTML report, its details appendix
and the Excel workbook.

`write_reports` is what `netopt solve` and `netopt report` call; each writer can also be used
alone (build_map for notebooks, write_workbook for a planner's re-cut).
"""

from __future__ import annotations

from pathlib import Path

from ..results.folder import results_folder
from ..results.tables import Results
from .details import write_details
from .maps import build_map, write_map
from .onepager import write_report
from .workbook import write_workbook

MAP_FILE = "map.html"
REPORT_FILE = "report.html"
DETAILS_FILE = "details.html"
FINANCE_FILE = "finance.html"
WORKBOOK_FILE = "network.xlsx"


def write_reports(result: Results, out: Path) -> list[Path]:
    """Write map.html, report.html, details.html and network.xlsx into `out` as one run, added
    to what the folder holds (`netopt report`; see results/folder.py); return their paths."""
    with results_folder(Path(out), result.run("report"), attach=True) as staging:
        # a finance page the folder keeps (netopt report adds to it; a new solve replaces it)
        kept = not staging.nested and (Path(out) / FINANCE_FILE).exists()
        paths = [
            write_map(result, staging.dir / MAP_FILE),
            write_report(result, staging.dir / REPORT_FILE, map_href=MAP_FILE,
                         details_href=DETAILS_FILE, finance_href=FINANCE_FILE if kept else None),
            write_details(result, staging.dir / DETAILS_FILE, report_href=REPORT_FILE,
                          map_href=MAP_FILE),
            write_workbook(result, staging.dir / WORKBOOK_FILE),
        ]
    return staging.final(paths)


__all__ = ["build_map", "write_details", "write_map", "write_report", "write_reports",
           "write_workbook"]
