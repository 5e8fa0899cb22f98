"""Scenario batches: run many model files / setting overrides and compare the networks.

A scenario is a model file plus dotted setting overrides (``{"service.min_share": 0.9}``).
`run_batch` solves a list of them serially, in local worker processes or on a Dask cluster
(there the scenarios are loaded and validated on the client and their cases shipped, so
workers need no files); each solve is a pure function of (case, solve options, starting
network), so a scenario's result does not depend on where it ran. `compare` and `sweep` solve
the first scenario (the baseline) first and start the others from its network where it is
feasible. A failing scenario (invalid input, infeasible, internal error) becomes a row saying
why; the batch goes on. Each row says how far its objective is from the baseline's and whether
that difference is within the two runs' solver gaps (noise, not a result).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import json
import math
import multiprocessing
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from ..data.config import ModelConfig
from ..data.io import plain_message
from ..results.folder import Run, results_folder
from ..results.tables import (
    ORDERING_PART_KEYS,
    network_cost_usd,
    ordering_breakdown,
    unserved_penalty_usd,
)
from ..solver import machine
from ..solver.variants import process_context
from .evaluate import site_pairs

STATUSES = ("optimal", "feasible", "infeasible", "invalid", "no_solution", "error")
SUMMARY_COLUMNS = ("objective_usd", "gap", "patients_demand", "patients_served",
                   "patients_unserved", "pct_within_travel_target", "sites_active",
                   "hubs_active", "partners_active", "sites_stocking", "expired_doses_per_year",
                   "manufacturer_writeoff_usd", "build_seconds", "solve_seconds")
TIMING_COLUMNS = ("build_seconds", "solve_seconds")
#: a launch plan's patients over its whole horizon (compare.csv has them when a row is one)
PLAN_COLUMNS = ("plan_patients_served", "plan_patients_unserved")
#: top-level settings that change how the dataset tables are loaded, scoped or checked;
#: any other override only changes the config handed to `prepare`
LOAD_KEYS = frozenset({"dataset", "products", "edits", "sites", "hubs", "partners"})
#: solver settings passed at solve time: they do not change the prepared data
SOLVE_ONLY = ("time_limit", "mip_gap", "threads", "seed", "name")
MAX_REASONS = 3

Progress = Callable[["ScenarioRun", int, int], None]


class OverrideError(ValueError):
    """An override names an unknown setting or gives it an invalid value."""


# ---------------------------------------------------------------- specs and overrides


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario: a model file and the dotted overrides applied to its settings."""

    name: str
    model_file: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SolveOptions:
    """Solve-time settings shared by every scenario of a batch."""

    time_limit: float | None = None
    gap: float | None = None
    seed: int | None = None
    threads: int = 1
    solver: str | None = None  # solver.name for every scenario (None: each model's own)
    #: return each scenario's whole Results on its run (for its own result folder)
    keep_results: bool = False


@dataclass
class ScenarioRun:
    """What one scenario produced: status and reason, headline figures, costs and sites."""

    spec: ScenarioSpec
    status: str
    reason: str = ""
    summary: dict = field(default_factory=dict)
    costs: pd.DataFrame | None = None
    sites: pd.DataFrame | None = None
    hubs: pd.DataFrame | None = None
    partners: pd.DataFrame | None = None
    wall_seconds: float = 0.0
    #: solved design decisions (solver.network_start), kept for a batch's baseline only:
    #: the other scenarios start from it
    network: dict | None = None
    #: the ordering-and-inventory term in its parts (results.tables.ordering_breakdown)
    ordering: dict[str, float] | None = None
    #: the input warnings of the scenario's case (an edit matching no row, a likely typo):
    #: a batch shows them as `validate` would for the model file
    warnings: list[str] = field(default_factory=list)
    #: the scenario's whole result (results.tables.Results), kept only when the batch asks
    #: for it (SolveOptions.keep_results): a result folder per scenario
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")


def scenario_name(model_file: str | Path) -> str:
    """How a model file is labelled in a comparison: its `name:` (which defaults to the
    file name). A file that does not load is labelled by its file name; its problems are
    reported when the scenario runs."""
    from ..data.io import load_model

    try:
        loaded, _ = load_model(model_file)
    except OSError:
        loaded = None
    return loaded.config.name if loaded is not None and loaded.config.name else \
        Path(model_file).stem


def _spec(item: ScenarioSpec | str | Path | tuple, index: int) -> ScenarioSpec:
    if isinstance(item, ScenarioSpec):
        return item
    if isinstance(item, str | Path):
        return ScenarioSpec(scenario_name(item), str(item), {})
    model, overrides = item
    return ScenarioSpec(f"{scenario_name(model)}#{index + 1}", str(model), dict(overrides))


def _setting_field(key: str) -> None:
    """Check that a dotted key names a setting of ModelConfig (raise OverrideError if not)."""
    model: type[BaseModel] | None = ModelConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            from ..data.io import near_setting

            near = near_setting(tuple(parts[:i + 1])) if model is not None else None
            hint = f"; did you mean '{near}'?" if near else ""
            raise OverrideError(f"override '{key}': unknown setting '{'.'.join(parts[:i + 1])}'"
                                f"{hint} (every setting is listed in docs/settings.md)")
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(
            annotation, BaseModel) else None
    if parts[0] == "extends":
        raise OverrideError("override 'extends': cannot be overridden; write a model file")


def check_override_keys(overrides: Iterable[str]) -> None:
    """Validate dotted keys without a model file (for the CLI, before anything runs)."""
    for key in overrides:
        _setting_field(key)


def apply_overrides(config: ModelConfig, overrides: Mapping[str, Any],
                    base_dir: Path | None = None) -> ModelConfig:
    """A new config with dotted overrides applied and validated. `edits` are appended to the
    model's own (as down an `extends:` chain); a relative `dataset` is taken from base_dir."""
    if not overrides:
        return config
    data = config.model_dump()
    for key, value in overrides.items():
        _setting_field(key)
        parts = key.split(".")
        if key == "edits":
            value = [*data["edits"], *(value if isinstance(value, list) else [value])]
        elif key == "dataset" and base_dir is not None:
            value = str((base_dir / str(value)).resolve())
        node = data
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            shown = err.get("input")
            shown = "" if isinstance(shown, dict | list) else f" (found {shown!r})"
            # a per cent for a share (min_share=90) gets the hint a model file gets
            msg = plain_message(err)
            messages.append(f"override '{loc}': {msg}{shown}")
        raise OverrideError("; ".join(messages)) from None


