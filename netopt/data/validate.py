"""Turn text tables into typed frames, collecting every problem (file, row, column, value).

Validation collects, then fails once: a user fixes ten problems in one pass, not one per run.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cadence import doses_within_life
from .problems import Problem
from .schema import LIST_SEPARATOR, TABLES, Column, Table
from .tables import RawTable

#: thousands separators in their only unambiguous use: groups of exactly three digits
_THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


def split_list(text: str) -> tuple[str, ...]:
    """'a; b;;c' -> ('a', 'b', 'c'): list cells are ';'-separated."""
    return tuple(item.strip() for item in str(text).split(LIST_SEPARATOR) if item.strip())


def _row(i: int) -> int:
    """Spreadsheet row of the i-th data row (header is row 1)."""
    return i + 2


def _parse_cell(col: Column, text: str) -> tuple[object, str | None]:
    """Parse one non-blank cell; return (value, error message or None)."""
    if col.kind == "str":
        if col.allowed and text not in col.allowed:
            same = [a for a in col.allowed if a.lower() == text.strip().lower()]
            hint = f": write '{same[0]}' (the values are case-sensitive)" if same else ""
            return None, f"expected one of {', '.join(col.allowed)}{hint}"
        return text, None
    if col.kind == "list":
        items = split_list(text)
        if not items and col.required:  # ';;' reads as no item at all
            return None, f"required list has no item (items are separated by '{LIST_SEPARATOR}')"
        if any("," in item for item in items):
            parts = text.replace(",", LIST_SEPARATOR).split(LIST_SEPARATOR)
            fixed = LIST_SEPARATOR.join(p.strip() for p in parts if p.strip())
            return None, (f"list items are separated by '{LIST_SEPARATOR}', not ',' "
                          f"(write {fixed!r})")
        if col.allowed:
            bad = [v for v in items if v not in col.allowed]
            if bad:
                return None, f"unknown value {bad[0]!r}; expected items of {', '.join(col.allowed)}"
        return items, None
    if col.kind == "time":
        if not _TIME.match(text):
            return None, "expected a time as HH:MM (24-hour clock)"
        return text, None
    if col.kind == "bool":
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE, None
        return None, "expected true or false"
    # a share, whatever the column's name says (a fill rate stops short of 1)
    share = col.min is not None and col.min >= 0 and col.max is not None and col.max <= 1
    if text.endswith("%"):
        return None, (share_hint(text, col.max) if share else "expected a number without '%'")
    number, err = parse_number(text, col.kind == "int")
    if err:
        return None, err
    bounds = col.bounds
    low = col.min is not None and (number <= col.min if col.min_exclusive else number < col.min)
    if low:
        why = " (the model divides by it: zero means nothing here)" \
            if col.min_exclusive and number == col.min else ""
        return None, f"expected a number {bounds[0]}{why}"
    if col.max is not None and number > col.max:
        if share and number > 1 and number / 100 <= col.max:  # 15 for 15 %
            return None, share_hint(number, col.max)
        return None, f"expected a number {bounds[-1]}"
    return number, None


#: a share's column given as a percentage (15, or 15%): say how to write it
SHARE_HINT = "expected a share between 0 and 1: write 0.15 for 15 %"


def share_hint(value: object, most: float = 1.0) -> str:
    """SHARE_HINT with the user's own per cent: '90' or '90%' -> 'write 0.9 for 90 %' (the
    fixed example read as if 15 had been typed). `most`: the share's own upper bound where it
    stops short of 1 (a fill rate at most 0.9999), said as such."""
    span = "between 0 and 1" if most >= 1 else f"of at most {most:g}"
    plain = SHARE_HINT if most >= 1 else f"expected a share {span}"
    try:
        per_cent = float(str(value).strip().rstrip("%").strip())
    except ValueError:
        return plain
    if not 0 < per_cent <= 100 * most:
        return plain
    return f"expected a share {span}: write {per_cent / 100:g} for {per_cent:g} %"
#: signs a spreadsheet's currency or unit format leaves in a CSV cell
_UNIT_SIGNS = "$€£¥"


def parse_number(text: str, whole: bool = False) -> tuple[float | int, str | None]:
    """A number as written: '1250', '1.25', '1e5', or with thousands separators in the one
    unambiguous pattern ('12,500,000', '1,000.5'). Any other comma is refused: '1,25' may be
    a decimal comma (1.25) or a slip for 125, and guessing either silently changes results."""
    kind = "whole number" if whole else "number"
    if any(sign in text for sign in _UNIT_SIGNS):  # '$420,000' from a currency-formatted cell
        return 0, (f"expected a {kind} without a currency sign (420000 or 420,000, not "
                   "$420,000)")
    if "," in text:
        if not _THOUSANDS.fullmatch(text):
            return 0, (f"expected a {kind} with a decimal point (1.25, not 1,25); a comma is "
                       "read only as a thousands separator (1,000 or 12,500,000)")
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return 0, f"expected a {kind}"
    if not math.isfinite(number):
        return 0, "expected a finite number"
    if whole:
        if number != int(number):
            return 0, "expected a whole number"
        return int(number), None
    return number, None


#: a blank coordinate of a table that can be placed by name instead
PLACE_HINT = "; or give the place in `location` ('City, ST' or a ZIP code) and leave both blank"


def _header_below(spec: Table, frame: pd.DataFrame, rows: int = 5) -> int | None:
    """The spreadsheet row holding the column names when row 1 does not (a title row
    above the table): row 1 has at most one of the table's names, and one of the next few
    rows has at least two. A sheet whose hubs header sat in row 2 gave 8 "required column
    is missing" and 13 "Unnamed" warnings."""
    names = set(spec.names)
    if len(names & {str(c).strip() for c in frame.columns}) > 1:
        return None
    for i in range(min(rows, len(frame))):
        cells = {str(v).strip() for v in frame.iloc[i].tolist()}
        if len(names & cells) > 1:
            return i + 2  # data row i is spreadsheet row i + 2
    return None


