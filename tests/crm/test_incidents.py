"""Incidents on the demo city: grouping, affected areas, members following their incident."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

import cli
from crm.errors import IntakeError
from crm.incidents import rebuild_incidents
from crm.intake import Report, submit_report
from crm.spatial import get_spatial_context
from crm.store import Store
from gis.clustering import cluster_points, project_points
from tests.conftest import make_settings, postgis_url


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo city at scale 0.5 built by `waterdesk demo` into an embedded store."""
    folder = tmp_path_factory.mktemp("demo")
    saved = {k: os.environ.get(k) for k in ("WATERDESK_DATABASE_URL", "WATERDESK_DATA_DIR")}
    os.environ["WATERDESK_DATABASE_URL"] = f"sqlite:///{folder / 'demo.db'}"
    os.environ["WATERDESK_DATA_DIR"] = str(folder)
    try:
        assert cli.main(["demo", "--scale", "0.5"]) == 0
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    store = Store(f"sqlite:///{folder / 'demo.db'}", make_settings(folder))
    yield store
    store.close()


def test_demo_loads_every_layer_and_groups_open_requests(demo_store: Store) -> None:
    incidents = demo_store.list_incidents(status="open")
    assert incidents
    for incident in incidents:
        members = demo_store.list_requests(incident_id=incident.id, status="open", limit=None)
        assert members, f"{incident.code} has no open members"
        assert {m.service_code for m in members} == {incident.service_code}


def test_main_break_burst_is_one_water_incident_with_customers(demo_store: Store) -> None:
    water = [i for i in demo_store.list_incidents() if i.service_code == "water_outage"]
    biggest = max(water, key=lambda i: i.details["reports"])
    assert biggest.details["reports"] >= 8
    assert biggest.customers_affected > 0
    assert biggest.details["valves_to_close"]
    assert biggest.area_geojson is not None


def test_sewer_backups_group_by_shared_downstream_main(demo_store: Store) -> None:
    sewer = [i for i in demo_store.list_incidents() if i.service_code == "sewer_backup"]
    biggest = max(sewer, key=lambda i: i.details["reports"])
    assert biggest.details["reports"] >= 4
    assert biggest.group_key.startswith("downstream:")


def test_rebuild_is_stable_when_nothing_changed(demo_store: Store) -> None:
    before = {i.code for i in demo_store.list_incidents()}
    changes = rebuild_incidents(demo_store, get_spatial_context(demo_store))
    assert changes.opened == 0
    assert changes.moved == 0
    assert {i.code for i in demo_store.list_incidents()} == before


def test_intake_snaps_geocodes_and_joins_the_open_incident(demo_store: Store) -> None:
    spatial = get_spatial_context(demo_store)
    water = [i for i in demo_store.list_incidents() if i.service_code == "water_outage"]
    target = max(water, key=lambda i: i.details["reports"])
    member = demo_store.list_requests(incident_id=target.id, limit=1)[0]
    receipt = submit_report(
        demo_store,
        Report(
            "water_outage",
            "phone",
            "no water here either",
            lat=member.lat,
            lon=member.lon,
            received_at=member.created_at + timedelta(minutes=30),
        ),
        spatial=spatial,
    )
    assert receipt.request.asset_layer == "water_mains"
    assert receipt.request.asset_id is not None
    assert receipt.incident_code == target.code
    assert member.number in receipt.nearby_open

    address = receipt.request.address or member.address
    if address:
        placed = submit_report(
            demo_store,
            Report("sewer_locate", "online", "digging", address=address),
            spatial=spatial,
        )
        assert placed.request.location_source == "geocoded"
        assert placed.request.lat is not None


def test_intake_unknown_address_lists_closest(demo_store: Store) -> None:
    spatial = get_spatial_context(demo_store)
    before = demo_store.count_requests()
    with pytest.raises(IntakeError, match="could not find the address") as caught:
        submit_report(
            demo_store,
            Report("sewer_locate", "online", "x", address="99999 Nowhere Crescent"),
            spatial=spatial,
        )
    assert caught.value.field == "address"
    assert demo_store.count_requests() == before


