"""One table spec per input entity: the single source of truth for columns, dtypes and units.

Loading, validation, `netopt data schema`, data/README.md and the Excel template are all
generated from these specs, so documentation and checks cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["str", "float", "int", "bool", "list", "time"]

TEMPERATURE_CLASSES: tuple[str, ...] = (
    "cryogenic",
    "ultra_low",
    "refrigerated",
    "controlled_ambient",
)
TEMPERATURE_RANGES: dict[str, str] = {
    "cryogenic": "<= -150 °C (liquid-nitrogen vapour phase)",
    "ultra_low": "-80..-60 °C (dry ice / ULT freezer)",
    "refrigerated": "2..8 °C",
    "controlled_ambient": "15..25 °C",
}
MODALITIES: tuple[str, ...] = ("autologous", "allogeneic", "gene_therapy", "other")
SITE_STATUSES: tuple[str, ...] = ("existing", "candidate", "excluded")
FACILITY_STATUSES: tuple[str, ...] = ("existing", "candidate", "excluded")
MODES: tuple[str, ...] = ("ground", "air")
#: how a site gets a dose for a patient (see netopt/inventory/perishable.py for what each
#: one implies)
ORDERING_POLICIES: tuple[str, ...] = (
    "jit_per_patient", "stocked_at_site", "consignment_at_site",
    "held_at_partner_with_jit_delivery", "held_at_hub",
)
TITLE_HOLDERS: tuple[str, ...] = ("manufacturer", "distributor", "site")
#: calendar months, as written in a sites.committee_months list
COMMITTEE_MONTHS: tuple[str, ...] = tuple(str(m) for m in range(1, 13))

LIST_SEPARATOR = ";"

# Plausible upper bounds. A value beyond them is a typo or a unit slip (1e300, a price in
# cents, a number typed twice) rather than data, and as a model coefficient it
# would wreck the solve (HiGHS reports "infeasible or unbounded" or stalls), so validation
# names the cell instead. Each bound is far above any real-world value of its column.
MAX_POPULATION = 2e9  #: people in one zone: above China or India as a single zone
MAX_CAPACITY = 1e7  #: patients, doses, shipments or chair hours one facility handles a year
MAX_PRICE = 1e8  #: USD per dose (the dearest gene therapies cost a few million)
MAX_USD = 1e9  #: one-off or yearly USD of one facility, or the cost of one patient
MAX_UNIT_COST = 1e6  #: USD per shipment, per dose stored, per dose-day held
MAX_KM = 20_000  #: half the Earth's circumference: no two places are farther apart
HOURS_1Y = 8_760  #: lead times, notice and fresh-material limits
HOURS_10Y = 87_600  #: shelf lives (long-lived products) and buffers out of them
DAYS_10Y = 3_650  #: payment terms, committee lead times, dose intervals


@dataclass(frozen=True)
class Column:
    """One column of an input table."""

    name: str
    kind: Kind
    doc: str
    unit: str = ""
    required: bool = True
    default: object = None
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    #: the value must be > min, not >= min: a divisor (a speed, a shelf life) where zero
    #: means nothing and would divide by zero
    min_exclusive: bool = False
    ref: tuple[str, str] | None = None  # (table, column) every value must exist in

    @property
    def bounds(self) -> list[str]:
        """The allowed range in words: ['> 0', '<= 2,000']."""
        out = []
        if self.min is not None:
            out.append(f"{'>' if self.min_exclusive else '>='} {format_bound(self.min)}")
        if self.max is not None:
            out.append(f"<= {format_bound(self.max)}")
        return out

    @property
    def dtype_label(self) -> str:
        return {"list": f"list ('{LIST_SEPARATOR}'-separated)", "time": "HH:MM"}.get(
            self.kind, self.kind
        )


@dataclass(frozen=True)
class Table:
    """One input table: a CSV (or Parquet) file named `<name>.csv` in a dataset folder."""

    name: str
    doc: str
    key: str | None
    columns: tuple[Column, ...]
    required: bool = True
    allow_empty: bool = False
    composite_key: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def format_bound(value: float) -> str:
    """A bound as people read it: 90, 0.9999, 1.5, 10,000,000 (never 1e+07)."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:g}"


def _id(name: str, doc: str) -> Column:
    return Column(name, "str", doc)


def _lat() -> Column:
    return Column("latitude", "float", "WGS84 latitude", "degrees", min=-90, max=90)


def _lon() -> Column:
    return Column("longitude", "float", "WGS84 longitude", "degrees", min=-180, max=180)


