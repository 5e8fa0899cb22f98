"""Day-by-day disruption simulation of a chosen network (`netopt simulate RESULT_DIR`).

    net = load_network("reports/us-small")            # result folder + its model file
    sim = simulate(net, net.case.config.simulation)   # replications -> tables with 95 % CIs
    write_simulation(sim, Path("reports/us-small/simulation"))

Patients arrive per zone and product at the optimizer's rates, doses travel the chosen lanes
through hubs that weather can close, patients postpone, shelf life and shipper hold time are
enforced, and wasted doses are replaced. See engine.py for the process and its assumptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...data.config import SimulationSettings
from .engine import Outcome, Static, run_replication
from .network import STATE_REGION, SimNetwork, load_network
from .stats import UNITS, replication_tables, summarise, t_quantile_975

Progress = Callable[[int, int], None]


@dataclass
class SimulationResult:
    """Tables of a simulation (all DataFrames with stable columns) and what produced them."""

    settings: SimulationSettings
    network: SimNetwork
    tables: dict[str, pd.DataFrame]
    warnings: list[str] = field(default_factory=list)

    def kpi(self, name: str) -> float:
        """Mean of an overall KPI across replications."""
        k = self.tables["kpis"].set_index("kpi")
        return float(k.at[name, "mean"])


def simulate(net: SimNetwork, settings: SimulationSettings,
             progress: Progress | None = None) -> SimulationResult:
    """Run settings.replications replications and summarise them (same seed, same tables)."""
    st = Static.build(net, settings)
    overall, products, hubs, sps, hists = [], [], [], [], []
    for rep in range(settings.replications):
        outcome = run_replication(st, settings, rep)
        o, p, h, s, hist = replication_tables(outcome, st, net)
        overall.append(o)
        products.append(p)
        hubs.append(h)
        sps.append(s)
        hists.append(hist)
        if progress is not None:
            progress(rep + 1, settings.replications)
    reps = pd.DataFrame(overall)
    tables = {
        "kpis": summarise(reps),
        "products": _per_entity(products, "product_id"),
        "hubs": _hub_table(hubs, net),
        "site_products": _site_product_table(sps, net),
        "delays": _delay_table(hists, settings.replications),
        "replications": reps.rename_axis("replication").reset_index(),
    }
    return SimulationResult(settings, net, tables, list(net.warnings))


def _per_entity(frames: list[pd.DataFrame], key: str) -> pd.DataFrame:
    """Per-replication (entity x KPI) frames -> long table: key, kpi, unit, mean, CI."""
    out = []
    for entity in frames[0].index:
        values = pd.DataFrame([f.loc[entity] for f in frames])
        table = summarise(values)
        table.insert(0, key, entity)
        out.append(table[table["replications"] > 0])
    return pd.concat(out, ignore_index=True)


def _hub_table(frames: list[pd.DataFrame], net: SimNetwork) -> pd.DataFrame:
    long = _per_entity(frames, "hub_id")
    hubs = net.hubs.reset_index()[["hub_id", "name", "state", "region", "active",
                                   "capacity_shipments_per_year",
                                   "model_shipments_per_year"]]
    return hubs.merge(long, on="hub_id", how="right")


def _site_product_table(frames: list[pd.DataFrame], net: SimNetwork) -> pd.DataFrame:
    """Simulated patients and doses per site and product next to the optimizer's flows."""
    sp = net.inbound[["site_id", "product_id"]].merge(
        net.site_products, on=["site_id", "product_id"], how="left")
    stacked = np.stack([f.to_numpy(float) for f in frames])  # reps x rows x columns
    n = stacked.shape[0]
    mean = stacked.mean(axis=0)
    half = (t_quantile_975(n - 1) * stacked.std(axis=0, ddof=1) / np.sqrt(n)) if n > 1 \
        else np.full(mean.shape, np.nan)
    cols = list(frames[0].columns)
    sp["patients_per_year"] = mean[:, cols.index("patients_per_year")]
    d = cols.index("doses_per_year")
    sp["doses_per_year"] = mean[:, d]
    sp["doses_per_year_ci_low"] = np.maximum(mean[:, d] - half[:, d], 0.0)
    sp["doses_per_year_ci_high"] = mean[:, d] + half[:, d]
    on = stacked[:, :, cols.index("doses_on_schedule_per_year")].sum(axis=0)
    total = stacked[:, :, d].sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sp["on_schedule_pct"] = np.where(total > 0, 100.0 * on / total, np.nan)
    return sp


def _delay_table(frames: list[pd.DataFrame], replications: int) -> pd.DataFrame:
    cols = ["measure", "product_id", "days", "count_per_year", "share"]
    long = pd.concat(frames, ignore_index=True)
    if long.empty:
        return pd.DataFrame({c: [] for c in cols})
    out = long.groupby(["measure", "product_id", "days"], as_index=False, sort=True)[
        "count_per_year"].sum()
    out["count_per_year"] /= replications
    out["share"] = out["count_per_year"] / out.groupby(["measure", "product_id"])[
        "count_per_year"].transform("sum")
    return out[cols]


__all__ = ["STATE_REGION", "UNITS", "Outcome", "SimNetwork", "SimulationResult", "Static",
           "load_network", "run_replication", "simulate"]