def test_dispatching_incident_moves_members(demo_store: Store) -> None:
    incident = demo_store.list_incidents()[0]
    members = demo_store.list_requests(incident_id=incident.id, status="open", limit=None)
    moved = demo_store.change_incident_status(
        incident.code, "acknowledged", actor="disp", expected_version=incident.version
    )
    assert moved.status == "acknowledged"
    for member in members:
        assert demo_store.get_request(member.number).status == "acknowledged"


@pytest.mark.postgis
def test_dbscan_matches_postgis_cluster_dbscan(tmp_path: Path) -> None:
    store = Store(postgis_url(), make_settings(tmp_path))
    rng = np.random.default_rng(5)
    centres = rng.uniform([-106.70, 52.10], [-106.62, 52.16], size=(25, 2))
    points = np.vstack([c + rng.normal(0, 0.0006, size=(20, 2)) for c in centres])
    ours = cluster_points(points[:, 0], points[:, 1], eps_m=60.0, min_samples=4)

    values = ", ".join(f"({i}, {x!r}, {y!r})" for i, (x, y) in enumerate(points.tolist()))
    with store.transaction(write=False) as tx:
        rows = tx.all(
            "SELECT i, ST_ClusterDBSCAN(ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4326), "
            f"26913), eps => 60.0, minpoints => 4) OVER () AS c FROM (VALUES {values}) "
            "AS p(i, x, y) ORDER BY i"
        )
    store.close()
    theirs = np.array([-1 if r["c"] is None else r["c"] for r in rows])

    # noise and the partition of core points agree exactly; a border point within reach
    # of two clusters may join either (DBSCAN leaves that open), so it must only lie
    # within eps of a core point of the cluster it joined
    xy = project_points(points[:, 0], points[:, 1])
    tree = cKDTree(xy)
    neighbours = tree.query_ball_point(xy, r=60.0)
    core = np.array([len(n) >= 4 for n in neighbours])
    assert ((ours == -1) == (theirs == -1)).all()
    pairs = {(a, b) for a, b in zip(ours[core].tolist(), theirs[core].tolist(), strict=True)}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    for i in np.flatnonzero(~core & (theirs >= 0)):
        assert any(core[j] and theirs[j] == theirs[i] for j in neighbours[i])


def test_merged_water_incident_covers_both_segments(demo_store: Store) -> None:
    from crm.incidents import merge_incidents

    spatial = get_spatial_context(demo_store)
    water = [
        i
        for i in demo_store.list_incidents()
        if i.service_code == "water_outage" and i.group_key and i.group_key.startswith("segment:")
    ]
    a, b = water[0], water[1]
    merged = merge_incidents(
        demo_store, spatial, a.code, b.code, actor="disp", versions=(a.version, b.version)
    )
    segments = set(merged.group_key.removeprefix("segment:").split(","))
    assert segments == {a.group_key[8:], b.group_key[8:]}
    assert set(a.details["mains"]) | set(b.details["mains"]) == set(merged.details["mains"])
    assert merged.customers_affected >= max(a.customers_affected, b.customers_affected)


def test_hydrant_reports_join_by_distance_only_when_close(demo_store: Store) -> None:
    spatial = get_spatial_context(demo_store)
    hydrant = spatial.layers["hydrants"].iloc[0].geometry
    first = submit_report(
        demo_store,
        Report("hydrant_issue", "phone", "leaking", lat=hydrant.y, lon=hydrant.x),
        spatial=spatial,
    )
    near = submit_report(
        demo_store,
        Report("hydrant_issue", "online", "leaking too", lat=hydrant.y + 0.0002, lon=hydrant.x),
        spatial=spatial,
    )
    far = submit_report(
        demo_store,
        Report("hydrant_issue", "online", "another one", lat=hydrant.y + 0.02, lon=hydrant.x),
        spatial=spatial,
    )
    assert near.incident_code == first.incident_code
    assert far.incident_code != first.incident_code
