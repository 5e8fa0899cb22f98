"""Finance: how the return policy moves stock, expiries and working capital.

Solves the regional model (us-small) twice through the API - with the repeat-dose product's
site stock not returnable, then fully returnable at no fee - and prints, for each, the
ordering policies the network chose, the doses expired a year, the manufacturer's write-offs
and working capital by holder. Writes the generous case's finance page (finance.html, with the
return-policy trade-off chart), its finance table and the trade-off table.

    python examples/finance_inventory.py [--out DIR] [--model MODEL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import netopt
from netopt.analysis.finance import return_tradeoff
from netopt.model.prepare import prepare
from netopt.report.finance import finance_totals, policy_mix, write_finance

ROOT = Path(__file__).resolve().parent.parent
#: files this example writes into --out (checked by tests/test_examples.py)
OUTPUTS = ["finance.html", "return_tradeoff.csv", "finance.csv"]


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
        totals = finance_totals(result.finance)
        print(f"\n{name} returns: network cost ${result.network_cost:,.0f} a year")
        for row in policy_mix(result.finance).itertuples(index=False):
            print(f"  {row.policy:<36} {row.sites:>3} sites  {row.patients_per_year:8.1f} "
                  f"patients/yr  {row.expired_doses_per_year:8.1f} doses expired/yr")
        print(f"  sites stocking: {result.summary['sites_stocking']}, manufacturer write-offs "
              f"${totals['manufacturer_writeoff_usd']:,.0f}/yr, site losses "
              f"${totals['site_loss_usd']:,.0f}/yr")
        print(f"  working capital: manufacturer ${totals['working_capital_manufacturer_usd']:,.0f}"
              f", distributor ${totals['working_capital_distributor_usd']:,.0f}, sites "
              f"${totals['working_capital_site_usd']:,.0f}")

    generous = results["generous"]
    args.out.mkdir(parents=True, exist_ok=True)
    generous.finance.to_csv(args.out / "finance.csv", index=False)
    tradeoff = return_tradeoff(prepare(cases["generous"]), generous.finance)
    paths = write_finance(generous.finance, tradeoff, "us-small, generous returns", args.out)
    print(f"\nfinance page: {paths[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
