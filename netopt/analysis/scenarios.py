"""Scenario batches: run many model files / setting overrides and compare the networks.

A scenario is a model file plus dotted setting overrides (``{"service.min_share": 0.9}``).
`run_batch` solves a list of them serially, in local worker processes or on a Dask cluster;
each solve is a pure function of (model file, overrides, solve options) with one HiGHS thread,
so a scenario's result does not depend on where it ran. A failing scenario (invalid input,
infeasible, internal error) becomes a row saying why; the batch goes on.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import multiprocessing
import os
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
from ..results.folder import Run, results_folder

STATUSES = ("optimal", "feasible", "infeasible", "invalid", "no_solution", "error")
SUMMARY_COLUMNS = ("objective_usd", "gap", "patients_demand", "patients_served",
                   "patients_unserved", "pct_within_travel_target", "sites_active",
                   "hubs_active", "partners_active", "sites_stocking", "expired_doses_per_year",
                   "manufacturer_writeoff_usd", "build_seconds", "solve_seconds")
TIMING_COLUMNS = ("build_seconds", "solve_seconds")
#: top-level settings that change how the dataset tables are loaded, scoped or checked;
#: any other override only changes the config handed to `prepare`
LOAD_KEYS = frozenset({"dataset", "products", "edits", "sites", "hubs", "partners"})
#: solver settings passed at solve time: they do not change the prepared data
SOLVE_ONLY = ("time_limit", "mip_gap", "threads", "seed")
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
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")


def _spec(item: ScenarioSpec | str | Path | tuple, index: int) -> ScenarioSpec:
    if isinstance(item, ScenarioSpec):
        return item
    if isinstance(item, str | Path):
        return ScenarioSpec(Path(item).stem, str(item), {})
    model, overrides = item
    return ScenarioSpec(f"{Path(model).stem}#{index + 1}", str(model), dict(overrides))


def _setting_field(key: str) -> None:
    """Check that a dotted key names a setting of ModelConfig (raise OverrideError if not)."""
    model: type[BaseModel] | None = ModelConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            raise OverrideError(f"override '{key}': unknown setting '{'.'.join(parts[:i + 1])}'"
                                " (every setting is listed in docs/settings.md)")
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
            messages.append(f"override '{loc}': {err['msg']}{shown}")
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
            raise OverrideError(f"empty value in '{text}'")
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
    return key, parse_values(values)


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, list | tuple):
        return "[" + ",".join(_fmt_value(v) for v in value) + "]"
    return str(value)


def grid_specs(model_file: str | Path, grid: Mapping[str, Sequence[Any]]) -> list[ScenarioSpec]:
    """The cartesian grid of overrides, named `min_share=0.9,within_km=200` (the last part of
    each key, or the whole key where last parts would clash)."""
    check_override_keys(grid)
    keys = list(grid)
    last = [k.split(".")[-1] for k in keys]
    short = {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}
    specs = []
    for combo in itertools.product(*(list(grid[k]) for k in keys)):
        overrides = dict(zip(keys, combo, strict=True))
        name = ",".join(f"{short[k]}={_fmt_value(v)}" for k, v in overrides.items()) or \
            Path(model_file).stem
        specs.append(ScenarioSpec(name, str(model_file), overrides))
    return specs


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
    return json.dumps(data, sort_keys=True)


@functools.lru_cache(maxsize=2)
def _cached_prepared(model_path: str, stamp: tuple, load_overrides: str, config_json: str):  # noqa: ANN202
    """Prepared data (pairs, lanes, demand points) per distinct non-solver settings: reused
    when scenarios differ only in seed, gap or time limit (or a model is compared with itself).
    The model build never writes to it."""
    from ..data.case import Case
    from ..model.prepare import prepare

    base = _cached_case(model_path, stamp, load_overrides)
    config = ModelConfig.model_validate(json.loads(config_json))
    return prepare(Case(config, dict(base.tables), base.model_path, base.dataset_path))


def _case_for(spec: ScenarioSpec):  # noqa: ANN202 - returns (Case, Prepared)
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
    prepared = _cached_prepared(str(loaded.path), stamp, load_json, _prepare_key(config))
    return case, prepared


_SOLVE_LOCK = threading.Lock()  # one solve at a time per process (Dask workers may be threaded)


def run_one(spec: ScenarioSpec, options: SolveOptions = SolveOptions()) -> ScenarioRun:  # noqa: B008
    """Solve one scenario; never raises: failures come back as a status and a reason."""
    from ..data.problems import InputError, errors
    from ..results.pipeline import solve_case
    from ..solver.diagnose import Infeasible

    started = time.perf_counter()
    with _SOLVE_LOCK:
        try:
            case, prepared = _case_for(spec)
            result = solve_case(case, time_limit=options.time_limit, gap=options.gap,
                                threads=options.threads, seed=options.seed, prepared=prepared)
        except OverrideError as exc:
            run = ScenarioRun(spec, "invalid", str(exc))
        except InputError as exc:
            errs = errors(exc.problems) or exc.problems
            reason = "; ".join(str(p) for p in errs[:MAX_REASONS])
            if len(errs) > MAX_REASONS:
                reason += f"; and {len(errs) - MAX_REASONS} more"
            run = ScenarioRun(spec, "invalid", reason)
        except Infeasible as exc:
            status = "infeasible"
            if exc.info is not None and exc.info.status != "infeasible":
                status = "no_solution"
            run = ScenarioRun(spec, status, "; ".join(exc.reasons))
        except Exception as exc:  # noqa: BLE001 - a batch reports, it does not stop
            run = ScenarioRun(spec, "error", f"{type(exc).__name__}: {exc}")
        else:
            summary = {k: v for k, v in result.summary.items() if k != "settings"}
            summary["within_km"] = case.config.service.within_km
            summary["min_share"] = case.config.service.min_share
            run = ScenarioRun(spec, str(result.summary.get("status", "feasible")), "", summary,
                              result.tables["costs"].copy(), result.tables["sites"].copy(),
                              result.tables["hubs"].copy())
    run.wall_seconds = time.perf_counter() - started
    return run


# ---------------------------------------------------------------- batches


def _mp_context() -> multiprocessing.context.BaseContext:
    """forkserver: workers fork from a clean server that has imported netopt once (fast start,
    no HiGHS threads inherited from a parent that already solved); spawn elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["netopt.analysis.scenarios", "netopt.results.pipeline"])
        return ctx
    return multiprocessing.get_context("spawn")


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def run_batch(specs: Sequence[ScenarioSpec | str | Path | tuple], *, workers: int | None = None,
              scheduler: Any = None, time_limit: float | None = None, gap: float | None = None,
              seed: int | None = None, threads: int = 1,
              progress: Progress | None = None) -> list[ScenarioRun]:
    """Solve every scenario; return runs in input order.

    workers: local processes (None = CPU count, 1 = in this process, or in one worker process
    when threads > 1: HiGHS fixes its thread pool per process); scheduler: a Dask
    scheduler address or a `distributed.Client` (takes precedence over workers). Every solve
    uses `threads` HiGHS threads (default 1) whichever way it runs, so results are identical.
    """
    items = [_spec(s, i) for i, s in enumerate(specs)]
    options = SolveOptions(time_limit, gap, seed, threads)
    runs: list[ScenarioRun | None] = [None] * len(items)
    done = 0

    def record(i: int, run: ScenarioRun) -> None:
        nonlocal done
        runs[i] = run
        done += 1
        if progress is not None:
            progress(run, done, len(items))

    if scheduler is not None:
        for i, run in _run_dask(items, options, scheduler):
            record(i, run)
    else:
        n = min(default_workers() if workers is None else workers, len(items))
        # HiGHS sizes its thread pool once per process: a serial batch with more than one
        # thread runs in one fresh worker process, so the pool gets the threads asked for
        if n <= 1 and threads == 1:
            for i, spec in enumerate(items):
                record(i, run_one(spec, options))
        else:
            with ProcessPoolExecutor(max_workers=max(n, 1), mp_context=_mp_context()) as pool:
                futures = {pool.submit(run_one, spec, options): i for i, spec in enumerate(items)}
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        run = future.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
                        run = ScenarioRun(items[i], "error", f"{type(exc).__name__}: {exc}")
                    record(i, run)
    return [r for r in runs if r is not None]


