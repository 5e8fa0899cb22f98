"""Result folders that are never mixed, half-written or stale.

Every command that writes results (`solve`, `report`, `finance`, `simulate`, `resilience`,
`compare`, `sweep`, and `Result.write` in Python) writes through `results_folder`:

- the files are written into a temporary folder beside the target (same file system), and
  only once all of them are there are they moved into place, with Ctrl-C held back during the
  moves: an interrupted run leaves the previous results whole and unchanged;
- `netopt-manifest.json` lists the files netopt wrote (relative path, sha256, bytes) and the
  run each came from (command, model, time, netopt version);
- a new run removes the files of the previous run that it does not write again, so a folder
  never mixes two runs. A file netopt did not write (not in the manifest) is never touched,
  nor is one changed since netopt wrote it (its checksum differs).

Two kinds of run: a *fresh* run (`solve`, `compare`, `sweep`) replaces everything netopt
wrote in the folder; an *attached* run (the analyses, `report`) adds its files to what is
there and replaces only its own previous run's. A file an attached run rewrites that belongs
to another run (the analysis sheets added to `network.xlsx`) stays that run's, with its new
checksum.

Writers compose: a writer handed a folder that is itself being staged (a `solve` writes
tables and reports in one run) writes straight into it, and the outer run commits both. A
fresh writer handed a *subfolder* of a staged folder (`compare --scenario-folders` writes each
scenario's result under `scenarios/`) writes a result folder of its own inside the outer
run: the outer run commits its files and gives the subfolder a manifest of its own, so an
analysis can later attach to it as to any result folder. The outer run's next fresh run
clears each such subfolder as a fresh run would (what analyses added there included), so a
scenario folder never mixes two batches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..solver.interrupts import ctrl_c_after

log = logging.getLogger(__name__)

MANIFEST = "netopt-manifest.json"
MANIFEST_FORMAT = 1
#: prefix of the staging folders written beside a target (`.<name>.netopt-XXXX`)
STAGING_MARK = ".netopt-"

_active: set[Path] = set()  # staging folders being written in this process
#: result folders written inside a staged one: staging folder -> {subfolder: its run}
_nested: dict[Path, dict[str, dict[str, Any]]] = {}
_commits: list[Path] = []  # folders runs of this process committed, in order
_lock = threading.Lock()


class FolderError(ValueError):
    """The target cannot hold a result folder (it is a file, or lies under one)."""


@dataclass
class Run:
    """Which netopt run wrote a set of files: recorded in the manifest."""

    command: str  # solve, report, finance, simulate, resilience, compare, sweep, Result.write
    model: str | None = None  # the model's name (compare: the scenarios')
    model_file: str | None = None
    source: str | None = None  # the result folder an analysis read
    details: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The manifest entry of this run (without its files)."""
        entry: dict[str, Any] = {"command": self.command}
        for key in ("model", "model_file", "source"):
            value = getattr(self, key)
            if value is not None:
                entry[key] = str(value)
        entry.update(self.details)
        entry["time"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        entry["netopt_version"] = _version()
        return entry


def _version() -> str:
    # the package root is always imported before its subpackages: read its version there
    # rather than importing upwards
    root = sys.modules.get(__name__.split(".")[0])
    return str(getattr(root, "__version__", "unknown"))


# ---------------------------------------------------------------- checks before any work


def out_problem(out: Path) -> str | None:
    """Why results cannot be written into `out`, or None. Cheap: commands call it before
    loading or solving anything."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        return f"{out} is a file, not a folder"
    probe = out.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{out} lies under {probe}, which is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"cannot write into {probe} (permission denied)"
    return None


# ---------------------------------------------------------------- the manifest


def file_entry(path: Path, rel: str) -> dict[str, Any]:
    """Relative path, sha256 and size of one file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"path": rel, "sha256": digest.hexdigest(), "bytes": path.stat().st_size}


def read_manifest(folder: Path) -> list[dict[str, Any]]:
    """The runs recorded in a folder's manifest ([] when there is none, or it is unreadable:
    then nothing in the folder counts as netopt's, so nothing is removed)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        runs = data["runs"]
        ok = isinstance(runs, list) and all(
            isinstance(r, dict) and isinstance(r.get("command"), str)
            and isinstance(r.get("files"), list)
            and all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in r["files"])
            for r in runs)
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        log.warning("%s: not a readable netopt manifest; its folder's files are left alone",
                    path)
        return []
    return runs


def written_unchanged(folder: Path, rel: str) -> bool:
    """Whether `folder`/`rel` is a file a netopt run wrote (listed in the manifest) and
    nobody has changed since (same checksum): only such a file may be re-written for the
    user, as a run's own writer would."""
    path = Path(folder) / rel
    if not path.is_file():
        return False
    listed = [f.get("sha256") for r in read_manifest(folder) for f in r["files"]
              if f["path"] == rel]
    return bool(listed) and file_entry(path, rel)["sha256"] == listed[-1]