def _location(what: str, airport: bool = False) -> Column:
    code = ", an IATA airport code (EWR)" if airport else ""
    return Column("location", "str",
                  f"Place as 'City, ST', a 5-digit ZIP code{code}: {what} (offline gazetteer, "
                  "ZIP centroid or airport table)", required=False, default="")


#: columns a `location` may stand in for: left blank, they are taken from the place
LOCATION_FILLS = ("latitude", "longitude", "state")


def stands_in_for_location(table: str, column: str) -> bool:
    """True when `column` of `table` may be left blank because a location is given."""
    return column in LOCATION_FILLS and table in TABLES and "location" in TABLES[table].names


def required_label(table: str, col: Column) -> str:
    """'yes', 'no', or 'yes, or location' for coordinates (and state) a location fills."""
    if not col.required:
        return "no"
    return "yes, or location" if stands_in_for_location(table, col.name) else "yes"


def _classes(doc: str, required: bool = True) -> Column:
    return Column(
        "temperature_classes", "list", doc, required=required, default="",
        allowed=TEMPERATURE_CLASSES,
    )


def _status(doc: str) -> Column:
    return Column("status", "str", doc, required=False, default="candidate",
                  allowed=FACILITY_STATUSES)


PRODUCTS = Table(
    "products",
    "Therapies in the portfolio: cadence, price, temperature class and shelf life.",
    "product_id",
    (
        _id("product_id", "Unique product identifier"),
        Column("name", "str", "Display name"),
        Column("modality", "str", "Product modality", allowed=MODALITIES),
        Column("therapeutic_area", "str",
               "Therapeutic area a site must be onboarded for (oncology, autoimmune, ...)"),
        Column("temperature_class", "str", "Storage/transport class from plant to patient",
               allowed=TEMPERATURE_CLASSES),
        Column("doses_per_patient", "float", "Doses one patient receives per year of therapy",
               "doses", min=1, max=1_000),
        Column("dose_interval_days", "float",
               "Days between doses (0 = single dose; 3.5 = twice weekly)", "days",
               min=0, max=DAYS_10Y),
        Column("treatment_weeks", "float", "Length of one patient's treatment course",
               "weeks", min=0, max=520),
        Column("price_usd_per_dose", "float", "List price per dose", "USD/dose",
               min=0, max=MAX_PRICE),
        Column("cogs_usd_per_dose", "float", "Cost of goods per dose", "USD/dose",
               min=0, max=MAX_PRICE),
        Column("shelf_life_hours", "float",
               "Time from packaging to administration the product stays usable", "h",
               min=0, min_exclusive=True, max=HOURS_10Y),
        Column("handling_buffer_hours", "float",
               "Receiving/disruption buffer reserved out of the shelf life", "h", min=0,
               required=False, default=0.0, max=HOURS_10Y),
        Column("incidence_per_100k", "float",
               "Eligible (treated) patients per 100,000 population per year",
               "patients/100k/yr", min=0, max=100_000),
        Column("max_patient_travel_km", "float",
               "Farthest a patient travels (great circle) to a treatment site", "km",
               min=0, max=MAX_KM),
        Column("starting_material_hours", "float",
               "Autologous only: how long fresh apheresis material may travel to the plant",
               "h", required=False, default=48.0, min=0, max=HOURS_1Y),
        Column("chair_hours_per_dose", "float",
               "Infusion-chair time one administration takes", "h", required=False,
               default=4.0, min=0, max=168),
        Column("doses_per_shipment", "float",
               "Doses delivered per shipment, at most (1 = one shipment per dose): fewer "
               "where the shelf life left after the lane cannot span their dose intervals",
               "doses",
               required=False, default=1.0, min=1, max=100_000),
        Column("replenishment_doses_per_shipment", "float",
               "Most doses one bulk replenishment shipment carries to a stock point (a site, "
               "hub or partner); a bigger replenishment is several shipments (blank = no "
               "limit: one shipment per replenishment whatever its size)", "doses",
               required=False, default=None, min=1, max=100_000),
        Column("unserved_penalty_usd_per_patient", "float",
               "Cost of an untreated patient in the cost objective (blank = lost margin: "
               "doses x (price - COGS))", "USD/patient", required=False, default=None,
               min=0, max=MAX_USD),
        Column("schedule_notice_hours", "float",
               "How long before an administration the site knows it needs the dose (a "
               "just-in-time order must arrive within it)", "h", required=False,
               default=168.0, min=0, max=HOURS_1Y),
    ),
)

