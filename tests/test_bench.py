"""The benchmarks still run and still check their answers against their peers.

Only the shape of the output is asserted here, never a speed: speed is for `waterdesk
bench`, where each figure is a ratio to a peer measured in the same run.
"""

from __future__ import annotations

import importlib
import re

import pytest

LINE = re.compile(r"^.+: project [\d.,e+-]+ \S.*, peer [\d.,e+-]+ \S.*, ratio [\d.]+")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "scale"),
    [
        ("intake", 0.1),
        ("snapping", 0.02),
        ("geocoding", 0.05),
        ("network", 0.02),
        ("clustering", 0.01),
    ],
)
def test_benchmark_runs_small_and_prints_ratio_lines(name: str, scale: float) -> None:
    module = importlib.import_module(f"bench.{name}")
    results = module.run(scale=scale)
    assert results
    for result in results:
        assert LINE.match(result.line()), result.line()
        assert result.project > 0
        assert result.peer > 0