def parse_values(text: str) -> list[Any]:
    """'0.5,0.7,[a, b]' -> [0.5, 0.7, ['a', 'b']]: comma-separated YAML scalars, brackets kept
    together, so `--set products=[a,b],[a]` sweeps over lists."""
    import yaml

    items, depth, current = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    values = []
    for item in items:
        item = item.strip()
        if not item:
            raise OverrideError("no value after '='" if not text.strip() else
                                f"an empty value in '{text}' (between commas)")
        try:
            values.append(yaml.safe_load(item))
        except yaml.YAMLError as exc:
            raise OverrideError(f"cannot read value '{item}': {exc}") from None
    return values


def parse_set(text: str) -> tuple[str, list[Any]]:
    """'service.min_share=0.5,0.9' -> ('service.min_share', [0.5, 0.9])."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise OverrideError(f"--set '{text}': expected key=value[,value...]")
    check_override_keys([key])
    try:
        return key, parse_values(values)
    except OverrideError as exc:
        raise OverrideError(f"--set '{text}': {exc}") from None


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, list | tuple):
        return "[" + ",".join(_fmt_value(v) for v in value) + "]"
    return str(value)


def grid_specs(model_file: str | Path, grid: Mapping[str, Sequence[Any]]) -> list[ScenarioSpec]:
    """The cartesian grid of overrides, named `min_share=0.9,within_km=200` (the last part of
    each key, or the whole key where last parts would clash). The name is the scenario's
    model `name` too, which titles its result folder's pages and summary.json: every folder
    of a sweep had read the base model's name."""
    check_override_keys(grid)
    keys = list(grid)
    last = [k.split(".")[-1] for k in keys]
    short = {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}
    specs = []
    for combo in itertools.product(*(list(grid[k]) for k in keys)):
        overrides = dict(zip(keys, combo, strict=True))
        name = ",".join(f"{short[k]}={_fmt_value(v)}" for k, v in overrides.items()) or \
            Path(model_file).stem
        specs.append(ScenarioSpec(name, str(model_file), {**overrides, "name": name}))
    return specs


def pareto_specs(model_file: str | Path, shares: Sequence[float],
                 within_km: float | None = None) -> list[ScenarioSpec]:
    """The frontier's points, by share (service.min_share), at one travel target."""
    grid: dict[str, list[Any]] = {"service.min_share": sorted(float(s) for s in shares)}
    if within_km is not None:
        grid["service.within_km"] = [float(within_km)]
    return grid_specs(model_file, grid)


# ---------------------------------------------------------------- one scenario (any process)


def _stamp(model_path: Path, dataset: Path) -> tuple:
    """Changes to the model file or the dataset's files invalidate the per-process caches."""
    inputs = sorted(p for p in dataset.iterdir() if p.is_file()) if dataset.is_dir() \
        else [dataset]  # a workbook dataset is one file
    files = [model_path, *inputs]
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@functools.lru_cache(maxsize=8)
def _cached_case(model_path: str, stamp: tuple, load_overrides: str):  # noqa: ANN202
    """Typed, validated tables of a model file (with the overrides that affect loading), read
    once per process: scenarios sharing a model and dataset do not re-read the CSVs."""
    from ..data.case import case_from_loaded
    from ..data.excel import is_workbook
    from ..data.io import load_model
    from ..data.problems import InputError, errors, sort_problems

    loaded, problems = load_model(model_path)
    if loaded is None:
        raise InputError(sort_problems(problems))
    overrides = json.loads(load_overrides)
    if overrides:
        config = apply_overrides(loaded.config, overrides, loaded.path.parent)
        dataset = Path(config.dataset)
        if not (dataset.is_dir() or (dataset.is_file() and is_workbook(dataset))):
            raise OverrideError(f"override 'dataset': no dataset folder or workbook {dataset}")
        loaded = dc_replace(loaded, config=config, dataset_path=dataset)
    case, more = case_from_loaded(loaded)
    problems += more
    if errors(problems) or case is None:
        raise InputError(sort_problems(problems))
    case.warnings = sort_problems(problems)
    return case


def _prepare_key(config: ModelConfig) -> str:
    data = config.model_dump(mode="json")
    for key in SOLVE_ONLY:
        data["solver"].pop(key, None)
    for key in NAMES_ONLY:  # a sweep point's name changes no prepared figure
        data.pop(key, None)
    return json.dumps(data, sort_keys=True)


#: settings that name a case without changing what `prepare` derives from it
NAMES_ONLY = ("name", "description")


#: the key under which a scenario's prepared data may be reused: (model file, file stamps,
#: loading overrides, non-solver settings); computed where the case is loaded
PrepareKey = tuple[str, tuple, str, str]
_PREPARED: collections.OrderedDict[PrepareKey, Any] = collections.OrderedDict()
PREPARED_CACHE = 2


def _prepared_for(case: Any, key: PrepareKey) -> Any:
    """Prepared data (pairs, lanes, demand points) per distinct non-solver settings, kept for
    the last few keys of this process: reused when scenarios differ only in seed, gap or time
    limit (or a model is compared with itself). The model build never writes to it."""
    from ..data.case import Case
    from ..model.prepare import prepare

    if key in _PREPARED:
        _PREPARED.move_to_end(key)
        return dc_replace(_PREPARED[key], case=case)
    config = ModelConfig.model_validate(json.loads(key[3]))
    prepared = prepare(Case(config, dict(case.tables), case.model_path, case.dataset_path))
    _PREPARED[key] = prepared
    while len(_PREPARED) > PREPARED_CACHE:
        _PREPARED.popitem(last=False)
    # the same derived data, under the scenario's own case: its name and settings are what
    # its results report (the cached copy was prepared from the key's settings alone)
    return dc_replace(prepared, case=case)


