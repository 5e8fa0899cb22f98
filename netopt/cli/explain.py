"""`netopt explain RESULT_DIR SITE_ID [--product K]`: why a site was, or was not, chosen."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table as RichTable

EXIT_INVALID = 2
MAX_MOVES = 15


def explain(
    result_dir: Path = typer.Argument(..., help="Folder written by `netopt solve --out`."),
    site_id: str = typer.Argument(..., help="The site to explain (site_id of sites.csv)."),
    product: str | None = typer.Option(None, "--product", "-p",
                                       help="Explain the site's offer of this product only."),
    time_limit: float | None = typer.Option(None, "--time-limit",
                                            help="Seconds for the re-solve (default: the "
                                            "model's)."),
) -> None:
    """Re-solve with the site forced open (or closed, if the solution has it open), starting
    from the solved network; print the cost difference by term, the patients that move and
    the limits that bind for the site."""
    from ..analysis.explain import explain_site
    from ..data.problems import InputError
    from ..results.tables import Results
    from .common import console, err_console, fail_input, load_or_exit, solver_or_exit

    summary_path = result_dir / "summary.json"
    if not summary_path.is_file():
        err_console.print(f"[red]{escape(str(summary_path))}: not found[/] - give a folder "
                          "written by `netopt solve`")
        raise typer.Exit(EXIT_INVALID)
    try:
        result = Results.read(result_dir)
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        for name in ("sites", "hubs", "partners", "assignments", "costs"):
            getattr(result, name)
    except (ValueError, OSError, KeyError, AttributeError) as exc:
        err_console.print(f"[red]{escape(str(result_dir))}: not a complete result folder "
                          f"({escape(str(exc))})[/]")
        raise typer.Exit(EXIT_INVALID) from None
    model_file = summary.get("model_file")
    if not model_file or not Path(model_file).is_file():
        err_console.print(f"[red]model file {escape(str(model_file))} not found: explain "
                          "re-solves the model[/]")
        raise typer.Exit(EXIT_INVALID)
    case = load_or_exit(Path(model_file))
    solver_or_exit(case.config.solver.name)
    with err_console.status("re-solving with the site's decision flipped"):
        try:
            ex = explain_site(case, result, site_id, product, time_limit=time_limit)
        except InputError as exc:
            fail_input(exc)
    what = f"{site_id}" + (f" / {product}" if product else "")
    console.print(f"[bold]{escape(what)}[/]: {ex.action}", highlight=False)
    if ex.forced_cost_usd is not None:
        gap = f", gap {ex.gap:.2%}" if ex.gap is not None else ""
        console.print(f"cost ${ex.baseline_cost_usd:,.0f}/yr as solved -> "
                      f"${ex.forced_cost_usd:,.0f}/yr {ex.action} "
                      f"({ex.difference_usd:+,.0f}; re-solve {ex.status}{gap})", highlight=False)
    if len(ex.costs):
        table = RichTable(title="Cost difference by term (USD/yr)")
        for col in ("term", "as solved", ex.action, "difference"):
            table.add_column(col, justify="left" if col == "term" else "right")
        for r in ex.costs.itertuples(index=False):
            table.add_row(r.term, f"{r.baseline_usd:,.0f}", f"{r.forced_usd:,.0f}",
                          f"{r.difference_usd:+,.0f}")
        console.print(table)
    if len(ex.moves):
        table = RichTable(title=f"Patients who move ({ex.moves['patients_per_year'].sum():,.1f}"
                          f"/yr; largest {min(MAX_MOVES, len(ex.moves))} shown)")
        for col in ("zone", "product", "from", "to", "patients/yr"):
            table.add_column(col, justify="right" if col == "patients/yr" else "left")
        for r in ex.moves.head(MAX_MOVES).itertuples(index=False):
            table.add_row(escape(f"{r.zone_name} ({r.zone_id})"), r.product_id, r.from_site,
                          r.to_site, f"{r.patients_per_year:,.2f}")
        console.print(table)
    elif ex.forced_cost_usd is not None:
        console.print("no patient changes site")
    console.print("[bold]limits[/]")
    for line in ex.limits:
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
