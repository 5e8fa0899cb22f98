"""netopt: distribution network design for cell and gene therapies.

The Python API in six lines (see docs/python-api.md)::

    import netopt
    case = netopt.load("models/us-small.yaml")
    result = netopt.solve(case.with_changes(settings={"service": {"min_share": 0.6}}))
    result.kpis                 # headline figures; result.sites, result.costs, result.map()
    result.write("reports/x")   # the files `netopt solve --out reports/x` writes
    netopt.resilience(result).table   # the analyses of `netopt resilience`, `explain`, ...

The public names are loaded on first use (PEP 562), so `import netopt` stays instant and
pandas, Pyomo and HiGHS are imported only when a case is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import (
        Case,
        Comparison,
        Explanation,
        Finance,
        Infeasible,
        InputError,
        NoNetworkInTime,
        Problem,
        Resilience,
        Result,
        Simulation,
        compare,
        evaluate,
        explain,
        finance,
        load,
        resilience,
        simulate,
        solve,
        sweep,
    )

__all__ = ["Case", "Comparison", "Explanation", "Finance", "Infeasible", "InputError",
           "NoNetworkInTime", "Problem", "Resilience", "Result", "Simulation", "__version__",
           "compare", "evaluate", "explain", "finance", "load", "resilience", "simulate",
           "solve", "sweep"]

_LAZY = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import api

        # bind every API name at once, after api has imported its submodules
        globals().update({n: getattr(api, n) for n in _LAZY})
        return globals()[name]
    raise AttributeError(f"module 'netopt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