def load_scenario(spec: ScenarioSpec) -> tuple[Any, PrepareKey]:
    """The scenario's validated Case (settings with overrides, typed tables) and its prepare
    key. Raises OverrideError or InputError. A Case pickles: it is what a Dask batch ships."""
    from ..data.case import Case
    from ..data.io import load_model
    from ..data.problems import InputError, sort_problems

    loaded, problems = load_model(spec.model_file)
    if loaded is None:
        raise InputError(sort_problems(problems))
    config = apply_overrides(loaded.config, spec.overrides, loaded.path.parent)
    load_part = {k: v for k, v in spec.overrides.items() if k.split(".")[0] in LOAD_KEYS}
    load_json = json.dumps(load_part, sort_keys=True, default=str)
    dataset = Path(config.dataset)
    stamp = _stamp(loaded.path, dataset if dataset.exists() else loaded.dataset_path)
    base = _cached_case(str(loaded.path), stamp, load_json)
    case = Case(config, {k: v.copy() for k, v in base.tables.items()}, base.model_path,
                base.dataset_path, list(base.warnings))
    return case, (str(loaded.path), stamp, load_json, _prepare_key(config))


def _blamed(problem: Any, overrides: Mapping[str, Any]) -> str:
    """A problem as the user should read it: one in a setting the scenario overrides came
    from the override (--set, a sweep's grid), not from the model file it names."""
    column = str(problem.column or "")
    if not column or not str(problem.file).endswith((".yaml", ".yml")):
        return str(problem)

    def closeness(key: str) -> int:
        """Dotted parts the key shares with the column, from the start (0: none)."""
        shared = 0
        for a, b in zip(key.split("."), column.split("."), strict=False):
            if a != b:
                break
            shared += 1
        return shared

    best = max(overrides, key=closeness, default=None)
    if best is None or closeness(best) == 0:
        return str(problem)
    shown = f" (found {problem.value!r})" if problem.value is not None else ""
    return (f"{problem.severity}: override {best}={_fmt_value(overrides[best])} on "
            f"{Path(problem.file).name}: {problem.message}{shown}")


def case_of_result(model_file: str | Path, summary: Mapping[str, Any]) -> Any:
    """The case a result folder was solved from: its model file loaded again (as
    `load_case` reads it when the summary records no changes), with the changes a Python
    session made to it (summary.json's `changes`, from `with_changes`) applied again as a
    scenario's overrides are - settings, then the edits after the model file's own. The one
    rule the commands and the Python API rebuild a result's case by. Raises InputError or
    OverrideError."""
    changes = summary.get("changes") or {}
    if not changes:
        from ..data.case import load_case

        return load_case(model_file)
    overrides = dict(changes.get("settings") or {})
    if changes.get("edits"):
        overrides["edits"] = list(changes["edits"])
    case, _ = load_scenario(ScenarioSpec(str(summary.get("model") or "result"),
                                         str(model_file), overrides))
    return case


def failed_run(spec: ScenarioSpec, exc: Exception) -> ScenarioRun:
    """The row of a scenario that could not be loaded or solved: status and reason."""
    from ..data.problems import InputError, errors
    from ..solver.backends import SolverUnavailable
    from ..solver.diagnose import Infeasible, NoNetworkInTime

    if isinstance(exc, OverrideError | SolverUnavailable):
        return ScenarioRun(spec, "invalid", str(exc))
    if isinstance(exc, InputError):
        errs = errors(exc.problems) or exc.problems
        reason = "; ".join(_blamed(p, spec.overrides) for p in errs[:MAX_REASONS])
        if len(errs) > MAX_REASONS:
            reason += f"; and {len(errs) - MAX_REASONS} more"
        return ScenarioRun(spec, "invalid", reason)
    if isinstance(exc, Infeasible):
        status = "no_solution" if isinstance(exc, NoNetworkInTime) else "infeasible"
        return ScenarioRun(spec, status, "; ".join(exc.reasons))
    return ScenarioRun(spec, "error", f"{type(exc).__name__}: {exc}")


def _solve(spec: ScenarioSpec, case: Any, key: PrepareKey, options: SolveOptions,
           start_network: dict | None, keep_network: bool) -> ScenarioRun:
    from ..results.pipeline import solve_case

    try:
        prepared = _prepared_for(case, key)
        result = solve_case(case, time_limit=options.time_limit, gap=options.gap,
                            threads=options.threads, seed=options.seed, prepared=prepared,
                            start_network=start_network, solver_name=options.solver)
    except Exception as exc:  # noqa: BLE001 - a batch reports, it does not stop
        run = failed_run(spec, exc)
    else:
        if spec.overrides:  # what the model file does not hold: an analysis of the scenario's
            # folder re-applies it (summary.json `changes`, as a Python session's changes)
            result.summary["changes"] = {
                "settings": {k: v for k, v in spec.overrides.items() if k != "edits"},
                "edits": [dict(e) for e in spec.overrides.get("edits") or []]}
        run = solved_run(spec, result, case.config.service.within_km,
                         case.config.service.min_share,
                         network=result.network if keep_network else None)
        if options.keep_results:
            run.result = result
    run.warnings = [str(p) for p in case.warnings]
    return run


def solved_run(spec: ScenarioSpec, result: Any, within_km: float, min_share: float,
               network: dict | None = None) -> ScenarioRun:
    """A scenario's row material from its solved Results (a fresh solve, or a result folder
    read back): headline figures, costs, ordering parts, sites, hubs and partners."""
    summary = {k: v for k, v in result.summary.items() if k != "settings"}
    products = result.tables.get("products")
    if products is not None and "product_id" in products.columns:  # the scope, for scope_notes
        summary["products_in_scope"] = sorted(str(k) for k in products["product_id"])
    summary["within_km"] = within_km
    summary["min_share"] = min_share
    return ScenarioRun(spec, str(result.summary.get("status", "feasible")), "", summary,
                       result.tables["costs"].copy(), result.tables["sites"].copy(),
                       result.tables["hubs"].copy(), result.tables["partners"].copy(),
                       network=network, ordering=ordering_breakdown(result.tables))


