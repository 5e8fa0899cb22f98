"""The Python API: load a case, change it, solve it, compare it - from a script or a notebook.

Each function is a thin layer over the stages the CLI uses (`case.load_case` and
`case.case_from_loaded`, `pipeline.solve_case`, `results.Results`, `report.write_reports`,
`scenarios.run_batch` and `build_comparison`), so `netopt.solve(netopt.load(path))` and
`netopt solve path` give the same network for the same inputs and seed. The analyses of a
solved network (`evaluate`, `explain`, `resilience`, `simulate`, `finance`) call the
commands' analysis functions on the case the result was solved from and write their pages
through the commands' writers, so they give the commands' figures too.

A `Case` is a value: `with_changes` returns a new one and never touches the original, and
its changes are recorded as a recipe (the model file, dotted setting overrides and extra row
edits) - the same form `netopt sweep` uses - so `compare` can rebuild and solve it in worker
processes exactly as a model file with those changes would be.
"""

from __future__ import annotations

import contextlib
import html
import math
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from .analysis.explain import Explanation as _Explanation
from .analysis.resilience import Resilience as _Resilience
from .analysis.scenarios import Comparison as _Comparison
from .analysis.scenarios import (
    OverrideError,
    ScenarioRun,
    ScenarioSpec,
    apply_overrides,
    build_comparison,
    case_of_result,
    check_override_keys,
    grid_specs,
    run_batch,
    scenario_name,
    solved_run,
)
from .analysis.simulation import SimulationResult
from .data import case as _case
from .data.case import inputs_changed
from .data.config import Edit, ModelConfig, SimulationSettings
from .data.io import LoadedModel, load_model, near_setting, plain_message
from .data.problems import InputError, Problem, errors, sort_problems
from .data.tables import display_path
from .results.folder import Run, input_tables
from .results.tables import Results, cost_split, read_summary
from .solver.diagnose import Infeasible, NoNetworkInTime

if TYPE_CHECKING:
    import folium

#: where problems in `with_changes` arguments are reported (there is no file to name)
SETTINGS_SOURCE = "with_changes settings"
SWEEP_SOURCE = "netopt.sweep grid"
EDITS_SOURCE = "with_changes edits"

PathLike = str | Path


# ---------------------------------------------------------------- cases


@dataclass(eq=False, repr=False)
class Case(_case.Case):
    """A validated case: the model file's settings (`config`) and its typed, edited tables.

    Tables are attributes named as in the dataset - `case.sites`, `case.products`,
    `case.zones`, ... - and come back as copies: change a case with `with_changes`, which
    validates the change the way a model file is validated and keeps the recipe that
    `compare` needs to rebuild the case in another process.
    """

    source: LoadedModel | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    added_edits: list[dict[str, Any]] = field(default_factory=list)
    strict: bool = False

    def __post_init__(self) -> None:
        self._made = _fingerprint(self)  # what load or with_changes made (see `_intact`)

    def __getattr__(self, name: str) -> pd.DataFrame:
        # a copy, so editing a table in place cannot make the case differ from its recipe
        return super().__getattr__(name).copy()

    def _intact(self, call: str) -> None:
        """Refuse a case changed in place (`case.config.demand_scale = 2`, a cell of
        `case.tables`): solve used the change while compare, with_changes and the summary's
        recipe did not, so one case gave two answers. Raises InputError naming each change."""
        made, now = getattr(self, "_made", None), _fingerprint(self)
        if made is None or made == now:
            return
        problems = [Problem(call, None, f"config.{key}", f"changed in place ({was!r} -> "
                            f"{value!r}): change a case with case.with_changes(settings="
                            f"{{{key!r}: {value!r}}}), which validates it and keeps the "
                            "recipe compare and the analyses rebuild it from")
                    for key, (was, value) in _changed_settings(made[0], now[0]).items()]
        problems += [Problem(call, None, None, f"table '{name}' changed in place: change "
                             "rows with case.with_changes(edits=[...]); `case.tables` is the "
                             "validated case's own") for name in sorted(
                                 set(made[1]) | set(now[1])) if made[1].get(name) !=
                     now[1].get(name)]
        raise InputError(problems)

    def __repr__(self) -> str:
        changes = len(self.overrides) + len(self.added_edits)
        where = display_path(self.model_path) if self.model_path else "no model file"
        return (f"Case({self.name!r}, {where}, {len(self.tables)} tables, "
                f"{changes} change(s), {len(self.warnings)} warning(s))")

    def with_changes(self, edits: Sequence[Mapping[str, Any] | Edit] = (),
                     settings: Mapping[str, Any] | None = None, *,
                     name: str | None = None) -> Case:
        """A new case with row edits and settings changed; this case stays as it is.

        edits: rows changed as by a model file's `edits:` list, e.g.
            ``{"table": "products", "where": {"product_id": "cart_onc"},
            "scale": {"price_usd_per_dose": 1.2}}``; applied after the model's own edits.
        settings: nested like the model file (``{"service": {"min_share": 0.9}}``) or
            dotted (``{"service.min_share": 0.9}``); merged into the settings, then the whole
            configuration is validated again.
        name: the new case's name (default: this case's).

        Raises InputError listing every problem: an unknown setting or column, a value out of
        bounds, an edit that matches no table - each naming the setting or edit at fault.
        """
        if self.source is None:
            raise TypeError("with_changes needs a case made by netopt.load (it re-reads the "
                            "model file's dataset)")
        self._intact("case.with_changes")
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError("settings= takes a mapping such as {'service': {'min_share': "
                            "0.9}} or {'service.min_share': 0.9}, not " + repr(settings))
        if isinstance(edits, Mapping | str):
            raise TypeError("edits= takes a list of edits: wrap a single edit in a list, "
                            "edits=[{...}]")
        leaves = _flatten(settings or {})
        flat = dict(leaves)
        if name is not None:
            flat["name"] = name
        new_edits = [_edit_dict(e) for e in edits]
        problems = _twice(leaves) + _check_settings(self.source, self.overrides, flat) + \
            _check_edits(new_edits)
        if problems:
            raise InputError(sort_problems(problems))
        overrides = {**self.overrides, **flat}
        added = [*self.added_edits, *new_edits]
        return _build(self.source, overrides, added, self.strict)


