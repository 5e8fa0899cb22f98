"""Generated pages of the user guide, so the reference cannot drift from the code.

`docs/settings.md` lists every model-file setting, walked recursively from the pydantic
schema in `netopt/data/config.py` (`ModelConfig`): type, default, allowed values or bounds and
description. `docs/commands.md` lists every command of the command line, walked from the
click command tree of the typer app (`netopt/cli/app.py`): arguments and options with their
help text and defaults. A test regenerates both and fails when a committed file differs, so
after adding or changing a setting, a command or an option run `netopt docs build`. The
command line hands its app to `register`; this module never imports it (no import cycle).

The input tables need no page here: `data/README.md` is generated from `netopt/data/schema.py`
by `netopt data build-us` (and tested), and the guide links to it.
"""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import typer
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ..data.config import ModelConfig

#: the guide's folder in a source checkout (an installed wheel has none: pass --out)
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
SETTINGS_FILE = "settings.md"
COMMANDS_FILE = "commands.md"
_SCALARS = {str: "text", int: "integer", float: "number", bool: "true/false"}


# ---------------------------------------------------------------- helpers


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to
    hyphens (`## Top level` -> `#top-level`)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings class a field holds directly (a section), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _item_models(annotation: Any) -> list[type[BaseModel]]:
    """Settings classes nested in list[...], dict[..., ...] or X | None (list items)."""
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        model = _model_of(arg)
        if model is not None:
            found.append(model)
        else:
            found += _item_models(arg)
    return found


