"""A case: a model file, its dataset typed and edited, ready for `prepare`.

`load_case` is the one entry point for "load -> validate": it returns a Case or raises an
InputError carrying every problem found.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .builders import gazetteer_zones
from .config import Edit, ModelConfig
from .io import LoadedModel, load_model, read_tables
from .locations import PLACE_COLUMNS, affiliate_kols, drop_blank_repeats, place_by_location
from .problems import InputError, Problem, errors, sort_problems
from .schema import TABLES, Column
from .states import check_states
from .tables import RawTable
from .validate import (
    check_areas,
    check_cadence,
    check_margins,
    check_references,
    did_you_mean,
    parse_table,
    split_list,
)


@dataclass
class Case:
    """Everything a model needs: settings and typed input tables (products already scoped)."""

    config: ModelConfig
    tables: dict[str, pd.DataFrame]
    model_path: Path | None = None
    dataset_path: Path | None = None
    warnings: list[Problem] = field(default_factory=list)
    #: rows placed by a `location` cell: table, row, id, location, place, state, coordinates
    places: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PLACE_COLUMNS))

    @property
    def name(self) -> str:
        return self.config.name

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in TABLES:
            return tables.get(name, _empty(name))
        raise AttributeError(name)

    def patients_by_product(self) -> pd.Series:
        """Patients per year by product: incidence x population / 100k x demand scale."""
        rates = self.incidence_by_zone()
        pop = self.zones["population"].to_numpy()
        patients = rates.mul(pop, axis=0).sum(axis=0) / 1e5 * self.config.demand_scale
        return patients.rename("patients_per_year").rename_axis("product_id")

    def incidence_by_zone(self) -> pd.DataFrame:
        """Patients per 100k per year, one row per zone (in zones order), one column per
        product: the incidence table's rate for the zone's state where it has one, the
        product's incidence_per_100k elsewhere."""
        return zone_incidence(self.zones, self.products, self.incidence)


def zone_incidence(zones: pd.DataFrame, products: pd.DataFrame,
                   incidence: pd.DataFrame) -> pd.DataFrame:
    """Incidence per zone and product (see Case.incidence_by_zone)."""
    uniform = products.set_index("product_id")["incidence_per_100k"].astype(float)
    rates = pd.DataFrame(np.tile(uniform.to_numpy(), (len(zones), 1)),
                         columns=uniform.index, index=zones.index)
    if len(incidence) == 0:
        return rates
    state = zones["state"].to_numpy()
    for pid, st, rate in zip(incidence["product_id"], incidence["state"],
                             incidence["per_100k"], strict=True):
        if pid in rates.columns:
            rates.loc[state == st, pid] = float(rate)
    return rates


def _empty(name: str) -> pd.DataFrame:
    """An empty table of the schema's columns (an optional input the case does not have).
    Built once per name (1 ms each, and the results ask for one ~400 times a solve), then
    copied, so a caller that changes it changes only its own."""
    return _empty_table(name).copy()


@functools.cache
def _empty_table(name: str) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype="object") for c in TABLES[name].columns})


def load_case(model_file: str | Path, strict: bool = False) -> Case:
    """Load and validate a model file and its dataset; raise InputError listing every error
    (and, with strict, every warning)."""
    loaded, problems = load_model(model_file)
    if loaded is None:
        raise InputError(sort_problems(problems))
    case, more = case_from_loaded(loaded)
    problems += more
    failing = problems if strict else errors(problems)
    if failing or case is None:
        if strict:
            problems = [Problem(p.file, p.row, p.column, p.message, p.value, "error")
                        for p in problems]
        raise InputError(sort_problems(problems))
    case.warnings = sort_problems(problems)
    return case


