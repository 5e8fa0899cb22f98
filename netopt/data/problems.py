"""Problems found in user input, collected so a user fixes them all in one pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem: where it is (file, spreadsheet row, column), what was found and expected.

    `row` follows spreadsheet numbering (header = row 1, first data row = 2) for tables and
    the 1-based line for YAML files; None when the problem concerns a whole file or table.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    value: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", {'line' if self.file.endswith(('.yaml', '.yml')) else 'row'} {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        shown = f" (found {self.value!r})" if self.value is not None else ""
        return f"{self.severity}: {where}: {self.message}{shown}"


class InputError(Exception):
    """Raised when input has errors; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in input:\n" + "\n".join(map(str, errors)))


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Stable order: by file, then row (table-level problems first), then column."""
    return sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.message))