def plan_runs(old: list[dict[str, Any]], run: dict[str, Any], staged: list[dict[str, Any]],
              attach: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The runs of the new manifest, and the files of earlier runs to remove.

    Fresh: the new run owns every file it wrote; every file of an earlier run it did not
    write again is stale. Attached: earlier runs of other commands stay; a file of theirs
    that this run rewrote stays theirs (with its new checksum, listed under this run's
    `updated`); files of this command's previous run not written again are stale."""
    written = {f["path"]: f for f in staged}
    if not attach:
        stale = [f for r in old for f in r["files"] if f["path"] not in written]
        return [{**run, "files": staged}], stale
    others = [r for r in old if r["command"] != run["command"]]
    previous = [r for r in old if r["command"] == run["command"]]
    kept_runs, updated = [], []
    for r in others:
        files = []
        for f in r["files"]:
            if f["path"] in written:
                files.append(written[f["path"]])
                updated.append(f["path"])
            else:
                files.append(f)
        kept_runs.append({**r, "files": files})
    own = [f for f in staged if f["path"] not in set(updated)]
    stale = [f for r in previous for f in r["files"] if f["path"] not in written]
    entry = {**run, "files": own, **({"updated": sorted(updated)} if updated else {})}
    return [*kept_runs, entry], stale


# ---------------------------------------------------------------- staging and committing


@dataclass
class Staging:
    """A run being written: `dir` stands for the target folder until the run commits."""

    root: Path
    dir: Path
    nested: bool = False
    written: list[Path] = field(default_factory=list)  # every file moved in, once committed

    def final(self, paths: Iterable[Path]) -> list[Path]:
        """Where staged files are once the run has committed (the manifest, bookkeeping,
        is not among them)."""
        paths = [Path(p) for p in paths]
        if self.nested:
            return paths
        return [self.root / p.relative_to(self.dir) for p in paths]


def _enclosing(target: Path) -> Path | None:
    """The staging folder being written that holds `target` (itself or a parent), if any."""
    resolved = target.resolve()
    with _lock:
        return next((s for s in _active if resolved == s or resolved.is_relative_to(s)),
                    None)


@contextlib.contextmanager
def results_folder(out: Path, run: Run, *, attach: bool = False) -> Iterator[Staging]:
    """Stage a run's files beside `out`; move them into `out` and write the manifest when the
    block ends without an exception. On any exception (Ctrl-C included) `out` is left as it
    was and the staging folder is removed."""
    out = Path(out)
    enclosing = _enclosing(out)
    if enclosing is not None:
        out.mkdir(parents=True, exist_ok=True)
        rel = out.resolve().relative_to(enclosing).as_posix()
        if rel != "." and not attach:  # a result folder of its own inside the staged one
            with _lock:
                folders = _nested.setdefault(enclosing, {})
                if rel not in folders:  # the outermost writer names its run
                    folders[rel] = run.record()
        yield Staging(out, out, nested=True)
        return
    problem = out_problem(out)
    if problem:
        raise FolderError(problem)
    real = out.resolve()  # beside the real folder (a symlinked one too): the same disk
    real.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{real.name}{STAGING_MARK}", dir=real.parent))
    with _lock:
        _active.add(stage)
    staging = Staging(out, stage)
    try:
        yield staging
        with ctrl_c_after(stop_work=False):  # never half old, half new
            staging.written = _commit(stage, out, run, attach)
    finally:
        with _lock:
            _active.discard(stage)
            _nested.pop(stage, None)
        with ctrl_c_after(stop_work=False):  # never half old, half new
            shutil.rmtree(stage, ignore_errors=True)


def commits() -> int:
    """How many runs this process has committed so far (a mark for `committed`)."""
    with _lock:
        return len(_commits)


def committed(folder: Path, since: int = 0) -> bool:
    """Whether a run committed after mark `since` wrote into `folder` (or the result folder
    holding it)."""
    resolved = Path(folder).resolve()
    with _lock:
        return any(resolved == c or resolved.is_relative_to(c) for c in _commits[since:])


def _staged_files(stage: Path) -> list[dict[str, Any]]:
    files = sorted(p for p in stage.rglob("*") if p.is_file() and p.name != MANIFEST)
    return [file_entry(p, p.relative_to(stage).as_posix()) for p in files]


def foreign_files(folder: Path, names: Iterable[str]) -> list[str]:
    """Those of `names` (paths relative to `folder`) that are files there which no netopt run
    wrote (not in the folder's manifest): a user's own, such as a dataset's input tables,
    which share their names with result tables."""
    folder = Path(folder)
    ours = {f["path"] for r in read_manifest(folder) for f in r["files"]}
    return sorted(n for n in names if n not in ours and (folder / n).is_file())


def input_tables(folder: Path) -> list[str]:
    """A dataset's input tables in `folder` that no netopt run wrote (sites.csv, ...): a
    folder a command must not write results into, whose tables share their names."""
    from ..data.schema import TABLES

    return foreign_files(folder, [f"{name}.csv" for name in TABLES])


#: files an attached run (an analysis) rewrites with their content kept: the result's
#: workbook, copied with the analysis's sheet added, whoever wrote it
EXTENDED = frozenset({"network.xlsx"})


def _check_destinations(root: Path, staged: list[dict[str, Any]], attach: bool) -> None:
    """Every staged file can take its place (no folder of that name, no file where a
    subfolder goes, no file of the user's: results never overwrite a file netopt did not
    write, but for the workbook an analysis extends): checked before anything moves, so a
    refusal changes nothing."""
    foreign = foreign_files(root, [f["path"] for f in staged
                                   if not (attach and f["path"] in EXTENDED)])
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                          if len(foreign) > 5 else "")
        raise FolderError(f"{root} holds files netopt did not write that results would "
                          f"replace ({shown}): choose another folder, or move them away")
    for f in staged:
        dest = root / f["path"]
        if dest.is_dir():
            raise FolderError(f"{dest} is a folder: cannot write the file netopt writes there")
        for parent in dest.parents:
            if parent == root:
                break
            if parent.exists() and not parent.is_dir():
                raise FolderError(f"{parent} is a file: cannot write {dest}")


