"""KPIs of one replication, and their means with 95 % confidence intervals across replications.

Each replication gives one value per KPI (a percentile is that replication's percentile), and
the interval is mean +- t(0.975, R-1) x sd / sqrt(R): replications are independent and
identically distributed, so this is the textbook interval (its lower end clipped at 0, since
every KPI is non-negative); with one replication it is blank.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .engine import Outcome, Static
from .network import SimNetwork

# t(0.975, df) for df = 1..30; beyond, a Cornish-Fisher expansion is exact to ~1e-4
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z975 = 1.959963984540054

#: KPIs that are shares of a whole, never above 100 %
SHARES = frozenset({"on_schedule_pct"})
#: KPI -> unit, in report order
UNITS: dict[str, str] = {
    "patients_per_year": "patients/yr",
    "doses_planned_per_year": "doses/yr",
    "doses_administered_per_year": "doses/yr",
    "on_schedule_pct": "%",
    "doses_postponed_per_year": "doses/yr",
    "doses_delayed_by_closure_per_year": "doses/yr",
    "doses_wasted_per_year": "doses/yr",
    "waste_cost_usd_per_year": "USD/yr",
    "doses_not_administered_per_year": "doses/yr",
    "dose_delay_mean_days": "days",
    "dose_delay_p50_days": "days",
    "dose_delay_p90_days": "days",
    "dose_delay_p99_days": "days",
    "patient_delay_p50_days": "days",
    "patient_delay_p90_days": "days",
    "patient_delay_p99_days": "days",
    "vein_to_vein_mean_days": "days",
    "vein_to_vein_p50_days": "days",
    "vein_to_vein_p90_days": "days",
    "vein_to_vein_model_days": "days",
    "hub_utilisation_pct": "%",
    "hub_peak_day_utilisation_pct": "%",
    "hub_closed_days_per_year": "days/yr",
    "shipments_per_year": "shipments/yr",
    "utilisation_pct": "%",
    "peak_day_utilisation_pct": "%",
    "closed_days_per_year": "days/yr",
}


def t_quantile_975(df: int) -> float:
    """Two-sided 95 % Student t quantile (no scipy dependency for one number)."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def _pct(values: np.ndarray, q: float) -> float:
    """An observed value (no interpolation): delays are whole days."""
    return float(np.percentile(values, q, method="inverted_cdf")) if values.size else math.nan


def group_kpis(o: Outcome, pat: np.ndarray, dose: np.ndarray, cogs: np.ndarray,
               model_v2v: np.ndarray, years: float) -> dict[str, float]:
    """Patient and dose KPIs of a subset (boolean masks over patients and doses)."""
    n_doses = int(dose.sum())
    given = dose & o.dose_administered
    delays = o.dose_delay_days[given]
    worst = o.patient_delay_days[pat]
    worst = worst[worst >= 0]
    v2v = o.patient_v2v_days[pat]
    model = model_v2v[o.patient_sp[pat]]
    auto = ~np.isnan(model) | ~np.isnan(v2v)
    v2v = v2v[~np.isnan(v2v)]
    wasted = o.dose_wasted[dose]
    return {
        "patients_per_year": pat.sum() / years,
        "doses_planned_per_year": n_doses / years,
        "doses_administered_per_year": given.sum() / years,
        "on_schedule_pct": 100.0 * (dose & o.dose_on_schedule).sum() / n_doses
        if n_doses else math.nan,
        "doses_postponed_per_year": (dose & o.dose_postponed).sum() / years,
        "doses_delayed_by_closure_per_year": (dose & o.dose_closure_delayed).sum() / years,
        "doses_wasted_per_year": wasted.sum() / years,
        "waste_cost_usd_per_year": float((wasted * cogs[o.dose_product[dose]]).sum()) / years,
        "doses_not_administered_per_year": (dose & ~o.dose_administered).sum() / years,
        "dose_delay_mean_days": float(delays.mean()) if delays.size else math.nan,
        "dose_delay_p50_days": _pct(delays, 50),
        "dose_delay_p90_days": _pct(delays, 90),
        "dose_delay_p99_days": _pct(delays, 99),
        "patient_delay_p50_days": _pct(worst, 50),
        "patient_delay_p90_days": _pct(worst, 90),
        "patient_delay_p99_days": _pct(worst, 99),
        "vein_to_vein_mean_days": float(v2v.mean()) if v2v.size else math.nan,
        "vein_to_vein_p50_days": float(np.percentile(v2v, 50)) if v2v.size else math.nan,
        "vein_to_vein_p90_days": float(np.percentile(v2v, 90)) if v2v.size else math.nan,
        "vein_to_vein_model_days": float(np.nanmean(model[auto])) if auto.any() else math.nan,
    }


