"""Column mappings, layer loading and validation, on hand-made and real layers."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from gis.errors import LayerError
from gis.layers.loading import load_layer
from gis.layers.mapping import available_mappings, load_mapping, parse_mapping
from gis.layers.schema import LAYERS, WGS84
from gis.layers.validation import InvalidLayerError, validate_layer

LON, LAT = -106.665, 52.127  # downtown Saskatoon

HYDRANT_MAPPING = {
    "name": "test",
    "layers": {
        "hydrants": {
            "file": "hydrants.gpkg",
            "columns": {"HYD_ID": "asset_id", "STATUS": "status"},
            "values": {"STATUS": {"A1": "active", "D3": "decommissioned"}},
            "keep": {"STATUS": ["A1"]},
        }
    },
}


def hydrants(n: int = 4, crs: str | None = WGS84) -> gpd.GeoDataFrame:
    """Hand-made hydrants in source columns, one decommissioned."""
    status = ["A1"] * (n - 1) + ["D3"]
    points = [Point(LON + i * 0.001, LAT) for i in range(n)]
    return gpd.GeoDataFrame(
        {"HYD_ID": [f"H{i}" for i in range(n)], "STATUS": status}, geometry=points, crs=crs
    )


def canonical_mains(rows: list[tuple[str, LineString]]) -> gpd.GeoDataFrame:
    """Canonical sewer mains from (id, line) pairs, in WGS84."""
    return gpd.GeoDataFrame(
        {"asset_id": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=WGS84
    )


class TestMapping:
    @pytest.mark.parametrize("name", ["saskatoon", "demo"])
    def test_load_mapping_by_name(self, name: str) -> None:
        mapping = load_mapping(name)
        assert mapping.name == name
        assert name in available_mappings()

    def test_load_mapping_demo_is_identity(self) -> None:
        mapping = load_mapping("demo")
        for kind, spec in LAYERS.items():
            entry = mapping.entry(kind)
            assert entry.layer == kind
            assert entry.columns == {c: c for c in spec.columns}

    def test_load_mapping_from_path(self, tmp_path: Path) -> None:
        path = tmp_path / "city.toml"
        path.write_text('[layers.hydrants]\ncolumns = { ID = "asset_id" }\n')
        assert load_mapping(path).entry("hydrants").columns == {"ID": "asset_id"}

    @pytest.mark.parametrize(
        ("data", "match"),
        [
            ({"layers": {"hydrants": {}}, "colour": 1}, r"unknown key\(s\) colour"),
            ({"layers": {"hydrants": {"colums": {}}}}, r"unknown key\(s\) colums"),
            ({"layers": {"pumps": {}}}, "kind 'pumps'"),
            (
                {"layers": {"hydrants": {"columns": {"X": "colour"}}}},
                r"unknown column\(s\) colour",
            ),
            ({"layers": {"hydrants": {"geometry": "buffer"}}}, "geometry 'buffer'"),
            ({"layers": {"hydrants": {"coordinates": {"x": "E"}}}}, "need both x and y"),
            ({"layers": {"hydrants": {"keep": {"STATUS": "A1"}}}}, "must be a list"),
            ({"layers": {}}, r"no \[layers.NAME\] tables"),
            (
                {
                    "layers": {
                        "hydrants": {"columns": {"A": "asset_id"}, "constants": {"asset_id": "x"}}
                    }
                },
                "more than once",
            ),
        ],
    )
    def test_parse_mapping_rejects_bad_entries(self, data: dict, match: str) -> None:
        with pytest.raises(LayerError, match=match):
            parse_mapping(data)

    @pytest.mark.parametrize(
        ("name", "match"),
        [("atlantis", "no mapping called 'atlantis'"), ("missing.toml", "does not exist")],
    )
    def test_load_mapping_rejects_unknown_source(self, name: str, match: str) -> None:
        with pytest.raises(LayerError, match=match):
            load_mapping(name)

    def test_load_mapping_rejects_bad_toml(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.toml"
        path.write_text("[layers.hydrants\n")
        with pytest.raises(LayerError, match="not valid TOML"):
            load_mapping(path)

    def test_entry_rejects_unknown_name(self) -> None:
        with pytest.raises(LayerError, match="has no layer 'pumps'; it has"):
            load_mapping("saskatoon").entry("pumps")


class TestLoadLayer:
    @pytest.mark.parametrize(
        ("suffix", "driver"),
        [(".gpkg", "GPKG"), (".geojson", "GeoJSON"), (".shp", "ESRI Shapefile")],
    )
    def test_load_layer_reads_pyogrio_formats(
        self, tmp_path: Path, suffix: str, driver: str
    ) -> None:
        path = tmp_path / f"hydrants{suffix}"
        hydrants().to_file(path, driver=driver)
        gdf, report = load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING))
        assert report.ok
        assert list(gdf.columns) == [*LAYERS["hydrants"].columns, "geometry"]
        assert gdf["asset_id"].tolist() == ["H0", "H1", "H2"]  # D3 filtered out
        assert set(gdf["status"]) == {"active"}
        assert gdf.crs == WGS84

    def test_load_layer_reads_folder_with_entry_file(self, tmp_path: Path) -> None:
        hydrants().to_file(tmp_path / "hydrants.gpkg", driver="GPKG")
        gdf, _ = load_layer("hydrants", tmp_path, parse_mapping(HYDRANT_MAPPING))
        assert len(gdf) == 3

    def test_load_layer_reprojects_to_wgs84(self, tmp_path: Path) -> None:
        path = tmp_path / "hydrants.gpkg"
        hydrants().to_crs("EPSG:26913").to_file(path, driver="GPKG")
        gdf, _ = load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING))
        assert gdf.crs == WGS84
        assert gdf.geometry.x.iloc[0] == pytest.approx(LON)

    def test_load_layer_reads_demo_geopackage_layer(self, tmp_path: Path) -> None:
        path = tmp_path / "demo.gpkg"
        frame = hydrants().rename(columns={"HYD_ID": "asset_id", "STATUS": "status"})
        frame.to_file(path, layer="hydrants", driver="GPKG")
        frame.to_file(path, layer="valves_other", driver="GPKG")
        gdf, report = load_layer("hydrants", path, "demo")
        assert report.ok
        assert len(gdf) == 4

    @pytest.mark.parametrize(
        ("header", "rows", "crs"),
        [
            ("HYD_ID,STATUS,lon,lat", [f"H{i},A1,{LON + i / 1000},{LAT}" for i in range(3)], None),
            (
                "HYD_ID,STATUS,x,y",
                [f"H{i},A1,{383000 + i * 50},5776000" for i in range(3)],
                "EPSG:26913",
            ),
            (
                "HYD_ID,STATUS,wkt",
                [f'H{i},A1,"POINT ({LON + i / 1000} {LAT})"' for i in range(3)],
                "EPSG:4326",
            ),
        ],
    )
    def test_load_layer_reads_csv_coordinates(
        self, tmp_path: Path, header: str, rows: list[str], crs: str | None
    ) -> None:
        path = tmp_path / "hydrants.csv"
        path.write_text("\n".join([header, *rows]) + "\n")
        gdf, report = load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING), crs=crs)
        assert report.ok
        assert gdf["asset_id"].tolist() == ["H0", "H1", "H2"]
        assert gdf.geometry.x.between(-106.8, -106.5).all()

    def test_load_layer_reads_csv_coordinates_named_in_mapping(self, tmp_path: Path) -> None:
        path = tmp_path / "hydrants.csv"
        path.write_text(f"HYD_ID,STATUS,EASTING,NORTHING\nH1,A1,{LON},{LAT}\n")
        mapping = {
            "layers": {
                "hydrants": {
                    **HYDRANT_MAPPING["layers"]["hydrants"],
                    "coordinates": {"x": "EASTING", "y": "NORTHING"},
                    "crs": "EPSG:4326",
                }
            }
        }
        gdf, _ = load_layer("hydrants", path, parse_mapping(mapping))
        assert gdf.geometry.y.iloc[0] == pytest.approx(LAT)


class TestLoadLayerRejects:
    def write(self, tmp_path: Path, gdf: gpd.GeoDataFrame) -> Path:
        path = tmp_path / "hydrants.gpkg"
        gdf.to_file(path, driver="GPKG")
        return path

    def test_load_layer_rejects_missing_mapped_column(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, hydrants().drop(columns="HYD_ID"))
        with pytest.raises(InvalidLayerError, match=r"HYD_ID not in the source; present: STATUS"):
            load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING))

    def test_load_layer_rejects_duplicate_ids(self, tmp_path: Path) -> None:
        frame = hydrants()
        frame.loc[1, "HYD_ID"] = "H0"
        with pytest.raises(InvalidLayerError, match="1 asset ids are used by 2 features") as info:
            load_layer("hydrants", self.write(tmp_path, frame), parse_mapping(HYDRANT_MAPPING))
        issue = info.value.report.find("duplicate_id")
        assert issue is not None
        assert issue.first_ids == ("H0",)

    def test_load_layer_rejects_wrong_geometry_type(self, tmp_path: Path) -> None:
        frame = hydrants().set_geometry(
            [LineString([(LON, LAT), (LON + 0.001, LAT)])] * 4, crs=WGS84
        )
        with pytest.raises(InvalidLayerError, match=r"wrong geometry type \(3 LineString\)"):
            load_layer("hydrants", self.write(tmp_path, frame), parse_mapping(HYDRANT_MAPPING))

    def test_load_layer_rejects_empty_geometry(self, tmp_path: Path) -> None:
        frame = hydrants()
        frame.loc[0, "geometry"] = None
        with pytest.raises(InvalidLayerError, match="1 features have no geometry") as info:
            load_layer("hydrants", self.write(tmp_path, frame), parse_mapping(HYDRANT_MAPPING))
        assert info.value.report.find("empty_geometry").first_ids == ("H0",)

    def test_load_layer_rejects_missing_crs(self, tmp_path: Path) -> None:
        path = tmp_path / "hydrants.csv"
        path.write_text("HYD_ID,STATUS,x,y\nH1,A1,383000,5776000\n")
        with pytest.raises(InvalidLayerError, match=r"no CRS.*Pass crs="):
            load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING))

    def test_load_layer_rejects_shapefile_without_prj(self, tmp_path: Path) -> None:
        path = tmp_path / "hydrants.shp"
        hydrants().to_file(path)
        path.with_suffix(".prj").unlink()
        with pytest.raises(InvalidLayerError, match="no CRS"):
            load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING))
        gdf, _ = load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING), crs=WGS84)
        assert len(gdf) == 3

    def test_load_layer_rejects_conflicting_crs(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, hydrants())
        with pytest.raises(LayerError, match="states EPSG:4326 but crs='EPSG:26913'"):
            load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING), crs="EPSG:26913")

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("HYD_ID,STATUS,lon,lat\nH1,A1,abc,52.1\n", "non-numeric lon/lat"),
            ("HYD_ID,STATUS,wkt\nH1,A1,POINT (1\n", "not WKT"),
            ("HYD_ID,STATUS,where\nH1,A1,here\n", "no coordinate columns"),
        ],
    )
    def test_load_layer_rejects_bad_csv(self, tmp_path: Path, text: str, match: str) -> None:
        path = tmp_path / "hydrants.csv"
        path.write_text(text)
        with pytest.raises(LayerError, match=match):
            load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING), crs=WGS84)

    def test_load_layer_rejects_bad_values(self, tmp_path: Path) -> None:
        frame = gpd.GeoDataFrame(
            {"ID": ["V1", "V2"], "OPER": ["yes", "perhaps"]},
            geometry=[Point(LON, LAT)] * 2,
            crs=WGS84,
        )
        mapping = parse_mapping(
            {"layers": {"valves": {"columns": {"ID": "asset_id", "OPER": "operable"}}}}
        )
        with pytest.raises(InvalidLayerError, match=r"1 values of operable.*'perhaps'"):
            load_layer("valves", self.write(tmp_path, frame), mapping)

    @pytest.mark.parametrize(
        ("layer", "match"), [("nothere", r"Its layers: hydrants"), (None, None)]
    )
    def test_load_layer_rejects_missing_layer(
        self, tmp_path: Path, layer: str | None, match: str | None
    ) -> None:
        path = self.write(tmp_path, hydrants())
        if match is None:
            with pytest.raises(LayerError, match="does not exist"):
                load_layer("hydrants", tmp_path / "nope.gpkg", parse_mapping(HYDRANT_MAPPING))
            return
        with pytest.raises(LayerError, match=match):
            load_layer("hydrants", path, parse_mapping(HYDRANT_MAPPING), layer=layer)

    def test_load_layer_rejects_folder_without_file(self, tmp_path: Path) -> None:
        with pytest.raises(LayerError, match="names no file"):
            load_layer("hydrants", tmp_path, "demo")


class TestValidateLayer:
    def test_validate_layer_repairs_bowtie_polygon(self) -> None:
        bowtie = Polygon([(0, 0), (20, 20), (20, 0), (0, 20), (0, 0)])
        square = Polygon([(0, 0), (20, 0), (20, 20), (0, 20)])
        gdf = gpd.GeoDataFrame(
            {"asset_id": ["P1", "P2"]}, geometry=[bowtie, square], crs="EPSG:26913"
        )
        gdf = gdf.set_geometry(gdf.geometry.translate(383000, 5776000))
        fixed, report = validate_layer("service_connections", gdf)
        assert report.ok
        issue = report.find("repaired_geometry")
        assert issue is not None
        assert issue.first_ids == ("P1",)
        assert fixed.geometry.is_valid.all()
        assert fixed.to_crs("EPSG:26913").area.iloc[0] == pytest.approx(200.0)

    def test_validate_layer_unwraps_single_part_multilines(self) -> None:
        line = MultiLineString([[(LON, LAT), (LON + 0.001, LAT)]])
        fixed, report = validate_layer("sewer_mains", canonical_mains([("M1", line)]))
        assert report.find("repaired_multipart").count == 1
        assert fixed.geom_type.tolist() == ["LineString"]

    def test_validate_layer_explodes_multiparts_with_suffixed_ids(self) -> None:
        line = MultiLineString(
            [[(LON, LAT), (LON + 0.001, LAT)], [(LON, LAT + 0.01), (LON + 0.001, LAT + 0.01)]]
        )
        fixed, report = validate_layer("sewer_mains", canonical_mains([("M1", line)]))
        assert report.find("exploded_multipart").count == 1
        assert fixed["asset_id"].tolist() == ["M1-part1", "M1-part2"]

    def test_validate_layer_warns_outside_service_area(self) -> None:
        gdf = hydrants().rename(columns={"HYD_ID": "asset_id"})
        gdf.loc[0, "geometry"] = Point(-104.6, 50.45)  # Regina
        _, report = validate_layer("hydrants", gdf)
        assert report.ok
        assert report.find("outside_service_area").count == 1
        assert "1 of 4 features lie outside" in report.summary()

    def test_validate_layer_counts_unconnected_ends_in_metres(self) -> None:
        # two mains meeting end to end, and one 0.5 m (about 7e-6 degrees) off the second
        a = LineString([(LON, LAT), (LON + 0.001, LAT)])
        b = LineString([(LON + 0.001, LAT), (LON + 0.002, LAT)])
        c = LineString([(LON + 0.002 + 7e-6, LAT), (LON + 0.003, LAT)])
        _, report = validate_layer("sewer_mains", canonical_mains([("A", a), ("B", b), ("C", c)]))
        assert report.find("unconnected_end").count == 2  # the two far ends
        _, tight = validate_layer(
            "sewer_mains", canonical_mains([("A", a), ("B", b), ("C", c)]), end_tolerance_m=0.1
        )
        assert tight.find("unconnected_end").count == 4

    def test_validate_layer_warns_dangling_references(self) -> None:
        mains = canonical_mains([("A", LineString([(LON, LAT), (LON + 0.001, LAT)]))])
        mains["from_node"], mains["to_node"] = "MH1", "MH9"
        nodes = gpd.GeoDataFrame({"asset_id": ["MH1"]}, geometry=[Point(LON, LAT)], crs=WGS84)
        _, report = validate_layer("sewer_mains", mains, nodes=nodes)
        assert report.ok
        assert report.find("dangling_from_node") is None
        assert report.find("dangling_to_node").first_ids == ("A",)

    def test_validate_layer_rejects_missing_required_column(self) -> None:
        gdf = gpd.GeoDataFrame(
            {"asset_id": ["A"], "street": ["2nd"]}, geometry=[Point(LON, LAT)], crs=WGS84
        )
        _, report = validate_layer("addresses", gdf)
        assert not report.ok
        assert "full_address missing; present: asset_id, street" in report.summary()

    def test_validate_layer_rejects_unknown_kind(self) -> None:
        with pytest.raises(LayerError, match="unknown layer kind 'pumps'"):
            validate_layer("pumps", hydrants())

    def test_validate_layer_accepts_crs_stated_by_user(self) -> None:
        gdf = hydrants(crs=None).rename(columns={"HYD_ID": "asset_id"})
        fixed, report = validate_layer("hydrants", gdf, crs=WGS84)
        assert report.ok
        assert fixed.crs == WGS84


class TestSaskatoonLayers:
    ENTRIES: ClassVar[list[str]] = [
        "sewer_mains",
        "manholes",
        "storm_mains",
        "storm_manholes",
        "catch_basins",
        "addresses",
        "service_connections",
    ]

    @pytest.mark.parametrize("name", ENTRIES)
    def test_load_layer_accepts_real_layer(self, saskatoon_dir: Path, name: str) -> None:
        gdf, report = load_layer(name, saskatoon_dir, "saskatoon")
        kind = load_mapping("saskatoon").entry(name).kind
        assert report.ok, report.summary()
        assert len(gdf) > 100
        assert gdf["asset_id"].is_unique
        assert gdf.crs == WGS84
        assert list(gdf.columns) == [*LAYERS[kind].columns, "geometry"]

    def test_load_layer_reports_dangling_sanitary_references(self, saskatoon_dir: Path) -> None:
        manholes, _ = load_layer("manholes", saskatoon_dir, "saskatoon")
        mains, report = load_layer("sewer_mains", saskatoon_dir, "saskatoon", nodes=manholes)
        assert len(mains) == 129
        assert report.ok
        # the README's 13 are the mains whose upstream (FROMMH) manhole lies outside the cut
        assert report.find("dangling_from_node").count == 13
        assert report.find("dangling_to_node").count == 14
        assert report.find("unconnected_end").count > 0
        assert set(mains["system"]) == {"sanitary"}

    def test_load_layer_drops_parcels_without_address(self, saskatoon_dir: Path) -> None:
        addresses, _ = load_layer("addresses", saskatoon_dir, "saskatoon")
        parcels = gpd.read_file(saskatoon_dir / "parcels.geojson")
        assert len(addresses) == int((parcels["FullAddress"] != "N/A").sum())
        assert (addresses.geom_type == "Point").all()
        assert "243 2nd Ave S" in set(addresses["full_address"])

    def test_load_layer_keeps_only_active_features(
        self, tmp_path: Path, saskatoon_dir: Path
    ) -> None:
        source = gpd.read_file(saskatoon_dir / "sanitary_manholes.geojson")
        source.loc[:9, "STATUS"] = "D3"
        source.to_file(tmp_path / "sanitary_manholes.geojson", driver="GeoJSON")
        gdf, _ = load_layer("manholes", tmp_path, "saskatoon")
        assert len(gdf) == len(source) - 10
        assert pd.api.types.is_float_dtype(gdf["rim_m"])