_SOLVE_LOCK = threading.Lock()  # one solve at a time per process (Dask workers may be threaded)


def run_one(spec: ScenarioSpec, options: SolveOptions = SolveOptions(),  # noqa: B008
            start_network: dict | None = None, keep_network: bool = False) -> ScenarioRun:
    """Load and solve one scenario in this process; never raises: failures come back as a
    status and a reason. start_network: a baseline's network to start from (where it is
    feasible); keep_network: return this solve's network on the run (for the baseline)."""
    started = time.perf_counter()
    with _SOLVE_LOCK:
        try:
            case, key = load_scenario(spec)
        except Exception as exc:  # noqa: BLE001 - a batch reports, it does not stop
            run = failed_run(spec, exc)
        else:
            run = _solve(spec, case, key, options, start_network, keep_network)
    run.wall_seconds = time.perf_counter() - started
    return run


def run_case(spec: ScenarioSpec, case: Any, key: PrepareKey, options: SolveOptions,
             start_network: dict | None = None, keep_network: bool = False) -> ScenarioRun:
    """Solve a scenario loaded elsewhere (`load_scenario` on a Dask client): nothing is
    read from disk here, so a worker needs neither the model file nor the dataset."""
    started = time.perf_counter()
    with _SOLVE_LOCK:
        run = _solve(spec, case, key, options, start_network, keep_network)
    run.wall_seconds = time.perf_counter() - started
    return run


# ---------------------------------------------------------------- batches

#: solve(indices, start_network, keep_network) -> (index, run) as each one finishes
Solver = Callable[[Sequence[int], "dict | None", bool], Iterator[tuple[int, ScenarioRun]]]


def _mp_context() -> multiprocessing.context.BaseContext:
    return process_context(["netopt.analysis.scenarios", "netopt.results.pipeline"])


def default_workers() -> int:
    """One worker per core this process may use (its CPU affinity in a container)."""
    return machine.cores()


def run_batch(specs: Sequence[ScenarioSpec | str | Path | tuple], *, workers: int | None = None,
              scheduler: Any = None, time_limit: float | None = None, gap: float | None = None,
              seed: int | None = None, threads: int = 1, solver: str | None = None,
              progress: Progress | None = None, baseline_start: bool = False,
              keep_results: bool = False) -> list[ScenarioRun]:
    """Solve every scenario; return runs in input order.

    workers: local processes (None = CPU count, 1 = in this process, or in one worker process
    when threads > 1: HiGHS fixes its thread pool per process); scheduler: a Dask
    scheduler address or a `distributed.Client` (takes precedence over workers; scenarios
    are loaded here and their cases shipped, so workers need no files). Every solve uses
    `threads` HiGHS threads (default 1) whichever way it runs, so results are identical.
    baseline_start: solve the first scenario first and start every other one from its
    network where that is feasible (each run's summary says which start it got).
    solver: the solver.name every scenario uses (default: each model file's own).
    keep_results: each solved run carries its whole Results (`run.result`), for a result
    folder per scenario.
    """
    items = [_spec(s, i) for i, s in enumerate(specs)]
    options = SolveOptions(time_limit, gap, seed, threads, solver, keep_results)
    runs: list[ScenarioRun | None] = [None] * len(items)
    done = 0

    def record(i: int, run: ScenarioRun) -> None:
        nonlocal done
        runs[i] = run
        done += 1
        if progress is not None:
            progress(run, done, len(items))

    first = 1 if baseline_start and len(items) > 1 else 0
    with _runner(items, options, workers, scheduler) as solve:
        for i, run in solve(range(first), None, True):
            record(i, run)
        base = runs[0] if first else None
        network = base.network if base is not None and base.ok else None
        for i, run in solve(range(first, len(items)), network, False):
            record(i, run)
    return [r for r in runs if r is not None]


def _runner(items: list[ScenarioSpec], options: SolveOptions, workers: int | None,
            scheduler: Any) -> contextlib.AbstractContextManager[Solver]:
    if scheduler is not None:
        return _dask_runner(items, options, scheduler)
    n = min(default_workers() if workers is None else workers, len(items))
    # HiGHS sizes its thread pool once per process: a serial batch with more than one
    # thread runs in one fresh worker process, so the pool gets the threads asked for
    if n <= 1 and options.threads == 1:
        return _serial_runner(items, options)
    return _pool_runner(items, options, max(n, 1))


@contextlib.contextmanager
def _serial_runner(items: list[ScenarioSpec], options: SolveOptions) -> Iterator[Solver]:
    def solve(indices: Sequence[int], start: dict | None,
              keep: bool) -> Iterator[tuple[int, ScenarioRun]]:
        for i in indices:
            yield i, run_one(items[i], options, start, keep)

    yield solve


@contextlib.contextmanager
def _pool_runner(items: list[ScenarioSpec], options: SolveOptions,
                 n: int) -> Iterator[Solver]:
    """Local worker processes (one pool for the whole batch, baseline included)."""
    with ProcessPoolExecutor(max_workers=n, mp_context=_mp_context()) as pool:
        def solve(indices: Sequence[int], start: dict | None,
                  keep: bool) -> Iterator[tuple[int, ScenarioRun]]:
            futures = {pool.submit(run_one, items[i], options, start, keep): i
                       for i in indices}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    run = future.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
                    run = ScenarioRun(items[i], "error", f"{type(exc).__name__}: {exc}")
                yield i, run

        yield solve


def _load_here(spec: ScenarioSpec) -> tuple[Any, PrepareKey] | ScenarioRun:
    """Load and validate a scenario in this process: its case and key, or its failed row."""
    started = time.perf_counter()
    try:
        return load_scenario(spec)
    except Exception as exc:  # noqa: BLE001 - a batch reports, it does not stop
        run = failed_run(spec, exc)
        run.wall_seconds = time.perf_counter() - started
        return run


