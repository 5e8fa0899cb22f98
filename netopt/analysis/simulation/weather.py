"""Weather closures of hubs: a closed/open calendar per hub and day.

Common random numbers by design: each hub-day has one fixed uniform draw and one fixed
duration draw, and a closure starts where the uniform falls below that day's probability.
Raising any probability can therefore only add closures (never move or remove one), so every
shipment leaves a hub no earlier than before and on-schedule performance cannot improve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data.config import SimulationSettings

SEASONS = ("winter", "spring", "summer", "fall")
#: meteorological season (index into SEASONS) of each month, January first
_MONTH_SEASON = (0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_YEAR_SEASON = np.repeat(_MONTH_SEASON, _MONTH_DAYS)  # 365 days, 1 January = day 0


def season_of_day(days: np.ndarray) -> np.ndarray:
    """Season index of day numbers counted from 1 January (the calendar repeats yearly)."""
    return _YEAR_SEASON[np.asarray(days) % 365]


def closure_probabilities(regions: pd.Series, settings: SimulationSettings) -> np.ndarray:
    """(hubs, 4 seasons) daily closure-start probability: the season default, overridden by
    the hub's region where the settings give one."""
    base = np.array([settings.closure_probability_per_day.get(s, 0.0) for s in SEASONS])
    out = np.tile(base, (len(regions), 1))
    for i, region in enumerate(regions):
        override = settings.closure_probability_by_region.get(region, {})
        for j, season in enumerate(SEASONS):
            if season in override:
                out[i, j] = override[season]
    return out


@dataclass(frozen=True)
class Calendar:
    """closed[h, d] for hubs x days, and next_open[h, d]: the first open day >= d.

    A last, always-open row stands for "no hub" (lanes that pass none) and days past the
    calendar are open, so lookups never fail.
    """

    closed: np.ndarray
    next_open_day: np.ndarray

    @property
    def n_days(self) -> int:
        return self.closed.shape[1]

    def next_open(self, hub: np.ndarray, day: np.ndarray) -> np.ndarray:
        """First open day at or after `day` for each (hub, day) pair."""
        day = np.maximum(np.asarray(day, dtype=np.int64), 0)
        inside = np.minimum(day, self.n_days)
        return np.where(day >= self.n_days, day, self.next_open_day[hub, inside])


def build_calendar(probabilities: np.ndarray, n_days: int, mean_days: float,
                   rng: np.random.Generator) -> Calendar:
    """Draw closures for every hub (rows of `probabilities`) over n_days days.

    The uniform and duration matrices are drawn whole, whatever the probabilities, so two
    settings with the same seed share them (see the module docstring).
    """
    n_hubs = probabilities.shape[0]
    u = rng.random((n_hubs, n_days))
    duration = rng.geometric(1.0 / mean_days, size=(n_hubs, n_days))
    days = np.arange(n_days)
    p = probabilities[:, season_of_day(days)] if n_hubs else np.zeros((0, n_days))
    starts = u < p
    ends = np.where(starts, days + duration, 0)
    closed = np.maximum.accumulate(ends, axis=1) > days if n_days else starts
    closed = np.vstack([closed, np.zeros((1, n_days), dtype=bool)])
    big = np.iinfo(np.int64).max
    candidate = np.where(closed, big, days)
    candidate = np.hstack([candidate, np.full((n_hubs + 1, 1), n_days)])
    next_open_day = np.minimum.accumulate(candidate[:, ::-1], axis=1)[:, ::-1]
    return Calendar(closed=closed, next_open_day=next_open_day)