def _fingerprint(case: _case.Case) -> tuple[dict[str, Any], dict[str, int]]:
    """A case's settings (flattened) and a hash of each table, to tell a change in place."""
    tables = {}
    for name, frame in case.tables.items():
        try:
            tables[name] = int(pd.util.hash_pandas_object(frame, index=True).sum())
        except TypeError:  # a column of lists: hash its text
            tables[name] = hash(frame.to_csv())
    return dict(_flatten(case.config.model_dump(mode="json"))), tables


def _changed_settings(was: dict[str, Any], now: dict[str, Any]) -> dict[str, tuple]:
    return {key: (was.get(key), now.get(key)) for key in sorted(set(was) | set(now))
            if was.get(key) != now.get(key)}


def load(model_file: PathLike, *, strict: bool = False) -> Case:
    """Load and validate a model file and its dataset, as `netopt validate` does.

    Raises InputError listing every problem (file, row or line, column); with strict=True
    warnings count as errors. Warnings of a valid case are in `case.warnings`.
    """
    base = _case.load_case(model_file, strict=strict)
    loaded, _ = load_model(model_file)  # the recipe's starting point (load_case keeps none)
    return Case(base.config, base.tables, base.model_path, base.dataset_path, base.warnings,
                places=base.places, source=loaded, strict=strict)


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested settings -> dotted leaf keys, descending only into settings sections (so a
    mapping-valued setting such as an edit's `where` stays one value)."""
    out: list[tuple[str, Any]] = []
    for key, value in settings.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and _is_section(dotted):
            out += _flatten(value, dotted + ".")
        else:
            out.append((dotted, value))
    return out


def _twice(leaves: list[tuple[str, Any]]) -> list[Problem]:
    """A setting given both nested and dotted ({'service': {'min_share': 0.5},
    'service.min_share': 0.9}): which one is meant is not for netopt to guess."""
    counts = Counter(key for key, _ in leaves)
    return [Problem(SETTINGS_SOURCE, None, key, "given twice (nested and dotted): keep one")
            for key, count in counts.items() if count > 1]


def _is_section(dotted: str) -> bool:
    model: type[BaseModel] | None = ModelConfig
    for part in dotted.split("."):
        info = model.model_fields.get(part) if model is not None else None
        if info is None:
            return False
        ann = info.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model is not None


def _edit_dict(edit: Mapping[str, Any] | Edit) -> dict[str, Any]:
    if isinstance(edit, Edit):
        return edit.model_dump()
    if not isinstance(edit, Mapping):
        raise TypeError(f"an edit is a mapping like a model file's edits entry, not {edit!r}")
    return dict(edit)


def _check_settings(source: LoadedModel, earlier: Mapping[str, Any],
                    flat: Mapping[str, Any]) -> list[Problem]:
    """Every bad key named: unknown keys first; then the known ones are applied together
    (with the case's earlier changes) and, if that fails, one by one to say which is at
    fault (a rule that spans two settings is reported once, without a key)."""
    problems, known = [], {}
    for key, value in flat.items():
        if key.split(".")[0] == "edits":
            problems.append(Problem(SETTINGS_SOURCE, None, key, "row edits go in edits=, "
                                    "not in settings"))
        elif key == "extends":
            problems.append(Problem(SETTINGS_SOURCE, None, key, "cannot be changed here: "
                                    "write a model file that extends this one"))
        else:
            try:
                check_override_keys([key])
            except OverrideError:
                near = near_setting(tuple(key.split(".")))
                hint = f"did you mean '{near}'?" if near else "check the spelling;"
                problems.append(Problem(SETTINGS_SOURCE, None, key, f"unknown setting ({hint} "
                                        "every setting is in docs/settings.md)"))
            else:
                known[key] = value
    base_dir = source.path.parent
    try:
        apply_overrides(source.config, {**earlier, **known}, base_dir)
    except OverrideError as together:
        blamed = []
        for key, value in known.items():
            try:
                apply_overrides(source.config, {key: value}, base_dir)
            except OverrideError as exc:
                # "override 'service.min_share': Input should be ... (found 1.5)": the key
                # is already the problem's column
                message = str(exc).removeprefix(f"override '{key}': ")
                blamed.append(Problem(SETTINGS_SOURCE, None, key, message))
        problems += blamed or [Problem(SETTINGS_SOURCE, None, None, str(together))]
    return problems


def _check_edits(edits: list[dict[str, Any]]) -> list[Problem]:
    problems = []
    for j, edit in enumerate(edits):
        try:
            Edit.model_validate(edit)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                msg = ("unknown key (an edit has table, where, set, scale)"
                       if err["type"] == "extra_forbidden" else plain_message(err))
                problems.append(Problem(EDITS_SOURCE, None, f"edits[{j}]" + (
                    f".{loc}" if loc else ""), msg))
    return problems


def _recipe(overrides: Mapping[str, Any], added: list[dict[str, Any]]) -> dict[str, Any]:
    """Overrides in the form `scenarios.apply_overrides` (and so `netopt sweep`) takes."""
    return {**overrides, "edits": list(added)} if added else dict(overrides)


def _build(source: LoadedModel, overrides: dict[str, Any], added: list[dict[str, Any]],
           strict: bool) -> Case:
    """Validate a recipe as `load_case` validates a model file: the settings, then the
    dataset with every edit applied through the model-file path (`case_from_loaded`)."""
    try:
        config = apply_overrides(source.config, _recipe(overrides, added), source.path.parent)
    except OverrideError as exc:
        raise InputError([Problem(SETTINGS_SOURCE, None, None, str(exc))]) from None
    dataset = Path(config.dataset)
    if not dataset.exists():  # a folder of tables or a workbook; read_tables says which
        raise InputError([Problem(SETTINGS_SOURCE, None, "dataset", "dataset not found",
                                  display_path(dataset))])
    # problems found while applying a setting or an added edit name the API call, not a
    # line of the model file
    locations = dict(source.locations)
    for key in overrides:
        locations[tuple(key.split("."))] = (SETTINGS_SOURCE, None)  # type: ignore[assignment]
    first = len(source.config.edits)
    for j in range(len(added)):
        locations[("edits", first + j)] = (f"{EDITS_SOURCE}[{j}]", None)  # type: ignore[assignment]
    loaded = dc_replace(source, config=config, dataset_path=dataset.resolve(),
                        locations=locations)
    built, problems = _case.case_from_loaded(loaded)
    failing = problems if strict else errors(problems)
    if failing or built is None:
        if strict:
            problems = [dc_replace(p, severity="error") for p in problems]
        raise InputError(sort_problems(problems))
    return Case(built.config, built.tables, source.path, dataset.resolve(),
                sort_problems(problems), places=built.places, source=source,
                overrides=overrides,
                added_edits=added, strict=strict)


# ---------------------------------------------------------------- results


class Result(Results):
    """One solved network: result tables as attributes (`result.sites`, `result.kpis`,
    `result.costs`, `result.assignments`, ...), `result.summary` (the summary.json dict) and
    `result.info` (solver status, bound, gap, times). `Result.read(folder)` reloads a folder
    written by `write` or `netopt solve`. Each table comes back as a copy, as a case's do:
    editing it changes neither the result's other figures nor what `write` and `compare`
    use."""

    #: the case `solve` or `evaluate` solved (None for a result read from a folder): the
    #: case the analyses (`explain`, `resilience`, ...) take when none is given
    _solved_from: _case.Case | None = None

    def __getattr__(self, name: str) -> pd.DataFrame:
        # a copy: `r.sites.loc[..., "active"] = False` left summary and kpis disagreeing
        return super().__getattr__(name).copy()

    @property
    def network_cost(self) -> float:
        """Cash per year of running the network, the headline of report.html: the objective
        less the unserved penalty (not cash) and other penalties, revenue and cost of goods."""
        return float(cost_split(self.tables["costs"])["network_cost_usd"])

    @property
    def status(self) -> str:
        """optimal, feasible (stopped by the time limit with a gap), ..."""
        return str(self.summary.get("status", self.info.status))

    @property
    def objective(self) -> float:
        """Objective in USD per year (cost, or minus the margin with objective: margin)."""
        value = self.summary.get("objective")
        return math.nan if value is None else float(value)

    @property
    def gap(self) -> float | None:
        """Relative MIP gap at the end of the solve (None when the solver reported none)."""
        return self.summary.get("gap")

    def map(self) -> folium.Map:
        """The interactive network map (displays inline in Jupyter); same as map.html."""
        from .report.maps import build_map

        return build_map(self)

    def write(self, out: PathLike, report: bool = True) -> list[Path]:
        """Write the same files as `netopt solve --out`: every table as CSV, summary.json,
        netopt-manifest.json and (unless report=False) map.html, report.html, details.html
        and network.xlsx."""
        from .results.folder import results_folder

        # tables and reports are one run: staged together, moved into place together
        with results_folder(Path(out), self.run("Result.write")) as staging:
            paths = super().write(staging.dir)
            if report:
                from .report import write_reports

                paths += write_reports(self, staging.dir)
        return staging.final(paths)

    def __repr__(self) -> str:
        gap = "" if self.gap is None else f", gap {self.gap:.3%}"
        return (f"Result({self.summary.get('model', '')!r}, {self.status}, "
                f"objective ${self.objective:,.0f}/yr{gap})")

    def _repr_html_(self) -> str:
        kpis = self.tables.get("kpis")
        body = kpis.to_html(index=False) if kpis is not None else ""
        return f"<p><b>{repr(self)}</b></p>{body}"


def solve(case: Case | _case.Case | PathLike, *, time_limit: float | None = None,
          gap: float | None = None, threads: int | None = None, seed: int | None = None,
          solver: str | None = None, log: bool = False,
          progress: Callable[[str], None] | None = None) -> Result:
    """Solve a case (or a model file) as `netopt solve` does; nothing is written.

    time_limit, gap, threads, seed and solver (highs, gurobi, cplex, xpress, scip, cbc)
    override the model's `solver:` settings for this solve; log=True shows the solver's log;
    progress receives one line per stage. A solve stopped by the time limit returns its
    network with the gap (result.status == "feasible"). Raises Infeasible (with `reasons`)
    when the hard settings cannot all be met, NoNetworkInTime (a kind of Infeasible) when the
    limit ends before any network is found, SolverUnavailable when the solver is unknown or
    not installed.
    """
    from .results.pipeline import solve_case

    case = _case_arg(case, "netopt.solve")
    kwargs: dict[str, Any] = {"progress": progress} if progress is not None else {}
    result = solve_case(case, time_limit=time_limit, gap=gap, threads=threads, seed=seed,
                        tee=log, solver_name=solver, **kwargs)
    return _result_of(result, case)


def _case_arg(case: object, call: str) -> _case.Case:
    """A case handed to `call`: a model file's path is loaded; a case changed in place is
    refused (`Case._intact`), since its recipe would not rebuild it."""
    if isinstance(case, str | Path):
        case = load(case)
    elif not isinstance(case, _case.Case):
        raise TypeError(f"{call} takes a Case (netopt.load) or a model file's path, not "
                        f"{type(case).__name__}")
    if isinstance(case, Case):
        case._intact(call)
    return case


def _result_of(solved: Results, case: _case.Case) -> Result:
    """A solve of `case` as a Result that keeps the case (the analyses' default `case=`),
    with the case's `with_changes` recorded in its summary (`changes`: what the model file
    does not hold, which the analyses of its folder re-apply)."""
    summary = solved.summary
    recipe = changes_of(case)
    if recipe:
        summary["changes"] = recipe
    result = Result(solved.tables, solved.info, summary)
    result._solved_from = case
    return result


def changes_of(case: object) -> dict[str, Any] | None:
    """A case's changes made here (`with_changes`) as summary.json's `changes`: the settings
    (dotted) and the edits added after the model file's own. None for a case as loaded."""
    overrides = getattr(case, "overrides", None) or {}
    added = getattr(case, "added_edits", None) or []
    if not overrides and not added:
        return None
    return {"settings": dict(overrides), "edits": [dict(e) for e in added]}


# ---------------------------------------------------------------- comparison


@dataclass
class Comparison(_Comparison):
    """Scenarios side by side: `rows` (one row per scenario: status, objective, service,
    network size and cost by term), `site_changes` (sites opened or closed against the first
    scenario, and offers an open site adds or drops), `sites` (each scenario's sites table)
    and `runs` (each scenario's status, reason, summary, costs, sites and hubs)."""

    runs: list[ScenarioRun] = field(default_factory=list)

    def write(self, out: PathLike, report: bool = True,
              scenario_folders: bool = False) -> list[Path]:
        """Write what `netopt compare --out` writes: compare.csv, site_changes.csv,
        term_changes.csv, facility_changes.csv and (unless report=False) compare.html and
        compare.xlsx; with scenario_folders=True also each scenario's whole result in
        scenarios/<name>/, as `--scenario-folders` does."""
        from .results.folder import results_folder

        shown = self if scenario_folders else dc_replace(self, results=None)  # no links
        with results_folder(Path(out), self.run("Comparison.write")) as staging:
            paths = self.write_tables(staging.dir)
            if report:
                from .report.compare import write_comparison

                paths += write_comparison(shown, staging.dir)
            if scenario_folders:
                from .report import write_scenario_folders

                paths += write_scenario_folders(shown, staging.dir, "Comparison.write",
                                                reports=report)
        return staging.final(paths)

    def _repr_html_(self) -> str:
        return f"<p><b>{self.title}</b></p>" + self.rows.to_html(index=False)


def _spec_of(item: _case.Case | PathLike, name: str | None) -> ScenarioSpec:
    if isinstance(item, str | Path):
        return ScenarioSpec(name or scenario_name(item), str(item), {})
    if isinstance(item, Case) and item.source is not None:
        item._intact("netopt.compare")
        return ScenarioSpec(name or item.name, str(item.source.path),
                            _recipe(item.overrides, item.added_edits))
    if item.model_path is None:
        raise TypeError("compare needs cases loaded from a model file (netopt.load)")
    return ScenarioSpec(name or item.name, str(item.model_path), {})


def _run_of(result: Results, name: str | None) -> ScenarioRun:
    """A solved result as a batch row, with the figures `scenarios.run_one` records (through
    the same `solved_run`, so its ordering parts are there as a solved case's are)."""
    service = (result.summary.get("settings") or {}).get("service", {})
    spec = ScenarioSpec(name or str(result.summary.get("model", "")),
                        str(result.summary.get("model_file") or ""), {})
    return solved_run(spec, result, service.get("within_km", math.nan),
                      service.get("min_share", math.nan))


def compare(items: Sequence[_case.Case | Results | PathLike],
            names: Sequence[str] | None = None, *, title: str | None = None,
            workers: int | None = 1, time_limit: float | None = None,
            gap: float | None = None, seed: int | None = None,
            solver: str | None = None) -> Comparison:
    """Compare scenarios as `netopt compare` does; the first one is the reference.

    items: cases (solved here, from their model file and with_changes recipe, through the
    batch runner of `netopt compare` / `sweep`), results you already have (used as they
    are; keep them for maps), or model file paths. names: one label per item (default: the
    case or model names). workers: local processes for the solves (1 = this process,
    None = every CPU). A case that is invalid or infeasible gets its row with the reason;
    the others go on. solver: one solver for every solve (default: each model's
    `solver.name`). Write the tables and page with `.write(out)`.
    """
    if isinstance(items, _case.Case | Results | str | Path) or not isinstance(items, Sequence):
        raise TypeError("compare takes a list of scenarios (cases, results or model files), "
                        f"not {type(items).__name__}: compare([baseline, other])")
    if not items:
        raise ValueError("compare needs at least one scenario: compare([baseline, other])")
    if names is not None and len(names) != len(items):
        raise ValueError(f"{len(names)} names for {len(items)} scenarios")
    labels = list(names) if names is not None else [None] * len(items)
    runs: list[ScenarioRun | None] = [None] * len(items)
    todo: list[tuple[int, ScenarioSpec]] = []
    for i, (item, label) in enumerate(zip(items, labels, strict=True)):
        if isinstance(item, Results):
            runs[i] = _run_of(item, label)
            runs[i].result = item
        else:
            todo.append((i, _spec_of(item, label)))
    if todo:
        # the first item solved here is the baseline the others start from (as in the CLI)
        solved = run_batch([spec for _, spec in todo], workers=workers,
                           time_limit=time_limit, gap=gap, seed=seed, solver=solver,
                           baseline_start=todo[0][0] == 0, keep_results=True)
        for (i, _), run in zip(todo, solved, strict=True):
            runs[i] = run
    done = [r for r in runs if r is not None]
    for i, run in enumerate(runs):  # a solved scenario's result as the API's own Result
        if run is not None and run.result is not None and not isinstance(run.result, Result):
            solved = run.result
            run.result = Result(solved.tables, solved.info, solved.summary)
            if isinstance(items[i], _case.Case):  # the analyses' default case=
                run.result._solved_from = items[i]
    base = build_comparison(done, title or "Scenario comparison: " + ", ".join(
        r.spec.name for r in done))
    return Comparison(**{f.name: getattr(base, f.name) for f in fields(base)}, runs=done)


def sweep(case: _case.Case | PathLike, grid: Mapping[str, Sequence[Any]], *,
          title: str | None = None, workers: int | None = 1, time_limit: float | None = None,
          gap: float | None = None, seed: int | None = None,
          solver: str | None = None) -> Comparison:
    """Solve every combination of setting values on one case, as `netopt sweep --set` does,
    and compare them; the first combination is the baseline.

    grid: dotted setting -> values, e.g. ``{"hubs.max_active": [20, 3], "service.min_share":
    [0, 0.9]}`` (four scenarios, named ``max_active=20,min_share=0`` ...). The case's own
    changes (`with_changes`) hold in every scenario. Other arguments as in `compare`.
    """
    if isinstance(case, str | Path):
        case = load(case)
    if not isinstance(case, Case) or case.source is None:
        raise TypeError("sweep takes a case made by netopt.load (or a model file's path), not "
                        f"{type(case).__name__}")
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("sweep needs a grid of settings and values, e.g. "
                         "{'hubs.max_active': [20, 3]}")
    grid = {k: [v] if isinstance(v, str) or not isinstance(v, Sequence) else list(v)
            for k, v in grid.items()}
    case._intact("netopt.sweep")
    # every key and value checked as with_changes checks them, named as the grid's
    problems = [dc_replace(p, file=SWEEP_SOURCE) for key, values in grid.items()
                for value in values
                for p in _check_settings(case.source, case.overrides, {key: value})]
    if problems:
        raise InputError(sort_problems(list(dict.fromkeys(problems))))
    specs = grid_specs(case.source.path, grid)
    cases = [case.with_changes(settings=spec.overrides) for spec in specs]  # named by them
    return compare(cases, [spec.name for spec in specs], title=title or (
        f"Sweep of {case.name}"), workers=workers, time_limit=time_limit, gap=gap, seed=seed,
        solver=solver)


# ---------------------------------------------------------------- analyses of a result
#
# Each is the command of the same name on a result at hand: the same analysis function
# (netopt/analysis) on the case the result was solved from (`_case_of`), and `write` through
# the command's page writers and staged result folder.

#: summary.json fields that tell one solve from another: a folder whose summary.json agrees
#: on all of them holds the analysed result (its page joins it); any other solve's is refused
SAME_SOLVE = ("model", "model_file", "inputs_sha256", "status", "objective")


def _result_arg(result: object, call: str) -> Results:
    if not isinstance(result, Results):
        raise TypeError(f"{call} takes a Result (netopt.solve or netopt.Result.read), not "
                        f"{type(result).__name__}")
    return result


def _case_of(result: Results, case: _case.Case | PathLike | None, call: str,
             warn: bool = True) -> _case.Case:
    """The case an analysis of `result` re-solves or reads: `case=` when given; else the one
    `solve` kept; else, for a result read from a folder, its model file with summary.json's
    changes (`case_of_result`, as the commands rebuild it), with a warning (unless the
    analysis gives its own) when those inputs changed since the solve. ValueError saying to
    pass case= when no case is known."""
    if case is None:
        case = getattr(result, "_solved_from", None)
    if case is not None:
        return _case_arg(case, call)
    model_file = result.summary.get("model_file")
    if not model_file or not Path(model_file).is_file():
        why = (f"its model file {model_file} is not found" if model_file else
               "its summary names no model file")
        raise ValueError(f"{call}: the case this result was solved from is not known ({why}):"
                         " pass case=netopt.load(MODEL_FILE)")
    try:
        rebuilt = case_of_result(model_file, result.summary)
    except OverrideError as exc:
        raise InputError([Problem("summary.json changes", None, None, str(exc))]) from None
    if warn and inputs_changed(result.summary, rebuilt):
        warnings.warn(f"{display_path(Path(model_file))} or its dataset changed since this "
                      f"result was solved: {call} uses the inputs as they are now (solve again "
                      "for a result of these inputs)", stacklevel=3)
    return rebuilt


def _seconds(time_limit: float | None, call: str) -> float | None:
    """time_limit= of an analysis: finite seconds above 0, as the commands' --time-limit."""
    if time_limit is not None and not 0 < time_limit < math.inf:
        raise InputError([Problem(f"{call} arguments", None, "time_limit=",
                                  "give seconds above 0 (a finite number)", str(time_limit))])
    return time_limit


def _analysis_folder(out: PathLike, summary: Mapping[str, Any],
                     command: str) -> tuple[Path, Run, bool]:
    """Where an analysis writes, and whether it is the analysed result's own folder (its
    summary.json is of the same solve: the page joins the solve's files, as the command's
    default does) or a folder of the analysis's own. A folder holding another solve's
    result is refused, as the commands refuse it: the page would sit beside, and its report
    link to, a network it was not made of."""
    folder = Path(out)
    theirs = None
    if (folder / "summary.json").is_file():
        with contextlib.suppress(ValueError):  # not a solve's: an analysis's own (simulate)
            theirs = read_summary(folder / "summary.json")
    own = theirs is not None and all(theirs.get(k) == summary.get(k) for k in SAME_SOLVE)
    if theirs is not None and not own:
        raise ValueError(f"{display_path(folder)} holds the results of another solve (of "
                         f"{theirs.get('model')}): write into the analysed result's own "
                         "folder or a new one")
    inputs = [] if own else input_tables(folder)
    if inputs:  # a dataset: the page would sit among its input tables, as the commands refuse
        raise ValueError(f"{display_path(folder)} holds input tables netopt did not write "
                         f"({', '.join(inputs)}): write into the analysed result's own folder "
                         "or a new one")
    run = Run(command, model=summary.get("model"), model_file=summary.get("model_file"),
              source=str(folder.absolute()) if own else None)
    return folder, run, own


def evaluate(result: Results, case: _case.Case | PathLike, *,
             time_limit: float | None = None) -> Result:
    """Hold `result`'s network in another case and re-solve the rest, as `netopt evaluate`
    does: sites, onboarding, equipment, hubs and partners as chosen (an offer may only be
    dropped); assignments, flows and ordering options free. What a network designed on
    merged demand points costs where patients live, for instance.

    Active facilities the case cannot hold are held closed, each with a warning. Raises
    InputError when a facility of the network is not in the case, when the network cannot
    meet the case's hard requirements, or for a launch timeline; NoNetworkInTime when the
    limit ends first.
    """
    from .analysis.evaluate import evaluate_network

    result = _result_arg(result, "netopt.evaluate")
    target = _case_arg(case, "netopt.evaluate")
    held = evaluate_network(target, result, time_limit=_seconds(time_limit, "evaluate"))
    for line in held.warnings:
        warnings.warn(f"{line} (in {target.name})", stacklevel=2)
    return _result_of(held.result, target)


@dataclass
class Explanation(_Explanation):
    """Why a site was, or was not, chosen (`netopt explain`): the site flipped (forced open,
    or closed if the network has it open) and the network re-solved.

    `costs`: the cost difference by term (term, baseline_usd, forced_usd, difference_usd;
    largest change first); `moves`: the patients who change site (zone_id, zone_name,
    product_id, from_site, to_site, patients_per_year; `moves_around()` keeps those of the
    site and its neighbours, as the command prints); `limits`: the limits around the site,
    `binding` those that bind; `difference_usd`, `baseline_cost_usd`, `forced_cost_usd`,
    `action`, `method` (held or redesign), `status` and `gap` of the re-solves.
    """

    @property
    def binding(self) -> list[str]:
        """The limits that bind (those the command marks "- binds")."""
        return [line for line in self.limits if line.endswith(" - binds")]

    @property
    def headline(self) -> str:
        """The flip and its cost in one line."""
        what = self.site_id + (f" / {self.product_id}" if self.product_id else "")
        if self.forced_cost_usd is None or self.difference_usd is None:
            return f"{what}: {self.action}" + (f" ({self.limits[0]})" if self.limits else "")
        base = "as solved" if self.method == "redesign" else "with the network held"
        gap = f", gap {self.gap:.2%}" if self.gap is not None else ""
        return (f"{what} {self.action}: ${self.baseline_cost_usd:,.0f}/yr {base} -> "
                f"${self.forced_cost_usd:,.0f}/yr ({self.difference_usd:+,.0f}/yr; "
                f"{self.status}{gap})")

    def __repr__(self) -> str:
        lines = [f"Explanation: {self.headline}"]
        if len(self.costs):
            lines.append("largest cost changes: " + ", ".join(
                f"{r.term} {r.difference_usd:+,.0f}" for r in self.costs.head(3).itertuples()))
        moves = self.moves_around()
        if len(moves):
            lines.append(f"patients who move: {moves['patients_per_year'].sum():,.1f}/yr")
        return "\n".join([*lines, *(f"binds: {line}" for line in self.binding)])

    def _repr_html_(self) -> str:
        parts = [f"<p><b>{html.escape(self.headline)}</b></p>"]
        if len(self.costs):
            parts.append("<p>Cost difference by term (USD/yr)</p>" +
                         self.costs.to_html(index=False))
        moves = self.moves_around()
        if len(moves):
            parts.append("<p>Patients who move</p>" + moves.to_html(index=False))
        if self.limits:
            parts.append("<p>Limits</p><ul>" + "".join(
                f"<li>{html.escape(line)}</li>" for line in self.limits) + "</ul>")
        return "".join(parts)


def explain(result: Results, site: str, *, product: str | None = None,
            case: _case.Case | PathLike | None = None, time_limit: float | None = None,
            redesign: bool = False) -> Explanation:
    """Why `site` was, or was not, chosen, as `netopt explain`: flip it (or its offer of
    `product`) and compare the cost by term, the patients who move and the limits that bind.

    By default the rest of the network is held (but the site's nearest neighbours and the
    hubs and partners they could use) and every flow re-optimised, with and without the
    flip, both to optimality; redesign=True re-solves the whole network from the solved one
    instead (network-wide effects, but within the solve's gap). case: the case to re-solve
    (default: the one the result was solved from). Raises InputError for an unknown site or
    product, or a launch timeline.
    """
    from .analysis.explain import explain_site

    result = _result_arg(result, "netopt.explain")
    target = _case_of(result, case, "netopt.explain")
    try:
        found = explain_site(target, result, site, product,
                             time_limit=_seconds(time_limit, "explain"), redesign=redesign)
    except InputError as exc:  # named as this call's arguments, not the command's
        raise InputError([dc_replace(p, file=EXPLAIN_ARGUMENTS.get(p.file, p.file), column=None)
                          if p.file in EXPLAIN_ARGUMENTS else p for p in exc.problems]) from None
    return Explanation(**{f.name: getattr(found, f.name) for f in fields(found)})


#: where `explain_site` places a problem of the command's arguments -> this call's names
EXPLAIN_ARGUMENTS = {"SITE_ID": "netopt.explain site=", "--product": "netopt.explain product="}


@dataclass
class Resilience(_Resilience):
    """The single points of failure of a network (`netopt resilience`): `table` ranks the
    outage of each active hub (and partner) by patients lost, then cost increase (the
    columns of resilience.csv), against the network held with nothing out
    (`baseline_cost_usd`, `baseline_unserved`, `baseline_penalty_usd`). `write(out)` writes
    the table and its page."""

    #: the analysed result's summary (its model names the page; `write` checks the folder)
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, out: PathLike) -> list[Path]:
        """Write resilience.csv and resilience.html as `netopt resilience` does: into the
        result's own folder (from `Result.write` or `netopt solve`) with the resilience
        sheet added to its network.xlsx and its report.html linking the page; into a new
        folder, the table and page alone. ValueError for a folder of another solve."""
        from .report import write_resilience_files
        from .results.folder import results_folder

        target, run, own = _analysis_folder(out, self.summary, "resilience")
        with results_folder(target, run, attach=True) as staging:
            paths = write_resilience_files(
                self, str(self.summary.get("model") or target.name), target, staging.dir,
                target / "network.xlsx" if own else None)
        return staging.final(paths)

    def __repr__(self) -> str:
        return (f"Resilience({self.summary.get('model', '')!r}, {len(self.table)} outage(s), "
                f"baseline ${self.baseline_cost_usd:,.0f}/yr, {self.baseline_unserved:,.1f} "
                "patients unserved)")

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(repr(self))}</b></p>" + self.table.to_html(index=False)


