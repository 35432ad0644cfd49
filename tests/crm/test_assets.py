"""Asset layers round-trip through the store on both backends."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from crm.assets import list_layers, read_layer, save_layer
from crm.store import Store


def _hydrants(n: int = 3) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "asset_id": pd.array([f"H{i}" for i in range(n)], dtype="string"),
            "status": pd.array(["active"] * n, dtype="string"),
        },
        geometry=[Point(-106.66 + i * 0.001, 52.13) for i in range(n)],
        crs="EPSG:4326",
    )


def test_round_trip_keeps_ids_columns_and_geometry(store: Store) -> None:
    save_layer(store, "hydrants", _hydrants(), source="test")
    back = read_layer(store, "hydrants")
    assert back["asset_id"].tolist() == ["H0", "H1", "H2"]
    assert back.geometry.geom_equals_exact(_hydrants().geometry, 1e-9).all()
    assert [i.feature_count for i in list_layers(store)] == [3]


def test_read_in_box_uses_spatial_index(store: Store) -> None:
    save_layer(store, "hydrants", _hydrants(10), source="test")
    back = read_layer(store, "hydrants", bbox=(-106.6595, 52.12, -106.6565, 52.14))
    assert back["asset_id"].tolist() == ["H1", "H2", "H3"]


def test_reload_replaces_whole_layer(store: Store) -> None:
    save_layer(store, "hydrants", _hydrants(5), source="first")
    save_layer(store, "hydrants", _hydrants(2), source="second")
    assert len(read_layer(store, "hydrants")) == 2
    assert len(read_layer(store, "hydrants", bbox=(-107, 52, -106, 53))) == 2


def test_failed_reload_keeps_previous_layer(store: Store) -> None:
    save_layer(store, "hydrants", _hydrants(4), source="good")
    bad = _hydrants(2)
    bad["asset_id"] = pd.array(["dup", "dup"], dtype="string")
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        save_layer(store, "hydrants", bad, source="bad")
    assert len(read_layer(store, "hydrants")) == 4


def test_read_missing_layer_says_how_to_load_it(store: Store) -> None:
    with pytest.raises(LookupError, match="waterdesk layers load water_mains"):
        read_layer(store, "water_mains")


def test_reject_unknown_kind_and_wrong_crs(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown layer kind 'pipes'"):
        save_layer(store, "pipes", _hydrants(), source="x")
    with pytest.raises(ValueError, match="must be in EPSG:4326"):
        save_layer(store, "hydrants", _hydrants().to_crs("EPSG:26913"), source="x")


def test_lines_round_trip(store: Store) -> None:
    mains = gpd.GeoDataFrame(
        {"asset_id": pd.array(["M1"], dtype="string")},
        geometry=[LineString([(-106.66, 52.13), (-106.65, 52.13)])],
        crs="EPSG:4326",
    )
    save_layer(store, "water_mains", mains, source="test")
    back = read_layer(store, "water_mains")
    assert back.geometry.iloc[0].equals(mains.geometry.iloc[0])
    assert back["diameter_mm"].isna().all()


def test_progress_reports_every_feature_written(store: Store) -> None:
    written: list[int] = []
    save_layer(store, "hydrants", _hydrants(12), source="test", progress=written.append)
    assert sum(written) == 12
