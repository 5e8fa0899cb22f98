"""Every shipped model file loads and validates cleanly (no errors, no warnings)."""

from __future__ import annotations

from pathlib import Path

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