def resilience(result: Results, *, case: _case.Case | PathLike | None = None,
               partners: bool = True, time_limit: float | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> Resilience:
    """Take out each active hub (and, with partners=True, each cold-storage partner) in
    turn and re-route on the rest of the network held, as `netopt resilience`: the single
    points of failure, ranked by patients lost, then cost increase.

    The re-solves run side by side on the cores `solver.threads` allows; time_limit is per
    re-solve; progress(message, done, total) follows them. case: the case to re-solve
    (default: the one the result was solved from). Raises InputError for a launch timeline
    or a network the case cannot hold.
    """
    from .analysis.resilience import n_minus_1

    result = _result_arg(result, "netopt.resilience")
    target = _case_of(result, case, "netopt.resilience")
    found = n_minus_1(target, result, partners=partners,
                      time_limit=_seconds(time_limit, "resilience"), progress=progress)
    return Resilience(**{f.name: getattr(found, f.name) for f in fields(found)},
                      summary=dict(result.summary))


@dataclass(repr=False)
class Simulation(SimulationResult):
    """A year of the network simulated day by day under disruptions (`netopt simulate`):
    tables as attributes (copies) - `kpis` (each KPI's mean and 95 % confidence interval
    over the replications), `products`, `hubs`, `site_products`, `delays` and
    `replications` - with the `settings` run and `warnings`. Same inputs and seed, same
    tables. `write(out)` writes them and simulation.html."""

    #: the simulated result's summary (`write` checks the folder against it)
    summary: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name].copy()
        raise AttributeError(name)

    def write(self, out: PathLike) -> list[Path]:
        """Write what `netopt simulate` writes: into the result's own folder, its
        simulation/ subfolder (the tables, summary.json, simulation.html), with the
        simulation sheet added to its network.xlsx and its report.html linking the page;
        into a new folder, the tables and page alone. ValueError for a folder of another
        solve."""
        from .report import relink_report
        from .report.simulation_files import WORKBOOK_FILE, write_simulation
        from .results.folder import results_folder

        target, run, own = _analysis_folder(out, self.summary, "simulate")
        # the folder recorded as the one simulated: the result's, or (none known) the page's
        sim = dc_replace(self, network=dc_replace(self.network, result_dir=target.absolute()))
        with results_folder(target, run, attach=True) as staging:
            paths = write_simulation(sim, staging.dir / ("simulation" if own else ""),
                                     workbook=target / WORKBOOK_FILE if own else None,
                                     workbook_out=staging.dir / WORKBOOK_FILE)
            paths += [p for p in [relink_report(target, staging.dir)] if p is not None]
        return staging.final(paths)

    def __repr__(self) -> str:
        s = self.settings
        return (f"Simulation({self.network.model_name!r}, {s.replications} replication(s) "
                f"of {s.days} days, seed {s.seed}, {len(self.warnings)} warning(s))")

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(repr(self))}</b></p>" + \
            self.tables["kpis"].to_html(index=False)