@contextlib.contextmanager
def _dask_runner(items: list[ScenarioSpec], options: SolveOptions,
                 scheduler: Any) -> Iterator[Solver]:
    """A Dask cluster: every scenario is loaded and validated here (an invalid one becomes
    its row and is never sent); workers get the validated Case, not file paths, so they may
    run anywhere, and the runs come back here (netopt must be importable on the workers)."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    loaded = [_load_here(spec) for spec in items]
    own = isinstance(scheduler, str)
    client = Client(scheduler) if own else scheduler
    try:
        def solve(indices: Sequence[int], start: dict | None,
                  keep: bool) -> Iterator[tuple[int, ScenarioRun]]:
            futures = {}
            for i in indices:
                got = loaded[i]
                if isinstance(got, ScenarioRun):
                    yield i, got
                    continue
                case, key = got
                futures[client.submit(run_case, items[i], case, key, options, start, keep,
                                      pure=False)] = i
            for future in dask_completed(list(futures)):
                i = futures[future]
                try:
                    run = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker fails one scenario
                    run = ScenarioRun(items[i], "error", f"{type(exc).__name__}: {exc}")
                yield i, run

        yield solve
    finally:
        if own:
            client.close()


@contextlib.contextmanager
def local_cluster(n_workers: int = 2) -> Iterator[str]:
    """A Dask LocalCluster of single-threaded worker processes; yields its address."""
    import logging

    from distributed import LocalCluster

    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # the scheduler's INFO chatter would bury the progress bar
    try:
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.WARNING) as cluster:
            yield cluster.scheduler_address
    finally:
        quiet.setLevel(level)


# ---------------------------------------------------------------- comparison


def scenario_folder_names(names: list[str]) -> dict[str, str]:
    """Scenario name -> `scenarios/<name>`, the name made safe for a file system and unique:
    where a batch writes each scenario's result (known before it solves, so its folders
    can be checked first)."""
    out: dict[str, str] = {}
    for name in names:
        slug = re.sub(r"[^A-Za-z0-9._=+-]+", "_", str(name)).strip("._") or "scenario"
        base, n = slug, 1
        while f"scenarios/{slug}" in out.values():
            n += 1
            slug = f"{base}-{n}"
        out[name] = f"scenarios/{slug}"
    return out


@dataclass
class Comparison:
    """A batch as tables: one row per scenario, site changes vs. the first, sites for maps."""

    rows: pd.DataFrame
    site_changes: pd.DataFrame
    sites: dict[str, pd.DataFrame]
    frontier: pd.DataFrame | None = None
    title: str = "Scenario comparison"
    #: hubs and partners whose active flag differs from the first scenario
    facility_changes: pd.DataFrame | None = None
    #: each scenario's hubs table (hubs.csv), for its map
    hubs: dict[str, pd.DataFrame] | None = None
    #: each solved scenario's whole result, where the batch kept them (keep_results)
    results: dict[str, Any] | None = None

    def scenario_folders(self) -> dict[str, str]:
        """Scenario name -> the folder its result is written to, relative to the batch's
        (`scenarios/<name>`, the name made safe for a file system and unique)."""
        return scenario_folder_names(list(self.results or {}))

    def write_tables(self, out: Path) -> list[Path]:
        """compare.csv, site_changes.csv, term_changes.csv, facility_changes.csv (and
        frontier.csv) - the report-free output, as one run that replaces what netopt wrote
        in `out` before (see results/folder.py)."""
        with results_folder(Path(out), self.run("Comparison.write_tables")) as staging:
            folder = staging.dir
            paths = [folder / "compare.csv", folder / "site_changes.csv",
                     folder / "term_changes.csv"]
            self.rows.to_csv(paths[0], index=False, lineterminator="\n")
            self.site_changes.to_csv(paths[1], index=False, lineterminator="\n")
            term_changes(self.rows).to_csv(paths[2], index=False, lineterminator="\n")
            if self.facility_changes is not None:
                paths.append(folder / "facility_changes.csv")
                self.facility_changes.to_csv(paths[-1], index=False, lineterminator="\n")
            if self.frontier is not None:
                paths.append(folder / "frontier.csv")
                self.frontier.to_csv(paths[-1], index=False, lineterminator="\n")
        return staging.final(paths)

    def run(self, command: str) -> Run:
        """The manifest's record of a run that writes this comparison: its scenarios."""
        names = [str(n) for n in self.rows["scenario"]] if "scenario" in self.rows else []
        return Run(command, model=", ".join(names) or None, details={"title": self.title})


SITE_CHANGE_COLUMNS = ["scenario", "site_id", "name", "state", "latitude", "longitude",
                       "change", "product_id"]
#: `change` of a site open in both networks that offers a product in one only
OFFER_ADDED, OFFER_DROPPED = "offer added", "offer dropped"


def unique_names(runs: list[ScenarioRun]) -> list[str]:
    names: list[str] = []
    for run in runs:
        name, n = run.spec.name, 1
        while name in names:
            n += 1
            name = f"{run.spec.name} ({n})"
        names.append(name)
    return names


