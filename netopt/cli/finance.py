"""`netopt finance RESULT_DIR`: ordering policies, expiries and working capital of a solved
network, with the return-policy trade-off."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table as RichTable

EXIT_INVALID = 2


def finance(
    result_dir: Path = typer.Argument(..., help="Folder written by `netopt solve --out`."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Where to write finance.html (default: RESULT_DIR)."),
) -> None:
    """Ordering policy per site, annual expiries, fill rate, working capital by holder and the
    return-policy trade-off (finance.html, return_tradeoff.csv)."""
    import pandas as pd

    from ..report import relink_report
    from ..report.finance import finance_totals, policy_mix, write_finance
    from ..results.folder import Run, results_folder
    from ..results.tables import read_summary
    from .common import analysis_folder, console, err_console

    target = analysis_folder(out, result_dir)
    summary_path = result_dir / "summary.json"
    table_path = result_dir / "finance.csv"
    for path in (summary_path, table_path):
        if not path.is_file():
            err_console.print(f"[bold red]error[/]: {escape(str(path))}: not found - give a "
                              "folder written by `netopt solve` (re-solve results from older "
                              "versions)")
            raise typer.Exit(EXIT_INVALID)
    try:
        summary = read_summary(summary_path)
        table = pd.read_csv(table_path, keep_default_na=False, na_values=[""])
    except (ValueError, OSError) as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(result_dir))}: cannot read the "
                          f"result: {escape(str(exc))}")
        raise typer.Exit(EXIT_INVALID) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:  # a hand-edited or truncated finance.csv: nothing is written
        err_console.print(f"[bold red]error[/]: {escape(str(table_path))}: not a finance "
                          f"table of `netopt solve`: no column {', '.join(map(repr, missing))} "
                          "(re-solve the model)", soft_wrap=True, highlight=False)
        raise typer.Exit(EXIT_INVALID)
    problems = _not_numbers(table, table_path)
    if problems:
        from ..data.problems import InputError
        from .common import fail_input

        fail_input(InputError(problems))
    model = str(summary.get("model") or result_dir.name)
    run = Run("finance", model=model, model_file=summary.get("model_file"),
              source=str(result_dir.absolute()))
    tradeoff, thresholds = _tradeoff(summary, table, err_console)
    with results_folder(target, run, attach=True) as staging:
        write_finance(table, tradeoff, model, staging.dir, products=_product_names(result_dir),
                      thresholds=thresholds)
        relink_report(target, staging.dir)  # the solved folder's one-pager links the page
    totals = finance_totals(table)
    paths = staging.written

    mix = policy_mix(table)
    rich = RichTable(title=f"Ordering policies - {model}")
    for col in mix.columns:
        rich.add_column(col, justify="left" if col == "policy" else "right")
    for row in mix.itertuples(index=False):
        rich.add_row(*(str(v) if isinstance(v, str) else f"{v:,.1f}" for v in row))
    console.print(rich)
    lines = RichTable(title="Expiries and working capital (per year / average)")
    lines.add_column("figure")
    lines.add_column("value", justify="right")
    for key, value in totals.items():
        lines.add_row(key, f"{value:,.1f}" if "doses" in key else f"${value:,.0f}")
    console.print(lines)
    if not isinstance(tradeoff, str) and not tradeoff.empty:
        t = RichTable(title="Return policy trade-off (chosen network)")
        for col in ("returnable_fraction", "sites_willing", "site_products_willing",
                    "manufacturer_writeoff_usd", "expired_doses_per_year"):
            t.add_column(col, justify="right")
        for r in tradeoff.itertuples(index=False):
            t.add_row(f"{r.returnable_fraction:.0%}", f"{r.sites_willing:,}",
                      f"{r.site_products_willing:,}", f"${r.manufacturer_writeoff_usd:,.0f}",
                      f"{r.expired_doses_per_year:,.1f}")
        console.print(t)
    if thresholds is not None and not thresholds.empty:
        console.print(_thresholds_line(thresholds), soft_wrap=True, highlight=False)
    console.print(f"wrote {', '.join(str(p) for p in paths)}")


#: finance.csv columns the page, the totals and the return trade-off read (each found by
#: dropping it from a solved finance.csv): checked before anything is written
REQUIRED_COLUMNS = ("site_id", "site_name", "product_id", "policy", "patients_per_year",
                    "doses_per_year", "avg_inventory_value_usd", "expired_doses_per_year",
                    "expired_usd", "manufacturer_writeoff_usd", "site_loss_usd",
                    "holding_cost_usd", "working_capital_manufacturer_usd",
                    "working_capital_distributor_usd", "working_capital_site_usd")
#: finance.csv columns of text; every other column the solve wrote holds numbers
TEXT_COLUMNS = frozenset({"row", "site_id", "site_name", "state", "product_id", "policy",
                          "title_holder", "route", "stock_point", "depot_id",
                          "site_accepts_stocking", "method"})


def _not_numbers(table, path: Path) -> list:  # noqa: ANN001 - a DataFrame; list[Problem]
    """Cells of the numeric columns that are not numbers (a hand-edited finance.csv): each
    named by spreadsheet row and column, rather than a TypeError from the page's sums."""
    import pandas as pd

    from ..data.problems import Problem

    problems = []
    for col in (c for c in table.columns if c not in TEXT_COLUMNS):
        values = table[col]
        bad = values.notna() & pd.to_numeric(values, errors="coerce").isna()
        problems += [Problem(str(path), int(i) + 2, str(col), "expected a number",
                             str(values.iloc[i])) for i in bad.to_numpy().nonzero()[0]]
    return problems


