"""Long tables that can be sorted and filtered in the page and that print short.

Finance, resilience and comparison pages carry tables of hundreds of rows: on screen a reader
sorts and filters them (a few lines of inline JavaScript, no library, no network); on paper
only the first rows in the order shown print, with a note saying where the full table is.
Without JavaScript the page still reads: the rows are in a sensible order and print the same.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from importlib import resources

import pandas as pd

from .common import fmt_int, fmt_num, fmt_usd, num, text

#: (column, header, kind) with kind one of text, named ("name\tid"), usd, pct (a share),
#: pts (percent points), int or num
Column = tuple[str, str, str]
PRINT_ROWS = 30


def assets() -> str:
    """<style> and <script> elements for the page's <head>."""
    folder = resources.files("netopt.report") / "templates"
    css = (folder / "sortable.css").read_text("utf-8")
    js = (folder / "sortable.js").read_text("utf-8")
    return f"<style>\n{css}\n</style>\n<script>\n{js}\n</script>"


def _esc(value: object) -> str:
    return html.escape(text(value), quote=True)


def named(name: object, ident: object) -> str:
    """The value of a `named` cell."""
    return f"{text(name)}\t{text(ident)}"


def cell(value: object, kind: str, labels: Mapping[str, str] | None = None) -> str:
    """One <td>: text as is (or its label), numbers formatted with the raw value in data-v
    so sorting is by number, not by the formatted text."""
    if kind == "text":
        raw = text(value)
        return f"<td>{_esc((labels or {}).get(raw, raw))}</td>"
    if kind == "named":  # "name\tid": the name a reader knows, the id to search for
        name, _, ident = text(value).partition("\t")
        extra = f" <span class='id'>{_esc(ident)}</span>" if ident and ident != name else ""
        return f"<td class='nm' data-v='{_esc(name)}'>{_esc(name)}{extra}</td>"
    v = num(value, math.nan)
    if math.isnan(v):
        return "<td class='n' data-v=''>\u2014</td>"
    shown = {"usd": fmt_usd, "int": fmt_int, "pct": lambda x: f"{x:.1%}",
             "share": lambda x: f"{x:.0%}",
             "pts": lambda x: f"{x:.1f} %"}.get(kind, fmt_num)(v)
    return f"<td class='n' data-v='{v:.6g}'>{_esc(shown)}</td>"


def sortable_table(frame: pd.DataFrame, columns: Sequence[Column], table_id: str, *,
                   where: str = "", print_rows: int = PRINT_ROWS,
                   labels: Mapping[str, str] | None = None,
                   row_class: Callable[[pd.Series], str] | None = None,
                   filter_hint: str = "Filter rows (e.g. a name or a state)") -> str:
    """A table with a filter box, sortable headers and a print limit.

    `where` names the file that holds every row (said in the print note); `labels` maps raw
    text values (policy codes) to the words shown."""
    head = "".join(f"<th{'' if kind in ('text', 'named') else ' class=n'}>{_esc(label)}</th>"
                   for _, label, kind in columns)
    body = []
    for i, (_, row) in enumerate(frame.iterrows()):
        cls = [row_class(row)] if row_class else []
        if print_rows and i >= print_rows:
            cls.append("noprint")
        attr = f" class='{' '.join(c for c in cls if c)}'" if any(cls) else ""
        cells = "".join(cell(row.get(col), kind, labels) for col, _, kind in columns)
        body.append(f"<tr{attr}>{cells}</tr>")
    n = len(frame)
    printed = (f"Printed: the first {print_rows} of {n} rows. {where}"
               if print_rows and n > print_rows else "")
    return (f"<div class='tools'><input class='filter' type='search' data-for='{table_id}' "
            f"placeholder='{_esc(filter_hint)}' aria-label='Filter the table'>"
            f"<span class='count' data-count-for='{table_id}'>{n} rows</span>"
            "<span class='count'>Click a column heading to sort.</span></div>"
            f"<div class='wide'><table class='sortable' id='{table_id}' "
            f"data-print-rows='{print_rows}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>"
            f"<p class='printnote' data-print-note-for='{table_id}' data-where='{_esc(where)}'>"
            f"{_esc(printed)}</p>")
