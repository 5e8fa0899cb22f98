"""`netopt validate` and `netopt data describe | schema | build-us`: checking and describing
a case and its dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from .common import EXIT_INVALID, console, err_console, load_or_exit, print_frame


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add `validate` to the top level and describe/schema/build-us to `netopt data`."""
    app.command()(validate)
    data_app.command("describe")(data_describe)
    data_app.command("schema")(data_schema)
    data_app.command("build-us")(data_build_us)
    data_app.command("zones")(data_zones)


def validate(
    model: Path = typer.Argument(..., help="Model file (YAML)."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
) -> None:
    """Check a model file and its dataset; report every problem at once."""
    from ..data.describe import summary_tables

    case = load_or_exit(model, strict)
    counts, demand = summary_tables(case)
    console.print(f"[bold green]Valid[/]: model '{case.name}' "
                  f"(dataset {case.dataset_path})")
    classes = sorted(set(demand["temperature_class"]))
    console.print(f"{len(demand)} products across {len(classes)} temperature classes "
                  f"({', '.join(classes)}); {demand['patients_per_year'].sum():,.0f} patients "
                  "per year in scope")
    print_frame(counts, "Rows per table")
    print_frame(demand, "Patients per year by product")


def data_describe(
    model: Path = typer.Argument(..., help="Model file (YAML)."),
    locations: bool = typer.Option(False, "--locations",
                                   help="List every place given by a location cell, with "
                                        "the place and coordinates it resolved to."),
) -> None:
    """Counts per table, patients per year by product and by state."""
    from ..data.describe import demand_by_state, summary_tables

    case = load_or_exit(model)
    if locations:
        if case.places.empty:
            console.print("no row is placed by a location cell")
        else:
            shown = case.places.assign(
                latitude=case.places["latitude"].map("{:.5f}".format),
                longitude=case.places["longitude"].map("{:.5f}".format))
            print_frame(shown, f"Places resolved from location cells ({len(shown)})")
        return
    counts, demand = summary_tables(case)
    print_frame(counts, "Rows per table")
    print_frame(demand, "Patients per year by product")
    print_frame(demand_by_state(case), "Patients per year by state")


def data_schema(
    table: str = typer.Argument(None, help="Only this table."),
    markdown: bool = typer.Option(False, "--markdown", help="Print Markdown instead."),
) -> None:
    """Print every input table's columns: type, unit, required, default, allowed values."""
    from ..data.schema import TABLES, schema_frame, schema_markdown

    if table is not None and table not in TABLES:
        err_console.print(f"unknown table '{table}'; known: {', '.join(TABLES)}")
        raise typer.Exit(EXIT_INVALID)
    if markdown:
        # plain text, not the console: a table row is one line whatever the width, so the
        # output redirected to a file is Markdown that renders
        sys.stdout.write(schema_markdown(table) + "\n")
        return
    frame = schema_frame()
    if table is not None:
        frame = frame[frame["table"] == table]
    print_frame(frame, "Input schema")


def data_build_us(
    out: Path = typer.Option(Path("data"), "--out", help="Folder to write us/ and us-small/ in."),
) -> None:
    """Regenerate the default US datasets (byte-identical on re-run)."""
    from ..data.builders import build_schema_readme, build_us, build_us_small

    files = build_us(out / "us") + build_us_small(out / "us-small") + [build_schema_readme(out)]
    console.print(f"wrote {len(files)} files under {out}")


def data_zones(
    states: str = typer.Option(..., "--states",
                               help="States to cover, comma-separated: MN,WI (codes or names)."),
    min_population: int = typer.Option(
        15000, "--min-population",
        help="Smallest place kept: 500, 1000, 5000 or 15000 people (the GeoNames extracts "
             "bundled offline)."),
    out: Path = typer.Option(Path("zones.csv"), "--out", help="CSV file to write."),
) -> None:
    """Write patient zones (zones.csv) for your own dataset: every GeoNames place of the
    given states, offline."""
    from ..data.builders import ZoneRequestError, write_zones, zones_for_states

    if out.is_dir():
        err_console.print(f"[bold red]error[/]: --out {out} is a folder; give a file such "
                          "as zones.csv", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    try:
        zones = zones_for_states([s.strip() for s in states.split(",") if s.strip()],
                                 min_population)
    except ZoneRequestError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    write_zones(zones, out)
    by_state = zones.groupby("state")["population"].agg(["size", "sum"])
    parts = [f"{st} {n:,} places, {int(pop):,} people" for st, (n, pop) in by_state.iterrows()]
    console.print(f"wrote {len(zones):,} zones to {out} ({'; '.join(parts)})", highlight=False)
