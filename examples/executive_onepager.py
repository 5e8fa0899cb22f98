"""Executive: solve the network and hand over a one-page report and a map.

Solves the regional model (us-small) and writes its result folder: report.html (the printable
one-pager: headline figures, map, network cost chart, where patients are not served, active
hubs and partners), details.html (its appendix: every cost term, sites by state, every
unserved group, the assumptions and solver settings), map.html (the interactive map),
network.xlsx and the CSV tables. Prints the headline figures and where the two pages are.

    python examples/executive_onepager.py [--out DIR] [--model MODEL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import netopt

ROOT = Path(__file__).resolve().parent.parent
#: files this example writes into --out (checked by tests/test_examples.py)
OUTPUTS = ["report.html", "map.html", "network.xlsx", "summary.json", "sites.csv"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "examples" /
                        "executive_onepager", help="result folder")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "us-small.yaml")
    args = parser.parse_args(argv)

    result = netopt.solve(args.model)
    result.write(args.out)

    kpis = result.kpis.set_index("kpi")["value"]
    penalty = result.objective - result.network_cost  # lost margin of the untreated: not cash
    print(f"{result.summary['model']}: {result.status}, network cost "
          f"${result.network_cost:,.0f} a year, plus ${penalty:,.0f} unserved penalty "
          f"(gap {result.gap or 0:.2%})")
    print(f"  {kpis['sites_active']:.0f} sites ({kpis['sites_opened']:.0f} opened), "
          f"{kpis['hubs_active']:.0f} hubs, {kpis['partners_active']:.0f} partners")
    print(f"  {kpis['pct_served']:.1f} % of {kpis['patients_demand']:,.0f} patients a year "
          f"treated; {kpis['pct_within_travel_target']:.1f} % of them within the travel "
          "target")
    print(f"\none-page report: {args.out / 'report.html'}")
    print(f"interactive map: {args.out / 'map.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