ZONES = Table(
    "zones",
    "Patient geography: places whose population generates demand.",
    "zone_id",
    (
        _id("zone_id", "Unique zone identifier"),
        Column("name", "str", "Place name"),
        Column("state", "str", "Two-letter state code"),
        _lat(),
        _lon(),
        Column("population", "float", "Resident population", "people", min=0, max=MAX_POPULATION),
        _location("places the zone (and gives its state) when latitude and longitude are "
                  "left blank"),
    ),
)

SITES = Table(
    "sites",
    "Treatment sites (hospitals, infusion centres), existing and candidate.",
    "site_id",
    (
        _id("site_id", "Unique site identifier"),
        Column("name", "str", "Site name"),
        Column("state", "str", "Two-letter state code"),
        _lat(),
        _lon(),
        Column("status", "str", "existing (already treating), candidate, or excluded",
               allowed=SITE_STATUSES),
        Column("certified_areas", "list",
               "Therapeutic areas the site is already onboarded for", required=False,
               default=""),
        _classes("Temperature classes the site can already store", required=False),
        Column("capacity_patients_per_year", "float", "Patients the site can treat per year",
               "patients/yr", min=0, max=MAX_CAPACITY),
        Column("chair_hours_per_year", "float",
               "Infusion-chair hours available per year (administration capacity)",
               "h/yr", min=0, max=MAX_CAPACITY),
        Column("activation_cost_usd", "float",
               "One-off cost to activate a candidate site (qualification, training)", "USD",
               min=0, max=MAX_USD),
        Column("annual_fixed_cost_usd", "float", "Yearly cost of keeping the site active",
               "USD/yr", min=0, max=MAX_USD),
        Column("onboarding_cost_usd", "float",
               "One-off cost to onboard the site for one new therapeutic area", "USD",
               min=0, max=MAX_USD),
        Column("onboarding_days", "float",
               "Formulary / P&T committee lead time to onboard a new area", "days", min=0,
               required=False, default=90.0, max=DAYS_10Y),
        Column("price_ceiling_usd_per_dose", "float",
               "Price reservation: the site will not take a product priced above this",
               "USD/dose", min=0, max=MAX_PRICE),
        Column("min_patients_per_year", "float",
               "Volume below which the site will not take a product", "patients/yr", min=0,
               required=False, default=0.0, max=MAX_CAPACITY),
        Column("kol_count", "int", "Key opinion leaders practising at the site", min=0,
               required=False, default=0, max=10_000),
        _location("places the site (and gives its state) when latitude and longitude are "
                  "left blank"),
        Column("max_stocking_loss_usd_per_year", "float",
               "Most the site will risk per product on holding stock (expiries it bears after "
               "returns, restocking fees, capital tied up); above it the site orders "
               "just-in-time", "USD/yr", required=False, default=50000.0, min=0, max=MAX_USD),
        Column("committee_months", "list",
               "Months (1-12) in which the site's P&T committee meets: in a launch timeline a "
               "site is activated or onboarded only after its next meeting plus "
               "onboarding_days", "months", required=False, default="1;4;7;10",
               allowed=COMMITTEE_MONTHS),
    ),
)

KOLS = Table(
    "kols",
    "Key opinion leaders and the sites they practise at.",
    "kol_id",
    (
        _id("kol_id", "Unique KOL identifier"),
        Column("name", "str", "Name"),
        Column("therapeutic_area", "str", "Area the KOL leads in"),
        Column("site_id", "str", "Affiliated treatment site (blank: the nearest site to the "
               "KOL's location)", ref=("sites", "site_id"), required=False, default=""),
        Column("weight", "float", "Relative influence (for weighted KOL coverage)", min=0,
               required=False, default=1.0, max=1e6),
        _location("where the KOL practises: with site_id blank, the KOL is affiliated with "
                  "the nearest site within 50 km"),
    ),
    required=False,
    allow_empty=True,
)

HUBS = Table(
    "hubs",
    "3PL cold-chain hubs (usually at air-cargo airports).",
    "hub_id",
    (
        _id("hub_id", "Unique hub identifier"),
        Column("name", "str", "Hub name"),
        Column("operator", "str", "3PL operator", required=False, default=""),
        Column("airport_code", "str", "IATA code of the airport served", required=False,
               default=""),
        _lat(),
        _lon(),
        _classes("Temperature classes the hub can handle"),
        Column("capacity_shipments_per_year", "float", "Shipments the hub can handle per year",
               "shipments/yr", min=0, max=MAX_CAPACITY),
        Column("annual_fixed_cost_usd", "float", "Yearly contract cost when active", "USD/yr",
               min=0, max=MAX_USD),
        Column("cost_usd_per_shipment", "float", "Handling cost per shipment", "USD/shipment",
               min=0, max=MAX_UNIT_COST),
        Column("order_cutoff_local", "time",
               "Daily order cut-off (HH:MM local); drives the average wait for dispatch",
               required=False, default="17:00"),
        _status("existing (contracted), candidate, or excluded"),
        _location("places the hub when latitude and longitude are left blank", airport=True),
    ),
)

