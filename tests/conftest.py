"""Shared test settings."""

from __future__ import annotations

import pytest

from netopt.solver import machine


@pytest.fixture(autouse=True)
def free_cores(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees free cores, so that its solves take the same path whatever else runs
    beside it (CI runs two test files at a time on two cores); tests marked `cores_measured`
    set the machine's load themselves. No answer of an earlier test is reused."""
    monkeypatch.setattr(machine, "_answers", {})
    if request.node.get_closest_marker("cores_measured") is None:
        monkeypatch.setattr(machine, "recently_shared", lambda threads: (None, False))
