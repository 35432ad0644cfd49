"""Snapping to lines and points, and the open-request index, on hand-made and real layers."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon

from gis.errors import DegreesWarning, LayerError
from gis.layers.loading import load_layer
from gis.projection import (
    lonlat_to_metric,
    metric_to_lonlat,
    to_metric,
    to_wgs84,
    warn_if_degrees,
)
from gis.snapping import OpenRequestIndex, Snapper

UTM = "EPSG:26913"
X0, Y0 = 383_000.0, 5_776_000.0


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS84 degrees of a point given in metres from (X0, Y0)."""
    lon, lat = metric_to_lonlat(X0 + x, Y0 + y, UTM)
    return float(lon), float(lat)


@pytest.fixture(scope="module")
def mains() -> gpd.GeoDataFrame:
    # two parallel 100 m mains 40 m apart, built in metres and stored in WGS84
    lines = [
        LineString([(X0, Y0), (X0 + 100, Y0)]),
        LineString([(X0, Y0 + 40), (X0 + 100, Y0 + 40)]),
    ]
    return gpd.GeoDataFrame({"asset_id": ["M1", "M2"]}, geometry=lines, crs=UTM).to_crs(
        "EPSG:4326"
    )


@pytest.fixture(scope="module")
def hydrant_layer() -> gpd.GeoDataFrame:
    points = [Point(X0, Y0), Point(X0 + 200, Y0), Point(X0, Y0 + 200)]
    return gpd.GeoDataFrame({"asset_id": ["H1", "H2", "H3"]}, geometry=points, crs=UTM).to_crs(
        "EPSG:4326"
    )