PARTNERS = Table(
    "partners",
    "Cold-storage partners that hold product near sites lacking their own equipment.",
    "partner_id",
    (
        _id("partner_id", "Unique partner identifier"),
        Column("name", "str", "Partner name"),
        _lat(),
        _lon(),
        _classes("Temperature classes the partner can store"),
        Column("capacity_doses_per_year", "float", "Doses the partner can handle per year",
               "doses/yr", min=0, max=MAX_CAPACITY),
        Column("annual_fixed_cost_usd", "float", "Yearly contract cost when active", "USD/yr",
               min=0, max=MAX_USD),
        Column("cost_usd_per_dose", "float",
               "Storage and delivery to the site per dose (the partner -> site leg is not "
               "charged again as transport)", "USD/dose",
               min=0, max=MAX_UNIT_COST),
        Column("service_radius_km", "float", "Farthest site the partner delivers to", "km",
               min=0, max=MAX_KM),
        _status("existing (contracted), candidate, or excluded"),
        _location("places the partner when latitude and longitude are left blank"),
    ),
    required=False,
    allow_empty=True,
)

PLANTS = Table(
    "plants",
    "Manufacturing / release sites.",
    "plant_id",
    (
        _id("plant_id", "Unique plant identifier"),
        Column("name", "str", "Plant name"),
        _lat(),
        _lon(),
        Column("products", "list", "Products released here", ref=("products", "product_id")),
        Column("capacity_doses_per_year", "float", "Doses the plant can release per year",
               "doses/yr", min=0, max=MAX_CAPACITY),
        Column("turnaround_days", "float",
               "Manufacturing time from receipt of cells to release (autologous)", "days",
               min=0, required=False, default=0.0, max=365),
        _location("places the plant when latitude and longitude are left blank"),
    ),
)

EQUIPMENT = Table(
    "equipment",
    "What it costs a site to hold a temperature class itself.",
    "temperature_class",
    (
        Column("temperature_class", "str", "Temperature class", allowed=TEMPERATURE_CLASSES),
        Column("annual_cost_usd", "float",
               "Yearly cost of the equipment (annualised capex + service + consumables)",
               "USD/yr", min=0, max=MAX_USD),
    ),
)

TRANSPORT = Table(
    "transport",
    "Courier modes: speed, fixed time, cost and reach.",
    "mode",
    (
        Column("mode", "str", "Transport mode", allowed=MODES),
        Column("speed_kmh", "float", "Average line-haul speed", "km/h",
               min=0, min_exclusive=True, max=2_000),
        Column("fixed_hours", "float", "Pick-up, cut-off wait and last mile", "h",
               min=0, max=HOURS_1Y),
        Column("cost_usd_per_shipment_km", "float", "Cost per shipment per route km",
               "USD/shipment/km", min=0, max=10_000),
        Column("fixed_cost_usd_per_shipment", "float", "Charge per shipment whatever the "
               "distance (an air minimum, airport transfers): with the mode chosen per leg "
               "as the cheapest that fits the shelf life, it keeps short legs on the road",
               "USD/shipment", required=False, default=0.0, min=0, max=1_000_000),
        Column("max_km", "float", "Longest route this mode serves", "km", min=0, max=50_000),
        Column("circuity", "float", "Route km per great-circle km", min=1, max=5),
    ),
)

ASSIGNMENT_COSTS = Table(
    "assignment_costs",
    "Optional explicit zone-to-site costs per patient (replace distance-based costs; used by "
    "benchmark importers). Blank product_id applies to every product.",
    None,
    (
        Column("zone_id", "str", "Zone", ref=("zones", "zone_id")),
        Column("site_id", "str", "Site", ref=("sites", "site_id")),
        Column("product_id", "str", "Product (blank = all)", required=False, default="",
               ref=("products", "product_id")),
        Column("cost_usd_per_patient", "float", "Cost of serving one patient of the zone",
               "USD/patient", min=0, max=MAX_USD),
    ),
    required=False,
    composite_key=("zone_id", "site_id", "product_id"),
)