def case_from_loaded(loaded: LoadedModel) -> tuple[Case | None, list[Problem]]:
    raw, problems = read_tables(loaded.dataset_path)
    problems += _gazetteer_zones(raw, loaded)
    masks, probs = _apply_set_edits(raw, loaded.config.edits, loaded)
    problems += probs
    placed = place_by_location(raw)
    problems += placed.problems
    tables: dict[str, pd.DataFrame] = {}
    files = {name: table.file for name, table in raw.items()}
    # a cell already reported as unreadable (a formula without a saved value), or a row
    # reported whole (a blank row of a sheet), is not also reported cell by cell as blank
    unread = {(p.file, p.row, p.column) for p in errors(problems) if p.row is not None}
    for name, table in raw.items():
        typed, probs = parse_table(TABLES[name], table)
        probs = [p for p in drop_blank_repeats(probs, placed.failed)
                 if (p.file, p.row, p.column) not in unread
                 and (p.file, p.row, None) not in unread]
        problems += _blame_edits(probs, name, masks, loaded)
        tables[name] = typed
    # references are checked on whatever parsed, so dangling ids show up with the rest
    problems += check_references(tables, files)
    if errors(problems):
        return None, _warnings_at_edits(problems, files, masks, loaded)
    problems += affiliate_kols(tables, placed.places, files)
    problems += _apply_scale_edits(tables, loaded.config.edits, masks, loaded)
    problems += _check_semantics(tables, files, loaded.config, loaded)
    problems += _check_kol_rule(tables, loaded.config, loaded)
    problems += _check_shelf_budget(tables, files)
    if "products" in tables:
        problems += check_cadence(tables["products"], files["products"])
        problems += check_margins(tables["products"], files["products"],
                                  loaded.config.service.allow_unserved, loaded.config.products)
    problems += _check_incidence(tables, files)
    problems += check_states(tables, files)
    problems += check_areas(tables, files, require=loaded.config.kols.mode == "require")
    if errors(problems):
        return None, _warnings_at_edits(problems, files, masks, loaded)
    scoped = _scope_products(tables, loaded.config)
    case = Case(loaded.config, scoped, loaded.path, loaded.dataset_path,
                places=placed.places)
    problems += _products_without_patients(case, tables["products"], files["products"],
                                           loaded)
    return case, _warnings_at_edits(problems, files, masks, loaded)


def _gazetteer_zones(raw: dict[str, RawTable], loaded: LoadedModel) -> list[Problem]:
    """`zones.gazetteer_extract`: put every place of the GeoNames extract in the zones
    table's states in its place (before edits and typing, so both apply as to a zones.csv)."""
    extract = loaded.config.zones.gazetteer_extract
    if extract is None:
        return []
    table = raw.get("zones")
    column = table.frame["state"] if table is not None and "state" in table.frame else []
    states = sorted({str(s).strip().upper() for s in column if str(s).strip()})
    if not states:
        file, line = loaded.where("zones", "gazetteer_extract")
        return [Problem(file, line, "zones.gazetteer_extract",
                        "the dataset's zones table lists no state: give its zones a state "
                        "column (the extract's places are taken in those states)")]
    frame = gazetteer_zones(states, extract)
    shown = table.file if table is not None else "zones"
    raw["zones"] = RawTable("zones", f"{shown} (GeoNames places >= {extract} people)", frame)
    return []


def _edit_at(loaded: LoadedModel, index: int, *key: str) -> tuple[str, int | None, str]:
    """(file, line, column) of an edit's key, for problems found while applying it."""
    return (*loaded.where("edits", index, *key), ".".join(["edits", str(index), *key]))


def _matching_rows(frame: pd.DataFrame, where: dict) -> tuple[pd.Series, str | None]:
    mask = pd.Series(True, index=frame.index)
    for column, wanted in where.items():
        if column not in frame.columns:
            return mask, f"unknown column '{column}' in where"
        values = wanted if isinstance(wanted, list) else [wanted]
        cells = frame[column].astype(str)
        mask &= cells.isin([_text(v) for v in values])
    return mask, None


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _apply_set_edits(raw: dict[str, RawTable], edits: list[Edit],
                     loaded: LoadedModel) -> tuple[dict[int, pd.Series], list[Problem]]:
    """`set` edits change cells before typing, so edited values are validated like any other.
    Returns each edit's row mask (matched on the text as written, so a later `scale` of the
    same edit hits the same rows) and the problems found."""
    problems: list[Problem] = []
    masks: dict[int, pd.Series] = {}
    for i, edit in enumerate(edits):
        if edit.table not in TABLES:
            problems.append(Problem(*_edit_at(loaded, i, "table"),
                                    f"unknown table (expected one of {', '.join(TABLES)})",
                                    edit.table))
            continue
        if edit.table not in raw:
            problems.append(Problem(*_edit_at(loaded, i, "table"),
                                    f"table '{edit.table}' is not in the dataset"))
            continue
        frame = raw[edit.table].frame
        mask, err = _matching_rows(frame, edit.where)
        if err:
            problems.append(Problem(*_edit_at(loaded, i, "where"), err))
            continue
        masks[i] = mask
        if not mask.any():
            problems.append(Problem(*_edit_at(loaded, i, "where"),
                                    f"no row of {edit.table} matches {edit.where}",
                                    severity="warning"))
        for column, value in edit.set.items():
            if column not in TABLES[edit.table].names:
                problems.append(Problem(*_edit_at(loaded, i, "set", column),
                                        f"unknown column of {edit.table} in set", column))
                continue
            if column not in frame.columns:
                frame[column] = ""
            frame.loc[mask, column] = _text(value)
    return masks, problems