def _run_dask(items: list[ScenarioSpec], options: SolveOptions,
              scheduler: Any) -> Iterator[tuple[int, ScenarioRun]]:
    """Submit every scenario to a Dask cluster (netopt must be importable on its workers)."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    own = isinstance(scheduler, str)
    client = Client(scheduler) if own else scheduler
    try:
        futures = {client.submit(run_one, spec, options, pure=False): i
                   for i, spec in enumerate(items)}
        for future in dask_completed(list(futures)):
            i = futures[future]
            try:
                run = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker fails one scenario
                run = ScenarioRun(items[i], "error", f"{type(exc).__name__}: {exc}")
            yield i, run
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


@dataclass
class Comparison:
    """A batch as tables: one row per scenario, site changes vs. the first, sites for maps."""

    rows: pd.DataFrame
    site_changes: pd.DataFrame
    sites: dict[str, pd.DataFrame]
    frontier: pd.DataFrame | None = None
    title: str = "Scenario comparison"

    def write_tables(self, out: Path) -> list[Path]:
        """compare.csv, site_changes.csv (and frontier.csv) - the report-free output, as one
        run that replaces what netopt wrote in `out` before (see results/folder.py)."""
        with results_folder(Path(out), self.run("Comparison.write_tables")) as staging:
            folder = staging.dir
            paths = [folder / "compare.csv", folder / "site_changes.csv"]
            self.rows.to_csv(paths[0], index=False, lineterminator="\n")
            self.site_changes.to_csv(paths[1], index=False, lineterminator="\n")
            if self.frontier is not None:
                paths.append(folder / "frontier.csv")
                self.frontier.to_csv(paths[-1], index=False, lineterminator="\n")
        return staging.final(paths)

    def run(self, command: str) -> Run:
        """The manifest's record of a run that writes this comparison: its scenarios."""
        names = [str(n) for n in self.rows["scenario"]] if "scenario" in self.rows else []
        return Run(command, model=", ".join(names) or None, details={"title": self.title})