def simulate(result: Results, *, case: _case.Case | PathLike | None = None,
             replications: int | None = None, days: int | None = None,
             seed: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> Simulation:
    """Simulate the network day by day, as `netopt simulate`: arrivals, transit, weather,
    postponements, shelf life and shipper hold, with 95 % confidence intervals.

    replications, days and seed override the case's `simulation:` settings (InputError
    naming the argument when out of bounds); progress(done, total) follows the
    replications. The result's tables are read as the command reads its folder, so the
    same inputs and seed give the same tables. case: the case to read inputs from (default:
    the one the result was solved from).
    """
    from .analysis.simulation import load_network
    from .analysis.simulation import simulate as run_simulation

    result = _result_arg(result, "netopt.simulate")
    target = _case_of(result, case, "netopt.simulate", warn=False)  # the network warns
    settings = _simulation_settings(target, days=days, replications=replications, seed=seed)
    with tempfile.TemporaryDirectory() as folder:  # the tables as `netopt solve` writes them
        Results.write(result, Path(folder))
        network = load_network(folder, case=target)
    for line in network.warnings:
        warnings.warn(line, stacklevel=2)
    found = run_simulation(network, settings, progress=progress)
    return Simulation(**{f.name: getattr(found, f.name) for f in fields(found)},
                      summary=dict(result.summary))


def _simulation_settings(case: _case.Case, **given: int | None) -> SimulationSettings:
    """The case's simulation settings with the arguments given, validated as the command
    validates --days, --replications and --seed."""
    updates = {k: v for k, v in given.items() if v is not None}
    try:
        return SimulationSettings.model_validate(
            {**case.config.simulation.model_dump(), **updates})
    except ValidationError as exc:
        raise InputError([Problem("simulate arguments", None, f"{err['loc'][0]}=",
                                  plain_message(err), str(err.get("input")))
                          for err in exc.errors()]) from None


@dataclass
class Finance:
    """The finance of a network (`netopt finance`): `sites`, per site and product its
    ordering policy, doses, expiries, write-offs and working capital (finance.csv);
    `policies`, the mix of ordering policies; `totals`, expiries, write-offs, inventory and
    working capital by holder; `tradeoff`, the return-policy trade-off (returnable fraction
    against sites willing to stock and the manufacturer's write-offs: return_tradeoff.csv);
    `thresholds`, the returnable share each site needs to stock (return_thresholds.csv).
    `write(out)` writes finance.html, return_tradeoff.csv and return_thresholds.csv."""

    sites: pd.DataFrame
    policies: pd.DataFrame
    totals: dict[str, float]
    tradeoff: pd.DataFrame
    thresholds: pd.DataFrame
    #: the analysed result's summary (its model names the page; `write` checks the folder)
    summary: dict[str, Any] = field(default_factory=dict)
    #: product id -> name, for the page
    products: dict[str, str] = field(default_factory=dict)

    def write(self, out: PathLike) -> list[Path]:
        """Write finance.html and its two tables as `netopt finance` does: into the
        result's own folder (its report.html then links the page) or a new one. ValueError
        for a folder of another solve."""
        from .report import relink_report
        from .report.finance import write_finance
        from .results.folder import results_folder

        target, run, _ = _analysis_folder(out, self.summary, "finance")
        model = str(self.summary.get("model") or target.name)
        with results_folder(target, run, attach=True) as staging:
            paths = write_finance(self.sites, self.tradeoff, model, staging.dir,
                                  products=self.products, thresholds=self.thresholds)
            paths += [p for p in [relink_report(target, staging.dir)] if p is not None]
        return staging.final(paths)

    def __repr__(self) -> str:
        t = self.totals
        return (f"Finance({self.summary.get('model', '')!r}, {len(self.sites)} row(s), "
                f"{t['expired_doses_per_year']:,.1f} doses expired/yr, manufacturer "
                f"write-offs ${t['manufacturer_writeoff_usd']:,.0f}/yr, "
                f"{len(self.tradeoff)} return fraction(s) in the trade-off)")

    def _repr_html_(self) -> str:
        return (f"<p><b>{html.escape(repr(self))}</b></p>" + self.policies.to_html(index=False)
                + "<p>Return-policy trade-off</p>" + self.tradeoff.to_html(index=False)
                + "<p>The returnable share each site needs to stock</p>"
                + self.thresholds.to_html(index=False))


def finance(result: Results, *, case: _case.Case | PathLike | None = None) -> Finance:
    """Ordering policies, expiries, write-offs and working capital of the network, and the
    return-policy trade-off re-priced on the case's terms, as `netopt finance`. case: the
    case whose terms are re-priced (default: the one the result was solved from). Raises
    InputError when the result has no complete finance table (re-solve it)."""
    from .analysis.finance import return_tradeoff, stocking_thresholds
    from .cli.finance import REQUIRED_COLUMNS
    from .model.prepare import prepare
    from .report.finance import finance_totals, policy_mix

    result = _result_arg(result, "netopt.finance")
    table = result.tables.get("finance")
    lacking = [c for c in REQUIRED_COLUMNS if table is None or c not in table.columns]
    if table is None or lacking:
        raise InputError([Problem("finance table", None, c, "no such column in the result: "
                                  "re-solve the model") for c in lacking])
    target = _case_of(result, case, "netopt.finance")
    products = result.tables.get("products")
    names = dict(zip(products["product_id"], products["name"], strict=True)) if \
        products is not None and {"product_id", "name"} <= set(products.columns) else {}
    prep = prepare(target)
    return Finance(table.copy(), policy_mix(table), finance_totals(table),
                   return_tradeoff(prep, table), stocking_thresholds(prep, table),
                   dict(result.summary), names)


__all__ = ["Case", "Comparison", "Explanation", "Finance", "Infeasible", "InputError",
           "NoNetworkInTime", "Problem", "Resilience", "Result", "Simulation", "compare",
           "evaluate", "explain", "finance", "load", "resilience", "simulate", "solve", "sweep"]
