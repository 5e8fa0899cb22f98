"""Reading model files, and the tables of the dataset they name (a folder or a workbook).

Tables are read as text (see `tables.py`); typing happens in `validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import ValidationError

from .config import ModelConfig
from .excel import is_workbook, read_workbook
from .problems import Problem
from .schema import TABLES, near_table
from .tables import TABLE_SUFFIXES, RawTable, display_path, read_text_table
from .validate import share_hint

MODEL_SUFFIXES = (".yaml", ".yml")


# ---------------------------------------------------------------- model files (YAML)


def _line_map(node: yaml.Node, prefix: tuple = ()) -> dict[tuple, int]:
    """Map every key path in a YAML document to its 1-based line, for precise messages."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, key_node.value)
            lines[path] = key_node.start_mark.line + 1
            lines.update(_line_map(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, i)
            lines[path] = item.start_mark.line + 1
            lines.update(_line_map(item, path))
    return lines


def _repeated_keys(node: yaml.Node | None, file: str, prefix: tuple = ()) -> list[Problem]:
    """Keys written twice in one mapping. YAML itself keeps the last silently, so an
    `objective:` added at the end of a file would quietly override the one at the top."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            path = ".".join(str(p) for p in (*prefix, key))
            if key in first:
                problems.append(Problem(file, line, path,
                                        f"key '{key}' is given twice, on lines {first[key]} "
                                        f"and {line}: keep one (YAML would silently use the "
                                        "last)"))
            else:
                first[key] = line
            problems += _repeated_keys(value_node, file, (*prefix, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _repeated_keys(item, file, (*prefix, i))
    return problems


@dataclass
class _Doc:
    path: Path
    data: dict[str, Any]
    lines: dict[tuple, int]


def _read_yaml(path: Path) -> tuple[_Doc | None, list[Problem]]:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(shown, None, None, "model file not found")]
    except IsADirectoryError:
        return None, [Problem(shown, None, None, "is a folder: give a model file (YAML), "
                              "e.g. models/us-small.yaml")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(shown, None, None, f"cannot read model file: {exc}")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(shown, line, None, f"YAML syntax error: {what}")]
    repeated = _repeated_keys(node, shown)
    if repeated:
        return None, repeated
    if data is None:
        data = {}
    if not isinstance(data, dict):
        hint = (" (this looks like a table: give the model file (YAML) that names its "
                "dataset)") if path.suffix.lower() in (".csv", ".parquet", ".xlsx") else ""
        return None, [Problem(shown, 1, None, "a model file must be a mapping of settings"
                              + hint)]
    return _Doc(path.resolve(), data, _line_map(node) if node is not None else {}), []


def _deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if key == "edits" and isinstance(value, list) and isinstance(base.get(key), list):
            # edits accumulate down an extends chain; anything else is left for pydantic
            out[key] = base[key] + value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class LoadedModel:
    """A model file resolved through its `extends:` chain."""

    config: ModelConfig
    path: Path
    dataset_path: Path
    # key path of the merged settings -> (file, line) of the file that spells it out
    locations: dict[tuple, tuple[str, int]] = field(default_factory=dict)

    def where(self, *path: str | int) -> tuple[str, int | None]:
        """(file, line) of a setting, or of its nearest enclosing key that a file spells out."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.locations:
                return self.locations[path[:n]]
        return display_path(self.path), None


def load_model(path: str | Path) -> tuple[LoadedModel | None, list[Problem]]:
    """Read a model file and everything it extends; collect every problem found."""
    path = Path(path)
    chain: list[_Doc] = []
    seen: list[Path] = []
    current: Path | None = path
    problems: list[Problem] = []
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            cycle = " -> ".join(display_path(p) for p in [*seen, resolved])
            where = chain[-1]
            problems.append(Problem(display_path(where.path), where.lines.get(("extends",)),
                                    "extends", f"extends cycle: {cycle}"))
            return None, problems
        seen.append(resolved)
        doc, probs = _read_yaml(current)
        problems += probs
        if doc is None:
            return None, problems
        # dataset is relative to the file that names it, wherever that is (`../data/x` too)
        if isinstance(doc.data.get("dataset"), str):
            doc.data["dataset"] = str((doc.path.parent / doc.data["dataset"]).resolve())
        chain.append(doc)
        parent = doc.data.get("extends")
        current = None
        if parent is not None:
            line = doc.lines.get(("extends",))
            if not isinstance(parent, str) or not parent.strip():
                problems.append(Problem(display_path(doc.path), line, "extends",
                                        "extends must be a relative path to a model file",
                                        str(parent)))
                return None, problems
            # relative to the file that names it, wherever that is (`../base.yaml` too)
            target = (doc.path.parent / parent).resolve()
            if not target.is_file():
                what = ("extends names a folder: give the model file (YAML) to build on"
                        if target.is_dir() else
                        "extends names a model file that does not exist")
                problems.append(Problem(display_path(doc.path), line, "extends", what,
                                        parent))
                return None, problems
            current = target

    merged: dict[str, Any] = {}
    for doc in reversed(chain):
        merged = _deep_merge(merged, {k: v for k, v in doc.data.items() if k != "extends"})
    merged.setdefault("name", path.stem)
    if "name" not in chain[0].data:
        merged["name"] = path.stem
    locations = _locations(chain)
    try:
        config = ModelConfig.model_validate(merged)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(_pydantic_problem(err, locations, display_path(chain[0].path)))
        return None, problems

    dataset = Path(config.dataset)
    top = chain[0]
    source = next((d for d in chain if "dataset" in d.data), top)
    where = (display_path(source.path), source.lines.get(("dataset",)), "dataset")
    if not dataset.exists():
        problems.append(Problem(*where, f"dataset {_dataset_kind(dataset)} not found",
                                display_path(dataset)))
    elif not dataset.is_dir() and _dataset_kind(dataset) != "workbook":
        problems.append(Problem(*where, "dataset must be a folder of tables or an .xlsx "
                                "workbook", display_path(dataset)))
    if problems:
        return None, problems
    return LoadedModel(config, path.resolve(), dataset.resolve(), locations), problems


def _dataset_kind(dataset: Path) -> str:
    return "workbook" if is_workbook(dataset) else "folder"


def _locations(chain: list[_Doc]) -> dict[tuple, tuple[str, int]]:
    """Key path in the merged settings -> (file, line) of the file that sets it. A file
    overrides what it extends; edits are concatenated base-first, so their indexes shift."""
    out: dict[tuple, tuple[str, int]] = {}
    offset = 0
    for doc in reversed(chain):
        shown = display_path(doc.path)
        for key_path, line in doc.lines.items():
            if len(key_path) > 1 and key_path[0] == "edits" and isinstance(key_path[1], int):
                key_path = ("edits", key_path[1] + offset, *key_path[2:])
            out[key_path] = (shown, line)
        edits = doc.data.get("edits")
        if isinstance(edits, list):
            offset += len(edits)
    return out


def near_setting(loc: tuple) -> str | None:
    """The setting an unknown key most likely meant, in the same section: a close spelling
    (`min_shar`) or a field that contains it (`solver.gap` for `solver.mip_gap`, as the CLI's
    --gap says it)."""
    import difflib

    from pydantic import BaseModel

    model: type[BaseModel] = ModelConfig
    for part in loc[:-1]:
        field_info = model.model_fields.get(str(part))
        annotation = getattr(field_info, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    key = str(loc[-1]) if loc else ""
    names = list(model.model_fields)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.75) or \
        [n for n in names if len(key) >= 3 and key in n.split("_")]
    return ".".join([*map(str, loc[:-1]), close[0]]) if close else None


def _bound(value: object) -> str:
    from .schema import format_bound

    return format_bound(float(value)) if isinstance(value, int | float) else str(value)


#: pydantic's messages in the words the tables' checks use ("expected a number >= 0"), so a
#: model file, a --set and a table cell say the same thing the same way
_PLAIN = {
    "greater_than_equal": lambda c: f"expected a number >= {_bound(c.get('ge'))}",
    "greater_than": lambda c: f"expected a number > {_bound(c.get('gt'))}",
    "less_than_equal": lambda c: f"expected a number <= {_bound(c.get('le'))}",
    "less_than": lambda c: f"expected a number < {_bound(c.get('lt'))}",
    "finite_number": lambda c: "expected a finite number",
    "float_parsing": lambda c: "expected a number",
    "float_type": lambda c: "expected a number",
    "int_parsing": lambda c: "expected a whole number",
    "int_type": lambda c: "expected a whole number",
    "int_from_float": lambda c: "expected a whole number",
    "bool_parsing": lambda c: "expected true or false",
    "bool_type": lambda c: "expected true or false",
    # pydantic lists "'cost' or 'margin'"; the tables say "cost, margin"
    "literal_error": lambda c: "expected one of " + str(c.get("expected")).replace(
        "'", "").replace(" or ", ", "),
    "string_type": lambda c: "expected text",
    "list_type": lambda c: "expected a list",
}


def plain_message(err: dict) -> str:
    """One pydantic error in netopt's words: the per-cent hint where a share was given as a
    per cent, a validator's own words, else the tables' wording for the same check."""
    if per_cent_for_share(err):
        le = (err.get("ctx") or {}).get("le")
        return share_hint(err.get("input"), le if isinstance(le, int | float) else (
            _share_bound(tuple(err["loc"])) or 1.0))
    if err["type"] == "value_error":  # a validator's own words, without pydantic's label
        return err["msg"].removeprefix("Value error, ")
    plain = _PLAIN.get(err["type"])
    return plain(err.get("ctx") or {}) if plain else err["msg"]


def _pydantic_problem(err: dict, locations: dict[tuple, tuple[str, int]],
                      top_file: str) -> Problem:
    loc = tuple(err["loc"])
    # the innermost file that spells out this key (or its nearest ancestor) owns the error
    file, line = top_file, None
    for probe in [loc[:n] for n in range(len(loc), 0, -1)]:
        if probe in locations:
            file, line = locations[probe]
            break
    msg = plain_message(err)
    if err["type"] == "missing" and loc == ("dataset",):
        msg = ("missing: a model file names its dataset (dataset: ../data/us, a folder of "
               "tables or a workbook), or extends a model file that does")
    elif err["type"] == "model_type" and len(loc) == 1:  # `service: 5`
        msg = (f"expected a section of settings (indented 'key: value' lines under "
               f"{loc[0]}:); every setting is in docs/settings.md")
    if loc and loc[-1] == "[key]":  # pydantic's mark for a dict key that is not allowed
        loc = loc[:-1]
        msg = "unknown key: " + msg[0].lower() + msg[1:]
    column = ".".join(str(p) for p in loc) or None
    if err["type"] == "extra_forbidden":
        near = near_setting(loc)
        msg = (f"unknown setting: did you mean '{near}'? (every setting is listed in "
               "docs/settings.md)" if near else
               "unknown setting (check the spelling; every setting is listed in "
               "docs/settings.md)")
    value = None
    if err["type"] not in ("missing",) and "input" in err:
        inp = err["input"]
        value = None if isinstance(inp, dict | list) else str(inp)
    return Problem(file, line, column, msg, value)


def _share_bound(loc: tuple) -> float | None:
    """The upper bound of the setting at `loc` when it is a share (at most 1, perhaps less:
    `cluster_share_of_reach` stops at 0.5), from the settings' schema; None otherwise. A key
    of a mapping (a season's closure probability) is read from the mapping's value type."""
    from annotated_types import Le

    model: Any = ModelConfig
    metadata: list = []
    for key in loc:
        fields = getattr(model, "model_fields", None)
        if fields is not None and isinstance(key, str) and key in fields:
            info = fields[key]
            model, metadata = info.annotation, list(info.metadata)
        elif get_origin(model) is dict:  # a mapping's key: its value type
            model = get_args(model)[1]
            metadata = list(getattr(model, "__metadata__", ()))
            model = get_args(model)[0] if metadata else model
            metadata = [m for f in metadata for m in getattr(f, "metadata", [f])]
        else:
            return None
    bounds = [m.le for m in metadata if isinstance(m, Le)]
    return float(bounds[0]) if bounds and 0 < bounds[0] <= 1 else None


def per_cent_for_share(err: dict) -> bool:
    """A per cent where a share is expected (`cost_of_capital: 8`, or '8%')."""
    inp, bound = err.get("input"), (err.get("ctx") or {}).get("le")
    if isinstance(inp, str):
        return inp.strip().endswith("%") and _share_bound(tuple(err["loc"])) is not None
    # a share's bound may stop short of 1 (`cluster_share_of_reach` at most 0.5)
    return err["type"] == "less_than_equal" and isinstance(bound, int | float) \
        and 0 < bound <= 1 and isinstance(inp, int | float) and 1 < inp <= 100 * bound


# ---------------------------------------------------------------- dataset tables


def _table_files(folder: Path, name: str) -> list[Path]:
    return [folder / f"{name}{suffix}" for suffix in TABLE_SUFFIXES
            if (folder / f"{name}{suffix}").exists()]


def read_tables(folder: str | Path) -> tuple[dict[str, RawTable], list[Problem]]:
    """Read every known table of a dataset folder (or an .xlsx workbook) as text. Missing
    optional tables are simply absent; a missing required one is a problem, and so is a table
    given twice (`products.csv` and `products.parquet`): neither may silently win."""
    folder = Path(folder)
    if _dataset_kind(folder) == "workbook":
        return read_workbook(folder)
    tables: dict[str, RawTable] = {}
    problems: list[Problem] = []
    read: list[Path] = []
    books = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".xlsx"
                   and not p.name.startswith("~$")) if folder.is_dir() else []
    if books and not any(_table_files(folder, n) for n in TABLES):
        # a folder of one workbook and no table files: one message, not one per table
        return {}, [Problem(display_path(folder), None, None,
                            "no table files here, but a workbook: point `dataset:` at "
                            + " or ".join(f"'{display_path(b)}'" for b in books[:3])
                            + " (a dataset is a folder of CSV files or one .xlsx workbook)")]
    for name, spec in TABLES.items():
        files = _table_files(folder, name)
        read += files
        if not files:
            if spec.required:
                problems.append(Problem(display_path(folder / f"{name}.csv"), None, None,
                                        f"required table '{name}' is missing"))
            continue
        if len(files) > 1:
            names = " and ".join(f.name for f in files)
            problems.append(Problem(display_path(files[0]), None, None,
                                    f"table '{name}' is given twice ({names}): keep one file "
                                    "per table"))
            continue
        frame, probs = read_text_table(files[0])
        problems += probs
        if frame is not None:
            tables[name] = RawTable(name, display_path(files[0]), frame)
    return tables, problems + _unknown_tables(folder, read)