SITE_CHANGE_COLUMNS = ["scenario", "site_id", "name", "state", "latitude", "longitude",
                       "change"]


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
    records = []
    for name, run in zip(names, runs, strict=True):
        rec: dict[str, Any] = {"scenario": name, "model_file": run.spec.model_file,
                               "status": run.status, "reason": run.reason}
        s = run.summary
        rec["objective_usd"] = s.get("objective_usd", s.get("objective", math.nan))
        for col in SUMMARY_COLUMNS[1:]:
            rec[col] = s.get(col, math.nan)
        costs = ({} if run.costs is None
                 else dict(zip(run.costs["term"], run.costs["usd_per_year"], strict=True)))
        for term in terms:
            rec[f"cost_{term}"] = costs.get(term, math.nan if run.costs is None else 0.0)
        records.append(rec)
    frame = pd.DataFrame(records)
    for col in ("objective_usd", *SUMMARY_COLUMNS[1:], *(f"cost_{t}" for t in terms)):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def site_changes(sites: dict[str, pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """Sites whose active flag differs from the first scenario that has a result."""
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
        for sid in [i for i in ids if was[i] != now[i]]:
            out.append({"scenario": name, "site_id": sid, "name": info.at[sid, "name"],
                        "state": info.at[sid, "state"], "latitude": info.at[sid, "latitude"],
                        "longitude": info.at[sid, "longitude"],
                        "change": "opened" if now[sid] else "closed"})
    return pd.DataFrame(out, columns=SITE_CHANGE_COLUMNS)


def build_comparison(runs: list[ScenarioRun], title: str = "Scenario comparison",
                     frontier: pd.DataFrame | None = None) -> Comparison:
    names = unique_names(runs)
    sites = {n: r.sites for n, r in zip(names, runs, strict=True) if r.sites is not None}
    return Comparison(comparison_rows(runs, names), site_changes(sites, names), sites,
                      frontier, title)


def compare(model_files: Sequence[str | Path], *, title: str | None = None,
            **kw: Any) -> Comparison:
    """Solve each model file as it stands and compare them (rows in the order given)."""
    specs = [ScenarioSpec(Path(m).stem, str(m), {}) for m in model_files]
    runs = run_batch(specs, **kw)
    return build_comparison(runs, title or "Scenario comparison: " + ", ".join(
        unique_names(runs)))


def sweep(model_file: str | Path, grid: Mapping[str, Sequence[Any]], *,
          title: str | None = None, **kw: Any) -> Comparison:
    """Solve the cartesian grid of overrides on one model file."""
    specs = grid_specs(model_file, grid)
    runs = run_batch(specs, **kw)
    return build_comparison(runs, title or f"Sweep of {Path(model_file).stem}")


def pareto(model_file: str | Path, shares: Sequence[float], within_km: float | None = None,
           *, title: str | None = None, **kw: Any) -> Comparison:
    """Cost-vs-access frontier by ε-constraint: one solve per required share of patients
    within the travel target (service.min_share), sorted by share; infeasible points stay."""
    ordered = sorted(float(s) for s in shares)
    grid: dict[str, list[Any]] = {"service.min_share": ordered}
    if within_km is not None:
        grid["service.within_km"] = [float(within_km)]
    specs = grid_specs(model_file, grid)
    runs = run_batch(specs, **kw)
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


__all__ = ["Comparison", "OverrideError", "ScenarioRun", "ScenarioSpec", "SolveOptions",
           "apply_overrides", "build_comparison", "compare", "grid_specs", "local_cluster",
           "pareto", "parse_set", "parse_values", "run_batch", "run_one", "sweep"]
