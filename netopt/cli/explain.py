"""`netopt explain RESULT_DIR SITE_ID [--product K]`: why a site was, or was not, chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from .common import positive_seconds

MAX_MOVES = 15


def explain(
    result_dir: Path = typer.Argument(..., help="Folder written by `netopt solve --out`."),
    site_id: str = typer.Argument(..., help="The site to explain (site_id of sites.csv)."),
    product: str | None = typer.Option(None, "--product", "-p",
                                       help="Explain the site's offer of this product only."),
    time_limit: float | None = typer.Option(None, "--time-limit", callback=positive_seconds,
                                            help="Seconds for each re-solve (default: the "
                                            "model's)."),
    redesign: bool = typer.Option(False, "--redesign",
                                  help="Re-solve the whole network with the site flipped "
                                  "(from the solved one as a start) instead of holding the "
                                  "rest of it: network-wide effects, but within the solve's "
                                  "gap."),
) -> None:
    """Flip the site: forced open (or closed, if the solution has it open). By default the
    rest of the solved network is held and every flow re-optimised, with and without the
    flip, both to optimality; print the cost difference by term, the patients that move and
    the limits that bind for the site."""
    from ..analysis.explain import explain_site
    from ..data.problems import InputError
    from .common import console, err_console, fail_input, solved_folder_and_case

    result, _, case = solved_folder_and_case(
        result_dir, ("sites", "hubs", "partners", "assignments", "costs"),
        "explain re-solves the model")
    with err_console.status("re-solving with the site's decision flipped"):
        try:
            ex = explain_site(case, result, site_id, product, time_limit=time_limit,
                              redesign=redesign)
        except InputError as exc:
            fail_input(exc)
    what = f"{site_id}" + (f" / {product}" if product else "")
    console.print(f"[bold]{escape(what)}[/]: {ex.action}", highlight=False)
    base = "as solved" if ex.method == "redesign" else "network held"
    if ex.forced_cost_usd is not None:
        gap = f", gap {ex.gap:.2%}" if ex.gap is not None else ""
        if ex.method == "redesign":
            console.print(f"cost ${ex.baseline_cost_usd:,.0f}/yr as solved -> "
                          f"${ex.forced_cost_usd:,.0f}/yr {ex.action}, the whole network "
                          f"re-solved ({ex.difference_usd:+,.0f}; re-solve {ex.status}{gap})",
                          highlight=False)
            _noise_note(ex, result.summary.get("gap"))
        else:
            console.print(f"cost ${ex.solved_cost_usd:,.0f}/yr as solved; "
                          f"${ex.baseline_cost_usd:,.0f}/yr with the network held and its "
                          f"flows re-optimised -> ${ex.forced_cost_usd:,.0f}/yr {ex.action} "
                          f"({ex.difference_usd:+,.0f}; both re-solves {ex.status}{gap})",
                          highlight=False)
    for kind, offers in ex.held_changes.items():
        console.print(f"the held network, re-optimised, {kind} {len(offers)} offer(s) of the "
                      f"solved one: {', '.join(offers)}; the figures below are the held "
                      "network's", highlight=False, soft_wrap=True)
    if len(ex.costs):
        table = RichTable(title="Cost difference by term (USD/yr)")
        for col in ("term", base, ex.action, "difference"):
            table.add_column(col, justify="left" if col == "term" else "right")
        for r in ex.costs.itertuples(index=False):
            table.add_row(r.term, f"{r.baseline_usd:,.0f}", f"{r.forced_usd:,.0f}",
                          f"{r.difference_usd:+,.0f}")
        console.print(table)
    moves = ex.moves_around()
    if ex.neighbours:
        console.print(f"free to open, close or re-offer with it: {', '.join(ex.neighbours)} "
                      "(the nearest sites that could treat the same patients, open or not; "
                      "the rest of the network is held)", highlight=False)
    if len(moves):
        table = RichTable(title=f"Patients who move ({moves['patients_per_year'].sum():,.1f}"
                          f"/yr; largest {min(MAX_MOVES, len(moves))} shown)")
        for col in ("zone", "product", "from", "to", "patients/yr"):
            table.add_column(col, justify="right" if col == "patients/yr" else "left")
        for r in moves.head(MAX_MOVES).itertuples(index=False):
            table.add_row(escape(f"{r.zone_name} ({r.zone_id})"), r.product_id, r.from_site,
                          r.to_site, f"{r.patients_per_year:,.2f}")
        console.print(table)
    elif ex.forced_cost_usd is not None:
        console.print("no patient changes site" + (" near it" if ex.neighbours else ""))
    elsewhere = float(ex.moves["patients_per_year"].sum() - moves["patients_per_year"].sum()) \
        if len(ex.moves) else 0.0
    if elsewhere > 0.005:
        console.print(f"elsewhere {elsewhere:,.1f} patients/yr change site: knock-on effects "
                      "through plant and hub capacity, and routes of equal cost", highlight=False)
    console.print("[bold]limits[/]")
    for line in ex.limits:
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)


def _noise_note(ex: Any, solved_gap: float | None) -> None:
    """A redesign compares two time-limited solves: say when their gaps cover the difference,
    by the rule compare uses (`within_solver_gap`), so no one reads noise as the answer."""
    from ..analysis.scenarios import within_solver_gap
    from .common import console

    if ex.gap is None or solved_gap is None:
        return
    if within_solver_gap(ex.forced_cost_usd, ex.gap, ex.baseline_cost_usd, float(solved_gap)):
        console.print(f"~ within the two solves' gaps ({float(solved_gap):.2%} and "
                      f"{ex.gap:.2%}): the difference may be solver noise, not a result; "
                      "without --redesign the network is held and both sides are solved to "
                      "optimality", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
