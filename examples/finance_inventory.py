"""Finance: how the return policy moves stock, expiries and working capital.

Solves the regional model (us-small) twice through the API - with the repeat-dose product's
site stock not returnable, then fully returnable at no fee - and prints, for each, the
ordering policies the network chose, the doses expired a year, the manufacturer's write-offs
and working capital by holder, and under strict returns the share each site would need. Writes
the generous case's finance page (finance.html, with the return-policy trade-off chart), its
finance table, the trade-off table and each site's returnable share to stock.

    python examples/finance_inventory.py [--out DIR] [--model MODEL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import netopt

ROOT = Path(__file__).resolve().parent.parent
#: files this example writes into --out (checked by tests/test_examples.py)
OUTPUTS = ["finance.html", "return_tradeoff.csv", "return_thresholds.csv", "finance.csv"]


def returns(fraction: float, window_days: float, fee: float) -> dict:
    """A row edit of the repeat-dose product's stock terms."""
    return {"table": "policies",
            "where": {"product_id": "rdc_rx", "policy": "stocked_at_site"},
            "set": {"returnable_fraction": fraction, "return_window_days": window_days,
                    "restocking_fee_pct": fee}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "examples" /
                        "finance_inventory", help="output folder")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "us-small.yaml")
    args = parser.parse_args(argv)

    base = netopt.load(args.model)
    cases = {"strict": base.with_changes(edits=[returns(0.0, 0.0, 0.0)], name="strict"),
             "generous": base.with_changes(edits=[returns(1.0, 30.0, 0.0)], name="generous")}
    results = {name: netopt.solve(case) for name, case in cases.items()}

    for name, result in results.items():
        fin = netopt.finance(result)  # `netopt finance` on the result at hand
        totals = fin.totals
        print(f"\n{name} returns: network cost ${result.network_cost:,.0f} a year")
        for row in fin.policies.itertuples(index=False):
            print(f"  {row.policy:<36} {row.sites:>3} sites  {row.patients_per_year:8.1f} "
                  f"patients/yr  {row.expired_doses_per_year:8.1f} doses expired/yr")
        print(f"  sites stocking: {result.summary['sites_stocking']}, manufacturer write-offs "
              f"${totals['manufacturer_writeoff_usd']:,.0f}/yr, site losses "
              f"${totals['site_loss_usd']:,.0f}/yr")
        print(f"  working capital: manufacturer ${totals['working_capital_manufacturer_usd']:,.0f}"
              f", distributor ${totals['working_capital_distributor_usd']:,.0f}, sites "
              f"${totals['working_capital_site_usd']:,.0f}")
        if name == "strict":  # what a more generous policy would win, site by site
            shares = fin.thresholds.dropna(subset=["returnable_fraction_to_stock"])
            wins = shares[shares["returnable_fraction_to_stock"] > 0]
            print(f"  {len(wins)} site-product(s) would stock at a higher returnable share: "
                  + ", ".join(f"{r.site_id} {r.product_id} from "
                              f"{r.returnable_fraction_to_stock:.0%}"
                              for r in wins.head(5).itertuples(index=False))
                  + (" ..." if len(wins) > 5 else ""))

    generous = results["generous"]
    args.out.mkdir(parents=True, exist_ok=True)
    generous.finance.to_csv(args.out / "finance.csv", index=False)
    paths = netopt.finance(generous).write(args.out)
    print(f"\nfinance page: {paths[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
