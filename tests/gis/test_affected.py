"""Tests for gis.affected: customers, hydrants, facilities and polygons of incidents."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.affected import affected_area, affected_areas
from gis.errors import CRSMismatchWarning, LayerError
from gis.network import SewerNetwork

METRIC = "EPSG:26913"
X0, Y0 = 383_000.0, 5_776_000.0


def local(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def make_layer(rows: dict[str, tuple[float, float]], **columns: list) -> gpd.GeoDataFrame:
    geometry = [local(x, y) for x, y in rows.values()]
    frame = gpd.GeoDataFrame({"asset_id": list(rows), **columns}, geometry=geometry, crs=METRIC)
    return frame.to_crs(4326)


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    """Two mains in a row, one far away, and points near and far from them."""
    lines = {"M1": [(0, 0), (100, 0)], "M2": [(100, 0), (200, 0)], "M3": [(0, 500), (100, 500)]}
    mains = gpd.GeoDataFrame(
        {"asset_id": list(lines)},
        geometry=[shapely.LineString([(X0 + x, Y0 + y) for x, y in xy]) for xy in lines.values()],
        crs=METRIC,
    ).to_crs(4326)
    connections = make_layer(
        {"SC1": (50, 10), "SC2": (150, 20), "SC3": (50, 50), "SC4": (50, 510)},
        address=["1 First Ave", "2 First Ave", "3 First Ave", None],
        accounts=pd.array([2, None, 5, 3], dtype="Int64"),
    )
    hydrants = make_layer({"H1": (20, -5), "H2": (150, 40)})
    facilities = make_layer(
        {"F1": (180, 25), "F2": (0, 700)},
        name=["Nutana School", "Far Care Home"],
        facility_type=["school", "care_home"],
    )
    return {
        "mains": mains,
        "connections": connections,
        "hydrants": hydrants,
        "facilities": facilities,
    }


def compute(layers, incidents, **options) -> gpd.GeoDataFrame:
    return affected_areas(
        layers["mains"],
        incidents,
        layers["connections"],
        hydrants=layers["hydrants"],
        critical_facilities=layers["facilities"],
        metric_crs=METRIC,
        **options,
    )


class TestAffectedAreas:
    def test_layers_in_different_crs_warn_and_still_join(self, layers):
        projected = {**layers, "connections": layers["connections"].to_crs(METRIC)}
        with pytest.warns(CRSMismatchWarning, match="joining layers in different CRSs"):
            table = compute(projected, {"I1": ["M1", "M2"]})
        assert table.loc["I1", "connections"] == ["SC1", "SC2"]

    def test_connections_customers_hydrants_and_facilities_per_incident(self, layers):
        table = compute(layers, {"I1": ["M1", "M2"], "I2": ["M3"], "I3": []})

        assert list(table.index) == ["I1", "I2", "I3"]
        assert table.loc["I1", "connections"] == ["SC1", "SC2"]
        assert table.loc["I1", "addresses"] == ["1 First Ave", "2 First Ave"]
        # SC2 has no account count: it counts as one
        assert table["customers"].tolist() == [3, 3, 0]
        assert table.loc["I1", "hydrants"] == ["H1"]
        assert table.loc["I1", "critical_facilities"] == ["Nutana School"]
        assert table.loc["I2", "addresses"] == [None]
        assert table.loc["I3", "connections"] == []

    def test_polygon_is_buffered_mains_in_wgs84(self, layers):
        table = compute(layers, {"I1": ["M1", "M2"], "I3": []}, simplify_m=0)

        assert table.crs.to_epsg() == 4326
        polygon = table.loc["I1", "geometry"]
        assert polygon.geom_type == "Polygon"
        assert -107 < polygon.centroid.x < -106
        metric = gpd.GeoSeries([polygon], crs=4326).to_crs(METRIC).iloc[0]
        # a 200 m by 60 m band with rounded ends, drawn with 4 segments a quarter
        assert 12_000 + 2_400 < metric.area < 12_000 + np.pi * 900
        assert table.loc["I3", "geometry"] is None

    def test_hydrants_inside_match_the_unsimplified_polygon(self, layers):
        table = compute(layers, {"I1": ["M1", "M2"]}, simplify_m=0, buffer_m=45)
        polygon = table.loc["I1", "geometry"]
        inside = layers["hydrants"][layers["hydrants"].within(polygon)]

        assert table.loc["I1", "hydrants"] == list(inside["asset_id"]) == ["H1", "H2"]
        assert table.loc["I1", "connections"] == ["SC1", "SC2"]

    def test_incidents_sharing_mains_both_count_them(self, layers):
        table = compute(layers, {"A": ["M1"], "B": ["M1", "M2"]}, polygons=False)

        assert table["customers"].tolist() == [2, 3]
        assert table.geometry.isna().all()

    def test_parcels_count_as_connections(self, layers):
        parcel = shapely.box(X0 + 40, Y0 - 60, X0 + 60, Y0 - 25)
        parcels = gpd.GeoDataFrame(
            {"asset_id": ["P1"], "address": ["9 Lane"], "accounts": [4]},
            geometry=[parcel],
            crs=METRIC,
        ).to_crs(4326)

        area = affected_area(layers["mains"], ["M1"], parcels, metric_crs=METRIC)

        assert area.connections == ["P1"]
        assert area.customers == 4
        assert area.polygon is not None


class TestAffectedAreasOnSaskatoon:
    def test_parcels_upstream_of_a_sewer_main(self, saskatoon_dir: Path):
        mains = gpd.read_file(saskatoon_dir / "sanitary_mains.geojson").rename(
            columns={"FROMMH": "from_node", "TOMH": "to_node"}
        )
        mains["asset_id"] = mains["FACILITYID"].fillna("OBJECTID-" + mains["OBJECTID"].astype(str))
        parcels = gpd.read_file(saskatoon_dir / "parcels.geojson").rename(
            columns={"SiteId": "asset_id", "FullAddress": "address"}
        )
        parcels["accounts"] = pd.array([None] * len(parcels), dtype="Int64")
        network = SewerNetwork(mains[["asset_id", "from_node", "to_node", "geometry"]])
        outlet = max(network.main_ids, key=lambda m: len(network.upstream_mains(m)))
        upstream = network.upstream_mains(outlet)

        area = affected_area(mains, upstream, parcels, metric_crs=METRIC)

        # the peer: parcels within 30 m of the upstream mains, by geopandas
        chosen = mains[mains["asset_id"].isin(upstream)].to_crs(METRIC)
        near = parcels.to_crs(METRIC).sjoin(chosen, predicate="dwithin", distance=30)
        assert sorted(area.connections) == sorted(near["asset_id_left"].unique())
        assert area.customers == len(area.connections) > 10


class TestAffectedRejections:
    def test_unknown_main_is_refused(self, layers):
        with pytest.raises(LayerError, match=r"main\(s\) \['M9'\] that the mains layer lacks"):
            compute(layers, {"I": ["M9"]})

    def test_missing_accounts_column_is_refused(self, layers):
        layers["connections"] = layers["connections"].drop(columns="accounts")

        with pytest.raises(LayerError, match="connection layer lacks the column"):
            compute(layers, {"I": ["M1"]})

    def test_geographic_metric_crs_is_refused(self, layers):
        with pytest.raises(LayerError, match="is geographic"):
            affected_areas(
                layers["mains"], {"I": ["M1"]}, layers["connections"], metric_crs="EPSG:4326"
            )

    def test_non_positive_distance_is_refused(self, layers):
        with pytest.raises(LayerError, match="connection_distance_m must be a positive"):
            compute(layers, {"I": ["M1"]}, connection_distance_m=0)

    def test_incidents_not_a_mapping_are_refused(self, layers):
        with pytest.raises(LayerError, match="incidents must map incident ids"):
            compute(layers, ["M1"])
