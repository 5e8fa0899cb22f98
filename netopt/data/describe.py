"""Plain summaries of a case (counts, demand) shared by `validate` and `data describe`."""

from __future__ import annotations

import pandas as pd

from .case import Case
from .schema import TABLES


def summary_tables(case: Case) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows per table, and patients/doses per year by product."""
    counts = pd.DataFrame(
        [{"table": name, "rows": len(case.tables[name])} for name in TABLES if name in case.tables]
    )
    products = case.products.set_index("product_id")
    patients = case.patients_by_product()
    demand = pd.DataFrame({
        "product_id": products.index,
        "name": products["name"].to_numpy(),
        "temperature_class": products["temperature_class"].to_numpy(),
        "patients_per_year": patients.to_numpy(),
        "doses_per_year": (patients * products["doses_per_patient"]).to_numpy(),
    })
    return counts, demand


def demand_by_state(case: Case) -> pd.DataFrame:
    """Patients per year by state (rows) and product (columns), largest states first."""
    zones = case.zones
    rates = case.incidence_by_zone()
    out = pd.DataFrame({"state": zones["state"]})
    for pid in rates.columns:
        out[pid] = zones["population"] * rates[pid] / 1e5 * case.config.demand_scale
    table = out.groupby("state", sort=True).sum()
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False, kind="stable").reset_index()
