"""Result folders are never mixed, half-written or stale; Ctrl-C leaves them whole; `--out`
is checked first; analyses leave their source alone; model files work from any folder.

The folder mechanics (staging, manifest, stale files) are tested on plain files first; then
the real CLI: interrupted in-process at chosen points of the writing, and as a subprocess
with SIGINT during the imports, the preparation and the HiGHS run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import netopt
from netopt.cli.app import app, main
from netopt.results import folder as rf
from netopt.results.folder import MANIFEST, FolderError, Run, results_folder

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
US_SMALL = ROOT / "models" / "us-small.yaml"
runner = CliRunner()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def staging_left(folder: Path) -> list[str]:
    return [p.name for p in folder.absolute().parent.iterdir() if rf.STAGING_MARK in p.name]


def manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def assert_matches_manifest(folder: Path, own: set[str] = frozenset()) -> None:
    """The folder holds exactly the manifest's files (plus the manifest and the user's own
    files `own`), each with the checksum and size the manifest records."""
    listed = {f["path"]: f for r in manifest(folder)["runs"] for f in r["files"]}
    assert set(snapshot(folder)) == {*listed, MANIFEST, *own}
    for rel, entry in listed.items():
        data = (folder / rel).read_bytes()
        assert entry["bytes"] == len(data), rel
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), rel


def write_files(folder: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


# ---------------------------------------------------------------- the folder mechanics


def test_a_run_writes_its_files_and_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "res"
    with results_folder(out, Run("solve", model="m", model_file="/x/m.yaml")) as staging:
        assert staging.dir.parent == out.parent and staging.dir != out  # beside the target
        assert not out.exists()  # nothing there until the run commits
        paths = write_files(staging.dir, {"a.csv": "x,y\n1,2\n", "sub/b.csv": "b\n"})
    assert staging.final(paths) == staging.written == [out / "a.csv", out / "sub" / "b.csv"]
    assert staging_left(out) == []
    data = manifest(out)
    (run,) = data["runs"]
    assert run["command"] == "solve" and run["model"] == "m" and run["model_file"] == "/x/m.yaml"
    assert run["netopt_version"] == netopt.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run["time"])
    assert run["files"] == [
        {"path": "a.csv", "sha256": hashlib.sha256(b"x,y\n1,2\n").hexdigest(), "bytes": 8},
        {"path": "sub/b.csv", "sha256": hashlib.sha256(b"b\n").hexdigest(), "bytes": 2}]


def test_a_new_run_removes_what_the_last_one_wrote_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "res"
    with results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {"a.csv": "1", "b.csv": "2", "edited.html": "3",
                                  "sub/c.csv": "4"})
    write_files(out, {"notes.txt": "mine", "sub2/mine.csv": "mine too"})
    (out / "edited.html").write_text("3 - with my comments", encoding="utf-8")

    with results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {"a.csv": "new"})
    assert snapshot(out) == {"a.csv": b"new", "edited.html": b"3 - with my comments",
                             "notes.txt": b"mine", "sub2/mine.csv": b"mine too",
                             MANIFEST: (out / MANIFEST).read_bytes()}
    assert not (out / "sub").exists()  # emptied by the removal
    assert [f["path"] for f in manifest(out)["runs"][0]["files"]] == ["a.csv"]


def test_an_exception_while_writing_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "res"
    with results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {"a.csv": "old", "b.csv": "old"})
    before = snapshot(out)
    with pytest.raises(KeyboardInterrupt), results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {"a.csv": "new", "b.csv": "ne"})
        raise KeyboardInterrupt
    assert snapshot(out) == before
    assert staging_left(out) == []


def test_ctrl_c_while_files_move_is_delivered_once_they_are_all_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "res"
    with results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {f"{c}.csv": "old" for c in "abcd"})
    replace, moved = os.replace, []

    def replace_then_ctrl_c(src, dst) -> None:  # noqa: ANN001
        replace(src, dst)
        moved.append(dst)
        if len(moved) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(rf.os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt), results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {f"{c}.csv": "new" for c in "abcd"})
    assert len(moved) == 5  # the four files and the manifest, then the interrupt
    assert {rel: data for rel, data in snapshot(out).items() if rel != MANIFEST} == {
        f"{c}.csv": b"new" for c in "abcd"}
    assert_matches_manifest(out)


def test_an_attached_run_adds_its_files_and_replaces_only_its_own(tmp_path: Path) -> None:
    out = tmp_path / "res"
    with results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {"sites.csv": "s", "network.xlsx": "book"})
    with results_folder(out, Run("resilience"), attach=True) as staging:
        write_files(staging.dir, {"resilience.csv": "r1", "network.xlsx": "book+sheet",
                                  "old-only.csv": "x"})
    with results_folder(out, Run("finance"), attach=True) as staging:
        write_files(staging.dir, {"finance.html": "f"})
    runs = {r["command"]: r for r in manifest(out)["runs"]}
    assert [f["path"] for f in runs["solve"]["files"]] == ["network.xlsx", "sites.csv"]
    assert runs["resilience"]["updated"] == ["network.xlsx"]  # the sheet: still the solve's
    assert (out / "network.xlsx").read_text() == "book+sheet"
    assert_matches_manifest(out)

    with results_folder(out, Run("resilience"), attach=True) as staging:
        write_files(staging.dir, {"resilience.csv": "r2"})
    assert not (out / "old-only.csv").exists()  # its own previous file, not written again
    assert (out / "network.xlsx").read_text() == "book+sheet"  # the solve's, kept
    assert (out / "finance.html").read_text() == "f"  # another analysis's, kept
    assert_matches_manifest(out)

    with results_folder(out, Run("solve")) as staging:  # a new network: analyses are stale
        write_files(staging.dir, {"sites.csv": "s2"})
    assert set(snapshot(out)) == {"sites.csv", MANIFEST}


def test_writers_handed_a_staged_folder_join_its_run(tmp_path: Path) -> None:
    """`Result.write` inside a larger run (solve: tables + reports) commits with it, once."""
    out = tmp_path / "res"
    with results_folder(out, Run("solve", model="outer")) as staging:
        with results_folder(staging.dir / "sub", Run("inner")) as inner:
            assert inner.nested and inner.dir == staging.dir / "sub"
            write_files(inner.dir, {"x.csv": "1"})
        assert not (out / "sub").exists()
    (run,) = manifest(out)["runs"]
    assert run["model"] == "outer" and [f["path"] for f in run["files"]] == ["sub/x.csv"]


def test_a_result_folder_inside_a_run_has_its_own_manifest_and_goes_with_the_next_run(
        tmp_path: Path) -> None:
    """compare --scenario-folders: each scenario's folder commits with the batch, gets a
    manifest of its own (an analysis attaches to it as to a solve's folder), and the batch's
    next fresh run clears it, the analysis's files included, but never the user's."""
    out = tmp_path / "batch"
    with results_folder(out, Run("compare")) as staging:
        write_files(staging.dir, {"compare.csv": "c1"})
        with results_folder(staging.dir / "scenarios" / "a", Run("compare (scenario)",
                                                                 model="a")) as inner:
            assert inner.nested
            write_files(inner.dir, {"sites.csv": "s1", "report.html": "r1"})
        with results_folder(staging.dir / "scenarios" / "a", Run("report"),
                            attach=True) as pages:  # its pages join its run
            write_files(pages.dir, {"map.html": "m1"})
    (run,) = manifest(out)["runs"]
    assert run["result_folders"] == ["scenarios/a"]
    assert sorted(f["path"] for f in run["files"]) == [
        "compare.csv", "scenarios/a/map.html", "scenarios/a/report.html",
        "scenarios/a/sites.csv"]
    scenario = out / "scenarios" / "a"
    (sub,) = manifest(scenario)["runs"]
    assert sub["command"] == "compare (scenario)" and sub["model"] == "a"
    assert_matches_manifest(scenario)  # paths relative to the scenario's folder

    with results_folder(scenario, Run("finance"), attach=True) as staging:
        write_files(staging.dir, {"finance.html": "f", "report.html": "r1 + link"})
    assert_matches_manifest(scenario)
    write_files(scenario, {"my-notes.txt": "mine"})

    with results_folder(out, Run("compare")) as staging:  # a batch without scenario folders
        write_files(staging.dir, {"compare.csv": "c2"})
    assert snapshot(out) == {"compare.csv": b"c2", "scenarios/a/my-notes.txt": b"mine",
                             MANIFEST: (out / MANIFEST).read_bytes()}
    assert "result_folders" not in manifest(out)["runs"][0]
    (scenario / "my-notes.txt").unlink()
    scenario.rmdir()
    with results_folder(out, Run("compare")) as staging:
        write_files(staging.dir, {"compare.csv": "c3"})
        with results_folder(staging.dir / "scenarios" / "b", Run("compare (scenario)")):
            write_files(staging.dir / "scenarios" / "b", {"sites.csv": "s2"})
    with results_folder(out, Run("compare")) as staging:
        write_files(staging.dir, {"compare.csv": "c4"})
    assert not (out / "scenarios").exists()  # emptied and removed
    assert set(snapshot(out)) == {"compare.csv", MANIFEST}


def test_an_unreadable_manifest_means_nothing_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "res"
    write_files(out, {"a.csv": "1", MANIFEST: "{not json"})
    with results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {"b.csv": "2"})
    assert (out / "a.csv").read_text() == "1"
    assert [f["path"] for f in manifest(out)["runs"][0]["files"]] == ["b.csv"]


def test_a_file_netopt_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    """A user's sites.csv where a run would write its own: the run is refused before
    anything moves, and the folder stays as it was (a dataset folder given as --out lost
    seven of its nine input tables to result tables of the same names)."""
    out = tmp_path / "data"
    write_files(out, {"sites.csv": "site_id\nS1\n", "notes.txt": "mine"})
    before = snapshot(out)
    with pytest.raises(FolderError, match=r"did not write .*\(sites\.csv\)"), \
            results_folder(out, Run("solve")) as staging:
        write_files(staging.dir, {"sites.csv": "result", "summary.json": "{}"})
    assert snapshot(out) == before
    assert staging_left(out) == []
    # netopt's own file of that name, from an earlier run, is replaced as before
    with results_folder(tmp_path / "res", Run("solve")) as staging:
        write_files(staging.dir, {"sites.csv": "old"})
    with results_folder(tmp_path / "res", Run("solve")) as staging:
        write_files(staging.dir, {"sites.csv": "new"})
    assert (tmp_path / "res" / "sites.csv").read_text() == "new"


def test_solve_into_a_dataset_folder_exits_2_before_any_work(tmp_path: Path) -> None:
    data = tmp_path / "tiny"
    shutil.copytree(ROOT / "tests" / "data" / "tiny", data)
    before = snapshot(data)
    result = runner.invoke(app, ["solve", str(TINY), "--out", str(data), "--no-report"])
    assert result.exit_code == 2, result.output
    assert "input tables netopt did not write" in result.output
    assert "sites.csv" in result.output and "solving" not in result.output
    assert snapshot(data) == before
    # a file of the user's found only once the results are ready: exit 2 too, not an
    # internal error, and the file kept
    mine = tmp_path / "mine"
    write_files(mine, {"summary.json": "{}"})
    code = subprocess.run(
        [sys.executable, "-c", "import sys; from netopt.cli.app import main; "
         "sys.argv[0] = 'netopt'; main()", "solve", str(TINY), "--out", str(mine),
         "--no-report"], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), os.environ.get("PYTHONPATH", "")])})
    assert code.returncode == 2, code.stderr
    assert "did not write" in code.stderr and "internal error" not in code.stderr
    assert (mine / "summary.json").read_text() == "{}"


def test_out_problems(tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert rf.out_problem(tmp_path / "new" / "deeper") is None
    assert "is a file" in rf.out_problem(file)
    assert f"lies under {file}" in rf.out_problem(file / "a" / "b")
    with pytest.raises(FolderError), results_folder(file / "a", Run("solve")):
        pass
    assert staging_left(file) == []


# ---------------------------------------------------------------- the CLI: reruns


def test_rerun_with_no_report_leaves_only_the_new_runs_files(tmp_path: Path) -> None:
    """A full run plus every analysis, then `solve --no-report` into the same folder: the
    folder is exactly the new manifest's files and the user's own."""
    out = tmp_path / "res"
    launch = tmp_path / "models" / "launch.yaml"
    launch.parent.mkdir()
    launch.write_text(f"extends: {os.path.relpath(TINY, launch.parent)}\nname: tiny-launch\n"
                      "timeline:\n  periods: 4\n", encoding="utf-8")
    assert runner.invoke(app, ["solve", str(launch), "--out", str(out)]).exit_code == 0
    for args in (["finance", str(out)],
                 ["simulate", str(out), "--replications", "2", "--days", "60"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    # an outage is measured on one steady-state year: refused on a timeline, nothing written
    assert runner.invoke(app, ["resilience", str(out)]).exit_code == 2
    assert not (out / "resilience.csv").exists()
    (out / "my-notes.txt").write_text("mine", encoding="utf-8")
    (out / "simulation" / "my-chart.png").write_bytes(b"\x89PNG mine")
    before = set(snapshot(out))
    assert {"map.html", "report.html", "network.xlsx", "timeline_sites.csv", "finance.html",
            "simulation/kpis.csv"} <= before

    res = runner.invoke(app, ["solve", str(TINY), "--out", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    assert_matches_manifest(out, own={"my-notes.txt", "simulation/my-chart.png"})
    (run,) = manifest(out)["runs"]
    assert run["command"] == "solve" and run["model"] == "tiny"
    assert run["model_file"] == str(TINY)
    after = set(snapshot(out))
    for gone in ("map.html", "report.html", "network.xlsx", "timeline_sites.csv",
                 "timeline_periods.csv", "finance.html", "return_tradeoff.csv",
                 "simulation/kpis.csv", "simulation/summary.json"):
        assert gone in before and gone not in after, gone
    assert (out / "my-notes.txt").read_text() == "mine"
    assert (out / "simulation" / "my-chart.png").read_bytes() == b"\x89PNG mine"
    assert f"wrote {len(after) - 3} files" in res.output  # not the manifest, not mine

    # resilience's files go the same way, on a steady-state solve
    assert runner.invoke(app, ["resilience", str(out)]).exit_code == 0
    assert (out / "resilience.csv").is_file()
    res = runner.invoke(app, ["solve", str(TINY), "--out", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    assert not (out / "resilience.csv").exists()
    assert_matches_manifest(out, own={"my-notes.txt", "simulation/my-chart.png"})


def test_report_compare_and_sweep_record_their_runs(tmp_path: Path) -> None:
    out = tmp_path / "res"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(out), "--no-report"]
                         ).exit_code == 0
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    runs = {r["command"]: r for r in manifest(out)["runs"]}
    assert sorted(f["path"] for f in runs["report"]["files"]) == [
        "details.html", "map.html", "network.xlsx", "report.html"]
    assert_matches_manifest(out)

    batch = tmp_path / "batch"
    res = runner.invoke(app, ["compare", str(TINY), "--workers", "1", "--out", str(batch)])
    assert res.exit_code == 0, res.output
    assert {"compare.html", "compare.xlsx"} <= set(snapshot(batch))
    res = runner.invoke(app, ["sweep", str(TINY), "--set", "service.within_km=300,400",
                              "--workers", "1", "--no-report", "--out", str(batch)])
    assert res.exit_code == 0, res.output
    (run,) = manifest(batch)["runs"]
    assert run["command"] == "sweep"
    assert sorted(f["path"] for f in run["files"]) == [
        "compare.csv", "facility_changes.csv", "site_changes.csv", "term_changes.csv"]
    assert_matches_manifest(batch)  # the comparison's page and workbook are gone
    assert len(pd.read_csv(batch / "compare.csv")) == 2


def test_analyses_with_out_leave_their_source_byte_identical(tmp_path: Path) -> None:
    src = tmp_path / "src"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(src)]).exit_code == 0
    before = snapshot(src)
    runs = {"finance": [], "resilience": [], "simulate": ["--replications", "2", "--days", "60"]}
    for command, extra in runs.items():
        res = runner.invoke(app, [command, str(src), "--out", str(tmp_path / command), *extra])
        assert res.exit_code == 0, res.output
        assert snapshot(src) == before, command
        (run,) = manifest(tmp_path / command)["runs"]
        assert run["command"] == command and run["source"] == str(src)
        assert_matches_manifest(tmp_path / command)
    from openpyxl import load_workbook

    for command, sheet in (("resilience", "resilience"), ("simulate", "simulation")):
        book = load_workbook(tmp_path / command / "network.xlsx", read_only=True)
        assert sheet in book.sheetnames and "sites" in book.sheetnames  # a copy, plus sheet
    assert snapshot(src) == before


def test_an_analysis_never_writes_into_another_runs_folder(tmp_path: Path) -> None:
    """`report A --out B` put A's report over B's summary, and `resilience A --out B`
    replaced B's workbook with A's: both exit 2 now and leave B as it was; the same
    analysis again into its own --out folder still works."""
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        assert runner.invoke(app, ["solve", str(TINY), "--out", str(folder)]).exit_code == 0
    before = snapshot(b)
    for command in ("report", "resilience", "finance"):
        res = runner.invoke(app, [command, str(a), "--out", str(b)], env={"COLUMNS": "300"})
        assert res.exit_code == 2, (command, res.output)
        assert "holds the results of a solve run" in res.output
    assert snapshot(b) == before
    again = tmp_path / "again"
    for command in ("report", "report", "finance", "resilience", "report"):
        res = runner.invoke(app, [command, str(a), "--out", str(again)])
        assert res.exit_code == 0, (command, res.output)
    for _ in range(2):  # its tables (hubs.csv, products.csv...) are its own the second time
        res = runner.invoke(app, ["simulate", str(a), "--replications", "2", "--days", "30"])
        assert res.exit_code == 0, res.output


def test_simulate_never_writes_into_another_runs_folder(tmp_path: Path) -> None:
    """`simulate A --out B` replaced B's summary.json, hubs.csv, products.csv, kpis.csv and
    network.xlsx with A's simulation tables (exit 0): B then mixed two runs. It is refused
    (exit 2) like report, finance and resilience are; B is left as it was, and the same
    simulation again into its own --out folder still works."""
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        assert runner.invoke(app, ["solve", str(TINY), "--out", str(folder)]).exit_code == 0
    before = snapshot(b)
    days = ["--replications", "2", "--days", "30"]
    res = runner.invoke(app, ["simulate", str(a), "--out", str(b), *days],
                        env={"COLUMNS": "300"})
    assert res.exit_code == 2, res.output
    assert "holds the results of a solve run" in res.output
    # simulate's own default is a subfolder, not the result folder itself
    assert f"leave it out to write into {a / 'simulation'}" in " ".join(res.output.split())
    assert snapshot(b) == before
    for _ in range(2):
        res = runner.invoke(app, ["simulate", str(a), "--out", str(tmp_path / "sim"), *days])
        assert res.exit_code == 0, res.output


def test_simulate_refuses_the_result_folder_itself_as_out(tmp_path: Path) -> None:
    src = tmp_path / "src"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(src)]).exit_code == 0
    before = snapshot(src)
    res = runner.invoke(app, ["simulate", str(src), "--out", str(src)])
    assert res.exit_code == 2 and "the result folder itself" in res.output
    assert snapshot(src) == before


@pytest.mark.parametrize("command", [
    ["solve", str(TINY)], ["compare", str(TINY)], ["sweep", str(TINY)],
    ["report", "RESULT"], ["finance", "RESULT"], ["resilience", "RESULT"],
    ["simulate", "RESULT"]])
@pytest.mark.parametrize("where", ["file", "under a file"])
def test_out_that_is_or_lies_under_a_file_exits_2_before_any_work(
        command: list[str], where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import netopt.results.pipeline as pipeline

    def no_solving(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("solved before checking --out")

    monkeypatch.setattr(pipeline, "solve_case", no_solving)
    file = tmp_path / "taken.txt"
    file.write_text("not a folder")
    out = file if where == "file" else file / "res"
    args = [str(tmp_path / "nowhere") if a == "RESULT" else a for a in command]
    res = runner.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    text = " ".join(res.output.split())
    assert "error: --out:" in text
    assert ("is a file, not a folder" if where == "file" else f"lies under {file}") in text
    assert file.read_text() == "not a folder"


# ---------------------------------------------------------------- the CLI: Ctrl-C in-process


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str
          ) -> tuple[int, list[str]]:
    """Run the console entry point (main, not just the typer app); (exit code, stderr lines)."""
    monkeypatch.setattr(sys, "argv", ["netopt", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err.splitlines()


def _interrupt_on_call(monkeypatch: pytest.MonkeyPatch, owner: object, name: str,
                       nth: int = 1, partial: bool = False) -> None:
    """Make owner.name raise KeyboardInterrupt on its nth call (after writing a partial file
    when `partial`: the key pressed in the middle of a write)."""
    original, calls = getattr(owner, name), []

    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == nth:
            if partial:
                Path(args[-1]).write_bytes(b"half a fi")
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


@pytest.mark.parametrize("point", ["fifth table", "report page", "workbook half-written"])
def test_ctrl_c_while_writing_leaves_the_previous_results_file_by_file(
        point: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    import netopt.report as report

    out = tmp_path / "res"
    code, _ = _main(monkeypatch, capsys, "solve", str(TINY), "--out", str(out))
    assert code in (0, None)
    before = snapshot(out)
    if point == "fifth table":
        _interrupt_on_call(monkeypatch, pd.DataFrame, "to_csv", nth=5)
    elif point == "report page":
        _interrupt_on_call(monkeypatch, report, "write_report")
    else:
        _interrupt_on_call(monkeypatch, report, "write_workbook", partial=True)

    code, err = _main(monkeypatch, capsys, "solve", str(TINY), "--out", str(out),
                      "--time-limit", "20")
    assert code == 130
    assert err == [f"interrupted; previous results in {out} untouched"]
    assert snapshot(out) == before
    assert staging_left(out) == []


def test_ctrl_c_while_the_files_move_finishes_the_move_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "res"
    code, _ = _main(monkeypatch, capsys, "solve", str(TINY), "--out", str(out))
    assert code in (0, None)
    replace, moved = os.replace, []

    def replace_then_ctrl_c(src, dst) -> None:  # noqa: ANN001
        replace(src, dst)
        moved.append(dst)
        if len(moved) == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(rf.os, "replace", replace_then_ctrl_c)
    code, err = _main(monkeypatch, capsys, "solve", str(TINY), "--out", str(out),
                      "--no-report")
    assert code == 130
    assert err == [f"interrupted; the new results in {out} are complete"]
    assert not (out / "map.html").exists()  # the new run's folder, whole
    assert_matches_manifest(out)


# ---------------------------------------------------------------- the CLI: SIGINT


def _interrupt_subprocess(args: list[str], after: str, delay: float, cwd: Path
                          ) -> tuple[int, str]:
    """Run netopt as its own process; send SIGINT `delay` s after a stdout line containing
    `after` ('ready': Python is up and netopt is being imported). (exit code, stderr)."""
    # 'ready' once the (empty) netopt.cli package is loaded: a signal before netopt's first
    # line runs can only meet Python's own handler; from here on netopt's guard holds
    code = ("import sys; import netopt.cli; print('ready', flush=True); "
            "from netopt.cli.app import main; sys.argv[0] = 'netopt'; main()")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line)
            if after in line:
                break
        else:  # the run ended without the line: a signal now would meet a finished process
            _, err = proc.communicate(timeout=120)
            raise AssertionError(f"{after!r} never printed (exit {proc.returncode}); stdout:\n"
                                 + "".join(seen[-20:]) + "\nstderr:\n" + err)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, err


@pytest.mark.slow  # a us-small solve as a subprocess, stopped part way
@pytest.mark.parametrize(("stage", "after", "delay"), [
    ("imports", "ready", 0.0),
    ("preparing", "preparing lanes and pairs", 0.0),
    ("HiGHS", "solving with HiGHS", 1.5),
])
def test_sigint_exits_130_with_one_line_and_the_previous_results_untouched(
        stage: str, after: str, delay: float, tmp_path: Path) -> None:
    out = tmp_path / "res"
    assert runner.invoke(app, ["solve", str(TINY), "--out", str(out)]).exit_code == 0
    before = snapshot(out)

    code, err = _interrupt_subprocess(["solve", str(US_SMALL), "--out", str(out)], after,
                                      delay, tmp_path)
    assert code == 130, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    expected = {f"interrupted; previous results in {out} untouched"}
    if stage == "imports":  # before the command knows its folder
        expected.add("interrupted; no results written")
    assert lines[0] in expected
    assert snapshot(out) == before
    assert staging_left(out) == []


# ---------------------------------------------------------------- a user's own folder


def test_a_plain_folder_with_models_and_data_side_by_side(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dataset: ../data/x` and `extends: ../base.yaml` resolve against the model file,
    with no pyproject.toml or .git anywhere; the default output is reports/<model>/ under
    the working directory."""
    proj = tmp_path / "mine"
    shutil.copytree(ROOT / "tests" / "data" / "tiny", proj / "data" / "tiny")
    (proj / "models" / "scenarios").mkdir(parents=True)
    (proj / "models" / "base.yaml").write_text("name: base\ndataset: ../data/tiny\n")
    (proj / "models" / "scenarios" / "near.yaml").write_text(
        "extends: ../base.yaml\nname: near\nservice:\n  within_km: 400\n")
    assert not [p for p in (proj, *proj.parents)
                if (p / "pyproject.toml").exists() or (p / ".git").exists()]
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    model = proj / "models" / "scenarios" / "near.yaml"
    res = runner.invoke(app, ["validate", str(model)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["solve", str(model), "--no-report"])
    assert res.exit_code == 0, res.output
    summary = json.loads((work / "reports" / "near" / "summary.json").read_text())
    assert summary["status"] == "optimal" and summary["settings"]["service"]["within_km"] == 400
    assert not (proj / "reports").exists() and not (proj / "models" / "reports").exists()


@pytest.mark.slow  # validates and solves us-small (about 20 s)
def test_us_small_copied_to_a_plain_folder_validates_and_solves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = tmp_path / "copy"
    shutil.copytree(ROOT / "models", proj / "models",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data", proj / "data")
    assert not [p for p in (proj, *proj.parents)
                if (p / "pyproject.toml").exists() or (p / ".git").exists()]
    monkeypatch.chdir(proj)
    model = Path("models") / "us-small.yaml"
    res = runner.invoke(app, ["validate", str(model)])
    assert res.exit_code == 0, res.output
    scenario = Path("models") / "scenarios" / "hub-outage-mem.yaml"
    res = runner.invoke(app, ["validate", str(scenario)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["solve", str(model), "--no-report"])
    assert res.exit_code == 0, res.output
    summary = json.loads((proj / "reports" / "us-small" / "summary.json").read_text())
    assert summary["status"] in ("optimal", "feasible")
    assert summary["model_file"] == str((proj / model).resolve())
    assert summary["patients_demand"] == pytest.approx(799.64, abs=0.01)
