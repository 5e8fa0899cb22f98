"""Helpers shared by the constraint families (kept apart from build.py to avoid cycles)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

import pyomo.environ as pyo

#: USD per model money unit: the model counts money in thousands of USD
MONEY = 1000.0


def money(usd: float) -> float:
    """USD -> model money units (k$)."""
    return float(usd) / MONEY


def register_cost(m: pyo.ConcreteModel, name: str, expr: object) -> None:
    """Add a named objective term (k$/yr); results report cost by these names."""
    m.cost_terms[name] = m.cost_terms.get(name, 0) + expr


def group(keys: Iterable, by: Callable) -> dict:
    """Key function value -> list of keys in input order (deterministic rows)."""
    out: dict = defaultdict(list)
    for k in keys:
        out[by(k)].append(k)
    return dict(out)