def _unknown_tables(folder: Path, read: list[Path]) -> list[Problem]:
    """A warning for each table-like file the dataset does not read but whose name is near a
    table's: an optional table saved as incidences.csv or state_incidence.csv would
    otherwise be left out without a word, and the case solved without it. Files of other
    names (notes.csv) are the user's business."""
    problems = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in TABLE_SUFFIXES or any(
                path.samefile(f) for f in read):  # Sites.csv is sites.csv where case folds
            continue
        near = near_table(path.stem)
        if near:
            problems.append(Problem(
                display_path(path), None, None,
                f"not a table netopt reads: ignored (did you mean {near}"
                f"{path.suffix.lower()}?)", severity="warning"))
    return problems


def read_dataset(source: str | Path) -> tuple[dict[str, RawTable], list[Problem]]:
    """The tables of a dataset folder, a workbook, or the dataset a model file names."""
    source = Path(source)
    shown = display_path(source)
    if source.suffix.lower() in MODEL_SUFFIXES:
        loaded, problems = load_model(source)
        if loaded is None:
            return {}, problems
        tables, more = read_tables(loaded.dataset_path)
        return tables, problems + more + _not_in_tables(loaded)
    elif not source.exists():
        return {}, [Problem(shown, None, None, "not found (expected a model file, a dataset "
                            "folder or an .xlsx workbook)")]
    elif not source.is_dir() and not is_workbook(source):
        return {}, [Problem(shown, None, None, "expected a model file (.yaml), a dataset "
                            "folder or an .xlsx workbook")]
    return read_tables(source)


