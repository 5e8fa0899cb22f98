"""Strategist: what does losing the Atlanta hub cost? Baseline and outage side by side.

Loads the regional model (us-small), makes the scenario through the Python API (the Atlanta
3PL hub taken out of service), solves both, prints the comparison and writes the comparison
page (compare.html), its workbook and tables.

    python examples/strategist_compare.py [--out DIR] [--model MODEL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import netopt

ROOT = Path(__file__).resolve().parent.parent
#: files this example writes into --out (checked by tests/test_examples.py)
OUTPUTS = ["compare.csv", "site_changes.csv", "compare.html", "compare.xlsx"]
NAMES = ["baseline", "ATL hub outage"]


def scenario_cases(model: Path) -> list[netopt.Case]:
    """The baseline case and the outage: the same model with the ATL hub excluded."""
    baseline = netopt.load(model)
    outage = baseline.with_changes(
        edits=[{"table": "hubs", "where": {"airport_code": "ATL"},
                "set": {"status": "excluded"}}],
        name="atl-outage",
    )
    return [baseline, outage]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "examples" /
                        "strategist_compare", help="folder for the comparison")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "us-small.yaml")
    args = parser.parse_args(argv)

    cases = scenario_cases(args.model)
    results = [netopt.solve(case) for case in cases]
    comparison = netopt.compare(results, names=NAMES, title="What the ATL hub outage costs")

    rows = comparison.rows.set_index("scenario")
    print(rows[["status", "objective_usd", "patients_served", "patients_unserved",
                "sites_active", "hubs_active"]].to_string(float_format=lambda v: f"{v:,.1f}"))
    base, outage = (rows.at[name, "objective_usd"] for name in NAMES)
    gaps = ", ".join(f"{rows.at[name, 'gap']:.2%}" for name in NAMES)
    noise = rows.at[NAMES[1], "within_solver_gap"]  # None when a run has no proven gap
    if noise is not None and not noise:
        print(f"\nThe outage costs ${outage - base:,.0f} a year ({outage / base - 1:+.2%}), "
              f"more than the two runs' solver gaps ({gaps}) allow.")
    else:  # the difference may be solver noise: solve both with a smaller gap to tell
        print(f"\nThe outage changes the cost by ${outage - base:,.0f} a year "
              f"({outage / base - 1:+.2%}), not more than the two runs' solver gaps ({gaps}) "
              "allow: it may be noise, not a result; solve both with a smaller gap to tell.")
    changes = comparison.site_changes
    for row in changes.itertuples(index=False):
        print(f"  {row.change}: {row.name} ({row.state}), {row.product_id}")
    if changes.empty:
        print("  no site opens or closes")

    paths = comparison.write(args.out)
    print(f"\nwrote {len(paths)} files; open {args.out / 'compare.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