def _empty_series(col: Column) -> pd.Series:
    dtype = {"float": "float64", "int": "int64", "bool": "bool"}.get(col.kind, "object")
    return pd.Series([], dtype=dtype)


def parse_table(spec: Table, raw: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    """Type one table by its spec. Rows with errors are reported (never silently dropped)."""
    problems: list[Problem] = []
    frame = raw.frame
    file = raw.file
    below = _header_below(spec, frame)
    if below is not None:  # a title above the header: one message, not one per column
        return pd.DataFrame(columns=spec.names), [Problem(
            file, 1, None, f"row 1 must hold the column names; they appear to be in row "
            f"{below}: delete the rows above them")]
    unknown = [c for c in frame.columns if c not in spec.names]
    absent = [c for c in spec.names if c not in frame.columns]
    required = {c.name for c in spec.columns if c.required}
    misspelt: set[str] = set()  # required columns already named by a typo's message
    for name in unknown:
        label = "an unnamed column" if name.startswith("Unnamed") or not name else "column"
        meant = _meant_column(name, absent)
        if meant:  # a typo: ignoring it would apply the real column's default everywhere
            why = ("a required column" if meant[0] in required
                   else "that column is missing, so its default would apply to every row")
            if meant[0] in required:
                misspelt.add(meant[0])
            problems.append(Problem(file, 1, name, f"column not in the '{spec.name}' schema; "
                                    f"did you mean '{meant[0]}'? ({why})"))
            continue
        problems.append(Problem(file, 1, name, f"{label} not in the '{spec.name}' schema; "
                                "it is ignored", severity="warning"))
    if len(frame) == 0 and not spec.allow_empty:
        # an optional table left as a header: without the file its default applies
        absent_means = "" if spec.required else (
            f" (delete {Path(file).name} to go without it: see docs/data.md)")
        problems.append(Problem(file, None, None, f"table '{spec.name}' has no rows"
                                + absent_means))
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            if col.required:
                if col.name not in misspelt:
                    problems.append(Problem(file, 1, col.name, "required column is missing"))
                continue
            out[col.name] = _default_series(col, len(frame))
            continue
        values: list[object] = []
        markers: list[tuple[int, str]] = []  # (row, text) of optional cells written as missing
        for i, text in enumerate(frame[col.name].tolist()):
            text = "" if text is None else str(text)
            if text == "" or text.lower() in MISSING_MARKERS:
                if col.required:
                    problems.append(Problem(file, _row(i), col.name, "required value is blank"
                                            + (f" ({text!r} reads as blank)" if text else "")
                                            + (PLACE_HINT if col.name in ("latitude",
                                                                          "longitude")
                                               and "location" in spec.names else ""),
                                            text))
                elif text:
                    markers.append((_row(i), text))
                values.append(_default_value(col))
                continue
            value, err = _parse_cell(col, text)
            if err:
                problems.append(Problem(file, _row(i), col.name, err, text))
                value = _default_value(col)
            values.append(value)
        if markers:
            problems.append(_missing_markers(file, col, markers))
        out[col.name] = _series(col, values)
    typed = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    problems += _duplicate_keys(spec, typed, file, frame)
    return typed, problems


#: how alike (difflib ratio) an unknown column must be to a missing one to be taken for a
#: typo of it: 'handling_bufer_hours' is 0.98 from 'handling_buffer_hours', 'notes' far
#: from any
TYPO_CUTOFF = 0.85


def _meant_column(name: str, absent: list[str]) -> list[str]:
    """The missing column a header most likely means: a near spelling, or the same name with
    a unit added ('onboarding_days (days)', 'Onboarding days [days]': the style of the
    result workbooks' headers), which no spelling match within the cutoff finds."""
    bare = re.sub(r"\s*[(\[][^()\[\]]*[)\]]\s*$", "", name).strip()
    for candidate in (bare, "_".join(bare.lower().split())):
        if candidate and candidate != name and candidate in absent:
            return [candidate]
    return difflib.get_close_matches(name, absent, n=1, cutoff=TYPO_CUTOFF)
#: what spreadsheets and data tools write for a missing value: read as a blank cell
MISSING_MARKERS = ("nan", "na", "n/a", "null", "none")


def _missing_markers(file: str, col: Column, markers: list[tuple[int, str]]) -> Problem:
    """One warning per column for optional cells written as 'NA', 'nan', 'None'...: they read
    as blank, so the column's default applies, which the user should see (a hub's status
    'NA' would otherwise turn an existing hub into a candidate without a word)."""
    row, text = markers[0]
    default = _default_value(col)
    empty = default is None or (isinstance(default, str | tuple | list) and not default) or (
        isinstance(default, float) and math.isnan(default))
    shown = "blank" if empty else repr(default)
    more = f" and {len(markers) - 1} more row(s)" if len(markers) > 1 else ""
    return Problem(file, row, col.name, f"{text!r} reads as a blank cell{more}: the column's "
                   f"default ({shown}) applies; leave the cell empty to say so, or give the "
                   "value", text, severity="warning")


def _default_value(col: Column) -> object:
    if col.kind == "list":
        return split_list(col.default or "")
    if col.kind in ("float", "int"):
        return np.nan if col.default is None else col.default
    return "" if col.default is None else col.default


def _default_series(col: Column, n: int) -> pd.Series:
    return _series(col, [_default_value(col)] * n)


def _series(col: Column, values: list[object]) -> pd.Series:
    if not values:
        return _empty_series(col)
    if col.kind == "float":
        return pd.Series(values, dtype="float64")
    if col.kind == "int":
        return pd.Series(values, dtype="float64").fillna(0).astype("int64")
    if col.kind == "bool":
        return pd.Series(values, dtype="bool")
    return pd.Series(values, dtype="object")


def _duplicate_keys(spec: Table, typed: pd.DataFrame, file: str,
                    raw: pd.DataFrame) -> list[Problem]:
    keys = [spec.key] if spec.key else list(spec.composite_key)
    # an optional key column left out of the file has its default in `typed`: two rows that
    # differ only there are duplicates too (assignment_costs without its product_id)
    if not keys or any(k not in typed.columns for k in keys):
        return []
    dup = typed.duplicated(subset=keys, keep="first")
    problems = []
    for i in np.flatnonzero(dup.to_numpy()):
        value = " / ".join(str(typed.at[i, k]) for k in keys)
        first = int(np.flatnonzero((typed[keys] == typed.loc[i, keys]).all(axis=1))[0])
        problems.append(Problem(file, _row(int(i)), keys[0],
                                f"duplicate id (first used on row {_row(first)})", value))
    return problems + _keys_differing_by_case(keys, typed, dup, file)


def _keys_differing_by_case(keys: list[str], typed: pd.DataFrame, dup: pd.Series,
                            file: str) -> list[Problem]:
    """Ids are case-sensitive, so `s1` and `S1` are two sites; most often one was meant.
    Warned (not refused: a dataset may mean both), naming the row of the other spelling."""
    folded = typed[keys].apply(lambda col: col.astype(str).str.casefold())[~dup]
    clash = folded.duplicated(keep="first")
    problems = []
    for i in np.flatnonzero(clash.to_numpy()):
        at = folded.index[i]
        first = folded.index[int(np.flatnonzero((folded == folded.loc[at]).all(axis=1))[0])]
        other = " / ".join(str(typed.at[first, k]) for k in keys)
        problems.append(Problem(
            file, _row(int(at)), keys[0], f"differs from row {_row(int(first))}'s '{other}' "
            "only by upper and lower case: ids are case-sensitive, so these are two rows, "
            "not one", " / ".join(str(typed.at[at, k]) for k in keys), severity="warning"))
    return problems


def check_references(tables: dict[str, pd.DataFrame],
                     files: dict[str, str]) -> list[Problem]:
    """Every id that points at another table must exist there (KOL -> site, plant -> product)."""
    problems: list[Problem] = []
    for name, frame in tables.items():
        spec = TABLES[name]
        for col in spec.columns:
            if col.ref is None or col.name not in frame.columns:
                continue
            target, target_col = col.ref
            if target not in tables or target_col not in tables[target].columns:
                continue  # the missing table or column is reported already
            known = set(tables[target][target_col].tolist())
            for i, value in enumerate(frame[col.name].tolist()):
                items = value if isinstance(value, tuple) else (value,)
                for item in items:
                    if item == "":
                        continue  # optional, or already reported as a blank required value
                    if item not in known:
                        problems.append(Problem(
                            files[name], _row(i), col.name,
                            f"unknown {target_col} (not in {target}){did_you_mean(item, known)}",
                            str(item)))
    return problems


def did_you_mean(item: object, known: set) -> str:
    """'; did you mean 'cart_onc'?' for an id one slip away from a known one ('cart-onc',
    'Cart_Onc'), else ''."""
    text = str(item)
    ids = sorted(str(k) for k in known)
    folded = {k.casefold().replace("-", "_").replace(" ", "_"): k for k in ids}
    same = folded.get(text.casefold().replace("-", "_").replace(" ", "_"))
    close = [same] if same else difflib.get_close_matches(text, ids, n=1, cutoff=0.8)
    return f"; did you mean '{close[0]}'?" if close else ""


# ---------------------------------------------------------------- dose cadence


def check_cadence(products: pd.DataFrame, file: str) -> list[Problem]:
    """Warn where a product's `doses_per_shipment` cannot be kept: the doses of one shipment
    are given `dose_interval_days` apart, so the last one comes (n - 1) intervals after
    arrival, and even a lane of no transit leaves only the shelf life less the handling
    buffer. The model then ships fewer doses at a time (more shipments); it is not an error."""
    problems = []
    for i, (dps, interval, life, buffer) in enumerate(zip(
            products["doses_per_shipment"], products["dose_interval_days"],
            products["shelf_life_hours"], products["handling_buffer_hours"], strict=True)):
        usable = float(life) - float(buffer)
        kept = doses_within_life(float(dps), float(interval), usable)
        if kept >= float(dps) or usable <= 0:
            continue  # kept, or no shelf life left at all (reported by the shelf budget check)
        span = (float(dps) - 1) * float(interval)
        spare = usable - (kept - 1) * float(interval) * 24
        fewer = f" (fewer on lanes over {spare:g} h)" if kept > 1 else ""
        problems.append(Problem(
            file, _row(i), "doses_per_shipment",
            f"{dps:g} doses every {interval:g} days span {span:g} days ({span * 24:g} h) "
            f"after arrival, but the shelf life less the handling buffer is {usable:g} h: "
            f"at most {kept:g} dose(s) per shipment can be given in time{fewer}, so "
            "shipments follow the cadence", f"{dps:g}", severity="warning"))
    return problems


def check_margins(products: pd.DataFrame, file: str, allow_unserved: bool,
                  scope: list[str] | None = None) -> list[Problem]:
    """Warn where a product's patients are not worth serving to the model: with the price at
    or below COGS and no `unserved_penalty_usd_per_patient`, an unserved patient costs its
    lost margin, which is not positive, while a served one costs logistics. The optimum then
    leaves them untreated, but for those a rule requires (service level, KOLs, minimum
    volumes): right for a product sold at a loss, but far more often a price or COGS typed in
    the wrong unit or column. Products outside the model's `scope` are not checked."""
    if not allow_unserved:
        return []  # every patient must be served whatever the margin
    problems = []
    for i, (pid, price, cogs, penalty) in enumerate(zip(
            products["product_id"], products["price_usd_per_dose"],
            products["cogs_usd_per_dose"], products["unserved_penalty_usd_per_patient"],
            strict=True)):
        if scope is not None and pid not in scope:
            continue
        if float(price) > float(cogs) or not math.isnan(float(penalty)):
            continue
        problems.append(Problem(
            file, _row(i), "price_usd_per_dose",
            f"the price is not above COGS ({float(cogs):,.0f} USD/dose) and "
            "unserved_penalty_usd_per_patient is blank: an untreated patient then costs "
            "nothing (no margin is lost), so the network treats none of this product's "
            "patients but those a rule requires (service level, KOLs, minimum volumes); "
            "check the price and COGS, or give the penalty",
            f"{float(price):,.0f}", severity="warning"))
    return problems


# ---------------------------------------------------------------- therapeutic areas

#: how alike two area names must be to call one a likely typo of the other (difflib ratio:
#: 'oncolgy' / 'oncology' = 0.93, 'hematology' / 'oncology' = 0.67)
AREA_CUTOFF = 0.8


@dataclass
class _AreaUse:
    """Where one therapeutic area name is written: (file, column, spreadsheet row)."""

    places: list[tuple[str, str, int]] = field(default_factory=list)

    def add(self, file: str, column: str, row: int) -> None:
        self.places.append((file, column, row))


def _area_uses(tables: dict[str, pd.DataFrame], files: dict[str, str]
               ) -> dict[str, dict[str, _AreaUse]]:
    """Table -> area -> where it is written (products and KOLs: therapeutic_area; sites:
    each item of certified_areas)."""
    out: dict[str, dict[str, _AreaUse]] = {"products": {}, "sites": {}, "kols": {}}
    for table, column in (("products", "therapeutic_area"), ("sites", "certified_areas"),
                          ("kols", "therapeutic_area")):
        frame = tables.get(table)
        if frame is None:
            continue
        for i, cell in enumerate(frame[column].tolist()):
            for area in (cell if isinstance(cell, tuple) else (cell,)):
                if area:
                    out[table].setdefault(area, _AreaUse()).add(files[table], column, _row(i))
    return out


def check_areas(tables: dict[str, pd.DataFrame], files: dict[str, str],
                require: bool) -> list[Problem]:
    """Therapeutic areas must match across products, KOLs and site certifications: the model
    matches them as text, so 'oncolgy' in one table silently changes which sites count as
    certified, which onboardings are paid and which KOLs count.

    A site area no product or KOL uses, and a KOL area no product has, are warnings (they
    have no effect); a product area no site holds is normal (sites onboard for it) unless it
    is close to a known name. A close name makes a likely typo, reported once per pair at
    the rarer spelling (on a tie at the site or KOL, whose many rows are typed by hand),
    naming where the other spelling is; under kols.mode require it is an error."""
    if "products" not in tables or "sites" not in tables:
        return []
    uses = _area_uses(tables, files)
    products, sites, kols = uses["products"], uses["sites"], uses["kols"]
    total: dict[str, int] = {}  # how often each spelling is written, in every table
    for table_uses in uses.values():
        for area, use in table_uses.items():
            total[area] = total.get(area, 0) + len(use.places)
    checks = [  # (table, unmatched areas, the names to match against, what is wrong)
        ("sites", [a for a in sites if a not in products and a not in kols],
         {**kols, **products}, "therapeutic area {!r} is not used by any product or KOL"),
        ("kols", [a for a in kols if a not in products], products,
         "no product is in therapeutic area {!r}, so the KOL counts in no KOL rule"),
        ("products", [a for a in products if a not in sites], {**kols, **sites},
         "no site is certified for therapeutic area {!r}"),
    ]
    unmatched = {a for _, names, _, _ in checks for a in names}
    done: set[frozenset[str]] = set()
    problems: list[Problem] = []
    for table, names, known, what in checks:
        for area in names:
            close = difflib.get_close_matches(
                area, sorted(set(known) - {area}), n=1, cutoff=AREA_CUTOFF)
            other = close[0] if close else None
            if other is not None:
                pair = frozenset((area, other))
                if pair in done or (other in unmatched and total[other] < total[area]):
                    continue  # the pair is told once, at the rarer spelling
                done.add(pair)
            elif table == "products":
                continue  # a new area, unlike any known name: sites onboard for it
            problems.append(_area_problem(uses[table][area], area, other, known, what,
                                          require))
    return problems


def _area_problem(use: _AreaUse, area: str, other: str | None, known: dict[str, _AreaUse],
                  what: str, require: bool) -> Problem:
    file, column, row = use.places[0]
    message = what.format(area)
    if other is not None:
        o_file, _, o_row = known[other].places[0]
        message += f"; did you mean {other!r} (as in {o_file}, row {o_row})?"
    rows = [r for f, _, r in use.places if f == file][1:]
    if rows:
        message += f" (also on row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))})"
    severity = "error" if require and other is not None else "warning"
    return Problem(file, row, column, message, area, severity=severity)