def comparison_rows(runs: list[ScenarioRun], names: list[str]) -> pd.DataFrame:
    """One row per scenario: status, reason, headline figures, cost by term (NaN if failed)."""
    terms: list[str] = []
    for run in runs:
        if run.costs is not None:
            terms += [t for t in run.costs["term"] if t not in terms and t != "total"]
    terms.append("total")
    parts = ORDERING_PART_KEYS if any(run.ordering for run in runs) else ()
    records = []
    for name, run in zip(names, runs, strict=True):
        rec: dict[str, Any] = {"scenario": name, "model_file": run.spec.model_file,
                               "status": run.status, "reason": run.reason,
                               "warnings": " | ".join(run.warnings)}
        s = run.summary
        rec["objective_usd"] = s.get("objective_usd", s.get("objective", math.nan))
        rec["objective_basis"] = objective_basis(s) if run.ok else ""
        for col in SUMMARY_COLUMNS[1:]:
            rec[col] = s.get(col, math.nan)
        # a launch plan's patients over the whole roll-out (the row's other figures are its
        # last period's): two plans that end alike differ there, when a site opens later
        plan = s.get("timeline") if isinstance(s.get("timeline"), dict) else {}
        rec["plan_patients_served"] = plan.get("patients_served", math.nan)
        rec["plan_patients_unserved"] = plan.get("patients_unserved", math.nan)
        rec["products"] = ";".join(s.get("products_in_scope") or [])
        rec["start"] = s.get("start", "")
        # the stages the clock ended: this scenario's network may differ on another machine
        rec["stopped_by_clock"] = ";".join(s.get("stopped_by_clock") or [])
        # what kept the cores busy (other scenarios of the batch, other work): the same case
        # on free cores may give a cheaper network
        rec["cores_not_free"] = s.get("cores_not_free") or ""
        # the headline split: cash per year, and the penalty that is a planning device
        rec["network_cost_usd"] = math.nan if run.costs is None else \
            network_cost_usd(run.costs)
        rec["unserved_penalty_usd"] = math.nan if run.costs is None else \
            unserved_penalty_usd(run.costs)
        costs = ({} if run.costs is None
                 else dict(zip(run.costs["term"], run.costs["usd_per_year"], strict=True)))
        for term in terms:
            rec[f"cost_{term}"] = costs.get(term, math.nan if run.costs is None else 0.0)
        if parts:  # what ordering and inventory costs and saves, summing to its term
            rec.update({f"ordering_{p}_usd": (run.ordering or {}).get(p, math.nan)
                        for p in parts})
        records.append(rec)
    frame = pd.DataFrame(records)
    plan_cols = list(PLAN_COLUMNS)
    frame[plan_cols] = frame[plan_cols].apply(pd.to_numeric, errors="coerce").astype(float)
    if frame[plan_cols].isna().all().all():  # no launch plan: nothing to say
        frame = frame.drop(columns=plan_cols)
    for col in ("objective_usd", *SUMMARY_COLUMNS[1:], "network_cost_usd",
                "unserved_penalty_usd", *(f"cost_{t}" for t in terms),
                *(f"ordering_{p}_usd" for p in parts)):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    deltas = baseline_deltas(frame)
    at = frame.columns.get_loc("objective_basis") + 1
    for offset, col in enumerate(DELTA_COLUMNS):
        frame.insert(at + offset, col, deltas[col])
    frame.insert(at + len(DELTA_COLUMNS), "scope_vs_baseline", scope_notes(frame))
    return frame


#: patients in scope that differ from the baseline's by more than this share are a change of
#: scope (demand_scale, incidence edits, products), not of the network
SCOPE_TOLERANCE = 0.005


def scope_notes(rows: pd.DataFrame) -> list[str]:
    """Per row, how the patients it plans for differ from the baseline's: products added or
    dropped, demand otherwise. Its vs_baseline_usd then prices that change of scope too (a
    pooled case with a new product read '+$1.7M' beside a baseline without it, though
    pooling saved $0.75M). Empty for the baseline and where the scope is the same."""
    b = baseline_index(rows)
    out = [""] * len(rows)
    if b is None:
        return out
    demand = pd.to_numeric(rows.get("patients_demand"), errors="coerce").tolist() \
        if "patients_demand" in rows else [math.nan] * len(rows)
    products = [set(filter(None, str(v or "").split(";"))) for v in rows.get(
        "products", pd.Series([""] * len(rows)))]
    for i in range(len(rows)):
        if i == b or rows["status"].iloc[i] not in ("optimal", "feasible"):
            continue
        parts = []
        added, dropped = products[i] - products[b], products[b] - products[i]
        if products[i] and products[b] and added:
            parts.append("products added: " + ", ".join(sorted(added)))
        if products[i] and products[b] and dropped:
            parts.append("products dropped: " + ", ".join(sorted(dropped)))
        d, d0 = demand[i], demand[b]
        if not (math.isnan(d) or math.isnan(d0)) and abs(d - d0) > SCOPE_TOLERANCE * max(
                abs(d0), 1.0):
            parts.append(f"{d:,.1f} patients/yr in scope against the baseline's {d0:,.1f}")
        out[i] = "; ".join(parts)
    return out


#: columns comparing each scenario's objective with the baseline's (the first scenario
#: that has a network)
DELTA_COLUMNS = ("vs_baseline_usd", "within_solver_gap")
#: objective_basis of a single-period solve minimising cost: USD a year
ANNUAL_COST = "annual cost"
ANNUAL_MARGIN = "annual cost less revenue"


def objective_basis(summary: Mapping[str, Any]) -> str:
    """What a solved scenario's objective_usd measures: a year's cost, a year's cost less
    revenue (`objective: margin`), or a launch timeline's discounted total over its horizon.
    Only objectives on the same basis are compared: a horizon total against a year's cost,
    or a margin against a cost, is a difference of units, not of networks."""
    margin = summary.get("objective_sense") == "margin"
    timeline = summary.get("timeline")
    if not timeline:
        return ANNUAL_MARGIN if margin else ANNUAL_COST
    rate = float(timeline.get("discount_rate") or 0.0)
    return (f"launch timeline total: {timeline.get('periods')} \u00d7 "
            f"{timeline.get('period_months')} months from {timeline.get('start')}, "
            f"discounted at {100 * rate:g} %/yr" + (", cost less revenue" if margin else ""))


def baseline_index(rows: pd.DataFrame) -> int | None:
    """The row every delta and every site or facility change is measured against: the first
    scenario with a network; None when none has one (no row is then the baseline). A failed
    first scenario leaves no network to compare with, and measuring the rest against
    another one must be said, not hidden."""
    status = rows["status"].astype(str).tolist() if "status" in rows else []
    objective = pd.to_numeric(rows.get("objective_usd", pd.Series(dtype=float)),
                              errors="coerce").tolist()
    for i, (st, obj) in enumerate(zip(status, objective, strict=False)):
        if st in ("optimal", "feasible") and not math.isnan(obj):
            return i
    return None


def not_compared(rows: pd.DataFrame) -> dict[int, str]:
    """Rows with a network whose objective is on another basis than the baseline's: row ->
    why their vs_baseline_usd is blank."""
    b = baseline_index(rows)
    if "objective_basis" not in rows or b is None:
        return {}
    bases = rows["objective_basis"].fillna("").astype(str).tolist()
    return {i: f"its objective is the {basis}, the baseline's the {bases[b]}"
            for i, basis in enumerate(bases) if basis and bases[b] and basis != bases[b]}