def _literals(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    out: list[Any] = []
    for arg in get_args(annotation):
        out += _literals(arg)
    return out


def type_text(annotation: Any) -> str:
    """A field's type in model-file words: number, integer, text, list of text, ..."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if origin is Annotated:
        return type_text(args[0])
    if origin is Literal:
        kinds = {type(a) for a in args}
        return _SCALARS.get(kinds.pop(), "value") if len(kinds) == 1 else "value"
    if origin in (Union, types.UnionType):
        parts = [type_text(a) for a in args if a is not type(None)]
        text = " or ".join(dict.fromkeys(parts))
        return f"{text} or null" if type(None) in args else text
    if origin is list:
        if args and _model_of(args[0]) is not None:
            return "list of items"
        return f"list of {type_text(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {type_text(args[0])} to {type_text(args[1])}" if args \
            else "mapping"
    if _model_of(annotation) is not None:
        return "section"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def bounds_text(info: FieldInfo) -> str:
    """Allowed values (Literal) and numeric bounds (ge, gt, le, lt) of a field."""
    parts = [f"`{v}`" for v in _literals(info.annotation)]
    for meta in info.metadata:
        for cls, sign in ((at.Ge, ">="), (at.Gt, ">"), (at.Le, "<="), (at.Lt, "<")):
            if isinstance(meta, cls):
                value = getattr(meta, cls.__name__.lower())
                parts.append(f"{sign} {value:g}" if isinstance(value, float) else
                             f"{sign} {value}")
    return ", ".join(parts)


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return f"`{value}`" if value else '`""` (empty)'
    if isinstance(value, BaseModel):
        return ""
    return f"`{json.dumps(value)}`"


def default_text(info: FieldInfo) -> str:
    """The default as written in YAML; **required** when there is none."""
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        return _value_text(info.default_factory())  # type: ignore[call-arg]
    return _value_text(info.default)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _doc(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    return " ".join(doc.split()) if doc and not doc.startswith(model.__name__ + "(") else ""


# ---------------------------------------------------------------- settings page


#: what the keys of a mapping of sections name, for its entries' dotted keys
#: (`timeline.jcode.<product>.period`); any other mapping's keys read `<key>`
MAPPING_KEYS = {"timeline.jcode": "product"}


def _item_key(key: str, annotation: Any) -> str:
    """The dotted key of one item of a list (`edits[]`) or one entry of a mapping
    (`timeline.jcode.<product>`) of sections."""
    if get_origin(annotation) is dict:
        return f"{key}.<{MAPPING_KEYS.get(key, 'key')}>"
    return f"{key}[]"


def _item_title(item_key: str) -> str:
    return f"`{item_key}` entries" if item_key.endswith(">") else f"{item_key} items"


def _sections(root: type[BaseModel]) -> list[tuple[str, str, type[BaseModel], FieldInfo | None]]:
    """(title, key prefix, model, field) for the top level and every nested section, list
    item or mapping entry, depth first in the order the fields are declared."""
    out: list[tuple[str, str, type[BaseModel], FieldInfo | None]] = [
        ("Top level", "", root, None)]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            section = _model_of(info.annotation)
            if section is not None:
                out.append((f"{prefix}{name}", f"{prefix}{name}.", section, info))
                walk(section, f"{prefix}{name}.")
            for item in _item_models(info.annotation):
                item_key = _item_key(f"{prefix}{name}", info.annotation)
                out.append((_item_title(item_key), f"{item_key}.", item, info))
                walk(item, f"{item_key}.")

    walk(root, "")
    return out


def _rows(model: type[BaseModel], prefix: str, titles: dict[str, str]) -> list[str]:
    lines = ["| setting | type | default | allowed | description |", "|---|---|---|---|---|"]
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        description = info.description or ""
        if _model_of(info.annotation) is not None:
            description = (description + " " if description else "") + \
                f"See [{key}](#{slug(titles[key])})."
        for _item in _item_models(info.annotation):
            item_key = _item_key(key, info.annotation)
            title = titles[item_key]
            each = "Each entry" if item_key.endswith(">") else "Each item"
            description += f" {each}: see [{title}](#{slug(title)})."
        lines.append(f"| `{key}` | {type_text(info.annotation)} | {default_text(info)} | "
                     f"{_cell(bounds_text(info))} | {_cell(description)} |")
    return lines


class _Dumper(yaml.SafeDumper):
    """Block mappings (one setting a line), flow lists (`[1.0, 3.0]`): a model file's look."""


_Dumper.add_representer(list, lambda dumper, data: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", data, flow_style=True))


def _defaults_yaml(root: type[BaseModel]) -> str:
    """Every setting at its default, as a model file would spell it out."""
    data = root.model_validate({"dataset": "../data/us-small"}).model_dump(mode="json")
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     width=100).rstrip()


def settings_markdown(root: type[BaseModel] = ModelConfig) -> str:
    """docs/settings.md: every model-file setting, generated from the pydantic schema."""
    sections = _sections(root)
    titles = {prefix.rstrip("."): title for title, prefix, _, _ in sections}
    lines = [
        "# Model-file settings", "",
        "<!-- Generated from netopt/data/config.py by `netopt docs build`; do not edit by hand: "
        "a test regenerates this file and fails if it differs. -->", "",
        "A model file (`models/*.yaml`) is one YAML mapping of the settings below. Only "
        "`dataset` is required; a setting left out takes its default. Unknown keys are "
        "errors that name the file and line, so a typo never goes unnoticed. A model file "
        "may `extends:` another one: its settings override the parent's key by key and its "
        "`edits` are appended to the parent's. The same dotted keys work in "
        "`netopt sweep --set service.min_share=0.5,0.9` and in Python "
        "(`case.with_changes(settings={\"service.min_share\": 0.9})`, see "
        "[the Python API](python-api.md)). The dataset's tables and columns are in "
        "[data/README.md](../data/README.md).", "",
        "Types: *number* (decimal), *integer*, *text*, *true/false*; *null* means unset "
        "(the setting does not apply). Bounds are inclusive (>=, <=) or strict (>, <).", "",
        "## Contents", "",
    ]
    lines += [f"- [{title}](#{slug(title)})" for title, _, _, _ in sections]
    lines += ["- [Every setting at its default](#every-setting-at-its-default)", ""]
    for title, prefix, model, info in sections:
        lines += [f"## {title}", ""]
        intro = (info.description if info is not None and info.description and
                 not title.endswith(("items", "entries")) else "") or _doc(model)
        if intro:
            lines += [intro, ""]
        lines += _rows(model, prefix, titles) + [""]
    lines += ["## Every setting at its default", "",
              "With `dataset` set to the small regional dataset:", "", "```yaml",
              _defaults_yaml(root), "```", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- command reference

_PARAM_TYPES = {Path: "path", int: "integer", float: "number", str: "text"}
#: click's type names (typer before 0.29 hands options a click type)
_CLICK_TYPES = {"path": "path", "integer": "integer", "integer range": "integer",
                "float": "number", "float range": "number", "text": "text"}


def _param_type(param: Any) -> str:
    """An argument's or option's type in plain words (`flag` for an on/off option)."""
    if getattr(param, "is_flag", False):
        return "flag"
    click_type = getattr(param, "type", None)
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if click_type is not None and descriptor is None:
        text = _CLICK_TYPES.get(getattr(click_type, "name", ""), "text")
    else:
        base = args[0] if get_origin(annotation) is list or len(args) == 1 else annotation
        text = _PARAM_TYPES.get(base, "text")
    if getattr(param, "multiple", False) or getattr(param, "nargs", 1) == -1:
        text = f"list of {text}"
    bounds = []
    for sign, attr in ((">=", "min"), ("<=", "max")):
        value = getattr(param, attr, getattr(click_type, attr, None))
        if value is not None:
            bounds.append(f"{sign} {value}")
    return ", ".join([text, *bounds])


def _default(param: Any) -> str:
    """The default as typed on the command line; **required** when there is none."""
    if param.required:
        return "**required**"
    value = param.default
    if getattr(param, "is_flag", False):
        if param.secondary_opts and value is not None:  # --partners / --no-partners
            return f"`{(param.opts if value else param.secondary_opts)[0]}`"
        return ""
    if value is None or value == [] or value == ():
        return ""
    if isinstance(value, Path) and value.is_absolute():
        root = DOCS_DIR.parent  # the checkout, not this machine's path
        value = value.relative_to(root) if value.is_relative_to(root) else value.name
    return f"`{value}`"


def _md(text: str) -> str:
    """Help text in a Markdown table cell: one line, `|` and `<...>` shown as typed."""
    return _cell(text).replace("<", "\\<")


def _help_paragraphs(text: str | None) -> list[str]:
    paragraphs = [" ".join(p.split()) for p in (text or "").strip().split("\n\n")]
    return [p.replace("<", "\\<") for p in paragraphs if p]


def _commands(group: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    """(name path, command or group) depth first in registration order, hidden ones left out."""
    out: list[tuple[list[str], Any]] = []
    for name, command in group.commands.items():
        if getattr(command, "hidden", False):
            continue
        out.append(([*path, name], command))
        if hasattr(command, "commands"):
            out += _commands(command, [*path, name])
    return out


def _usage(path: list[str], command: Any) -> str:
    parts = list(path)
    if any(not getattr(p, "hidden", False) for p in command.params
           if p.param_type_name == "option"):
        parts.append("[OPTIONS]")
    if hasattr(command, "commands"):
        return " ".join([*parts, "COMMAND", "..."])
    for p in command.params:
        if p.param_type_name == "argument":
            name = p.name.upper() + ("..." if p.nargs == -1 else "")
            parts.append(name if p.required else f"[{name}]")
    return " ".join(parts)


def _param_tables(command: Any) -> list[str]:
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params
               if p.param_type_name == "option" and not getattr(p, "hidden", False)]
    lines: list[str] = []
    if arguments:
        lines += ["| argument | type | default | description |", "|---|---|---|---|"]
        lines += [f"| `{p.name.upper()}{'...' if p.nargs == -1 else ''}` | {_param_type(p)} | "
                  f"{_default(p)} | {_md(p.help or '')} |" for p in arguments]
        lines.append("")
    if options:
        lines += ["| option | type | default | description |", "|---|---|---|---|"]
        for p in options:
            names = ", ".join(f"`{o}`" for o in p.opts) + "".join(
                f" / `{o}`" for o in p.secondary_opts)  # --partners / --no-partners
            lines.append(f"| {names} | {_param_type(p)} | {_default(p)} | {_md(p.help or '')} |")
        lines.append("")
    return lines


def commands_markdown(app: typer.Typer) -> str:
    """docs/commands.md: every command, its arguments and options, from the typer app (handed
    over by `register`, which the app calls: this module does not import the app)."""
    root = typer.main.get_command(app)
    commands = _commands(root, ["netopt"])
    lines = [
        "# Command reference", "",
        "<!-- Generated from netopt/cli/app.py by `netopt docs build`; do not edit by hand: "
        "a test regenerates this file and fails if it differs. -->", "",
        "Every command of `netopt`, with its arguments and options, as `netopt COMMAND "
        "--help` prints them. Options that a command shares with a model-file setting "
        "(`--time-limit`, `--gap`, `--seed`, `--threads`, `--solver`) override it for that "
        "run; the settings are in [settings.md](settings.md). Exit codes: 0 success, 2 "
        "invalid input, 3 infeasible model, 4 no network within the time limit, 1 a solver "
        "failure, 130 interrupted (see [the README](../README.md)).", "",
        "## Contents", "",
    ]
    lines += [f"- [{' '.join(path)}](#{slug(' '.join(path))})" for path, _ in commands]
    lines += ["", "## netopt", "", "```", _usage(["netopt"], root), "```", ""]
    lines += _help_paragraphs(root.help) + [""] + _param_tables(root)
    for path, command in commands:
        lines += [f"## {' '.join(path)}", "", "```", _usage(path, command), "```", ""]
        for paragraph in _help_paragraphs(command.help):
            lines += [paragraph, ""]
        if hasattr(command, "commands"):
            lines += [f"- [{' '.join([*path, name])}](#{slug(' '.join([*path, name]))}): "
                      f"{_md(sub.short_help or '')}" for name, sub in command.commands.items()
                      if not getattr(sub, "hidden", False)]
            lines.append("")
        else:
            lines += _param_tables(command)
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- files


def generated_pages(app: typer.Typer) -> dict[str, str]:
    """File name (in docs/) -> generated text; `app`: the netopt command line."""
    return {SETTINGS_FILE: settings_markdown(), COMMANDS_FILE: commands_markdown(app)}


def write_docs(app: typer.Typer, out: Path = DOCS_DIR) -> list[Path]:
    """Regenerate the generated pages in `out`; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in generated_pages(app).items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def stale_pages(app: typer.Typer, out: Path = DOCS_DIR) -> list[str]:
    """Generated pages missing from `out` or different from a fresh generation."""
    out = Path(out)
    return [name for name, text in generated_pages(app).items()
            if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]


def _run(app: typer.Typer, out: Path, check: bool) -> int:
    if check:
        stale = stale_pages(app, out)
        for name in stale:
            print(f"{out / name} is out of date: run `netopt docs build`", file=sys.stderr)
        return 1 if stale else 0
    for path in write_docs(app, out):
        print(f"wrote {path}")
    return 0


def register(app: typer.Typer) -> None:
    """Add `netopt docs build [--out DIR] [--check]` to the netopt typer app."""
    docs_app = typer.Typer(help="The user guide in docs/: regenerate its reference pages.",
                           no_args_is_help=True)

    @docs_app.command("build")
    def build(
        out: Annotated[Path, typer.Option("--out", help="docs folder")] = DOCS_DIR,
        check: Annotated[bool, typer.Option("--check", help="Exit 1 if a generated page "
                                            "is out of date; write nothing.")] = False,
    ) -> None:
        """Regenerate docs/settings.md (from the model-file schema) and docs/commands.md
        (from this command line)."""
        code = _run(app, out, check)
        if code:
            raise typer.Exit(code)

    app.add_typer(docs_app, name="docs")

