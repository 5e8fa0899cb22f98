"""The user guide: generated pages up to date, every link resolves, every output documented,
and the Python snippets of the README and the API page run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import netopt
from netopt.cli.app import app
from netopt.cli.docs import (
    bounds_text,
    default_text,
    generated_pages,
    slug,
    stale_pages,
    type_text,
    write_docs,
)
from netopt.data.config import ModelConfig, ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md", ROOT / "examples" / "README.md"]
TINY = Path(__file__).parent / "data" / "tiny.yaml"
US_SMALL = ROOT / "models" / "us-small.yaml"
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


# ---------------------------------------------------------------- generated pages


def test_generated_pages_are_up_to_date() -> None:
    """docs/settings.md and docs/commands.md (data/README.md: tests/test_datasets.py)."""
    assert stale_pages(app, DOCS) == [], "stale generated pages: run `netopt docs build`"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every setting's dotted key, list items as `name[].field` and mapping entries as
    `name.<…>.field` (walked independently of the generator, to catch a section it would
    skip)."""
    out = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        out.append(key)
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _keys(ann, key + ".")
        for arg in getattr(ann, "__args__", ()):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                item = key + (".<…>." if getattr(ann, "__origin__", None) is dict else "[].")
                out += _keys(arg, item)
    return out


def test_settings_page_lists_every_setting() -> None:
    text = generated_pages(app)["settings.md"]
    missing = [k for k in _keys(ModelConfig)
               if not re.search(r"\| `" + re.escape(k).replace("<…>", r"<\w+>") + r"` \|", text)]
    assert missing == []


def test_mapping_entries_are_named_by_their_key() -> None:
    """timeline.jcode is keyed by product id, not a list: its entries read
    `timeline.jcode.<product>.period`, never `timeline.jcode[].period`."""
    text = generated_pages(app)["settings.md"]
    assert "| `timeline.jcode.<product>.period` |" in text
    assert "jcode[]" not in text


def test_settings_rendering_of_known_fields() -> None:
    fields = ServiceSettings.model_fields
    assert type_text(fields["max_vein_to_vein_days"].annotation) == "number or null"
    assert bounds_text(fields["min_share"]) == ">= 0, <= 1"
    assert bounds_text(fields["within_km"]) == "> 0"
    assert default_text(fields["within_km"]) == "`250.0`"
    assert default_text(ModelConfig.model_fields["dataset"]) == "**required**"
    assert bounds_text(ModelConfig.model_fields["objective"]) == "`cost`, `margin`"
    assert type_text(ModelConfig.model_fields["products"].annotation) == \
        "list of text or null"


def test_slug_follows_github() -> None:
    assert slug("Top level") == "top-level"
    assert slug("3. Validate") == "3-validate"
    assert slug("edits[] items") == "edits-items"
    assert slug("Status, gaps and time limits") == "status-gaps-and-time-limits"