#: objectives closer than this (relative) are equal whatever the gaps: solver tolerances
OBJECTIVE_TOLERANCE = 1e-9


def within_solver_gap(objective: float, gap: float, base_objective: float,
                      base_gap: float) -> bool | None:
    """Whether a difference in objective is no larger than the two runs' combined proven gaps,
    |obj - obj0| <= gap*|obj| + gap0*|obj0| (each gap*|obj| is the distance from that run's
    incumbent to its bound): such a difference may be solver noise, not a result. None when a
    figure is missing (a failed run, a solve without a bound)."""
    figures = (objective, gap, base_objective, base_gap)
    if any(f is None or math.isnan(f) for f in figures):
        return None
    slack = solver_gap_slack(objective, gap, base_objective, base_gap)
    slack += OBJECTIVE_TOLERANCE * max(abs(objective), abs(base_objective))
    return abs(objective - base_objective) <= slack


def solver_gap_slack(objective: float, gap: float | None, base_objective: float,
                     base_gap: float | None) -> float:
    """What the two runs left unproven together, gap*|obj| + gap0*|obj0| (a missing gap as
    0): the largest difference `within_solver_gap` reads as noise, tolerances aside."""
    return (gap or 0.0) * abs(objective) + (base_gap or 0.0) * abs(base_objective)


def baseline_deltas(rows: pd.DataFrame) -> pd.DataFrame:
    """vs_baseline_usd (objective minus the baseline's: `baseline_index`) and
    within_solver_gap (see `within_solver_gap`; None for the baseline itself and where a
    figure is missing). Blank for an objective on another basis (`not_compared`)."""
    def figure(row: int, col: str) -> float:
        value = pd.to_numeric(rows[col].iloc[row], errors="coerce") if col in rows else None
        return math.nan if value is None or pd.isna(value) else float(value)

    n = len(rows)
    b = baseline_index(rows)
    apart = not_compared(rows)
    obj = [math.nan if i in apart else figure(i, "objective_usd") for i in range(n)]
    gap = [figure(i, "gap") for i in range(n)]
    base, base_gap = (obj[b], gap[b]) if b is not None else (math.nan, math.nan)
    # to the cent: the same network solved twice differs by the solver's round-off
    # (3e-8 USD), which read as a "-0" change
    delta = [round(o - base, 2) + 0.0 for o in obj]
    within = [None if i == b else within_solver_gap(obj[i], gap[i], base, base_gap)
              for i in range(n)]
    return pd.DataFrame({"vs_baseline_usd": pd.Series(delta, index=rows.index, dtype=float),
                         "within_solver_gap": pd.Series(within, index=rows.index,
                                                        dtype=object)})


def site_changes(sites: dict[str, pd.DataFrame], names: list[str],
                 scopes: Mapping[str, set[str]] | None = None) -> pd.DataFrame:
    """Sites whose active flag differs from the first scenario that has a result: opened or
    closed, or NOT_IN_BASELINE / NOT_IN_SCENARIO when one scenario's data lacks the site (a
    site it does not have is no decision of its run); and, for a site open in both, each
    product it offers in one only (OFFER_ADDED / OFFER_DROPPED, with its `product_id`): a
    product moving between two open sites is a change of the network as much as a site.
    A product in one scenario's scope only (`scopes`: name -> products) is no offer decision
    of the other: compare's scope_vs_baseline names it, and its offers are not listed
    (a scenario without an autoimmune product read as dropping four cart_ai offers)."""
    present = [n for n in names if n in sites]
    if not present:
        return pd.DataFrame(columns=SITE_CHANGE_COLUMNS)
    base = sites[present[0]].set_index("site_id")
    out = []
    for name in present[1:]:
        other = sites[name].set_index("site_id")
        ids = sorted(set(base.index) | set(other.index))
        was = base["active"].reindex(ids, fill_value=False).astype(bool)
        now = other["active"].reindex(ids, fill_value=False).astype(bool)
        info = other.reindex(ids).combine_first(base.reindex(ids))
        changed = [(sid, _change(now[sid], sid in base.index, sid in other.index), "")
                   for sid in ids if was[sid] != now[sid]]
        if "products_offered" in base.columns and "products_offered" in other.columns:
            before = site_pairs(base.reset_index(), "products_offered")
            after = site_pairs(other.reset_index(), "products_offered")
            open_in_both = {sid for sid in ids if was[sid] and now[sid]}
            both = None if scopes is None or present[0] not in scopes or name not in scopes \
                else scopes[present[0]] & scopes[name]

            changed += [(sid, OFFER_ADDED, k) for sid, k in sorted(after - before)
                        if sid in open_in_both and (both is None or k in both)]
            changed += [(sid, OFFER_DROPPED, k) for sid, k in sorted(before - after)
                        if sid in open_in_both and (both is None or k in both)]
        out += [{"scenario": name, "site_id": sid, "name": info.at[sid, "name"],
                 "state": info.at[sid, "state"], "latitude": info.at[sid, "latitude"],
                 "longitude": info.at[sid, "longitude"], "change": change, "product_id": k}
                for sid, change, k in changed]
    return pd.DataFrame(out, columns=SITE_CHANGE_COLUMNS)


TERM_CHANGE_COLUMNS = ["scenario", "term", "baseline_usd", "scenario_usd", "difference_usd"]


def term_changes(rows: pd.DataFrame) -> pd.DataFrame:
    """Each scenario's cost by term against the baseline's (compare.csv's `cost_<term>`),
    the terms that differ by a dollar or more, largest change first: where a difference in
    the objective comes from. Scenarios without a network or on another objective basis
    (`not_compared`) have none."""
    b = baseline_index(rows)
    if b is None:
        return pd.DataFrame(columns=TERM_CHANGE_COLUMNS)
    apart = not_compared(rows)
    terms = [c for c in rows.columns if c.startswith("cost_")]
    out = []
    for i in range(len(rows)):
        if i == b or i in apart or pd.isna(rows["objective_usd"].iloc[i]):
            continue
        found = []
        for col in terms:
            was, now = float(rows[col].iloc[b]), float(rows[col].iloc[i])
            if math.isnan(was) or math.isnan(now) or abs(now - was) < 1.0:
                continue
            found.append({"scenario": rows["scenario"].iloc[i], "term": col[len("cost_"):],
                          "baseline_usd": was, "scenario_usd": now,
                          "difference_usd": round(now - was, 2)})
        total = [r for r in found if r["term"] == "total"]
        out += sorted((r for r in found if r["term"] != "total"),
                      key=lambda r: -abs(r["difference_usd"])) + total
    return pd.DataFrame(out, columns=TERM_CHANGE_COLUMNS)