class TestProjection:
    def test_lonlat_to_metric_round_trips(self) -> None:
        lon, lat = lonlat(12.5, -7.0)
        x, y = lonlat_to_metric(lon, lat, UTM)
        assert float(x) == pytest.approx(X0 + 12.5, abs=1e-6)
        assert float(y) == pytest.approx(Y0 - 7.0, abs=1e-6)

    def test_to_metric_uses_configured_crs(self, mains: gpd.GeoDataFrame) -> None:
        assert to_metric(mains).crs == UTM
        assert to_wgs84(to_metric(mains)).crs == "EPSG:4326"

    @pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4269"])
    def test_warn_if_degrees_warns_for_geographic_crs(self, crs: str) -> None:
        with pytest.warns(DegreesWarning, match="geographic CRS whose units are degrees"):
            assert warn_if_degrees(crs, "buffer")

    def test_warn_if_degrees_is_silent_for_metric_crs(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not warn_if_degrees(UTM)

    def test_to_metric_rejects_layer_without_crs(self) -> None:
        with pytest.raises(LayerError, match="has no CRS"):
            to_metric(gpd.GeoDataFrame(geometry=[Point(0, 0)]))


class TestSnapper:
    @pytest.mark.parametrize(
        ("x", "y", "asset_id", "distance"),
        [(50, 5, "M1", 5.0), (50, 30, "M2", 10.0), (-3, 0, "M1", 3.0), (50, -60, None, 60.0)],
    )
    def test_snap_finds_nearest_main(
        self,
        mains: gpd.GeoDataFrame,
        x: float,
        y: float,
        asset_id: str | None,
        distance: float,
    ) -> None:
        snap = Snapper(mains, max_distance=50, crs=UTM).snap(*lonlat(x, y))
        assert snap.asset_id == asset_id
        assert snap.snapped is (asset_id is not None)
        assert snap.nearest_id in {"M1", "M2"}
        assert snap.distance_m == pytest.approx(distance, abs=0.01)

    def test_snap_many_flags_far_points(self, hydrant_layer: gpd.GeoDataFrame) -> None:
        spots = [lonlat(1, 1), lonlat(190, 0), lonlat(500, 0)]
        batch = Snapper(hydrant_layer, max_distance=75, crs=UTM).snap_many(
            [s[0] for s in spots], [s[1] for s in spots]
        )
        assert batch.nearest_ids.tolist() == ["H1", "H2", "H2"]
        assert batch.asset_ids == ["H1", "H2", None]
        assert batch.within.tolist() == [True, True, False]
        np.testing.assert_allclose(batch.distances_m[:2], [np.sqrt(2), 10.0], atol=0.01)

    def test_snap_many_without_limit_snaps_everything(self, mains: gpd.GeoDataFrame) -> None:
        batch = Snapper(mains, crs=UTM).snap_many(*zip(lonlat(50, 5000), strict=True))
        assert batch.asset_ids == ["M2"]
        assert len(batch) == 1

    def test_snap_xy_matches_snap_many(self, mains: gpd.GeoDataFrame) -> None:
        snapper = Snapper(mains, crs=UTM)
        assert snapper.snap_xy([X0 + 50], [Y0 + 39]).nearest_ids.tolist() == ["M2"]

    @pytest.mark.parametrize(
        ("frame", "match"),
        [
            (gpd.GeoDataFrame({"asset_id": []}, geometry=[], crs=UTM), "0 features"),
            (gpd.GeoDataFrame({"id": ["A"]}, geometry=[Point(X0, Y0)], crs=UTM), "asset_id"),
            (
                gpd.GeoDataFrame(
                    {"asset_id": ["A", "B"]},
                    geometry=[Point(X0, Y0), Polygon([(X0, Y0), (X0 + 1, Y0), (X0, Y0 + 1)])],
                    crs=UTM,
                ),
                "mixes points",
            ),
        ],
    )
    def test_snapper_rejects_unusable_layer(self, frame: gpd.GeoDataFrame, match: str) -> None:
        with pytest.raises(LayerError, match=match):
            Snapper(frame, crs=UTM)

    def test_snapper_warns_when_measuring_in_degrees(self, mains: gpd.GeoDataFrame) -> None:
        with pytest.warns(DegreesWarning):
            Snapper(mains, crs="EPSG:4326")

    def test_snap_finds_real_sanitary_main(self, saskatoon_dir: Path) -> None:
        layer, _ = load_layer("sewer_mains", saskatoon_dir, "saskatoon")
        target = "WASW-SANI-MAIN-0000000864"
        line = layer.to_crs(UTM).geometry[layer["asset_id"] == target].iloc[0]
        beside = line.offset_curve(4).interpolate(0.5, normalized=True)  # 4 m to one side
        lon, lat = metric_to_lonlat(beside.x, beside.y, UTM)
        snap = Snapper(layer, max_distance=75, crs=UTM).snap(float(lon), float(lat))
        assert snap.asset_id == target
        assert snap.distance_m == pytest.approx(4.0, abs=0.05)


class TestOpenRequestIndex:
    def index(self) -> OpenRequestIndex:
        index = OpenRequestIndex(crs=UTM)
        index.insert("R1", "water_outage", *lonlat(0, 0))
        index.insert("R2", "water_outage", *lonlat(100, 0))
        index.insert("R3", "water_outage", *lonlat(400, 0))
        index.insert("R4", "hydrant_issue", *lonlat(10, 0))
        return index

    @pytest.mark.parametrize(
        ("service", "radius", "expected"),
        [
            ("water_outage", 150, ["R1", "R2"]),
            ("water_outage", 50, ["R1"]),
            ("water_outage", 1000, ["R1", "R2", "R3"]),
            ("hydrant_issue", 150, ["R4"]),
            ("sewer_backup", 150, []),
        ],
    )
    def test_nearby_finds_same_service_within_radius(
        self, service: str, radius: float, expected: list[str]
    ) -> None:
        found = self.index().nearby(service, *lonlat(5, 0), radius)
        assert [key for key, _ in found] == expected
        assert all(d <= radius for _, d in found)

    def test_nearby_reports_distances_in_metres(self) -> None:
        found = self.index().nearby("water_outage", *lonlat(0, 30), 150)
        assert found[0] == ("R1", pytest.approx(30.0, abs=0.01))

    def test_delete_removes_closed_request(self) -> None:
        index = self.index()
        assert index.delete("R1")
        assert not index.delete("R1")
        assert "R1" not in index
        assert len(index) == 3
        assert [k for k, _ in index.nearby("water_outage", *lonlat(0, 0), 150)] == ["R2"]

    def test_insert_replaces_same_key(self) -> None:
        index = self.index()
        index.insert("R1", "water_outage", *lonlat(1000, 0))
        assert len(index) == 4
        assert [k for k, _ in index.nearby("water_outage", *lonlat(0, 0), 150)] == ["R2"]
