"""Dose cadence: how many doses one shipment can carry, and how many shipments a patient needs.

A shipment's doses are given one `dose_interval_days` apart, and the last one must still be
within shelf life. After a lane of `transit` hours the product has `shelf_life_hours -
handling_buffer_hours - transit` usable hours left (the handling buffer stays reserved for
receiving and disruptions), so one shipment covers at most `1 + floor(usable / interval)`
doses, and never more than the product's `doses_per_shipment`. A patient's doses of a year
are then split into whole shipments: `ceil(doses_per_patient / doses per shipment)`, never
more shipments than doses. A product without an interval (0: a single dose) keeps the
requested `doses_per_shipment`.

Pure arithmetic on the products table's columns, shared by validation, `prepare`, the
ordering options and the result tables.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

#: tolerance for floor/ceil on hours and doses read from CSV (84.0000001 h is 84 h)
_EPS = 1e-9

#: a float, or an array of them (prepare applies the rules to every lane at once)
Number = TypeVar("Number", float, np.ndarray)


def doses_within_life(requested: Number, interval_days: Number, usable_hours: Number) -> Number:
    """Doses one shipment can carry when each is given `interval_days` after the previous
    and the last must be given within `usable_hours` of arrival (capped at `requested`)."""
    interval = np.asarray(interval_days, dtype=float)
    step = np.where(interval > 0, interval * 24, 1.0)
    fit = 1 + np.floor(np.maximum(usable_hours, 0.0) / step + _EPS)
    kept = np.where((interval > 0) & (np.asarray(requested) > 1),
                    np.minimum(requested, fit), requested)
    return kept.astype(float) if kept.ndim else float(kept)


def shipments_per_patient(doses_per_patient: Number, doses_per_shipment: Number) -> Number:
    """Shipments one patient's doses of a year need: whole shipments of `doses_per_shipment`
    (the last one part-full), and never more shipments than doses."""
    whole = np.ceil(np.asarray(doses_per_patient, dtype=float) / doses_per_shipment - _EPS)
    out = np.minimum(whole, doses_per_patient)
    return out.astype(float) if out.ndim else float(out)


def shipments_per_dose(doses_per_patient: Number, requested: Number, interval_days: Number,
                       usable_hours: Number) -> Number:
    """Shipments per dose delivered on a lane that leaves `usable_hours` after arrival: the
    coefficient that turns doses a year into shipments a year."""
    dps = doses_within_life(requested, interval_days, usable_hours)
    return shipments_per_patient(doses_per_patient, dps) / doses_per_patient


__all__ = ["doses_within_life", "shipments_per_dose", "shipments_per_patient"]
