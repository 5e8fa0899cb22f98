"""`netopt explain RESULT_DIR SITE_ID [--product K]`: why a site was, or was not, chosen."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table as RichTable

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
    from .common import console, err_console, fail_input, solved_folder_and_case

    result, _, case = solved_folder_and_case(
        result_dir, ("sites", "hubs", "partners", "assignments", "costs"),
        "explain re-solves the model")
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
