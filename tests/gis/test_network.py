"""Tests for gis.network: isolation segments and sewer traces."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from bench.network import isolation_segments_networkx, make_grid_network, same_partition
from gis.errors import NetworkError
from gis.network import SewerNetwork, WaterNetwork, isolation_segments, valves_to_close

METRIC = "EPSG:26913"
X0, Y0 = 383_000.0, 5_776_000.0


def make_mains(lines: dict[str, list[tuple[float, float]]], **columns: list) -> gpd.GeoDataFrame:
    """Mains from local metre coordinates (offset into Saskatoon), returned in WGS84."""
    geometry = [shapely.LineString([(X0 + x, Y0 + y) for x, y in xy]) for xy in lines.values()]
    frame = gpd.GeoDataFrame({"asset_id": list(lines), **columns}, geometry=geometry, crs=METRIC)
    return frame.to_crs(4326)


def make_valves(points: dict[str, tuple[float, float]], operable: list | None = None):
    """Valves from local metre coordinates, returned in WGS84."""
    geometry = [shapely.Point(X0 + x, Y0 + y) for x, y in points.values()]
    flags = [True] * len(points) if operable is None else operable
    frame = gpd.GeoDataFrame(
        {"asset_id": list(points), "operable": pd.array(flags, dtype="boolean")},
        geometry=geometry,
        crs=METRIC,
    )
    return frame.to_crs(4326)


@pytest.fixture
def square_loop() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A 100 m square loop A-B-C-D with a valve 30 m along each main."""
    mains = make_mains(
        {
            "AB": [(0, 0), (100, 0)],
            "BC": [(100, 0), (100, 100)],
            "CD": [(100, 100), (0, 100)],
            "DA": [(0, 100), (0, 0)],
        }
    )
    valves = make_valves({"vAB": (30, 0), "vBC": (100, 30), "vCD": (70, 100), "vDA": (0, 70)})
    return mains, valves


