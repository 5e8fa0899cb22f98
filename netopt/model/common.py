"""Helpers shared by the constraint families (kept apart from build.py to avoid cycles)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

import pandas as pd
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


def by_site_product(site_products: pd.DataFrame, column: str) -> dict[tuple[str, str], object]:
    """(site, product) -> one column of prepare's site_products, as a dict: the families read
    it once per site-product, where a MultiIndex lookup costs ~0.1 ms (a second of the
    national build)."""
    keys = zip(site_products["site_id"], site_products["product_id"], strict=True)
    return dict(zip(keys, site_products[column].tolist(), strict=True))