def test_docs_build_command_checks_and_writes(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["docs", "build", "--out", str(tmp_path), "--check"]).exit_code \
        == 1  # nothing written yet
    result = runner.invoke(app, ["docs", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pages = generated_pages(app)
    assert (tmp_path / "settings.md").read_text() == pages["settings.md"]
    assert (tmp_path / "commands.md").read_text() == pages["commands.md"]
    assert runner.invoke(app, ["docs", "build", "--out", str(tmp_path), "--check"]).exit_code \
        == 0
    for name in ("settings.md", "commands.md"):
        (tmp_path / name).write_text("hand edit\n")
        check = ["docs", "build", "--out", str(tmp_path), "--check"]
        assert runner.invoke(app, check).exit_code == 1
        assert stale_pages(app, tmp_path) == [name]
        assert write_docs(app, tmp_path) == [tmp_path / "settings.md", tmp_path / "commands.md"]
        assert runner.invoke(app, check).exit_code == 0


def test_commands_page_lists_every_command_and_option() -> None:
    """docs/commands.md has a section per command and a row per option, walked here from the
    click tree independently of the generator; no machine path leaks into it."""
    import typer

    text = generated_pages(app)["commands.md"]
    missing = []

    def walk(group: Any, path: list[str]) -> None:
        for name, command in group.commands.items():
            here = [*path, name]
            if f"\n## {' '.join(here)}\n" not in text:
                missing.append(" ".join(here))
            for param in command.params:
                if param.param_type_name == "option" and f"`{param.opts[0]}`" not in text:
                    missing.append(f"{' '.join(here)} {param.opts[0]}")
            if hasattr(command, "commands"):
                walk(command, here)

    walk(typer.main.get_command(app), ["netopt"])
    assert missing == []
    for needle in ("`--capacity`", "`--no-partners`", "`--solver-log`", "`--markdown`",
                   "`--check`", "`--days`", "`--model`", "`--seed`", "`--threads`"):
        assert needle in text
    assert str(ROOT) not in text


# ---------------------------------------------------------------- links


def _headings(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _headings(file):
            broken.append(f"{target}: no heading #{anchor}")
    assert broken == []


def test_guide_index_links_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = {t.partition("#")[0] for t in LINK.findall(index)}
    assert {p.name for p in DOCS.glob("*.md")} - {"README.md"} <= linked


def test_code_map_names_every_module() -> None:
    """docs/code-map.md names every module of netopt/ in its folder's entry of the map."""
    text = (DOCS / "code-map.md").read_text(encoding="utf-8")
    block = FENCE.search(text)
    assert block is not None
    entries: dict[str, str] = {}
    folder = ""
    for line in block.group(0).splitlines():
        start = re.match(r"^ (\w+)/ ", line)
        folder = start.group(1) if start else folder
        entries[folder] = entries.get(folder, "") + line + "\n"
    package = ROOT / "netopt"
    missing = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        if path.name == "__init__.py" or len(parts) == 1:
            continue  # packages, and api.py / __init__.py, named below the map
        if not re.search(rf"\b{re.escape(path.name)}", entries.get(parts[0], "")):
            missing.append("/".join(parts))
    assert missing == [], "name these modules in docs/code-map.md"


# ---------------------------------------------------------------- results page


def test_results_page_documents_every_file_and_summary_key(tmp_path: Path) -> None:
    """Every file `write` produces, every summary.json key and every column is named in
    docs/results.md (a new output fails here until it is documented)."""
    result = netopt.solve(TINY)
    written = result.write(tmp_path)
    doc = (DOCS / "results.md").read_text(encoding="utf-8")
    undocumented = [p.name for p in written if f"`{p.name}`" not in doc]
    undocumented += [k for k in result.summary if f"`{k}`" not in doc]
    per_product = {f"patients_{p}" for p in result.products["product_id"]}  # patients_<product>
    undocumented += [f"{t}.csv: {c}" for t, frame in result.tables.items()
                     for c in frame.columns if f"`{c}`" not in doc and c not in per_product]
    assert undocumented == [], "document these in docs/results.md"


# ---------------------------------------------------------------- snippets run as written


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.M | re.S)


def _run_snippet(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)  # the snippets write under reports/
    code = code.replace('"models/us-small.yaml"', repr(str(US_SMALL)))
    namespace: dict[str, Any] = {}
    exec(compile(code, "<snippet>", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def test_readme_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    [code] = _python_blocks(ROOT / "README.md")
    ns = _run_snippet(code, tmp_path, monkeypatch)
    assert ns["result"].status == "optimal"
    assert ns["result"].summary["settings"]["service"]["min_share"] == 0.6
    assert (tmp_path / "reports" / "us-small-access" / "report.html").is_file()
    assert "patients_served" in capsys.readouterr().out


def test_python_api_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = _python_blocks(DOCS / "python-api.md")[0]
    ns = _run_snippet(code, tmp_path, monkeypatch)
    rows = ns["comparison"].rows
    assert rows["scenario"].tolist() == ["baseline", "price +20 %"]
    # the dearer row is the snippet's own direct solve (a re-solve of the baseline took 12 s)
    assert rows["objective_usd"].iloc[1] == pytest.approx(ns["result"].objective, rel=1e-9)
    assert (tmp_path / "reports" / "compare-price" / "compare.html").is_file()
    assert ns["case"].products.set_index("product_id").at["cart_onc", "price_usd_per_dose"] \
        == pytest.approx(450_000)