def _edited_cells(masks: dict[int, pd.Series], loaded: LoadedModel
                  ) -> dict[tuple[str, int, str], tuple[int, str]]:
    """(table, spreadsheet row, column) -> (edit index, 'set' or 'scale') for every cell an
    edit writes; the last edit of a cell wins."""
    cells: dict[tuple[str, int, str], tuple[int, str]] = {}
    for i, mask in masks.items():
        edit = loaded.config.edits[i]
        for pos in mask.to_numpy().nonzero()[0]:
            for kind in ("set", "scale"):
                for column in getattr(edit, kind) or {}:
                    cells[(edit.table, int(pos) + 2, column)] = (i, kind)
    return cells


def _blame_edits(problems: list[Problem], table: str, masks: dict[int, pd.Series],
                 loaded: LoadedModel) -> list[Problem]:
    """A bad value written by a `set` edit is reported at its cell *and* at the edit, since
    the table itself does not hold it."""
    cells = _edited_cells(masks, loaded)
    out = []
    for p in problems:
        i, kind = cells.get((table, p.row or 0, p.column or ""), (None, ""))
        if i is not None and kind == "set":
            file, line = loaded.where("edits", i, "set", p.column)
            at = f"{file}, line {line}" if line else file
            p = replace(p, message=f"{p.message}; the value is set by edits.{i} ({at})")
        out.append(p)
    return out


def _warnings_at_edits(problems: list[Problem], files: dict[str, str],
                       masks: dict[int, pd.Series], loaded: LoadedModel) -> list[Problem]:
    """A warning about a cell an edit wrote points at the edit (model file and line, or
    the with_changes edit), where the user can act on it, naming the cell it concerns."""
    cells = _edited_cells(masks, loaded)
    if not cells:
        return problems
    table_of = {file: name for name, file in files.items()}
    out = []
    for p in problems:
        key = (table_of.get(p.file, ""), p.row or 0, p.column or "")
        if p.severity == "warning" and key in cells:
            i, kind = cells[key]
            verb = "set" if kind == "set" else "scaled"
            file, line, column = _edit_at(loaded, i, kind, key[2])
            if line is None and file.endswith("]"):  # an edit given in Python: name its key
                column = f"{kind}.{key[2]}"
            p = Problem(file, line, column,
                        f"{p.file}, row {p.row}, as {verb} by this edit: {p.message}",
                        p.value, "warning")
        out.append(p)
    return out


def _apply_scale_edits(tables: dict[str, pd.DataFrame], edits: list[Edit],
                       masks: dict[int, pd.Series], loaded: LoadedModel) -> list[Problem]:
    problems: list[Problem] = []
    for i, edit in enumerate(edits):
        if not edit.scale or edit.table not in tables or i not in masks:
            continue  # a bad table or where was reported by the set pass
        frame = tables[edit.table]
        mask = masks[i].to_numpy()
        for column, factor in edit.scale.items():
            spec = TABLES[edit.table]
            if column not in spec.names or spec.column(column).kind not in ("float", "int"):
                problems.append(Problem(*_edit_at(loaded, i, "scale", column),
                                        f"scale needs a numeric column of {edit.table}", column))
                continue
            if factor < 0:
                problems.append(Problem(*_edit_at(loaded, i, "scale", column),
                                        "scale factor must be >= 0", str(factor)))
                continue
            scaled = frame.loc[mask, column] * factor
            if spec.column(column).kind == "int":
                scaled = scaled.round().astype("int64")
            problems += _scaled_out_of_range(spec.column(column), scaled, factor,
                                             _edit_at(loaded, i, "scale", column))
            frame.loc[mask, column] = scaled
    return problems


