"""Shared fixtures: the real Saskatoon layers and the project root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm.store import Store
from settings import Settings, load_settings

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


BACKENDS = ["sqlite", "postgis"]
_TABLES = (
    "feedback, events, contacts, requests, incidents, crews, assets, layers, api_keys, "
    "staff_tokens"
)


def postgis_url() -> str:
    """The PostGIS test database, or a skip (a failure under CI) when there is none."""
    url = os.environ.get("WATERDESK_TEST_DATABASE_URL", "")
    if not url:
        reason = (
            "no PostGIS test database: set WATERDESK_TEST_DATABASE_URL, or run `make test` "
            "as root on Debian to start one"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def make_settings(tmp_path: Path, **overrides: str) -> Settings:
    """Settings for a test: the default catalogue and service area, a private data dir."""
    env = {"WATERDESK_DATA_DIR": str(tmp_path)}
    env.update({f"WATERDESK_{k.upper()}": v for k, v in overrides.items()})
    return load_settings(env)


def open_test_store(backend: str, tmp_path: Path, **overrides: str) -> Store:
    """Open an empty store on one backend."""
    settings = make_settings(tmp_path, **overrides)
    if backend == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'test.db'}", settings)
    store = Store(postgis_url(), settings)
    with store.transaction() as tx:
        tx.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    return store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store, once on SQLite and once on PostGIS."""
    if request.param == "postgis":
        request.applymarker(pytest.mark.postgis)
    opened = open_test_store(request.param, tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """An empty embedded store."""
    opened = open_test_store("sqlite", tmp_path)
    yield opened
    opened.close()
