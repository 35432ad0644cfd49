"""Tests of the demo-city generator: determinism, schema, network shape and the stream."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from crm.lifecycle import OPEN_STATUSES
from data.democity import (
    CHANNELS,
    METRIC_CRS,
    SERVICE_CODES,
    DemoCity,
    generate_city,
    read_city,
)
from gis.layers.schema import LAYERS
from settings import load_settings

ADDRESS = re.compile(r"^\d+ (\d+(st|nd|rd|th) Ave|Avenue [A-Z]+|Idylwyld Dr) [NS]$")


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return generate_city(seed=7)


@pytest.fixture(scope="module")
def metric(city: DemoCity) -> dict[str, gpd.GeoDataFrame]:
    return {kind: gdf.to_crs(METRIC_CRS) for kind, gdf in city.layers.items()}


def _assert_cities_equal(left: DemoCity, right: DemoCity) -> None:
    assert left.layers.keys() == right.layers.keys()
    for kind in left.layers:
        assert_geodataframe_equal(left.layers[kind], right.layers[kind])
    pd.testing.assert_frame_equal(left.requests, right.requests)
    assert left.crews == right.crews
    assert (left.seed, left.scale, left.request_scale, left.end) == (
        right.seed, right.scale, right.request_scale, right.end
    )  # fmt: skip


class TestDeterminism:
    def test_generate_city_same_seed_identical(self, city: DemoCity) -> None:
        _assert_cities_equal(city, generate_city(seed=7))

    def test_generate_city_other_seed_different(self, city: DemoCity) -> None:
        other = generate_city(seed=8)
        assert not other.requests["created_at"].equals(city.requests["created_at"])
        assert not other.layers["valves"].geometry.equals(city.layers["valves"].geometry)

    @pytest.mark.parametrize("scale", [0, -1.0, float("nan")])
    def test_generate_city_bad_scale_raises(self, scale: float) -> None:
        with pytest.raises(ValueError, match="scale must be a positive number"):
            generate_city(scale=scale)

    def test_generate_city_scale_outside_service_area_raises(self) -> None:
        with pytest.raises(ValueError, match="leaves the service area"):
            generate_city(scale=500)

    def test_generate_city_scale_multiplies_counts(self, city: DemoCity) -> None:
        bigger = generate_city(scale=4, request_scale=1)
        ratio = len(bigger.layers["service_connections"]) / len(city.layers["service_connections"])
        assert 3.5 < ratio < 4.5
        assert len(bigger.requests) < 2 * len(city.requests)


class TestSchema:
    @pytest.mark.parametrize("kind", list(LAYERS))
    def test_layer_columns_match_schema(self, city: DemoCity, kind: str) -> None:
        gdf = city.layers[kind]
        spec = LAYERS[kind]
        assert list(gdf.columns) == [*spec.columns, "geometry"]
        assert {c: str(gdf[c].dtype) for c in spec.columns} == spec.columns
        assert gdf.crs.to_epsg() == 4326
        assert len(gdf) > 0
        assert gdf["asset_id"].notna().all()
        assert gdf["asset_id"].is_unique

    @pytest.mark.parametrize("kind", list(LAYERS))
    def test_layer_geometry_types_match_schema(self, city: DemoCity, kind: str) -> None:
        types = set(city.layers[kind].geom_type)
        assert types <= set(LAYERS[kind].geometry_types)
        assert city.layers[kind].is_valid.all()

    def test_asset_ids_unique_across_layers(self, city: DemoCity) -> None:
        ids = pd.concat([gdf["asset_id"] for gdf in city.layers.values()])
        assert ids.is_unique

    @pytest.mark.parametrize("kind", list(LAYERS))
    def test_layer_inside_service_area(self, city: DemoCity, kind: str) -> None:
        area = load_settings({}).service_area
        min_lon, min_lat, max_lon, max_lat = city.layers[kind].total_bounds
        assert area.contains(min_lon, min_lat)
        assert area.contains(max_lon, max_lat)

    def test_scale_one_sizes(self, city: DemoCity) -> None:
        assert 200 <= len(city.layers["water_mains"]) <= 500
        assert len(city.layers["critical_facilities"]) == 4
        assert 800 <= len(city.requests) <= 2000


class TestWater:
    def test_valves_lie_on_mains(self, metric: dict[str, gpd.GeoDataFrame]) -> None:
        tree = shapely.STRtree(metric["water_mains"].geometry.to_numpy())
        _, distance = tree.query_nearest(
            metric["valves"].geometry.to_numpy(), return_distance=True, all_matches=False
        )
        assert distance.max() < 1.0

    def test_each_intersection_has_valves_on_all_legs_but_one(
        self, metric: dict[str, gpd.GeoDataFrame]
    ) -> None:
        mains = metric["water_mains"]
        ends = pd.concat([
            pd.DataFrame({"node": mains["from_node"], "xy": shapely.get_point(mains.geometry, 0)}),
            pd.DataFrame({"node": mains["to_node"], "xy": shapely.get_point(mains.geometry, -1)}),
        ])  # fmt: skip
        legs = ends.groupby("node").size()
        points = ends.drop_duplicates("node").set_index("node").loc[legs.index, "xy"]
        tree = shapely.STRtree(metric["valves"].geometry.to_numpy())
        hits = tree.query(points.to_numpy(), predicate="dwithin", distance=10.0)
        near = np.bincount(hits[0], minlength=len(points))
        assert (near == legs.to_numpy() - 1).all()

    def test_some_valves_inoperable(self, city: DemoCity) -> None:
        share = 1 - city.layers["valves"]["operable"].mean()
        assert 0.005 < share < 0.08

    def test_hydrants_about_150_m_apart(self, metric: dict[str, gpd.GeoDataFrame]) -> None:
        xy = shapely.get_coordinates(metric["hydrants"].geometry.to_numpy())
        distance = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(distance, np.inf)
        assert 100 <= np.median(distance.min(axis=1)) <= 200

    def test_hydrants_a_few_metres_off_the_main(self, metric: dict[str, gpd.GeoDataFrame]) -> None:
        tree = shapely.STRtree(metric["water_mains"].geometry.to_numpy())
        _, distance = tree.query_nearest(
            metric["hydrants"].geometry.to_numpy(), return_distance=True, all_matches=False
        )
        assert distance.min() >= 2
        assert distance.max() <= 12

    def test_bigger_mains_under_arterials(self, city: DemoCity) -> None:
        diameter = city.layers["water_mains"]["diameter_mm"]
        assert diameter.between(150, 300).all()
        assert set(city.layers["water_mains"]["material"]) <= {
            "PVC", "cast iron", "ductile iron"
        }  # fmt: skip


class TestSewer:
    def test_inverts_fall_downstream(self, city: DemoCity) -> None:
        mains = city.layers["sewer_mains"]
        assert (mains["up_invert_m"] > mains["down_invert_m"]).all()
        assert (mains["system"] == "sanitary").all()

    def test_manhole_inverts_match_mains(self, city: DemoCity) -> None:
        mains = city.layers["sewer_mains"]
        manholes = city.layers["manholes"].set_index("asset_id")
        up = manholes.loc[mains["from_node"], "invert_m"].to_numpy()
        down = manholes.loc[mains["to_node"], "invert_m"].to_numpy()
        assert np.allclose(up, mains["up_invert_m"])
        assert np.allclose(down, mains["down_invert_m"])
        assert (manholes["rim_m"] - manholes["invert_m"]).between(2.0, 7.0).all()

    def test_sewer_is_a_tree_draining_to_one_outfall(self, city: DemoCity) -> None:
        mains = city.layers["sewer_mains"]
        manholes = city.layers["manholes"]["asset_id"]
        assert mains["from_node"].is_unique
        assert set(mains["from_node"]) | set(mains["to_node"]) == set(manholes)
        outfalls = set(manholes) - set(mains["from_node"])
        assert len(outfalls) == 1
        assert len(mains) == len(manholes) - 1

        # follow every manhole downstream: all reach the outfall without a cycle
        downstream = dict(zip(mains["from_node"], mains["to_node"], strict=True))
        for start in manholes:
            node, steps = start, 0
            while node in downstream and steps <= len(manholes):
                node, steps = downstream[node], steps + 1
            assert node in outfalls

    def test_sewer_mains_join_their_manholes(self, metric: dict[str, gpd.GeoDataFrame]) -> None:
        mains = metric["sewer_mains"]
        manholes = metric["manholes"].set_index("asset_id").geometry
        start = shapely.get_point(mains.geometry.to_numpy(), 0)
        stop = shapely.get_point(mains.geometry.to_numpy(), -1)
        assert shapely.distance(start, manholes.loc[mains["from_node"]].to_numpy()).max() < 0.01
        assert shapely.distance(stop, manholes.loc[mains["to_node"]].to_numpy()).max() < 0.01


class TestAddresses:
    def test_address_format(self, city: DemoCity) -> None:
        addresses = city.layers["addresses"]
        assert addresses["full_address"].str.match(ADDRESS).all()
        assert addresses["full_address"].is_unique
        rebuilt = (
            addresses["number"] + " " + addresses["street"]
            + (" " + addresses["street_type"]).fillna("") + " " + addresses["direction"]
        )  # fmt: skip
        assert (rebuilt == addresses["full_address"]).all()
        assert "243 2nd Ave S" in set(addresses["full_address"])

    def test_numbers_even_east_odd_west_and_increasing_away_from_22nd(
        self, metric: dict[str, gpd.GeoDataFrame]
    ) -> None:
        addresses = metric["addresses"].assign(
            x=lambda d: d.geometry.x,
            y=lambda d: d.geometry.y,
            n=lambda d: d["number"].astype(int),
        )
        for _, side in addresses.groupby(["street", "direction", addresses["n"] % 2]):
            order = side.sort_values("y")["n"].to_numpy()
            north = side["direction"].iloc[0] == "N"
            assert (np.diff(order) > 0).all() if north else (np.diff(order) < 0).all()
        for _, street in addresses.groupby(["street", "direction"]):
            even = street[street["n"] % 2 == 0]["x"]
            odd = street[street["n"] % 2 == 1]["x"]
            if len(even) and len(odd):
                assert even.min() > odd.max()

    def test_service_connections_carry_accounts(self, city: DemoCity) -> None:
        connections = city.layers["service_connections"]
        assert set(connections["address"]) == set(city.layers["addresses"]["full_address"])
        accounts = connections["accounts"]
        assert (accounts >= 1).all()
        apartments = accounts[accounts > 1]
        assert len(apartments) > 10
        assert apartments.between(12, 60).all()

    def test_critical_facilities_on_parcels(self, city: DemoCity) -> None:
        facilities = city.layers["critical_facilities"]
        assert sorted(facilities["facility_type"]) == [
            "care_home", "hospital", "school", "school"
        ]  # fmt: skip
        parcels = city.layers["service_connections"].geometry
        assert all(parcels.contains(point).any() for point in facilities.geometry)


class TestCrews:
    def test_three_crews_with_depots_and_shifts(self, city: DemoCity) -> None:
        area = load_settings({}).service_area
        assert len(city.crews) == 3
        for crew in city.crews:
            assert set(crew["skills"]) <= {"water", "sewer", "locate"}
            assert area.contains(crew["depot_lon"], crew["depot_lat"])
            assert (crew["shift_start"], crew["shift_end"]) == ("07:00", "17:00")


class TestRequests:
    def test_requests_columns_and_values(self, city: DemoCity) -> None:
        requests = city.requests
        assert requests["request_id"].is_unique
        assert set(requests["service_code"]) == set(SERVICE_CODES)
        assert set(requests["channel"]) == set(CHANNELS)
        assert requests["created_at"].is_monotonic_increasing
        assert requests["created_at"].max() < city.end
        assert requests["created_at"].min() >= city.end - pd.Timedelta(days=367)
        assert requests["reporter_phone"].str.fullmatch(r"306-555-01\d\d").all()
        given = requests["address"].dropna()
        assert 0.6 < len(given) / len(requests) < 1
        assert given.str.match(ADDRESS).all()

    def test_requests_inside_service_area(self, city: DemoCity) -> None:
        area = load_settings({}).service_area
        requests = city.requests
        assert requests["lon"].between(area.min_lon, area.max_lon).all()
        assert requests["lat"].between(area.min_lat, area.max_lat).all()

    def test_requests_near_their_assets(
        self, city: DemoCity, metric: dict[str, gpd.GeoDataFrame]
    ) -> None:
        points = gpd.GeoSeries.from_xy(
            city.requests["lon"], city.requests["lat"], crs="EPSG:4326"
        ).to_crs(METRIC_CRS)
        for kind, rows in city.requests.groupby("asset_kind"):
            assets = metric[kind].set_index("asset_id").geometry
            distance = points.loc[rows.index].distance(
                assets.loc[rows["asset_id"]].set_axis(rows.index)
            )
            assert distance.max() < 80, kind

    def test_requests_follow_the_seasons_and_the_clock(self, city: DemoCity) -> None:
        requests = city.requests.assign(
            month=city.requests["created_at"].dt.month,
            hour=(city.requests["created_at"] - pd.Timedelta(hours=6)).dt.hour,
        )
        locates = requests[requests["service_code"] == "sewer_locate"]["month"]
        assert locates.isin([6, 7, 8]).sum() > 3 * locates.isin([12, 1, 2]).sum()
        phone = requests[requests["channel"] == "phone"]["hour"]
        assert phone.between(8, 11).sum() > 3 * phone.between(0, 5).sum()
        counter = requests[requests["channel"] == "counter"]["hour"]
        assert counter.between(8, 16).all()

    def test_recent_requests_open_and_old_ones_closed(self, city: DemoCity) -> None:
        requests = city.requests
        age = city.end - requests["created_at"]
        is_open = requests["status"].isin(OPEN_STATUSES)
        assert is_open[age > pd.Timedelta(days=90)].mean() < 0.02
        assert is_open[age < pd.Timedelta(days=3)].mean() > 0.6

    def test_main_break_burst_on_one_main(self, city: DemoCity) -> None:
        burst = city.requests[city.requests["burst_id"] == "main_break_1"]
        assert len(burst) == 14
        assert (burst["service_code"] == "water_outage").all()
        assert burst["asset_id"].nunique() == 1
        assert burst["created_at"].max() - burst["created_at"].min() <= pd.Timedelta(hours=2)
        assert burst["address"].dropna().is_unique
        assert burst["status"].isin(OPEN_STATUSES).all()

    def test_sewer_backup_run_shares_a_downstream_main(
        self, city: DemoCity, metric: dict[str, gpd.GeoDataFrame]
    ) -> None:
        burst = city.requests[city.requests["burst_id"] == "sewer_backup_1"]
        assert len(burst) == 6
        assert (burst["service_code"] == "sewer_backup").all()

        # the mains downstream of each backup, the first of them its own
        mains = metric["sewer_mains"].set_index("asset_id")
        by_start = pd.Series(mains.index, index=mains["from_node"])

        def downstream(main: str) -> list[str]:
            path = [main]
            while mains.loc[path[-1], "to_node"] in by_start.index:
                path.append(by_start[mains.loc[path[-1], "to_node"]])
            return path

        paths = [downstream(main) for main in burst["asset_id"]]
        shared = set.intersection(*(set(p) for p in paths))
        first = next(main for main in paths[0] if main in shared)
        assert mains.loc[first, "diameter_mm"] <= 250
        assert len(shared) < len(mains) / 4


class TestFiles:
    def test_write_read_round_trip(self, city: DemoCity, tmp_path: Path) -> None:
        path = city.write(tmp_path / "city.gpkg")
        assert path.exists()
        _assert_cities_equal(read_city(path), city)

    def test_read_city_missing_files_raises(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="missing"):
            read_city(tmp_path / "nowhere.gpkg")