class TestIsolationSegments:
    def test_loop_with_four_valves_gives_four_corner_segments(self, square_loop):
        mains, valves = square_loop
        segments = isolation_segments(mains, valves)

        assert segments.index.equals(mains.index)
        assert segments.dtype.kind == "i"
        assert segments.nunique() == 4

    def test_loop_boundary_valves_are_the_two_beside_each_corner(self, square_loop):
        network = WaterNetwork(*square_loop)

        # AB's longer part (70 m) lies at corner B, with BC's first 30 m
        corner_b = network.segment_of("AB")
        assert sorted(network.boundary_valves(corner_b)) == ["vAB", "vBC"]
        assert sorted(network.segment_mains(corner_b)) == ["AB", "BC"]
        assert network.segments.loc[corner_b, "length_m"] == pytest.approx(100, abs=0.01)

    def test_failed_valve_grows_segment_to_the_next_ring(self, square_loop):
        mains, valves = square_loop
        network = WaterNetwork(mains, valves)
        corner_b = network.segment_of("AB")
        corner_a = network.segment_of("DA")

        grown = network.grow_segment(corner_b, failed_valves=["vAB"])

        assert grown == sorted([corner_a, corner_b])
        assert sorted(network.boundary_valves(grown)) == ["vBC", "vDA"]
        assert sorted(valves_to_close(mains, valves, corner_b, ["vAB"])) == ["vBC", "vDA"]

    def test_all_valves_failing_shuts_the_whole_loop(self, square_loop):
        network = WaterNetwork(*square_loop)

        grown = network.grow_segment(0, failed_valves=["vAB", "vBC", "vCD", "vDA"])

        assert grown == [0, 1, 2, 3]
        assert network.boundary_valves(grown) == []

    def test_dead_end_joins_the_segment_it_hangs_from(self):
        mains = make_mains(
            {"M1": [(0, 0), (100, 0)], "M2": [(100, 0), (200, 0)], "DEAD": [(100, 0), (100, 50)]}
        )
        valves = make_valves({"v1": (195, 0)})

        network = WaterNetwork(mains, valves)

        # all three mains share one segment; the 5 m stub past v1 is a segment of its own
        assert network.segment_of_main.tolist() == [0, 0, 0]
        assert network.n_segments == 2
        assert network.segments.loc[1, "length_m"] == pytest.approx(5, abs=0.01)

    def test_inoperable_valve_does_not_cut(self):
        mains = make_mains({"M1": [(0, 0), (100, 0)], "M2": [(100, 0), (200, 0)]})
        valves = make_valves({"stuck": (100, 0), "ok": (160, 0)}, operable=[False, True])

        network = WaterNetwork(mains, valves)

        assert network.segment_of_main.tolist() == [0, 0]
        assert list(network.valves.index) == ["ok"]
        assert network.boundary_valves(0) == ["ok"]

    def test_missing_operable_value_counts_as_operable(self):
        mains = make_mains({"M1": [(0, 0), (100, 0)], "M2": [(100, 0), (200, 0)]})
        valves = make_valves({"v": (101, 0)}, operable=[None])

        assert isolation_segments(mains, valves).nunique() == 2

    @pytest.mark.parametrize(
        ("valve_x", "expected_same_as"),
        [(180, "M0"), (120, "M2"), (150.5, "M0"), (149.5, "M2")],
    )
    def test_split_main_belongs_to_its_longer_part(self, valve_x, expected_same_as):
        mains = make_mains(
            {"M0": [(0, 0), (100, 0)], "M1": [(100, 0), (200, 0)], "M2": [(200, 0), (300, 0)]}
        )
        valves = make_valves({"v": (valve_x, 0)})

        segments = isolation_segments(mains, valves).set_axis(mains["asset_id"])

        assert segments["M0"] != segments["M2"]
        assert segments["M1"] == segments[expected_same_as]

    def test_valve_beside_junction_cuts_only_its_leg(self):
        # a T at (100, 0): the valve sits 0.5 m along the branch
        mains = make_mains(
            {"W": [(0, 0), (100, 0)], "E": [(100, 0), (200, 0)], "N": [(100, 0), (100, 100)]}
        )
        valves = make_valves({"vN": (100, 0.5)})

        network = WaterNetwork(mains, valves)
        segments = network.segment_of_main.set_axis(mains["asset_id"])

        assert segments["W"] == segments["E"] != segments["N"]
        assert network.boundary_valves(segments["N"]) == ["vN"]

    def test_valve_exactly_at_junction_cuts_the_first_main_at_the_node(self):
        mains = make_mains(
            {"W": [(0, 0), (100, 0)], "E": [(100, 0), (200, 0)], "N": [(100, 0), (100, 100)]}
        )
        valves = make_valves({"vJ": (100, 0)})

        network = WaterNetwork(mains, valves)
        segments = network.segment_of_main.set_axis(mains["asset_id"])

        # W is first in order: it is cut right at its end, E and N keep the node
        assert segments["E"] == segments["N"] != segments["W"]
        assert network.valves.loc["vJ", "main_id"] == "W"
        assert network.valves.loc["vJ", "position_m"] == pytest.approx(100, abs=0.01)

    def test_four_valves_round_a_cross_leave_the_fitting_alone(self):
        legs = {"W": (-100, 0), "E": (100, 0), "S": (0, -100), "N": (0, 100)}
        mains = make_mains({k: [(0, 0), xy] for k, xy in legs.items()})
        valves = make_valves({f"v{k}": (x / 100, y / 100) for k, (x, y) in legs.items()})

        network = WaterNetwork(mains, valves)

        assert network.segment_of_main.nunique() == 4
        assert network.n_segments == 5
        # the 1 m stubs round the cross form the fitting's own segment
        fitting = network.segments[network.segments["mains"].map(len) == 4]
        assert len(fitting) == 1
        assert fitting.iloc[0]["length_m"] == pytest.approx(4, abs=0.01)
        assert sorted(fitting.iloc[0]["valves"]) == ["vE", "vN", "vS", "vW"]

    def test_explicit_node_ids_join_mains_whose_ends_do_not_touch(self):
        mains = make_mains(
            {"M1": [(0, 0), (100, 0)], "M2": [(105, 0), (200, 0)], "M3": [(300, 0), (400, 0)]},
            from_node=["a", "b", "c"],
            to_node=["b", "c2", "d"],
        )

        segments = isolation_segments(mains, None)

        assert segments.tolist() == [0, 0, 1]

    def test_ends_meet_within_the_node_tolerance(self):
        mains = make_mains({"M1": [(0, 0), (100, 0)], "M2": [(100.3, 0), (200, 0)]})

        assert isolation_segments(mains, None, node_tolerance_m=0.5).nunique() == 1
        assert isolation_segments(mains, None, node_tolerance_m=0.1).nunique() == 2

    def test_far_valve_is_ignored_and_logged(self, caplog):
        mains = make_mains({"M1": [(0, 0), (100, 0)], "M2": [(100, 0), (200, 0)]})
        valves = make_valves({"far": (150, 40)})

        with caplog.at_level(logging.WARNING, logger="gis.network"):
            segments = isolation_segments(mains, valves)

        assert segments.nunique() == 1
        assert "ignored 1 valves farther than 3.0 m" in caplog.text

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_random_grid_matches_networkx_reference(self, seed):
        mains, valves = make_grid_network(12, inoperable_share=0.2, seed=seed)
        rng = np.random.default_rng(seed)
        valves = valves.iloc[rng.permutation(len(valves))[: len(valves) * 2 // 3]]

        ours = isolation_segments(mains, valves)
        reference = isolation_segments_networkx(mains, valves)

        assert same_partition(ours, reference)
        assert ours.nunique() > 10


class TestWaterNetworkRejections:
    def test_empty_mains_are_refused(self):
        empty = make_mains({}).iloc[:0]

        with pytest.raises(NetworkError, match="water_mains is empty"):
            WaterNetwork(empty)

    def test_missing_operable_column_is_refused(self, square_loop):
        mains, valves = square_loop

        with pytest.raises(NetworkError, match=r"valves lacks the column.*operable"):
            WaterNetwork(mains, valves.drop(columns="operable"))

    def test_geographic_metric_crs_is_refused(self, square_loop):
        with pytest.raises(NetworkError, match=r"geographic.*projected CRS"):
            WaterNetwork(*square_loop, metric_crs="EPSG:4326")

    def test_layer_without_crs_is_refused(self, square_loop):
        mains, valves = square_loop

        with pytest.raises(NetworkError, match="no CRS; expected EPSG:4326"):
            WaterNetwork(mains.set_crs(None, allow_override=True), valves)

    def test_points_as_mains_are_refused(self, square_loop):
        _, valves = square_loop

        with pytest.raises(NetworkError, match="non-empty LineStrings; received Point"):
            WaterNetwork(valves)

    def test_unknown_main_and_segment_are_refused(self, square_loop):
        network = WaterNetwork(*square_loop)

        with pytest.raises(NetworkError, match=r"\['XX'\] are not in this water network"):
            network.segment_of(["XX"])
        with pytest.raises(NetworkError, match=r"outside 0\.\.3"):
            network.boundary_valves(9)


# ---------------------------------------------------------------------------------------
# sewer
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saskatoon_sewer(saskatoon_dir: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The real sanitary mains and manholes, renamed to canonical columns."""
    mains = gpd.read_file(saskatoon_dir / "sanitary_mains.geojson")
    mains = mains[mains["STATUS"] != "D3"]
    # one main lacks a FACILITYID: name it by its OBJECTID
    mains["asset_id"] = mains["FACILITYID"].fillna("OBJECTID-" + mains["OBJECTID"].astype(str))
    mains = mains.rename(
        columns={
            "FROMMH": "from_node",
            "TOMH": "to_node",
            "UPELEV": "up_invert_m",
            "DOWNELEV": "down_invert_m",
            "DIAMETER": "diameter_mm",
        }
    )[["asset_id", "from_node", "to_node", "up_invert_m", "down_invert_m", "geometry"]]
    manholes = gpd.read_file(saskatoon_dir / "sanitary_manholes.geojson")
    manholes = manholes.rename(columns={"FACILITYID": "asset_id"})[["asset_id", "geometry"]]
    return mains, manholes


@pytest.fixture(scope="module")
def saskatoon_network(saskatoon_sewer) -> SewerNetwork:
    return SewerNetwork(*saskatoon_sewer)


class TestSaskatoonSewer:
    def test_dangling_references_become_terminal_nodes_and_are_logged(
        self, saskatoon_sewer, caplog
    ):
        with caplog.at_level(logging.INFO, logger="gis.network"):
            network = SewerNetwork(*saskatoon_sewer)

        # 13 mains name an upstream manhole the extract lacks, 14 a downstream one
        mains, _ = saskatoon_sewer
        missing_from = mains["from_node"].isin(network.dangling_nodes).sum()
        missing_to = mains["to_node"].isin(network.dangling_nodes).sum()
        assert (missing_from, missing_to) == (13, 14)
        assert len(network.dangling_mains) == 27
        assert len(network.dangling_nodes) == 24
        assert "27 sewer mains name 24 manholes missing" in caplog.text
        # those named by one main only are terminal: nothing beyond them
        named = pd.concat([mains["from_node"], mains["to_node"]]).value_counts()
        terminal = [n for n in network.dangling_nodes if named[n] == 1]
        assert len(terminal) == 21
        for node in terminal:
            assert network.downstream_mains(node) == [] or network.upstream_mains(node) == []

    def test_upstream_trace_follows_from_to_ids(self, saskatoon_network, saskatoon_sewer):
        mains, _ = saskatoon_sewer
        main = mains.set_index("asset_id").loc["864"]

        upstream = saskatoon_network.upstream_mains("864")

        assert upstream[0] == "864"
        feeding = mains.loc[mains["to_node"] == main["from_node"], "asset_id"]
        assert set(feeding) <= set(upstream[1:])
        assert set(saskatoon_network.upstream_mains(main["from_node"])) == set(upstream) - {"864"}

    def test_every_upstream_main_has_the_main_downstream(self, saskatoon_network):
        outlet_main = max(
            saskatoon_network.main_ids, key=lambda m: len(saskatoon_network.upstream_mains(m))
        )
        upstream = saskatoon_network.upstream_mains(outlet_main)

        assert len(upstream) > 20
        for main in upstream:
            assert outlet_main in saskatoon_network.downstream_mains(main)

    def test_first_shared_downstream_of_two_backups(self, saskatoon_network):
        outlet_main = max(
            saskatoon_network.main_ids, key=lambda m: len(saskatoon_network.upstream_mains(m))
        )
        upstream = saskatoon_network.upstream_mains(outlet_main)
        far = [m for m in upstream if saskatoon_network.downstream_distances(m).max() >= 3]
        first, second = far[-1], far[-2]

        shared = saskatoon_network.first_shared_downstream([first, second])

        assert shared is not None
        assert shared.main_id in saskatoon_network.downstream_mains(first)
        assert shared.main_id in saskatoon_network.downstream_mains(second)
        # nothing nearer is shared by both
        near_first = saskatoon_network.downstream_distances(first)
        near_second = saskatoon_network.downstream_distances(second)
        common = near_first.index.intersection(near_second.index)
        worst = np.maximum(near_first[common], near_second[common])
        assert worst.min() == shared.max_distance
        assert shared.distances[first] == near_first[shared.main_id]

    def test_unconnected_mains_share_nothing(self, saskatoon_network):
        outlets = [
            m for m in saskatoon_network.main_ids if saskatoon_network.downstream_mains(m) == [m]
        ]

        assert saskatoon_network.first_shared_downstream(outlets[:2]) is None


class TestSewerDirection:
    def test_inverts_give_direction_where_ids_are_missing(self):
        # S2 is drawn against the flow: its first vertex is lower
        mains = make_mains(
            {"S1": [(0, 0), (100, 0)], "S2": [(200, 0), (100, 0)], "S3": [(200, 0), (300, 0)]},
            up_invert_m=[10.0, 8.0, 7.0],
            down_invert_m=[9.0, 8.5, 6.0],
        )

        network = SewerNetwork(mains, metric_crs=METRIC)

        assert network.downstream_mains("S1") == ["S1", "S2", "S3"]
        assert network.upstream_mains("S3") == ["S3", "S2", "S1"]
        assert network.downstream_distances("S1").to_dict() == {"S1": 0, "S2": 1, "S3": 2}
        assert network.downstream_distances("S1", max_mains=1).to_dict() == {"S1": 0, "S2": 1}

    def test_ids_win_over_geometry(self):
        mains = make_mains(
            {"A": [(0, 0), (100, 0)], "B": [(500, 0), (600, 0)]},
            from_node=["m1", "m2"],
            to_node=["m2", "m3"],
        )

        network = SewerNetwork(mains)

        assert network.downstream_mains("A") == ["A", "B"]
        assert network.downstream_mains("m2") == ["B"]
        assert network.first_shared_downstream(["A", "B"]).main_id == "B"

    def test_main_without_ids_joins_a_named_manhole_by_position(self):
        mains = make_mains(
            {"A": [(0, 0), (100, 0)], "B": [(100, 0), (200, 0)]},
            from_node=["m1", None],
            to_node=["m2", None],
            up_invert_m=[10.0, 9.0],
            down_invert_m=[9.5, 8.0],
        )

        network = SewerNetwork(mains)

        assert network.downstream_mains("m2") == ["B"]
        assert network.upstream_mains("B") == ["B", "A"]

    def test_main_without_asset_id_is_refused(self):
        mains = make_mains({"A": [(0, 0), (100, 0)], "B": [(100, 0), (200, 0)]})
        mains.loc[1, "asset_id"] = None

        with pytest.raises(NetworkError, match="1 rows without an asset_id"):
            SewerNetwork(mains)

    def test_unknown_asset_is_refused(self):
        network = SewerNetwork(make_mains({"A": [(0, 0), (100, 0)]}))

        with pytest.raises(NetworkError, match="'nope' is neither a sewer main nor a manhole"):
            network.upstream_mains("nope")
        with pytest.raises(NetworkError, match="needs at least one main id"):
            network.first_shared_downstream([])
