"""KOLs cover only by treating (issue #15 item 5), on the tiny dataset (see test_model.py).

S1 (existing, certified, cryogenic) treats all 30 patients at the optimum; S2 (candidate near
Z2, refrigerated only) can treat through partner P1 ($20k/yr + $500/dose) once onboarded
($80k / 5 yr) and activated ($200k / 5 yr + $80k/yr); S3's price ceiling blocks the product.
S3 lies 85.8 km from both S1 and S2 (one degree of longitude at 40 N, 85.1 km, and 0.1
degree north, 11.1 km).
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_model import costs, edit, tiny

from netopt.data.case import Case
from netopt.results.pipeline import solve_case
from netopt.solver.diagnose import Infeasible


def with_kol(case: Case, site: str) -> Case:
    kols = case.tables["kols"]
    case.tables["kols"] = pd.concat([kols, pd.DataFrame([{
        "kol_id": "K2", "name": "Dr Two", "therapeutic_area": "oncology", "site_id": site,
        "weight": 1.0}])], ignore_index=True)
    return case


def test_required_kol_site_treats_its_minimum_volume():
    """Before, onboarding S2 ($40k + $80k + $16k) covered K2 with 0 patients. Now S2 must
    treat at least its min volume (5): through P1, whose $20k fee and $500 x 5 doses are
    paid, and no more (each S2 patient costs more than at S1)."""
    case = edit(with_kol(tiny(kols__mode="require"), "S2"), "sites", "S2",
                min_patients_per_year=5.0)
    result = solve_case(case)
    sites = result.sites.set_index("site_id")
    assert sites.at["S2", "patients_per_year"] == pytest.approx(5.0, abs=1e-6)
    assert sites.at["S2", "products_offered"] == "p1"
    c = costs(result)
    assert c["site_activation"] == pytest.approx(200_000 / 5)
    assert c["site_fixed"] == pytest.approx(100_000 + 80_000)
    assert c["onboarding"] == pytest.approx(80_000 / 5)
    assert c["partner_fixed"] == pytest.approx(20_000)
    assert c["partner_handling"] == pytest.approx(5 * 500)
    kols = result.kols.set_index("kol_id")
    assert kols.at["K2", "covered"]
    assert (kols.at["K2", "covered_by_site"], kols.at["K2", "covered_by_product"]) == ("S2", "p1")
    assert kols.at["K2", "covering_patients_per_year"] == pytest.approx(5.0, abs=1e-6)
    assert kols.at["K1", "covered_by_site"] == "S1"


def test_kol_minimum_from_settings():
    """kols.min_patients above the site's own minimum sets the volume S2 must treat."""
    case = with_kol(tiny(kols__mode="require", kols__min_patients=8.0), "S2")
    result = solve_case(case)
    assert result.sites.set_index("site_id").at["S2", "patients_per_year"] == \
        pytest.approx(8.0, abs=1e-6)


def test_kol_where_no_product_is_eligible_cannot_be_required():
    """S3's price ceiling blocks p1: requiring its KOL is infeasible, in domain words."""
    with pytest.raises(Infeasible) as err:
        solve_case(with_kol(tiny(kols__mode="require"), "S3"))
    assert any("K2" in r and "price" in r for r in err.value.reasons)


def test_proximity_covers_kol_through_a_treating_site_nearby():
    """proximity: within 100 km of S3, S1 (85.8 km) treats everyone and covers K2 at no
    extra cost; within 50 km nothing can."""
    base = solve_case(tiny())
    result = solve_case(with_kol(tiny(kols__mode="proximity", kols__within_km=100.0), "S3"))
    assert result.summary["objective"] == pytest.approx(base.summary["objective"], rel=1e-9)
    kols = result.kols.set_index("kol_id")
    assert kols.at["K2", "covered_by_site"] == "S1"
    assert kols.at["K2", "covering_km"] == pytest.approx(85.8, abs=0.1)
    with pytest.raises(Infeasible) as err:
        solve_case(with_kol(tiny(kols__mode="proximity", kols__within_km=50.0), "S3"))
    assert any("K2" in r and "within 50 km" in r for r in err.value.reasons)


def test_coverage_counts_only_treating_sites():
    """coverage 100 %: K2 at S2 forces S2 to treat (as require does); at 50 % K1 alone
    (weight 1 of 2) suffices and the network is the baseline."""
    full = solve_case(with_kol(tiny(kols__mode="coverage", kols__min_coverage=1.0), "S2"))
    assert full.sites.set_index("site_id").at["S2", "patients_per_year"] >= 1.0 - 1e-6
    half = solve_case(with_kol(tiny(kols__mode="coverage", kols__min_coverage=0.5), "S2"))
    assert half.summary["objective"] == pytest.approx(
        solve_case(tiny()).summary["objective"], rel=1e-9)
    assert not half.kols.set_index("kol_id").at["K2", "covered"]


def test_a_kol_minimum_of_zero_patients_is_refused_by_name(tmp_path):
    """kols.min_patients: 0 would let `require` be met by a site that treats nobody (the
    volume row is empty), while kols.csv counts such a site as not covering: the setting
    must be above 0, and the message names the file and the setting."""
    from pathlib import Path

    from netopt.data.case import load_case
    from netopt.data.problems import InputError

    tiny_yaml = Path(__file__).parent / "data" / "tiny.yaml"
    model = tmp_path / "k0.yaml"
    model.write_text(f"extends: {tiny_yaml}\nname: k0\nkols:\n  mode: require\n"
                     "  min_patients: 0\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_case(model)
    assert "kols.min_patients" in str(err.value) and "k0.yaml" in str(err.value)
    assert "expected a number > 0" in str(err.value)


def test_unreachable_coverage_names_the_share_no_network_reaches_and_why():
    """K2 at S3 (price ceiling) can never be covered: with K1 and K2 weighted 1 each, at most
    50 % can be, and the reason names K2's blocked product."""
    with pytest.raises(Infeasible) as err:
        solve_case(with_kol(tiny(kols__mode="coverage", kols__min_coverage=1.0), "S3"))
    (reason,) = [r for r in err.value.reasons if r.startswith("KOL coverage")]
    assert "of 100% cannot be reached; at most 50% can be" in reason
    assert "KOL K2 (oncology) at site S3 cannot be covered" in reason and "price" in reason


def test_coverage_out_of_reach_of_the_other_rules_names_the_kols_left_out():
    """K1's site S1 could cover, but 100 patients a year (kols.min_patients) exceed its
    capacity of 50: no KOL is uncoverable as such, so the closest network's share and the
    KOL it leaves out are named."""
    with pytest.raises(Infeasible) as err:
        solve_case(tiny(kols__mode="coverage", kols__min_coverage=1.0,
                        kols__min_patients=100.0))
    (reason,) = [r for r in err.value.reasons if r.startswith("KOL coverage")]
    assert reason.endswith("the closest network within the other rules covers 0%, "
                           "leaving out K1 (site S1)")


def test_coverage_with_uncoverable_kols_still_within_target_names_the_others():
    """K2 at S3 can never be covered, but 50 % coverage is still possible without it: a
    target of 40 % fails because K1 needs 100 patients a year at S1 (capacity 50), so the
    reason is the closest network's, not "at most 50 % can be"."""
    with pytest.raises(Infeasible) as err:
        solve_case(with_kol(tiny(kols__mode="coverage", kols__min_coverage=0.4,
                                 kols__min_patients=100.0), "S3"))
    (reason,) = [r for r in err.value.reasons if r.startswith("KOL coverage")]
    assert reason.endswith("covers 0%, leaving out K1 (site S1), K2 (site S3)"), reason