def hub_kpis(o: Outcome, capacity: np.ndarray, years: float) -> pd.DataFrame:
    """Per hub: shipments per year, utilisation, busiest day against daily capacity, closed
    days. Shipments of patients arriving in the horizon, counted on their departure day."""
    load = o.hub_day_shipments[:-1]
    per_year = load.sum(axis=1) / years
    daily_cap = capacity / 365.0
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(capacity > 0, 100.0 * per_year / capacity, math.nan)
        peak = np.where(capacity > 0, 100.0 * load.max(axis=1, initial=0.0) / daily_cap,
                        math.nan)
    return pd.DataFrame({"shipments_per_year": per_year, "utilisation_pct": util,
                         "peak_day_utilisation_pct": peak,
                         "closed_days_per_year": o.hub_closed_days / years})


def replication_tables(o: Outcome, st: Static, net: SimNetwork
                       ) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                  pd.DataFrame, pd.DataFrame]:
    """One replication's KPIs: overall, per product, per hub, per site-product, and its
    delay / vein-to-vein histograms (counts per year)."""
    years = st.days / 365.0
    cogs = net.products["cogs_usd_per_dose"].to_numpy(float)
    model_v2v = net.inbound["model_vein_to_vein_days"].to_numpy(float)
    all_p = np.ones(o.patient_sp.size, dtype=bool)
    all_d = np.ones(o.dose_patient.size, dtype=bool)
    overall = group_kpis(o, all_p, all_d, cogs, model_v2v, years)
    per_product = pd.DataFrame(
        [group_kpis(o, o.patient_product == i, o.dose_product == i, cogs, model_v2v, years)
         for i in range(len(net.products))], index=net.products.index)

    hubs = hub_kpis(o, net.hubs["capacity_shipments_per_year"].to_numpy(float), years)
    hubs.index = net.hubs.index
    active = net.hubs["active"].to_numpy(bool) | (hubs["shipments_per_year"].to_numpy() > 0)
    cap = net.hubs["capacity_shipments_per_year"].to_numpy(float)[active]
    overall["hub_utilisation_pct"] = (100.0 * hubs["shipments_per_year"][active].sum()
                                      / cap.sum()) if cap.sum() > 0 else math.nan
    overall["hub_peak_day_utilisation_pct"] = float(
        hubs["peak_day_utilisation_pct"][active].max()) if active.any() else math.nan
    overall["hub_closed_days_per_year"] = float(
        hubs["closed_days_per_year"][active].mean()) if active.any() else math.nan

    n_sp = len(net.inbound)
    sp = pd.DataFrame({
        "patients_per_year": np.bincount(o.patient_sp, minlength=n_sp) / years,
        "doses_per_year": np.bincount(o.dose_sp, minlength=n_sp) / years,
        "doses_on_schedule_per_year": np.bincount(o.dose_sp, weights=o.dose_on_schedule,
                                                  minlength=n_sp) / years,
    })
    return overall, per_product, hubs, sp, _histograms(o, net, years)


def _histograms(o: Outcome, net: SimNetwork, years: float) -> pd.DataFrame:
    rows = []
    names = ["all", *net.products.index]
    for i, name in enumerate(names):
        pm = np.ones(o.patient_sp.size, bool) if i == 0 else o.patient_product == i - 1
        dm = np.ones(o.dose_patient.size, bool) if i == 0 else o.dose_product == i - 1
        series = {
            "dose_delay": o.dose_delay_days[dm & o.dose_administered],
            "patient_delay": o.patient_delay_days[pm][o.patient_delay_days[pm] >= 0],
            "vein_to_vein": np.floor(o.patient_v2v_days[pm][
                ~np.isnan(o.patient_v2v_days[pm])]).astype(np.int64),
        }
        for measure, values in series.items():
            if not values.size:
                continue
            counts = np.bincount(values)
            for day in np.flatnonzero(counts):
                rows.append((measure, name, int(day), counts[day] / years))
    return pd.DataFrame(rows, columns=["measure", "product_id", "days", "count_per_year"])


def summarise(values: pd.DataFrame) -> pd.DataFrame:
    """Columns of per-replication values -> mean, std, ci_low, ci_high, replications.
    NaN values (a KPI undefined in a replication, e.g. no autologous patient) are left out."""
    rows = []
    for col in values.columns:
        v = values[col].to_numpy(float)
        v = v[~np.isnan(v)]
        n = v.size
        mean = float(v.mean()) if n else math.nan
        std = float(v.std(ddof=1)) if n > 1 else math.nan
        half = t_quantile_975(n - 1) * std / math.sqrt(n) if n > 1 else math.nan
        # every KPI is a count, share, cost or duration: a bound below 0 means "near 0", and
        # a share's bound above 100 % "near 100 %" (a utilisation may pass 100 %: overload)
        top = 100.0 if col in SHARES else math.inf
        rows.append({"kpi": col, "unit": UNITS.get(str(col), ""), "mean": mean,
                     "ci_low": max(mean - half, 0.0) if n > 1 else math.nan,
                     "ci_high": min(mean + half, top), "std": std, "replications": n})
    return pd.DataFrame(rows, columns=["kpi", "unit", "mean", "ci_low", "ci_high", "std",
                                       "replications"])