def _commit(stage: Path, root: Path, run: Run, attach: bool) -> list[Path]:
    """Move the staged files into `root`, remove the stale ones, write the manifest."""
    staged = _staged_files(stage)
    old = read_manifest(root)
    with _lock:
        nested = dict(_nested.get(stage, {}))
    record = run.record()
    if nested:
        record["result_folders"] = sorted(nested)
    runs, stale = plan_runs(old, record, staged, attach)
    root.mkdir(parents=True, exist_ok=True)
    _check_destinations(root, staged, attach)
    if not attach:  # a fresh run replaces the result folders an earlier one wrote inside
        for r in old:
            for rel in r.get("result_folders", []):
                _clear_result_folder(root, str(rel))
    for f in staged:
        dest = root / f["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / f["path"], dest)
    _remove_stale(root, stale)
    manifest = root / MANIFEST
    tmp = stage / MANIFEST
    tmp.write_text(json.dumps({"netopt_manifest": MANIFEST_FORMAT, "runs": runs}, indent=2)
                   + "\n", encoding="utf-8")
    os.replace(tmp, manifest)
    for rel, sub_run in nested.items():
        _write_sub_manifest(root, rel, sub_run, staged)
    with _lock:
        _commits.append(root.resolve())
    return [root / f["path"] for f in staged]


def _write_sub_manifest(root: Path, rel: str, run: dict[str, Any],
                        staged: list[dict[str, Any]]) -> None:
    """The manifest of a result folder written inside a run: its files, relative to it."""
    prefix = rel.rstrip("/") + "/"
    files = [{**f, "path": f["path"][len(prefix):]} for f in staged
             if f["path"].startswith(prefix)]
    folder = root / rel
    if not files or not folder.is_dir():  # nothing written there: no result folder
        return
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"netopt_manifest": MANIFEST_FORMAT,
                               "runs": [{**run, "files": files}]}, indent=2) + "\n",
                   encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


def _clear_result_folder(root: Path, rel: str) -> None:
    """Remove what netopt wrote in a result folder an earlier run wrote inside `root` (its
    own files and those analyses added since), unless changed since; then its manifest."""
    folder = (root / rel).resolve()
    if not folder.is_relative_to(root.resolve()) or not folder.is_dir():
        return
    runs = read_manifest(folder)
    latest = {f["path"]: f for r in runs for f in r["files"]}  # the last checksum wins
    _remove_stale(folder, list(latest.values()))
    with contextlib.suppress(OSError):
        (folder / MANIFEST).unlink()
    top = root.resolve()
    for empty in (folder, *folder.parents):  # scenarios/A, then scenarios/, if emptied
        if empty == top or not empty.is_relative_to(top):
            break
        try:
            empty.rmdir()
        except OSError:  # not empty: the user keeps files there
            break


def _remove_stale(root: Path, stale: list[dict[str, Any]]) -> None:
    """Remove files an earlier run wrote and this one did not, unless changed since; then
    the subfolders that removal left empty."""
    emptied: set[Path] = set()
    for f in stale:
        path = root / f["path"]
        if not path.resolve().is_relative_to(root.resolve()) or not path.is_file():
            continue
        if file_entry(path, f["path"])["sha256"] != f.get("sha256"):
            log.warning("kept %s: changed since netopt wrote it", path)
            continue
        path.unlink()
        emptied.update(p for p in path.parents if p != root and p.is_relative_to(root))
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty: the user keeps files there
            folder.rmdir()
