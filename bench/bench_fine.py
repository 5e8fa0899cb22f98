"""Fine geography (models/us-fine.yaml): its size and memory, its solve, and the price of
aggregation.

Run from the repository root, after the two solves whose folders it reads (each once):

    netopt solve models/us-launch-per-site.yaml --out reports/bench-launch --no-report
    /usr/bin/time -v netopt solve models/us-fine.yaml --time-limit 600 \\
        --out reports/bench-fine --no-report
    /usr/bin/time -v python bench/bench_fine.py --launch reports/bench-launch \\
        --fine reports/bench-fine

Prints:
1. the fine model: zones, demand points, demand rows, point-site-product pairs,
   site-products, and the MILP's rows, columns and binaries; seconds and peak memory (max
   RSS of this process) after load, prepare and build;
2. the fine solve (from its folder; without --fine it is solved here with --time-limit):
   status, objective, bound, gap, seconds;
3. the five-product national network (the us-launch-per-site folder: designed on merged
   demand points) evaluated at fine resolution - its sites, onboarding, equipment, hubs and
   partners held, assignments, flows and ordering options re-solved
   (netopt/analysis/evaluate.py) - against the fine solve: the price of aggregation, with
   the interval the two gaps leave (the held network is a fine solution too, so the fine
   optimum is at most the cheaper of the two).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import replace
from pathlib import Path

from netopt.analysis.evaluate import evaluate_network
from netopt.data.case import Case, load_case
from netopt.model.build import build_model
from netopt.model.prepare import Prepared, prepare
from netopt.results.pipeline import solve_case
from netopt.results.tables import Results
from netopt.solver.info import model_size

ROOT = Path(__file__).resolve().parents[1]
FINE = ROOT / "models" / "us-fine.yaml"


def peak_gib() -> float:
    """Max RSS of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _stage(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label:8s} {now - started:7.1f} s   peak {peak_gib():5.2f} GiB")
    return now


def fine_model(path: Path):  # noqa: ANN201 - (Case, Prepared, model)
    """Load, prepare and build the fine model, printing its size and the cost of each stage."""
    print(f"== fine model: {path} ==")
    t = time.perf_counter()
    case = load_case(path)
    t = _stage("load", t)
    prep = prepare(case)
    t = _stage("prepare", t)
    m = build_model(prep)
    _stage("build", t)
    n_var, n_bin, n_con = model_size(m)
    print(f"  zones {len(case.zones):,} ({case.zones['population'].sum():,.0f} people), "
          f"demand points {len(prep.points):,}, demand rows {len(prep.demand):,}, "
          f"pairs {len(prep.pairs):,}, site-products {len(prep.site_products):,}, "
          f"lanes {len(prep.direct_lanes):,}")
    print(f"  MILP: {n_con:,} rows, {n_var:,} columns, {n_bin:,} binaries")
    return case, prep, m


def _figures(res: Results) -> dict:
    """Objective and bound in USD/yr (summary.json's units; SolveInfo keeps the model's k$)."""
    s = res.summary
    return {k: s.get(k) for k in ("status", "objective", "bound", "gap", "solve_seconds",
                                  "build_seconds")}


def _line(label: str, res: Results) -> str:
    f = _figures(res)
    bound = f"${f['bound'] / 1e6:,.3f}M" if f["bound"] is not None else "-"
    gap = f"{100 * f['gap']:.2f} %" if f["gap"] is not None else "-"
    return (f"  {label:34s} {f['status']:9s} ${f['objective'] / 1e6:,.3f}M  bound {bound}  "
            f"gap {gap}  {f['solve_seconds']:.0f} s solve")


def fine_solve(case: Case, prep: Prepared, folder: Path | None, limit: float) -> Results:
    """The fine solve (its network and proven bound): read from `netopt solve`'s folder, or
    solved here."""
    print("== fine solve ==")
    if folder is not None:
        res = Results.read(folder)
        print(f"  (from {folder})")
    else:
        res = solve_case(case, time_limit=limit, prepared=prep)
    print(_line(case.name, res))
    return res


def price(launch: Results, held: Results, fine: Results) -> dict:
    """What the aggregated network costs where patients live, against the fine optimum; the
    true difference lies between held's bound - fine's objective and held - fine's bound."""
    a, h, f = _figures(launch), _figures(held), _figures(fine)
    out = {f"{name}_{k}": v for name, fig in (("launch", a), ("held", h), ("fine", f))
           for k, v in fig.items()}
    # the held network is itself a fine solution: the fine optimum is at most the cheaper one
    best = min(f["objective"], h["objective"])
    out.update(fine_best_known=best, price_usd=h["objective"] - best,
               price_pct=100 * (h["objective"] - best) / best,
               estimate_error_usd=h["objective"] - a["objective"])
    if f["bound"] is not None:
        low = max(0.0, (h["bound"] if h["bound"] is not None else h["objective"]) - best)
        out["price_range_usd"] = [low, h["objective"] - f["bound"]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launch", type=Path, required=True,
                    help="result folder of `netopt solve models/us-launch-per-site.yaml`")
    ap.add_argument("--fine", type=Path, help="result folder of the us-fine solve")
    ap.add_argument("--model", type=Path, default=FINE)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--eval-gap", type=float, default=0.001,
                    help="MIP gap of the held network's solve")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    case, prep, m = fine_model(args.model.resolve())
    del m  # built for its size; the solve and the evaluation build their own, smaller
    fine = fine_solve(case, prep, args.fine, args.time_limit)
    print("== five-product national network evaluated at fine resolution ==")
    launch = Results.read(args.launch)
    print(_line("us-launch-per-site, as solved (aggregated)", launch))
    t = time.perf_counter()
    # the held model is small in decisions (ordering options): a tight gap prices it exactly
    tight = replace(case, config=case.config.model_copy(update={
        "solver": case.config.solver.model_copy(update={"mip_gap": args.eval_gap})}))
    held = evaluate_network(tight, launch, time_limit=args.time_limit, prepared=prep).result
    print(_line("us-launch-per-site network at fine zones", held))
    _stage("evaluate", t)
    figures = price(launch, held, fine)
    print("== price of aggregation ==")
    print(f"  aggregated network at fine resolution ${figures['held_objective'] / 1e6:,.3f}M "
          f"vs best fine network known ${figures['fine_best_known'] / 1e6:,.3f}M: "
          f"${figures['price_usd'] / 1e6:+,.3f}M ({figures['price_pct']:+.2f} %)")
    if "price_range_usd" in figures:
        lo, hi = (v / 1e6 for v in figures["price_range_usd"])
        print(f"  proven range (both gaps): ${lo:+,.3f}M .. ${hi:+,.3f}M")
    print(f"  its own (aggregated) model priced the network "
          f"${figures['launch_objective'] / 1e6:,.3f}M, the fine zones "
          f"${figures['held_objective'] / 1e6:,.3f}M ({figures['estimate_error_usd'] / 1e6:+,.3f}M:"
          " different zones, so different patients, as well as merged points)")
    print(f"  peak memory of this process {peak_gib():.2f} GiB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