#: `change` of a site, hub or partner active in one network and absent from the other
#: scenario's data (another dataset, a table edited): not a decision either run made
NOT_IN_BASELINE, NOT_IN_SCENARIO = "not in baseline", "not in scenario"


def _change(active_now: bool, in_base: bool, in_scenario: bool) -> str:
    """opened / closed relative to the first scenario, or which data lacks the facility."""
    if not in_base:
        return NOT_IN_BASELINE
    if not in_scenario:
        return NOT_IN_SCENARIO
    return "opened" if active_now else "closed"


FACILITY_CHANGE_COLUMNS = ["scenario", "kind", "facility_id", "name", "change"]


def facility_changes(runs: list[ScenarioRun], names: list[str]) -> pd.DataFrame:
    """Hubs and partners whose active flag differs from the first scenario with a result
    (the same rule as `site_changes`)."""
    out = []
    for kind, attr, col in (("hub", "hubs", "hub_id"), ("partner", "partners", "partner_id")):
        tables = {n: getattr(r, attr) for n, r in zip(names, runs, strict=True)
                  if r.sites is not None and getattr(r, attr) is not None}
        present = [n for n in names if n in tables]
        if not present:
            continue
        base = tables[present[0]].set_index(col)
        for name in present[1:]:
            other = tables[name].set_index(col)
            ids = sorted(set(base.index) | set(other.index))
            was = base["active"].reindex(ids, fill_value=False).astype(bool)
            now = other["active"].reindex(ids, fill_value=False).astype(bool)
            label = other["name"].reindex(ids).combine_first(base["name"].reindex(ids))
            out += [{"scenario": name, "kind": kind, "facility_id": i, "name": label[i],
                     "change": _change(now[i], i in base.index, i in other.index)}
                    for i in ids if was[i] != now[i]]
    return pd.DataFrame(out, columns=FACILITY_CHANGE_COLUMNS)


def build_comparison(runs: list[ScenarioRun], title: str = "Scenario comparison",
                     frontier: pd.DataFrame | None = None) -> Comparison:
    names = unique_names(runs)
    sites = {n: r.sites for n, r in zip(names, runs, strict=True) if r.sites is not None}
    hubs = {n: r.hubs for n, r in zip(names, runs, strict=True) if r.hubs is not None}
    results = {n: r.result for n, r in zip(names, runs, strict=True) if r.result is not None}
    scopes = {n: set(r.summary["products_in_scope"]) for n, r in zip(names, runs, strict=True)
              if r.summary and r.summary.get("products_in_scope") is not None}
    return Comparison(comparison_rows(runs, names), site_changes(sites, names, scopes), sites,
                      frontier, title, facility_changes(runs, names), hubs, results or None)


def compare(model_files: Sequence[str | Path], *, title: str | None = None,
            baseline_start: bool = True, **kw: Any) -> Comparison:
    """Solve each model file as it stands and compare them (rows in the order given; the
    first is the baseline, solved first, and the others start from its network where it is
    feasible unless baseline_start=False). Other keywords go to `run_batch`."""
    specs = [ScenarioSpec(scenario_name(m), str(m), {}) for m in model_files]
    runs = run_batch(specs, baseline_start=baseline_start, **kw)
    return build_comparison(runs, title or "Scenario comparison: " + ", ".join(
        unique_names(runs)))


def sweep(model_file: str | Path, grid: Mapping[str, Sequence[Any]], *,
          title: str | None = None, baseline_start: bool = True, **kw: Any) -> Comparison:
    """Solve the cartesian grid of overrides on one model file (the first combination is
    the baseline: see `compare`)."""
    specs = grid_specs(model_file, grid)
    runs = run_batch(specs, baseline_start=baseline_start, **kw)
    return build_comparison(runs, title or f"Sweep of {Path(model_file).stem}")


def pareto(model_file: str | Path, shares: Sequence[float], within_km: float | None = None,
           *, title: str | None = None, **kw: Any) -> Comparison:
    """Cost-vs-access frontier by ε-constraint: one solve per required share of patients
    within the travel target (service.min_share), sorted by share; infeasible points stay."""
    ordered = sorted(float(s) for s in shares)
    runs = run_batch(pareto_specs(model_file, ordered, within_km), **kw)
    frontier = pd.DataFrame({
        "point": range(1, len(runs) + 1),
        "min_share": ordered,
        "within_km": [r.summary.get("within_km", within_km if within_km is not None
                                    else math.nan) for r in runs],
        "objective_usd": [r.summary.get("objective_usd", math.nan) for r in runs],
        "pct_within_travel_target": [r.summary.get("pct_within_travel_target", math.nan)
                                     for r in runs],
        "status": [r.status for r in runs],
    })
    for col in ("within_km", "objective_usd", "pct_within_travel_target"):
        frontier[col] = frontier[col].astype(float)
    return build_comparison(runs, title or f"Cost vs access: {Path(model_file).stem}", frontier)


__all__ = ["ANNUAL_COST", "ANNUAL_MARGIN", "Comparison", "OverrideError", "ScenarioRun",
           "ScenarioSpec", "SolveOptions", "apply_overrides", "baseline_deltas",
           "baseline_index", "build_comparison", "case_of_result", "compare", "failed_run",
           "grid_specs", "load_scenario", "local_cluster", "not_compared", "objective_basis",
           "pareto", "parse_set", "parse_values", "run_batch", "run_case", "run_one", "sweep",
           "within_solver_gap"]