def _scaled_out_of_range(col: Column, scaled: pd.Series, factor: float,
                         where: tuple[str, int | None, str]) -> list[Problem]:
    """A scale must keep the column in its range like a typed value: a speed scaled by 0
    would divide by zero, a price scaled by 1e6 wreck the solve."""
    bad = pd.Series(False, index=scaled.index)
    if col.min is not None:
        bad |= (scaled <= col.min) if col.min_exclusive else (scaled < col.min)
    if col.max is not None:
        bad |= scaled > col.max
    bad = scaled[bad]
    if bad.empty:
        return []
    rows = ", ".join(str(int(r) + 2) for r in bad.index[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return [Problem(*where, f"scaling by {factor:g} puts {col.name} out of its range "
                    f"({' and '.join(col.bounds)}) on row(s) {rows}{more}, e.g. "
                    f"{float(bad.iloc[0]):g}", str(factor))]


#: a demand scale above this is more likely a per cent than a forecast (warned, not refused)
DEMAND_SCALE_PLAUSIBLE = 10.0
#: a launch ramp's share above this (more than twice the dataset's patients) is more likely
#: a per cent (warned, not refused: growth past the base year is a forecast one may make)
RAMP_PLAUSIBLE = 2.0


def _check_semantics(tables: dict[str, pd.DataFrame], files: dict[str, str],
                     config: ModelConfig, loaded: LoadedModel) -> list[Problem]:
    """Cross-table rules the per-column checks cannot see."""
    problems: list[Problem] = []
    products = tables.get("products")
    if products is None:
        return problems
    known = products["product_id"].tolist()
    scope = config.products if config.products is not None else known
    if config.products is not None and not config.products:
        problems.append(Problem(*loaded.where("products"), "products",
                                "names no product: list at least one, or leave 'products' "
                                "out for every product of the dataset", "[]"))
    for j, pid in enumerate(scope):
        if pid not in known:
            problems.append(Problem(*loaded.where("products", j), "products",
                                    "product not in the products table"
                                    + did_you_mean(pid, known), pid))
        elif pid in scope[:j]:
            problems.append(Problem(*loaded.where("products", j), "products",
                                    "product listed twice", pid))
    if config.demand_scale > DEMAND_SCALE_PLAUSIBLE:  # 120 meant as 120 %
        problems.append(Problem(*loaded.where("demand_scale"), "demand_scale",
                                f"multiplies every zone's patients by {config.demand_scale:g}: "
                                f"for {config.demand_scale:g} % write "
                                f"{config.demand_scale / 100:g}", f"{config.demand_scale:g}",
                                severity="warning"))
    for pid, shares in config.timeline.ramp.items():  # [20, 50, 100] fails; [2, 5, 10] not
        if max(shares) > RAMP_PLAUSIBLE:
            problems.append(Problem(
                *loaded.where("timeline", "ramp", pid), f"timeline.ramp.{pid}",
                f"reaches {max(shares):g} times the product's patients ({max(shares):.0%}): "
                f"a ramp above 1 grows demand past the dataset's; for {max(shares):g} % write "
                f"{max(shares) / 100:g}", ", ".join(f"{v:g}" for v in shares),
                severity="warning"))
    sites = tables.get("sites")
    if sites is not None and len(sites) and "status" in sites and (
            sites["status"] == "excluded").all():
        problems.append(Problem(files["sites"], None, "status",
                                "every site is excluded: no patient could be treated "
                                "(leave at least one site existing or candidate)",
                                "excluded"))
    plants = tables.get("plants")
    if plants is not None:
        made = {p for items in plants["products"] for p in items}
        for i, pid in enumerate(known):
            if pid in scope and pid not in made:
                problems.append(Problem(files["products"], i + 2, "product_id",
                                        "no plant makes this product", pid))
    classes_needed = set(products.loc[products["product_id"].isin(scope), "temperature_class"])
    equipment = tables.get("equipment")
    if equipment is not None:
        for cls in sorted(classes_needed - set(equipment["temperature_class"])):
            problems.append(Problem(files["equipment"], None, "temperature_class",
                                    f"no equipment row for '{cls}': sites cannot equip it",
                                    severity="warning"))
    for i, (interval, weeks, doses) in enumerate(zip(
            products["dose_interval_days"], products["treatment_weeks"],
            products["doses_per_patient"], strict=True)):
        if interval > 0 and weeks > 0:
            expected = weeks * 7 / interval
            if abs(expected - doses) > max(1.0, 0.25 * expected):
                problems.append(Problem(
                    files["products"], i + 2, "doses_per_patient",
                    f"inconsistent with cadence: every {interval:g} days for {weeks:g} weeks "
                    f"is about {expected:.0f} doses", str(doses), severity="warning"))
    for kind, key in (("sites", "site_id"), ("hubs", "hub_id"), ("partners", "partner_id")):
        settings = getattr(config, kind)
        table = tables.get(kind)
        ids = set(table[key]) if table is not None else set()
        excluded = set(table.loc[table["status"] == "excluded", key]) \
            if table is not None and "status" in table.columns else set()
        for j, sid in enumerate(settings.lock_open):
            if sid not in ids:
                problems.append(Problem(*loaded.where(kind, "lock_open", j),
                                        f"{kind}.lock_open", f"unknown {key}", sid))
            elif sid in excluded:
                problems.append(Problem(*loaded.where(kind, "lock_open", j),
                                        f"{kind}.lock_open", f"is excluded ({kind}.csv status): "
                                        "it cannot also be forced open; drop one of the two",
                                        sid))
        if (settings.min_active is not None and settings.max_active is not None
                and settings.min_active > settings.max_active):
            problems.append(Problem(*loaded.where(kind, "min_active"), f"{kind}.min_active",
                                    "min_active exceeds max_active",
                                    str(settings.min_active)))
        problems += _counts_that_cannot_be_met(kind, key, table, settings, config, loaded)
    transport = tables.get("transport")
    if transport is not None and len(transport) == 0:
        problems.append(Problem(files["transport"], None, None, "no transport mode"))
    problems += _check_policies(tables, files, config, loaded)
    problems += _check_timeline(tables, files, config, loaded)
    return problems


def _counts_that_cannot_be_met(kind: str, key: str, table: pd.DataFrame | None,
                               settings, config: ModelConfig,  # noqa: ANN001
                               loaded: LoadedModel) -> list[Problem]:
    """max_active below what must stay open (locked existing sites, lock_open), or
    min_active above what may open at all (every row not excluded): no network meets either,
    so say so here rather than as an infeasible solve."""
    if table is None or "status" not in table.columns:
        return []
    status = dict(zip(table[key], table["status"], strict=True))
    must = {i for i in settings.lock_open if i in status}
    if kind == "sites" and config.sites.existing == "locked":
        must |= {i for i, st in status.items() if st == "existing"}
    may = {i for i, st in status.items() if st != "excluded"}
    out = []
    if settings.max_active is not None and len(must) > settings.max_active:
        why = "existing sites are locked open (sites.existing) or in lock_open" \
            if kind == "sites" else "are in lock_open"
        out.append(Problem(*loaded.where(kind, "max_active"), f"{kind}.max_active",
                           f"{len(must)} of the {kind} must stay active ({why}), more "
                           "than max_active allows", str(settings.max_active)))
    if settings.min_active is not None and len(may) < settings.min_active:
        out.append(Problem(*loaded.where(kind, "min_active"), f"{kind}.min_active",
                           f"only {len(may)} of the {kind} may be active (the others are "
                           f"excluded in {kind}.csv)", str(settings.min_active)))
    return out


def _products_without_patients(case: Case, products: pd.DataFrame, file: str,
                               loaded: LoadedModel) -> list[Problem]:
    """A product in scope with no patients a year shapes nothing: most often an incidence
    left at 0, a state-rate table that misses every zone, or a zone population of 0.
    `demand_scale: 0` empties every product at once: one warning, at the setting."""
    if case.config.demand_scale == 0:
        return [Problem(*loaded.where("demand_scale"), "demand_scale", "no product has any "
                        "patients at a demand scale of 0, so the network serves no one", "0",
                        severity="warning")]
    patients = case.patients_by_product()
    rows = {pid: i for i, pid in enumerate(products["product_id"])}
    return [Problem(file, rows[pid] + 2, "incidence_per_100k",
                    "no patients a year in scope (incidence x zone population x demand_scale "
                    "is 0), so this product shapes nothing in the network",
                    f"{products.at[rows[pid], 'incidence_per_100k']:g}", severity="warning")
            for pid, n in patients.items() if n <= 0 and pid in rows]


def _check_kol_rule(tables: dict[str, pd.DataFrame], config: ModelConfig,
                    loaded: LoadedModel) -> list[Problem]:
    """A KOL rule that counts no KOL changes nothing: the user asked for a network shaped by
    their KOLs and would get one that ignores them without a word. That happens when no KOL
    is in the area of a product in scope, or, for coverage, when their weights sum to 0."""
    mode = config.kols.mode
    products, kols = tables.get("products"), tables.get("kols")
    if mode == "none" or products is None:
        return []
    scope = products if config.products is None else \
        products[products["product_id"].isin(config.products)]
    areas = set(scope["therapeutic_area"])
    counted = kols[kols["therapeutic_area"].isin(areas)] if kols is not None else None
    if counted is None or len(counted) == 0:
        why = ("the dataset has no KOLs (kols.csv is missing or empty)"
               if kols is None or len(kols) == 0 else
               f"none of the {len(kols)} KOL(s) is in the therapeutic area of a product in "
               f"scope ({', '.join(sorted(areas))})")
    elif mode == "coverage" and float(counted["weight"].sum()) <= 0:
        why = f"the weights of the {len(counted)} KOL(s) in scope sum to 0 (kols.csv weight)"
    else:
        return []
    return [Problem(*loaded.where("kols", "mode"), "kols.mode",
                    f"{why}, so the KOL rule changes nothing in the network", mode,
                    severity="warning")]


def _state_code(name: str) -> str | None:
    """'Minnesota' -> 'MN' (zones carry two-letter codes; a user writes the name)."""
    from .states import us_state_names

    folded = name.strip().casefold()
    return next((code for code, full in us_state_names().items()
                 if full.casefold() == folded), None)


def _check_incidence(tables: dict[str, pd.DataFrame],
                     files: dict[str, str]) -> list[Problem]:
    """An incidence row for a state no zone is in changes nothing: most likely a typo
    ('Mn' for 'MN') that would silently leave the uniform rate in place."""
    incidence, zones = tables.get("incidence"), tables.get("zones")
    if incidence is None or zones is None or len(incidence) == 0:
        return []
    known = sorted(set(zones["state"]))
    problems = []
    for i, state in enumerate(incidence["state"]):
        if state in known:
            continue
        close = [k for k in known if k.casefold() == state.casefold()] or \
            [k for k in known if k == _state_code(state)] or \
            difflib.get_close_matches(state, known, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(Problem(files["incidence"], i + 2, "state",
                                f"no zone is in this state (zones.state), so the rate is "
                                f"not used{hint}", state, severity="warning"))
    return problems


def _check_shelf_budget(tables: dict[str, pd.DataFrame],
                        files: dict[str, str]) -> list[Problem]:
    """The handling buffer is reserved out of the shelf life: a buffer that takes all of it
    leaves no time to deliver the product anywhere."""
    products = tables.get("products")
    if products is None:
        return []
    problems = []
    for i, (life, buffer) in enumerate(zip(products["shelf_life_hours"],
                                           products["handling_buffer_hours"], strict=True)):
        if buffer >= life:
            problems.append(Problem(
                files["products"], i + 2, "handling_buffer_hours",
                f"the buffer takes all of the {life:g} h shelf life (shelf_life_hours), "
                "leaving no time to deliver: it must be less", f"{buffer:g}"))
    return problems


def _check_timeline(tables: dict[str, pd.DataFrame], files: dict[str, str],
                    config: ModelConfig, loaded: LoadedModel) -> list[Problem]:
    """Launch timeline settings that name products must name real ones; settings a
    one-period model ignores are pointed out."""
    problems: list[Problem] = []
    timeline = config.timeline
    known = set(tables["products"]["product_id"])
    scope = set(config.products) if config.products is not None else known
    for key in ("ramp", "jcode"):
        for pid in getattr(timeline, key):
            if pid not in known:
                problems.append(Problem(*loaded.where("timeline", key, pid), f"timeline.{key}",
                                        "product not in the products table"
                                        + did_you_mean(pid, known), pid))
            elif pid not in scope:
                problems.append(Problem(*loaded.where("timeline", key, pid), f"timeline.{key}",
                                        "product is not in scope (products:); its setting is "
                                        "ignored", pid, severity="warning"))
    if timeline.periods == 1:
        for key in ("ramp", "jcode", "ramp_periods", "requirements_from_period"):
            if getattr(timeline, key):
                problems.append(Problem(*loaded.where("timeline", key), f"timeline.{key}",
                                        "ignored with timeline.periods: 1 (the single-period "
                                        "network)", severity="warning"))
    elif timeline.requirements_from_period >= timeline.periods:
        problems.append(Problem(*loaded.where("timeline", "requirements_from_period"),
                                "timeline.requirements_from_period",
                                f"no period of {timeline.periods} is left in which the service "
                                "level, KOL rules and min_active apply",
                                str(timeline.requirements_from_period), severity="warning"))
    sites = tables.get("sites")
    if sites is not None and "committee_months" in sites.columns:
        for i, months in enumerate(sites["committee_months"]):
            if not months:
                problems.append(Problem(files["sites"], i + 2, "committee_months",
                                        "no meeting month: the default 1;4;7;10 is used",
                                        severity="warning"))
    return problems


#: title holders each ordering option allows (stock at a site the site bought is the site's;
#: consignment stock stays the manufacturer's until administration)
POLICY_TITLE = {
    "jit_per_patient": ("manufacturer", "distributor"),
    "stocked_at_site": ("site",),
    "consignment_at_site": ("manufacturer",),
    "held_at_partner_with_jit_delivery": ("manufacturer", "distributor"),
    "held_at_hub": ("manufacturer", "distributor"),
}
#: options that hold stock for patients not yet known: impossible for a patient-specific dose
STOCK_POLICIES = ("stocked_at_site", "consignment_at_site", "held_at_hub")


def _check_policies(tables: dict[str, pd.DataFrame], files: dict[str, str],
                    config: ModelConfig, loaded: LoadedModel) -> list[Problem]:
    """Commercial terms that cannot work: stock of a patient-specific product, a title holder
    the option does not allow, a product in scope without any ordering option, a
    finance.policies entry no product offers."""
    problems: list[Problem] = []
    policies = tables.get("policies")
    products = tables["products"]
    if policies is None or len(policies) == 0:
        if config.finance.policies is not None and "jit_per_patient" not in \
                config.finance.policies:
            problems.append(Problem(*loaded.where("finance", "policies"), "finance.policies",
                                    "without a policies table every product is "
                                    "jit_per_patient only", str(config.finance.policies)))
        return problems
    file = files["policies"]
    modality = dict(zip(products["product_id"], products["modality"], strict=True))
    for i, (pid, policy, holder) in enumerate(zip(
            policies["product_id"], policies["policy"], policies["title_holder"],
            strict=True)):
        if modality.get(pid) == "autologous" and policy in STOCK_POLICIES:
            problems.append(Problem(file, i + 2, "policy",
                                    f"{pid} is autologous (one patient's own cells): it cannot "
                                    "be stocked ahead of a patient", policy))
        allowed = POLICY_TITLE.get(policy, ())
        if allowed and holder not in allowed:
            problems.append(Problem(file, i + 2, "title_holder",
                                    f"{policy} needs title with {' or '.join(allowed)}", holder))
    problems += _returns_without_effect(policies, file)
    scope = config.products if config.products is not None else list(products["product_id"])
    offered = set(policies["product_id"])
    for pid in products["product_id"]:
        if pid in scope and pid not in offered:
            problems.append(Problem(file, None, "product_id",
                                    f"product {pid} has no ordering option (add at least a "
                                    "jit_per_patient row)", pid))
    if config.finance.policies is not None:
        allowed = set(config.finance.policies)
        for pid in products["product_id"]:
            options = set(policies.loc[policies["product_id"] == pid, "policy"])
            if pid in scope and options and not options & allowed:
                problems.append(Problem(
                    *loaded.where("finance", "policies"), "finance.policies",
                    f"leaves product {pid} without an ordering option (policies.csv offers it "
                    f"{', '.join(sorted(options))}): its patients could not be served",
                    str(config.finance.policies)))
    for j, policy in enumerate(config.finance.policies or []):
        if policy not in set(policies["policy"]):
            problems.append(Problem(*loaded.where("finance", "policies", j),
                                    "finance.policies", "no product offers this option",
                                    policy, severity="warning"))
    return problems


def _returns_without_effect(policies: pd.DataFrame, file: str) -> list[Problem]:
    """A returnable share that returns nothing: without a return window (0 or blank, which
    means no returns) or on stock the manufacturer owns (nobody to return it to)."""
    out: list[Problem] = []
    share = policies.get("returnable_fraction", pd.Series(0.0, index=policies.index))
    window = policies.get("return_window_days", pd.Series(0.0, index=policies.index))
    for i, (frac, days, holder, policy) in enumerate(zip(
            share.fillna(0.0), window.fillna(0.0), policies["title_holder"], policies["policy"],
            strict=True)):
        if frac <= 0 or policy == "jit_per_patient":  # no stock, nothing to return
            continue
        if days <= 0:
            out.append(Problem(file, i + 2, "return_window_days",
                               f"returnable_fraction {frac:g} returns nothing: a window of 0 "
                               "days (or blank) means no returns; give the days after expiry "
                               "within which a return is accepted", f"{days:g}",
                               severity="warning"))
        elif holder == "manufacturer":
            out.append(Problem(file, i + 2, "returnable_fraction",
                               f"returnable_fraction {frac:g} returns nothing: the manufacturer "
                               "holds title to this stock, so its expired doses are its own "
                               "write-off (returns apply to stock a site or a distributor "
                               "owns)", f"{frac:g}", severity="warning"))
    return out


def _scope_products(tables: dict[str, pd.DataFrame], config: ModelConfig) -> dict:
    if config.products is None:
        return tables
    out = dict(tables)
    keep = set(config.products)
    products = tables["products"]
    out["products"] = products[products["product_id"].isin(keep)].reset_index(drop=True)
    if "plants" in tables:
        plants = tables["plants"].copy()
        plants["products"] = [tuple(p for p in items if p in keep)
                              for items in plants["products"]]
        out["plants"] = plants
    if "policies" in tables:
        pol = tables["policies"]
        out["policies"] = pol[pol["product_id"].isin(keep)].reset_index(drop=True)
    if "incidence" in tables:
        inc = tables["incidence"]
        out["incidence"] = inc[inc["product_id"].isin(keep)].reset_index(drop=True)
    if "assignment_costs" in tables:
        ac = tables["assignment_costs"]
        out["assignment_costs"] = ac[(ac["product_id"] == "") | ac["product_id"].isin(keep)]
    return out



#: settings that do not change the network a solve finds: names, where the files are (the
#: tables are hashed themselves, and edits are in them), the solver's limits and the
#: analyses' own settings (tuning `simulation.days` is not a new case)
NOT_FINGERPRINTED = frozenset({"name", "description", "extends", "dataset", "edits", "solver",
                               "simulation", "resilience"})


def inputs_fingerprint(case: Case) -> str:
    """A checksum of what a solve reads from its model file and dataset: the settings that
    shape the network (NOT_FINGERPRINTED aside) and every input table. Analyses
    that load the model file again compare it with the solve's, so inputs edited since the
    solve are said, not silently analysed in its place."""
    digest = hashlib.sha256(json.dumps(
        case.config.model_dump(mode="json", exclude=NOT_FINGERPRINTED), sort_keys=True,
        default=str).encode())
    for name in sorted(case.tables):
        digest.update(name.encode())
        digest.update(case.tables[name].to_csv(index=False, lineterminator="\n").encode())
    return digest.hexdigest()



def inputs_changed(summary: dict, case: Case) -> bool:
    """Whether `case` differs from the inputs the solve of `summary` read (False when the
    summary has no checksum: a result of an older netopt)."""
    solved = summary.get("inputs_sha256")
    return bool(solved) and solved != inputs_fingerprint(case)


__all__ = ["Case", "inputs_changed", "inputs_fingerprint", "load_case", "split_list"]