def _not_in_tables(loaded: LoadedModel) -> list[Problem]:
    """What a model file changes in its dataset when it loads (edits, its products' scope, a
    gazetteer's zones): the stored tables lack it, so a copy of them says so instead of
    passing for the case."""
    shown = display_path(loaded.dataset_path)
    out: list[Problem] = []
    for i, edit in enumerate(loaded.config.edits):
        file, line = loaded.where("edits", i)
        verbs = " and ".join(k for k in ("set", "scale") if getattr(edit, k))
        out.append(Problem(file, line, f"edits.{i}",
                           f"this edit ({verbs} {', '.join([*edit.set, *edit.scale])} of "
                           f"{edit.table}) is applied when the model loads, not in the tables "
                           f"of {shown}: the tables written here are as stored, without it",
                           severity="warning"))
    scope = loaded.config.products
    if scope is not None:
        file, line = loaded.where("products")
        out.append(Problem(file, line, "products",
                           f"the model uses {', '.join(scope)} only; the tables written here "
                           f"hold every product of {shown}", severity="warning"))
    extract = loaded.config.zones.gazetteer_extract
    if extract is not None:
        file, line = loaded.where("zones", "gazetteer_extract")
        out.append(Problem(file, line, "zones.gazetteer_extract",
                           f"the GeoNames places of >= {extract} people are added to the zones "
                           f"when the model loads, not in the tables of {shown}: the tables "
                           "written here hold the zones as stored", severity="warning"))
    return out
