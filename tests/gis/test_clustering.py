"""Tests for gis.clustering: DBSCAN in metres and incident grouping."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from sklearn.cluster import DBSCAN

from gis import clustering
from gis.clustering import (
    cluster_points,
    cluster_points_in_window,
    group_by_downstream,
    group_by_segment,
    project_points,
)
from gis.network import SewerNetwork, WaterNetwork

METRIC = "EPSG:26913"
X0, Y0 = 383_000.0, 5_776_000.0
TO_WGS84 = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)


def local_to_lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local metre coordinates (offset into Saskatoon) to longitude/latitude arrays."""
    lon, lat = TO_WGS84.transform(xy[:, 0] + X0, xy[:, 1] + Y0)
    return np.asarray(lon), np.asarray(lat)


def random_reports(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Reports half in a few blobs, half spread over 2 km."""
    rng = np.random.default_rng(seed)
    centres = rng.random((max(1, n // 50), 2)) * 2000
    blobs = centres[rng.integers(0, len(centres), n // 2)] + rng.normal(0, 40, (n // 2, 2))
    spread = rng.random((n - n // 2, 2)) * 2000
    return local_to_lonlat(np.vstack([blobs, spread]))


def sklearn_labels(lon, lat, eps_m, min_samples) -> np.ndarray:
    xy = project_points(lon, lat, METRIC)
    model = DBSCAN(eps=eps_m, min_samples=min_samples, algorithm="ball_tree")
    return model.fit(xy).labels_


class TestClusterPoints:
    @pytest.fixture(autouse=True, params=["pairs", "cells"])
    def join_through(self, request, monkeypatch):
        """Run every case through both ways of joining core points."""
        threshold = 10**9 if request.param == "pairs" else -1
        monkeypatch.setattr(clustering, "_PAIRS_PER_POINT_FOR_CELLS", threshold)

    @pytest.mark.parametrize("seed", range(6))
    @pytest.mark.parametrize(("eps_m", "min_samples"), [(25, 3), (60, 5), (150, 12), (10, 1)])
    def test_labels_equal_sklearn_ball_tree(self, seed, eps_m, min_samples):
        lon, lat = random_reports(seed, 1500)

        labels = cluster_points(lon, lat, eps_m, min_samples, metric_crs=METRIC)

        np.testing.assert_array_equal(labels, sklearn_labels(lon, lat, eps_m, min_samples))

    @pytest.mark.parametrize(
        ("layout", "eps_m", "min_samples"),
        [("lattice", 10.0, 3), ("lattice", 14.2, 5), ("duplicates", 1.0, 3), ("wide", 5.0, 2)],
    )
    def test_awkward_layouts_equal_sklearn(self, layout, eps_m, min_samples):
        rng = np.random.default_rng(7)
        if layout == "lattice":
            # neighbours near exactly eps apart, across cell edges
            xy = np.stack(np.meshgrid(np.arange(30), np.arange(30)), -1).reshape(-1, 2) * 10.0
        elif layout == "duplicates":
            xy = np.repeat(rng.random((200, 2)) * 50, rng.integers(1, 5, 200), axis=0)
        else:
            # a 100 km spread with a tiny radius: many sparse cells
            xy = np.vstack([rng.random((2000, 2)) * 100_000, rng.random((300, 2)) * 20])
        lon, lat = local_to_lonlat(xy)

        labels = cluster_points(lon, lat, eps_m, min_samples, metric_crs=METRIC)

        np.testing.assert_array_equal(labels, sklearn_labels(lon, lat, eps_m, min_samples))
        assert labels.max() >= 0

    def test_border_point_joins_the_cluster_found_first(self):
        # two tight clusters 30 m apart and one point between, 15 m from each
        left = np.array([[0, 0], [0, 2], [0, -2], [-2, 0]], dtype=float)
        right = left * [-1, 1] + [30, 0]
        between = np.array([[15, 0]], dtype=float)
        for order in ([0, 1, 2], [1, 0, 2], [2, 1, 0]):
            parts = [left, right, between]
            xy = np.vstack([parts[k] for k in order])
            lon, lat = local_to_lonlat(xy)

            labels = cluster_points(lon, lat, 15.5, 4, metric_crs=METRIC)

            np.testing.assert_array_equal(labels, sklearn_labels(lon, lat, 15.5, 4))
            assert (labels >= 0).all()

    def test_lone_points_are_noise(self):
        lon, lat = local_to_lonlat(np.array([[0.0, 0.0], [500.0, 0.0]]))

        assert cluster_points(lon, lat, 50, 2, metric_crs=METRIC).tolist() == [-1, -1]
        assert cluster_points(lon, lat, 50, 1, metric_crs=METRIC).tolist() == [0, 1]

    def test_radius_is_metres_not_degrees(self):
        # 0.001 degree of longitude is about 68 m at Saskatoon's latitude
        lon = np.array([-106.660, -106.661])
        lat = np.array([52.13, 52.13])

        assert cluster_points(lon, lat, 75, 2, metric_crs=METRIC).tolist() == [0, 0]
        assert cluster_points(lon, lat, 60, 2, metric_crs=METRIC).tolist() == [-1, -1]


class TestClusterPointsInWindow:
    @pytest.mark.parametrize("seed", range(4))
    def test_labels_equal_sklearn_with_time_masked_distances(self, seed):
        rng = np.random.default_rng(seed)
        lon, lat = random_reports(seed, 600)
        hours = rng.random(600) * 96
        times = pd.Timestamp("2026-07-01", tz="America/Regina") + pd.to_timedelta(hours, "h")

        labels = cluster_points_in_window(lon, lat, times, 80, 24, 3, metric_crs=METRIC)

        # the peer: sklearn on distances made huge between reports too far apart in time
        xy = project_points(lon, lat, METRIC)
        distance = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        distance[np.abs(hours[:, None] - hours[None, :]) > 24] = 1e9
        expected = DBSCAN(eps=80, min_samples=3, metric="precomputed").fit(distance).labels_
        np.testing.assert_array_equal(labels, expected)

    def test_reports_a_day_apart_do_not_join(self):
        lon, lat = local_to_lonlat(np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]]))
        times = pd.to_datetime(["2026-07-01 08:00", "2026-07-01 09:00", "2026-07-03 09:00"])

        labels = cluster_points_in_window(lon, lat, times, 50, 12, 1, metric_crs=METRIC)

        assert labels.tolist() == [0, 0, 1]


class TestClusterRejections:
    def test_empty_points_are_refused(self):
        with pytest.raises(ValueError, match="received no points to cluster"):
            cluster_points([], [], 50, 2, metric_crs=METRIC)

    def test_geographic_metric_crs_is_refused(self):
        with pytest.raises(ValueError, match=r"'EPSG:4326' is geographic \(degrees\)"):
            cluster_points([-106.66], [52.13], 50, 2, metric_crs="EPSG:4326")

    def test_projected_coordinates_are_refused(self):
        with pytest.raises(ValueError, match="expected WGS84 degrees"):
            cluster_points([X0], [Y0], 50, 2, metric_crs=METRIC)

    @pytest.mark.parametrize(
        ("eps_m", "min_samples", "match"),
        [(0, 2, "eps_m must be a positive"), (50, 0, "min_samples must be a whole number")],
    )
    def test_bad_parameters_are_refused(self, eps_m, min_samples, match):
        with pytest.raises(ValueError, match=match):
            cluster_points([-106.66], [52.13], eps_m, min_samples, metric_crs=METRIC)

    def test_mismatched_lengths_are_refused(self):
        with pytest.raises(ValueError, match="received 2 longitudes but 1 latitudes"):
            cluster_points([-106.66, -106.67], [52.13], 50, 2, metric_crs=METRIC)

    def test_wrong_number_of_times_is_refused(self):
        with pytest.raises(ValueError, match="received 1 timestamps for 2 reports"):
            cluster_points_in_window(
                [-106.66, -106.67], [52.13, 52.13], ["2026-07-01"], 50, 24, 2, metric_crs=METRIC
            )


def make_lines(lines: dict[str, list[tuple[float, float]]], **columns) -> gpd.GeoDataFrame:
    geometry = [shapely.LineString([(X0 + x, Y0 + y) for x, y in xy]) for xy in lines.values()]
    frame = gpd.GeoDataFrame({"asset_id": list(lines), **columns}, geometry=geometry, crs=METRIC)
    return frame.to_crs(4326)


@pytest.fixture(scope="module")
def water_network() -> WaterNetwork:
    """Three mains in a row, a valve on the middle one near its start."""
    mains = make_lines(
        {"M0": [(0, 0), (100, 0)], "M1": [(100, 0), (200, 0)], "M2": [(200, 0), (300, 0)]}
    )
    valves = gpd.GeoDataFrame(
        {"asset_id": ["v"], "operable": [True]},
        geometry=[shapely.Point(X0 + 110, Y0)],
        crs=METRIC,
    ).to_crs(4326)
    return WaterNetwork(mains, valves, metric_crs=METRIC)


class TestGroupBySegment:
    def test_reports_on_one_segment_within_the_window_group(self, water_network):
        mains = ["M1", "M2", "M0", "M2", None, "M1"]
        times = pd.to_datetime(
            [
                "2026-07-01 08:00",
                "2026-07-01 10:00",
                "2026-07-01 09:00",
                "2026-07-04 10:00",
                "2026-07-01 08:30",
                "2026-07-01 12:00",
            ]
        )

        groups = group_by_segment(mains, times, water_network, window_hours=24)

        # M1 and M2 share a segment; M0 is behind the valve; the late M2 is apart
        assert groups.tolist() == [0, 0, 1, 2, 3, 0]

    def test_a_lone_report_is_its_own_group(self, water_network):
        assert group_by_segment(["M0"], ["2026-07-01"], water_network, 24).tolist() == [0]

    def test_no_reports_give_no_groups(self, water_network):
        assert group_by_segment([], [], water_network, 24).tolist() == []


class TestGroupByDownstream:
    @pytest.fixture(scope="class")
    def sewer(self) -> SewerNetwork:
        # two branches A1-A2 and B1-B2 join into C1-C2-C3
        return SewerNetwork(
            make_lines(
                {
                    k: [(i * 10, 0), (i * 10 + 10, 0)]
                    for i, k in enumerate(["A1", "A2", "B1", "B2", "C1", "C2", "C3"])
                },
                from_node=["a", "a2", "b", "b2", "j", "c2", "c3"],
                to_node=["a2", "j", "b2", "j", "c2", "c3", "out"],
            ),
            metric_crs=METRIC,
        )

    @pytest.mark.parametrize(
        ("max_mains", "expected"),
        [(0, [0, 1, 2]), (1, [0, 1, 2]), (2, [0, 0, 1]), (5, [0, 0, 0])],
    )
    def test_backups_group_by_shared_main_within_reach(self, sewer, max_mains, expected):
        times = pd.to_datetime(["2026-07-01 08:00"] * 3)

        groups = group_by_downstream(["A1", "B1", "C3"], times, sewer, max_mains, 24)

        assert groups.tolist() == expected

    def test_backups_far_apart_in_time_stay_apart(self, sewer):
        times = pd.to_datetime(["2026-07-01 08:00", "2026-07-05 08:00", "2026-07-01 09:00"])

        groups = group_by_downstream(["A1", "B1", "A2"], times, sewer, 5, 24)

        assert groups.tolist() == [0, 1, 0]

    def test_unsnapped_backup_is_its_own_group(self, sewer):
        times = pd.to_datetime(["2026-07-01 08:00"] * 3)

        groups = group_by_downstream(["A1", None, "A1"], times, sewer, 5, 24)

        assert groups.tolist() == [0, 1, 0]
