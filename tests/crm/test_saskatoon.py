"""Intake and incidents on the real downtown Saskatoon layers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from crm.assets import save_layer
from crm.intake import Report, submit_report
from crm.spatial import get_spatial_context
from crm.store import Store
from gis.layers.loading import load_layer


@pytest.fixture
def saskatoon_store(store: Store, saskatoon_dir: Path) -> Store:
    """A store holding the real sanitary sewers, manholes and parcel addresses."""
    manholes, _ = load_layer("manholes", saskatoon_dir, mapping="saskatoon")
    save_layer(store, "manholes", manholes, source=str(saskatoon_dir))
    for name in ("sewer_mains", "addresses", "service_connections"):
        frame, report = load_layer(
            name,
            saskatoon_dir,
            mapping="saskatoon",
            nodes=manholes if name == "sewer_mains" else None,
        )
        save_layer(store, name, frame, source=str(saskatoon_dir), report=report.summary())
    return store


def test_address_report_is_geocoded_and_snapped_to_a_sanitary_main(
    saskatoon_store: Store,
) -> None:
    spatial = get_spatial_context(saskatoon_store)
    receipt = submit_report(
        saskatoon_store,
        Report(
            "sewer_backup", "phone", "sewage in the basement floor drain", address="243 2nd Ave S"
        ),
        spatial=spatial,
    )
    request = receipt.request
    assert request.location_source == "geocoded"
    assert request.asset_layer == "sewer_mains"
    assert request.asset_id is not None
    assert request.snap_distance_m is not None
    assert request.snap_distance_m < saskatoon_store.settings.snap_limit_m
    assert receipt.incident_code is not None


def test_backups_on_one_branch_become_one_incident_with_customers(
    saskatoon_store: Store,
) -> None:
    spatial = get_spatial_context(saskatoon_store)
    first = submit_report(
        saskatoon_store,
        Report("sewer_backup", "phone", "backup", address="243 2nd Ave S"),
        spatial=spatial,
    )
    second = submit_report(
        saskatoon_store,
        Report(
            "sewer_backup",
            "online",
            "backup next door",
            lat=first.request.lat,
            lon=first.request.lon,
            received_at=first.request.created_at + timedelta(minutes=20),
        ),
        spatial=spatial,
    )
    assert second.incident_code == first.incident_code
    assert first.number in second.nearby_open
    incident = saskatoon_store.get_incident(first.incident_code)
    assert incident.group_key.startswith("downstream:")
    assert incident.customers_affected > 0
    assert incident.area_geojson is not None
