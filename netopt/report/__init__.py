"""Reports of a solved network: interactive map, one-page HTML report, its details appendix
and the Excel workbook.

`write_reports` is what `netopt solve` and `netopt report` call; each writer can also be used
alone (build_map for notebooks, write_workbook for a planner's re-cut). `relink_report` keeps
a folder's one-pager linking the analysis pages (finance, resilience, simulation) added to it.
"""

from __future__ import annotations

from pathlib import Path

from ..results.folder import results_folder, written_unchanged
from ..results.tables import Results
from .details import write_details
from .maps import build_map, write_map
from .onepager import ANALYSIS_PAGES, analysis_pages, render_report, write_report
from .workbook import carry_sheets, write_workbook

MAP_FILE = "map.html"
REPORT_FILE = "report.html"
DETAILS_FILE = "details.html"
WORKBOOK_FILE = "network.xlsx"
#: analysis page -> the sheet that analysis adds to network.xlsx
ANALYSIS_SHEETS = {"resilience.html": "resilience", "simulation/simulation.html": "simulation"}


def write_reports(result: Results, out: Path, source: Path | None = None) -> list[Path]:
    """Write map.html, report.html, details.html and network.xlsx into `out` as one run, added
    to what the folder holds (`netopt report`; see results/folder.py); return their paths.
    `source`: the result folder the tables were read from, recorded as the run's source."""
    run = result.run("report")
    if source is not None:
        run.source = str(Path(source).absolute())
    with results_folder(Path(out), run, attach=True) as staging:
        # analysis pages the folder keeps (netopt report adds to it; a new solve, staged
        # around this run, replaces them, so only what is staged counts then)
        pages = analysis_pages(staging.dir) if staging.nested else \
            analysis_pages(Path(out), staging.dir)
        paths = [
            write_map(result, staging.dir / MAP_FILE),
            write_report(result, staging.dir / REPORT_FILE, map_href=MAP_FILE,
                         details_href=DETAILS_FILE, pages=pages),
            write_details(result, staging.dir / DETAILS_FILE, report_href=REPORT_FILE,
                          map_href=MAP_FILE),
            write_workbook(result, staging.dir / WORKBOOK_FILE),
        ]
        if not staging.nested:  # the folder's analyses stay, and so do their sheets
            carry_sheets(Path(out) / WORKBOOK_FILE, staging.dir / WORKBOOK_FILE,
                         [sheet for page, sheet in ANALYSIS_SHEETS.items() if page in pages])
    return staging.final(paths)


def write_scenario_folders(comparison: object, out: Path, command: str,
                           reports: bool = True) -> list[Path]:
    """Each solved scenario of a batch kept with its results (`compare --scenario-folders`)
    as a result folder of its own in `out`/scenarios/<name>/, as `netopt solve` writes it
    (tables, then, unless reports=False, the pages); inside a staged batch folder each one
    gets its own manifest (see results/folder.py). Returns the paths written."""
    kept = getattr(comparison, "results", None) or {}
    folders = comparison.scenario_folders() if kept else {}  # type: ignore[attr-defined]
    paths: list[Path] = []
    for name, rel in folders.items():
        result = kept[name]
        with results_folder(Path(out) / rel, result.run(f"{command} (scenario)")) as staging:
            paths += result.write(staging.dir)
            if reports:
                paths += write_reports(result, staging.dir)
    return paths


def write_resilience_files(res: object, model: str, target: Path, staged: Path,
                           book: Path | None) -> list[Path]:
    """What an N-1 analysis adds to a folder, staged in `staged` for `target`: the ranked
    table (resilience.csv), its page, a copy of the solve's workbook `book` with the
    resilience sheet (when given and it exists) and the folder's one-pager relinked. One
    sequence for `netopt resilience` and `Resilience.write`. Returns the staged paths."""
    from .resilience import write_resilience
    from .workbook import append_table_sheet

    table = res.table  # type: ignore[attr-defined]
    paths = [staged / "resilience.csv"]
    table.to_csv(paths[0], index=False, lineterminator="\n")
    paths.append(write_resilience(res, model, staged))  # type: ignore[arg-type]
    if book is not None and book.is_file() and append_table_sheet(
            book, "resilience", table, save_as=staged / "network.xlsx"):
        paths.append(staged / "network.xlsx")
    paths += [p for p in [relink_report(target, staged)] if p is not None]
    return paths


def relink_report(folder: Path, staged: Path) -> Path | None:
    """Keep a solved folder's report.html linking its analysis pages when an analysis adds
    one: called by the analysis inside its run, with `staged` the staging folder that stands
    for `folder`. The report is rendered again from the folder's tables, linking every
    analysis page the folder holds or is about to receive, and staged so that the run
    commits it with its own files (the manifest keeps it the solve's, with its new
    checksum). Nothing is written when `folder` holds no solved result, when its report.html
    is not netopt's or was changed since netopt wrote it, or when the report would not
    change. Returns the staged report.html, or None."""
    folder = Path(folder)
    if not (folder / "summary.json").is_file() or not written_unchanged(folder, REPORT_FILE):
        return None
    result = Results.read(folder)
    page = render_report(
        result, map_href=MAP_FILE if (folder / MAP_FILE).is_file() else None,
        details_href=DETAILS_FILE if (folder / DETAILS_FILE).is_file() else None,
        pages=analysis_pages(folder, staged))
    if page == (folder / REPORT_FILE).read_text(encoding="utf-8"):
        return None
    path = Path(staged) / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path


__all__ = ["ANALYSIS_PAGES", "build_map", "relink_report", "write_details", "write_map",
           "write_report", "write_reports", "write_resilience_files", "write_scenario_folders",
           "write_workbook"]