def _thresholds_line(thresholds) -> str:  # noqa: ANN001 - a DataFrame
    """The site-products a more generous return policy would win, by the share each needs."""
    need = thresholds["returnable_fraction_to_stock"].astype(float)
    later = thresholds[need > thresholds["current_returnable_fraction"].astype(float) + 1e-9]
    if later.empty:
        return "no site-product would start stocking at a higher returnable share"
    shown = ", ".join(f"{r.site_id} {r.product_id} from {r.returnable_fraction_to_stock:.0%}"
                      for r in later.head(6).itertuples(index=False))
    more = f" and {len(later) - 6} more" if len(later) > 6 else ""
    return (f"a higher returnable share would win {len(later)} site-product(s): {shown}{more} "
            "(return_thresholds.csv)")


def _tradeoff(summary: dict, table, err_console):  # noqa: ANN001, ANN202
    """The trade-off and each site's threshold (analysis/finance) need the case (terms,
    lanes): re-load the model the result came from. Without it, why they were skipped (and
    no thresholds)."""
    from ..analysis.finance import return_tradeoff, stocking_thresholds
    from ..model.prepare import prepare
    from .common import result_case_or_exit, warn_if_inputs_changed

    model_file = summary.get("model_file")
    if not model_file or not Path(model_file).is_file():
        why = (f"the model file {model_file} the result was solved from is not found (the "
               "trade-off re-prices the products' terms on its data)")
        err_console.print(f"[yellow]warning[/]: return-policy trade-off skipped: {escape(why)}",
                          soft_wrap=True, highlight=False)
        return why, None
    case = result_case_or_exit(Path(model_file), summary)
    warn_if_inputs_changed(summary, case)
    prep = prepare(case)
    return return_tradeoff(prep, table), stocking_thresholds(prep, table)


def _product_names(result_dir: Path) -> dict[str, str]:
    """Product id -> name from the result's products.csv ({} when it is missing)."""
    import pandas as pd

    path = result_dir / "products.csv"
    try:
        p = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError):
        return {}
    if not {"product_id", "name"} <= set(p.columns):
        return {}
    return dict(zip(p["product_id"], p["name"], strict=True))


def register(app: typer.Typer) -> None:
    app.command("finance")(finance)
