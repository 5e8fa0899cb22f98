"""Interchange search for facility location without binding capacities (plain arrays).

Every customer goes to its cheapest open site (or stays unserved at its price), so a network's
cost is a sum of per-customer minima and every single move (close one site, open one, or swap
one open site for a closed one) is priced for all candidates at once from each customer's
cheapest and second-cheapest open option (Teitz & Bart 1968 interchange, with the
matrix form of Whitaker 1983 and Resende & Werneck 2007). The best move is taken until none
lowers the cost. The decomposition uses it on its rounded LP networks: a good incumbent early
makes reduced-cost fixing close most sites before the master MIP starts.
"""

from __future__ import annotations

import time

import numpy as np

#: a move is taken when it saves more than this share of the network's cost
MIN_SAVING = 1e-9
#: largest sites x customers matrix the search builds (doubles: 40 MB)
MAX_CELLS = 5_000_000


class Interchange:
    """Costs as a dense matrix (sites x customers) weighted by demand, plus one always-open
    'unserved' option per customer at its price."""

    def __init__(self, fixed: np.ndarray, site: np.ndarray, customer: np.ndarray,
                 cost: np.ndarray, demand: np.ndarray, unserved: np.ndarray) -> None:
        m, n = len(fixed), len(demand)
        self.fixed = fixed.astype(float)
        full = np.full((m, n), np.inf)
        np.minimum.at(full, (site, customer), cost * demand[customer])
        self.cost = full
        self.unserved = unserved * demand

    @staticmethod
    def fits(n_sites: int, n_customers: int) -> bool:
        return n_sites * n_customers <= MAX_CELLS

    def total(self, y: np.ndarray) -> float:
        best = np.minimum(self.cost[y > 0.5].min(axis=0, initial=np.inf), self.unserved)
        return float(self.fixed @ y + best.sum())

    def _two_best(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per customer: cheapest open option, its site (-1: unserved), second cheapest."""
        opened = np.flatnonzero(y > 0.5)
        options = np.vstack([self.cost[opened], self.unserved[None, :]])
        if len(options) == 1:
            return options[0], np.full(len(self.unserved), -1), np.full(len(self.unserved),
                                                                        np.inf)
        part = np.argpartition(options, 1, axis=0)[:2]
        cols = np.arange(options.shape[1])
        first, second = options[part[0], cols], options[part[1], cols]
        swap = second < first
        a1 = np.where(swap, part[1], part[0])
        d1, d2 = np.minimum(first, second), np.maximum(first, second)
        site = np.append(opened, -1)[a1]
        return d1, site, d2

    def best_move(self, y: np.ndarray, lower: np.ndarray, upper: np.ndarray, lo: int,
                  hi: int) -> tuple[float, int, int]:
        """(change in cost, site closed or -1, site opened or -1) of the best single move."""
        d1, a1, d2 = self._two_best(y)
        opened = np.flatnonzero((y > 0.5) & (lower < 0.5))
        closed = np.flatnonzero((y < 0.5) & (upper > 0.5))
        count = int(np.sum(y > 0.5))
        best = (0.0, -1, -1)
        served = a1 >= 0
        owner = np.zeros((len(self.fixed), len(d1)))
        owner[a1[served], np.flatnonzero(served)] = 1.0
        loss = owner[opened] @ np.where(np.isfinite(d2), d2 - d1, 0.0)
        gain = np.maximum(d1[None, :] - self.cost[closed], 0.0).sum(axis=1) if len(
            closed) else np.zeros(0)
        if count > lo and len(opened):
            drop = -self.fixed[opened] + loss
            k = int(np.argmin(drop))
            best = min(best, (float(drop[k]), int(opened[k]), -1))
        if count < hi and len(closed):
            add = self.fixed[closed] - gain
            k = int(np.argmin(add))
            best = min(best, (float(add[k]), -1, int(closed[k])))
        if len(opened) and len(closed):
            best = min(best, self._best_swap(d1, d2, owner, opened, closed, loss, gain))
        return best

    def _best_swap(self, d1: np.ndarray, d2: np.ndarray, owner: np.ndarray,
                   opened: np.ndarray, closed: np.ndarray, loss: np.ndarray,
                   gain: np.ndarray) -> tuple[float, int, int]:
        """Swap r (open) for i (closed): f_i - f_r + loss_r - gain_i + extra(r, i), extra
        summing, over r's customers, what i saves on their second option that the loss of
        r already counted."""
        c = self.cost[closed]
        d2f = np.where(np.isfinite(d2), d2, 1e300)
        extra = (np.maximum(d1[None, :] - c, 0.0) - np.maximum(d2f[None, :] - c, 0.0)) @ \
            owner[opened].T
        delta = (self.fixed[closed][:, None] - self.fixed[opened][None, :]
                 + loss[None, :] - gain[:, None] + extra)
        k = np.unravel_index(int(np.argmin(delta)), delta.shape)
        return float(delta[k]), int(opened[k[1]]), int(closed[k[0]])

    def improve(self, y: np.ndarray, lower: np.ndarray, upper: np.ndarray, lo: int, hi: int,
                deadline: float) -> np.ndarray:
        """Best-improvement moves from y until none saves or the deadline passes."""
        y = y.astype(float).copy()
        cost = self.total(y)
        while time.perf_counter() < deadline:
            delta, out, into = self.best_move(y, lower, upper, lo, hi)
            if not delta < -MIN_SAVING * max(abs(cost), 1.0):
                break
            if out >= 0:
                y[out] = 0.0
            if into >= 0:
                y[into] = 1.0
            cost += delta
        return y


__all__ = ["Interchange"]
