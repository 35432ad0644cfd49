"""Shared fixtures: the real Saskatoon layers and the project root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SASKATOON_DIR = PROJECT_ROOT.parent / "shared" / "data" / "saskatoon"


@pytest.fixture(scope="session")
def saskatoon_dir() -> Path:
    """The folder of real City of Saskatoon layers, beside the project in shared/."""
    if not (SASKATOON_DIR / "sanitary_mains.geojson").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the real Saskatoon layers are missing from {SASKATOON_DIR}")
        pytest.skip(f"the real Saskatoon layers are not at {SASKATOON_DIR}")
    return SASKATOON_DIR
