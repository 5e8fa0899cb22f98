"""Every shipped model file loads and validates cleanly (no errors, no warnings)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from netopt.data.case import load_case

MODELS = sorted((Path(__file__).parents[1] / "models").rglob("*.yaml"))


def test_models_are_shipped() -> None:
    names = {p.stem for p in MODELS}
    assert {"us-launch", "us-small", "baseline", "hub-outage-mem", "tighter-service"} <= names


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_model_file_validates(path: Path) -> None:
    case = load_case(path, strict=True)
    assert len(case.products) >= 1


@pytest.mark.parametrize(("setting", "text"), [
    ("solver.time_limit", "solver:\n  time_limit: yes\n"),
    ("demand_scale", "demand_scale: no\n"),
    ("service.min_share", "service:\n  min_share: true\n"),
    ("finance.volume_breakpoints", "finance:\n  volume_breakpoints: [yes, 100]\n"),
    ("edits.0.scale", "edits:\n  - table: sites\n    scale: {population: no}\n"),
])
def test_yes_no_where_a_number_is_expected_is_refused(tmp_path: Path, setting: str,
                                                      text: str) -> None:
    """YAML reads yes/no/true/false as booleans, which were taken as 1 and 0: `time_limit:
    yes` was a 1-second limit and `demand_scale: no` a case without patients."""
    problem = _the_problem(tmp_path, text)
    assert problem.column == setting and problem.file.endswith("m.yaml")
    assert "not yes/no/true/false" in problem.message


def _the_problem(tmp_path: Path, text: str):  # noqa: ANN202 - a Problem
    """The one input problem of tiny extended by `text` (settings in YAML)."""
    from netopt.data.problems import InputError

    model = tmp_path / "m.yaml"
    tiny = Path(__file__).parent / "data" / "tiny.yaml"
    model.write_text(f"extends: {tiny}\nname: m\n{text}", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_case(model)
    (problem,) = err.value.problems
    return problem


def test_yes_no_settings_still_take_yes_and_no(tmp_path: Path) -> None:
    from netopt.data.case import load_case

    model = tmp_path / "m.yaml"
    tiny = Path(__file__).parent / "data" / "tiny.yaml"
    model.write_text(f"extends: {tiny}\nname: m\nservice:\n  allow_unserved: no\nsolver:\n"
                     "  strong_linking: yes\n", encoding="utf-8")
    config = load_case(model).config
    assert config.service.allow_unserved is False and config.solver.strong_linking is True


@pytest.mark.parametrize(("setting", "text", "expected"), [
    ("service.allow_unserved", "service:\n  allow_unserved: 0\n", "expected true or false"),
    ("finance.pooled_depots", "finance:\n  pooled_depots: 1\n", "expected true or false"),
    ("service.allow_unserved", 'service:\n  allow_unserved: "no"\n', "expected true or false"),
    ("solver.strong_linking", "solver:\n  strong_linking: 0.5\n",
     "expected true, false or lazy"),
])
def test_a_number_or_quoted_word_where_yes_no_is_expected_is_refused(
        tmp_path: Path, setting: str, text: str, expected: str) -> None:
    """pydantic read `allow_unserved: 0` as false and `"no"` as false: a guess, where the
    user may have meant a share. A yes/no setting takes true/false (and the words it lists)."""
    problem = _the_problem(tmp_path, text)
    assert problem.column == setting and expected in problem.message
    model = tmp_path / "m.yaml"
    model.write_text(model.read_text().replace(text, "solver:\n  strong_linking: lazy\n"),
                     encoding="utf-8")
    assert load_case(model).config.solver.strong_linking == "lazy"


def test_a_ramp_written_in_per_cent_is_named(tmp_path: Path) -> None:
    """`ramp: {p1: [20, 50, 100]}` is refused with what to write; `[2, 5, 10]`, ten times the
    dataset's patients in the end, loads with a warning at the product's line; a ramp past 1
    by a little (growth past the base year) loads without one."""
    from netopt.data.problems import InputError

    model = tmp_path / "m.yaml"
    tiny = Path(__file__).parent / "data" / "tiny.yaml"

    def write(shares: str) -> None:
        model.write_text(f"extends: {tiny}\nname: m\ntimeline:\n  periods: 3\n  ramp:\n"
                         f"    p1: [{shares}]\n", encoding="utf-8")

    write("20, 50, 100")
    with pytest.raises(InputError) as err:
        load_case(model)
    assert "for 100 % write 1" in err.value.problems[0].message
    write("2, 5, 10")
    (warning,) = [p for p in load_case(model).warnings if p.column == "timeline.ramp.p1"]
    assert warning.severity == "warning" and warning.row == 6
    assert "10 times the product's patients" in warning.message
    assert "for 10 % write 0.1" in warning.message
    write("0.5, 1, 1.2")
    assert not [p for p in load_case(model).warnings if p.column.startswith("timeline")]


def test_the_national_default_takes_every_product_and_pools_depot_stock() -> None:
    """Issue #15 item 6: the default is where cold-storage partners earn their fees, which
    they do only through stock pooled for the sites they serve (`allo_vst` above all);
    us-launch-per-site keeps the five products priced per site, on the same data."""
    root = Path(__file__).parents[1]
    default = load_case(root / "models" / "us-launch.yaml", strict=True)
    shipped = set(pd.read_csv(root / "data" / "us" / "products.csv")["product_id"])
    assert set(default.products["product_id"]) == shipped
    assert "allo_vst" in shipped and default.config.finance.pooled_depots
    per_site = load_case(root / "models" / "us-launch-per-site.yaml", strict=True)
    assert set(per_site.products["product_id"]) == shipped - {"allo_vst"}
    assert not per_site.config.finance.pooled_depots
    for table in ("sites", "hubs", "partners", "zones"):  # plants list the products in scope
        assert getattr(per_site, table).equals(getattr(default, table)), table