POLICIES = Table(
    "policies",
    "Commercial terms per product: the ordering options a site may use, who holds title, "
    "payment terms and the return policy. Absent table = every product just-in-time per "
    "patient, as before.",
    None,
    (
        Column("product_id", "str", "Product", ref=("products", "product_id")),
        Column("policy", "str", "Ordering option", allowed=ORDERING_POLICIES),
        Column("title_holder", "str", "Who owns the stock until administration",
               allowed=TITLE_HOLDERS),
        Column("payment_terms_days", "float",
               "Days after delivery (after administration under consignment) the site pays",
               "days", min=0, max=DAYS_10Y),
        Column("returnable_fraction", "float",
               "Share of unused stock the site may return for credit", min=0, max=1,
               required=False, default=0.0),
        Column("return_window_days", "float",
               "Days after expiry within which unused stock may be returned for credit "
               "(0 = no returns; any longer window takes every returnable expired dose, "
               "which a site sees on the day it expires)", "days", min=0, required=False,
               default=0.0, max=DAYS_10Y),
        Column("restocking_fee_pct", "float",
               "Share of the price withheld from a return's credit", min=0, max=1,
               required=False, default=0.0),
        Column("order_lead_time_hours", "float",
               "From order to dispatch (order processing, release, packing)", "h",
               min=0, max=HOURS_1Y),
        Column("review_period_days", "float",
               "Stock policies: days between replenishment deliveries", "days", min=1,
               required=False, default=7.0, max=365),
        Column("target_fill_rate", "float",
               "Stock policies: probability a patient's dose is on hand on the day", min=0,
               max=0.9999, required=False, default=0.95),
        Column("holding_cost_usd_per_dose_day", "float",
               "Storage, monitoring and insurance of one dose for one day at the stock point",
               "USD/dose/day", min=0, required=False, default=5.0, max=MAX_UNIT_COST),
    ),
    required=False,
    composite_key=("product_id", "policy"),
)

INCIDENCE = Table(
    "incidence",
    "Optional incidence by state: where a product has a row for a state, its zones in that "
    "state use this rate instead of products.incidence_per_100k (other states keep it).",
    None,
    (
        Column("product_id", "str", "Product", ref=("products", "product_id")),
        Column("state", "str", "State code as written in zones.state"),
        Column("per_100k", "float",
               "Eligible (treated) patients per 100,000 population per year in the state",
               "patients/100k/yr", min=0, max=100_000),
    ),
    required=False,
    composite_key=("product_id", "state"),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        PRODUCTS, ZONES, SITES, KOLS, HUBS, PARTNERS, PLANTS, EQUIPMENT, TRANSPORT,
        ASSIGNMENT_COSTS, POLICIES, INCIDENCE,
    )
}


def near_table(name: str) -> str | None:
    """The table a file or sheet name not read is most likely meant as (`incidences`,
    `partner`), or None: a near name is warned about, not silently left out."""
    import difflib

    near = difflib.get_close_matches(name.strip().lower(), list(TABLES), n=1, cutoff=0.7)
    return near[0] if near else None


def schema_frame():
    """All columns of all tables as one DataFrame (for `netopt data schema` and docs)."""
    import pandas as pd

    rows = []
    for t in TABLES.values():
        for c in t.columns:
            rows.append(
                {
                    "table": t.name,
                    "column": c.name,
                    "dtype": c.dtype_label,
                    "unit": c.unit,
                    "required": required_label(t.name, c),
                    "default": "" if c.required or c.default is None else str(c.default),
                    "allowed": ", ".join(c.allowed) if c.allowed else _range(c),
                    "description": c.doc,
                }
            )
    return pd.DataFrame(rows)


def _range(c: Column) -> str:
    parts = c.bounds
    if c.ref is not None:
        parts.append(f"ids of {c.ref[0]}.{c.ref[1]}")
    return ", ".join(parts)


def schema_markdown(only: str | None = None) -> str:
    """Markdown reference of every table (embedded in data/README.md), or of table `only`."""
    lines: list[str] = []
    for t in TABLES.values():
        if only is not None and t.name != only:
            continue
        need = "required" if t.required else "optional"
        lines += [f"### `{t.name}.csv` ({need})", "", t.doc, ""]
        lines += ["| column | type | unit | required | default | allowed | description |",
                  "|---|---|---|---|---|---|---|"]
        for c in t.columns:
            default = "" if c.required or c.default is None else f"`{c.default}`"
            allowed = ", ".join(f"`{a}`" for a in c.allowed) if c.allowed else _range(c)
            lines.append(
                f"| `{c.name}` | {c.dtype_label} | {c.unit} | {required_label(t.name, c)} "
                f"| {default} | {allowed} | {c.doc} |"
            )
        lines.append("")
    return "\n".join(lines)
