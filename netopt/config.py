"""Model files: a whole case (dataset + products in scope + settings) as validated YAML.

Every settings class forbids unknown keys, so a typo in a model file is an error naming the
line, not a setting silently ignored. `docs` and `netopt model schema` are generated from the
field descriptions here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SiteSettings(_Strict):
    existing: Literal["locked", "closable"] = Field(
        "locked", description="Existing sites stay open (locked) or may be closed (closable)."
    )
    lock_open: list[str] = Field(default_factory=list, description="Site ids forced active.")
    max_active: int | None = Field(None, ge=0, description="At most this many active sites.")
    min_active: int | None = Field(None, ge=0, description="At least this many active sites.")
    amortisation_years: float = Field(
        5.0, gt=0, description="Years over which one-off activation/onboarding costs are spread."
    )


class FacilityLimits(_Strict):
    max_active: int | None = Field(None, ge=0, description="At most this many active.")
    min_active: int | None = Field(None, ge=0, description="At least this many active.")
    lock_open: list[str] = Field(default_factory=list, description="Ids forced active.")


class ServiceSettings(_Strict):
    within_km: float = Field(250.0, gt=0, description="Travel target: patient-to-site distance.")
    min_share: float = Field(
        0.0, ge=0, le=1,
        description="Share of each product's patients that must be treated within within_km.",
    )
    allow_unserved: bool = Field(
        True, description="Allow untreated patients at a penalty (elastic demand)."
    )
    patient_travel_usd_per_km: float = Field(
        0.60, ge=0,
        description="Travel support paid per patient per km one way, per administration visit.",
    )
    max_vein_to_vein_days: float | None = Field(
        None, gt=0, description="Autologous products: longest allowed vein-to-vein time."
    )


class KolSettings(_Strict):
    mode: Literal["none", "require", "coverage"] = Field(
        "none",
        description="none; require = every KOL's site active and onboarded for the KOL's area; "
        "coverage = weighted share of KOLs covered >= min_coverage.",
    )
    min_coverage: float = Field(0.8, ge=0, le=1, description="Weighted KOL coverage target.")


class AggregationSettings(_Strict):
    cluster_km: float = Field(
        0.0, ge=0,
        description="Merge patient zones within cells of this size (km) into demand points "
        "(0 = no aggregation). The distance error it introduces is reported.",
    )
    cluster_share_of_reach: float = Field(
        0.0, ge=0, le=0.5,
        description="Per product, cells of at least this share of its max patient travel "
        "(far-travelling products get coarser grids; error stays small relative to reach).",
    )
    nearest_sites: int | None = Field(
        None, ge=1,
        description="Keep only the k nearest feasible sites per demand point and product "
        "(never dropping a point's only feasible sites).",
    )
    nearest_hubs: int = Field(
        4, ge=1, description="Hubs considered per site (nearest by distance)."
    )


class SolverSettings(_Strict):
    time_limit: float = Field(60.0, gt=0, description="Wall-clock limit for HiGHS (seconds).")
    mip_gap: float = Field(0.005, ge=0, description="Relative MIP gap at which HiGHS stops.")
    threads: int = Field(1, ge=1, description="HiGHS threads.")
    seed: int = Field(0, ge=0, description="HiGHS random seed (same seed, same network).")
    strong_linking: bool | None = Field(
        None,
        description="Add x <= patients x offer per pair (tighter LP, more rows); "
        "default: on up to 60,000 pairs.",
    )
    warm_start: bool = Field(
        True, description="Hand HiGHS a greedy starting network before it branches."
    )


class Edit(_Strict):
    """Edit rows of a table before the model is built (exclude a site, change a price...)."""

    table: str = Field(description="Table to edit (e.g. sites, products).")
    where: dict[str, Any] = Field(
        default_factory=dict,
        description="Column -> value (or list of values) the rows must match; empty = all rows.",
    )
    set: dict[str, Any] = Field(default_factory=dict, description="Column -> new value.")
    scale: dict[str, float] = Field(
        default_factory=dict, description="Numeric column -> factor to multiply by."
    )

    @model_validator(mode="after")
    def _does_something(self) -> Edit:
        if not self.set and not self.scale:
            raise ValueError("an edit needs 'set' or 'scale'")
        return self


class ModelConfig(_Strict):
    """A network model: the dataset it reads, the products in scope and every setting."""

    name: str = Field("", description="Model name (default: the file name).")
    description: str = Field("", description="One line on what this case is.")
    extends: str | None = Field(None, description="Model file this one builds on (relative).")
    dataset: str = Field(description="Dataset folder (or workbook), relative to this file.")
    products: list[str] | None = Field(None, description="Products in scope (default: all).")
    objective: Literal["cost", "margin"] = Field(
        "cost", description="cost: minimise annual cost; margin: maximise annual margin."
    )
    demand_scale: float = Field(1.0, ge=0, description="Multiplier on every zone's patients.")
    budget_fixed_usd: float | None = Field(
        None, ge=0, description="Cap on annual fixed costs (sites, hubs, partners, equipment)."
    )
    sites: SiteSettings = Field(default_factory=SiteSettings)
    hubs: FacilityLimits = Field(default_factory=FacilityLimits)
    partners: FacilityLimits = Field(default_factory=FacilityLimits)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    kols: KolSettings = Field(default_factory=KolSettings)
    aggregation: AggregationSettings = Field(default_factory=AggregationSettings)
    solver: SolverSettings = Field(default_factory=SolverSettings)
    edits: list[Edit] = Field(default_factory=list, description="Row edits, applied in order.")
