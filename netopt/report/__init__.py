"""Reports of a solved network: interactive map, one-page HTML report, its details appendix
and the Excel workbook.

`write_reports` is what `netopt solve` and `netopt report` call; each writer can also be used
alone (build_map for notebooks, write_workbook for a planner's re-cut).
"""

from __future__ import annotations

from pathlib import Path

from ..results.tables import Results
from .details import write_details
from .maps import build_map, write_map
from .onepager import write_report
from .workbook import write_workbook

MAP_FILE = "map.html"
REPORT_FILE = "report.html"
DETAILS_FILE = "details.html"
WORKBOOK_FILE = "network.xlsx"


def write_reports(result: Results, out: Path) -> list[Path]:
    """Write map.html, report.html, details.html and network.xlsx into `out`; return their
    paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_map(result, out / MAP_FILE),
        write_report(result, out / REPORT_FILE, map_href=MAP_FILE, details_href=DETAILS_FILE),
        write_details(result, out / DETAILS_FILE, report_href=REPORT_FILE, map_href=MAP_FILE),
        write_workbook(result, out / WORKBOOK_FILE),
    ]


__all__ = ["build_map", "write_details", "write_map", "write_report", "write_reports",
           "write_workbook"]
