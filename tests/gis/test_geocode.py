"""Offline geocoding: normalisation, exact and fuzzy matches, reverse, real parcels."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from gis.errors import GeocodeError, LayerError
from gis.geocode import GeocodeMatch, Geocoder, normalise_address, split_address
from gis.layers.loading import load_layer

INJECTION = "'; DROP TABLE requests; --"

ADDRESSES = [
    ("A1", "243 2nd Ave S", -106.6654, 52.1266),
    ("A2", "243 2nd Ave N", -106.6640, 52.1320),
    ("A3", "110 Idylwyld Dr S", -106.6695, 52.1290),
    ("A4", "520 Spadina Cres E", -106.6601, 52.1255),
    ("A5", "15 23rd St E", -106.6650, 52.1300),
    ("A6", "245 2nd Ave S", -106.6654, 52.1262),
]


@pytest.fixture(scope="module")
def geocoder() -> Geocoder:
    frame = gpd.GeoDataFrame(
        {"asset_id": [a[0] for a in ADDRESSES], "full_address": [a[1] for a in ADDRESSES]},
        geometry=[Point(a[2], a[3]) for a in ADDRESSES],
        crs="EPSG:4326",
    )
    return Geocoder(frame)


@pytest.fixture(scope="module")
def saskatoon_geocoder(saskatoon_dir: Path) -> Geocoder:
    addresses, _ = load_layer("addresses", saskatoon_dir, "saskatoon")
    return Geocoder(addresses)


class TestNormaliseAddress:
    @pytest.mark.parametrize(
        "text",
        [
            "243 2nd Ave S",
            "243 2nd avenue south",
            "243 2 Ave S",
            "243 Second Avenue South",
            "  243   2ND AVE.  S. ",
            "#4-243 2nd Ave S",
            "4-243 2nd Ave S",
            "Unit 4, 243 2nd Ave S",
            "apt. 12 243 2nd Ave S",
            "243 2nd Ave S #4",
            "243 2nd Ave S, Saskatoon, SK S7K 1K9",
        ],
    )
    def test_normalise_address_meets_one_key(self, text: str) -> None:
        assert normalise_address(text) == "243 2nd ave s"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("110 Idylwyld Drive South", "110 idylwyld dr s"),
            ("520 spadina crescent east", "520 spadina cres e"),
            ("15 23 Street East", "15 23rd st e"),
            ("11 11 st w", "11 11th st w"),
            ("", ""),
            (INJECTION, "drop table requests"),
        ],
    )
    def test_normalise_address_rewrites_words(self, text: str, expected: str) -> None:
        assert normalise_address(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("243 2nd ave s", ("243", "2nd ave s", "s")),
            ("2nd ave s", (None, "2nd ave s", "s")),
            ("110 pacific ave", ("110", "pacific ave", None)),
        ],
    )
    def test_split_address_finds_parts(self, text: str, expected: tuple) -> None:
        assert split_address(text) == expected


class TestGeocode:
    @pytest.mark.parametrize(
        ("text", "asset_id", "exact"),
        [
            ("243 2nd Ave S", "A1", True),
            ("243 2nd avenue south", "A1", True),
            ("#4-243 2 Ave S", "A1", True),
            ("243 2nd Ave North", "A2", True),
            ("243 2nd Av Sth", "A1", False),
            ("110 Idylwyd Dr S", "A3", False),
            ("520 Spadina Cr E", "A4", True),
        ],
    )
    def test_geocode_finds_address(
        self, geocoder: Geocoder, text: str, asset_id: str, exact: bool
    ) -> None:
        match = geocoder.geocode(text)
        assert isinstance(match, GeocodeMatch)
        assert match.asset_id == asset_id
        assert (match.score == 100.0) is exact
        assert match.score >= geocoder.min_score

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            (INJECTION, "no address matches"),
            ("", "no address matches"),
            ("999 2nd Ave S", "no address matches"),
            ("243 2nd Ave", "two or more addresses match equally"),
            ("243 Main St", "no address matches"),
            ("2nd Ave S", "no address matches"),
        ],
    )
    def test_geocode_rejects_unmatched_text(
        self, geocoder: Geocoder, text: str, match: str
    ) -> None:
        with pytest.raises(GeocodeError, match=match) as info:
            geocoder.geocode(text)
        assert len(info.value.candidates) <= geocoder.limit

    def test_geocode_lists_closest_candidates(self, geocoder: Geocoder) -> None:
        with pytest.raises(GeocodeError, match="Closest: 24") as info:
            geocoder.geocode("244 2nd Ave S")
        names = [name for name, _ in info.value.candidates]
        assert "243 2nd Ave S" in names
        assert info.value.candidates == sorted(info.value.candidates, key=lambda c: -c[1])

    def test_geocode_many_matches_geocode(self, geocoder: Geocoder) -> None:
        texts = ["243 2nd Ave S", "110 Idylwyd Dr S", INJECTION, "243 2nd Ave", "15 23 st e"]
        many = geocoder.geocode_many(texts)
        assert [m.asset_id if m else None for m in many] == ["A1", "A3", None, None, "A5"]
        assert many[1] == geocoder.geocode(texts[1])

    @pytest.mark.parametrize(
        ("lon", "lat", "asset_id"),
        [(-106.6654, 52.1266, "A1"), (-106.6655, 52.1261, "A6"), (-106.6601, 52.1256, "A4")],
    )
    def test_reverse_finds_nearest(
        self, geocoder: Geocoder, lon: float, lat: float, asset_id: str
    ) -> None:
        match = geocoder.reverse(lon, lat)
        assert match.asset_id == asset_id
        assert match.distance_m is not None
        assert match.distance_m < 20

    def test_reverse_rejects_far_point(self, geocoder: Geocoder) -> None:
        with pytest.raises(GeocodeError, match="no address within 100 m"):
            geocoder.reverse(-106.60, 52.10, max_distance_m=100)

    def test_geocoder_rejects_layer_without_addresses(self) -> None:
        frame = gpd.GeoDataFrame({"asset_id": ["A"]}, geometry=[Point(0, 0)], crs="EPSG:4326")
        with pytest.raises(LayerError, match="needs full_address and asset_id"):
            Geocoder(frame)


class TestSaskatoonGeocode:
    @pytest.mark.parametrize(
        "text",
        [
            "243 2nd Ave S",
            "243 2nd avenue south",
            "243 2 Ave S",
            "243 Second Ave. S.",
            "Unit 3, 243 2nd Ave S, Saskatoon SK",
        ],
    )
    def test_geocode_finds_real_parcel(
        self, saskatoon_geocoder: Geocoder, saskatoon_dir: Path, text: str
    ) -> None:
        parcels = gpd.read_file(saskatoon_dir / "parcels.geojson")
        parcel = parcels[parcels["FullAddress"] == "243 2nd Ave S"]
        assert len(parcel) == 1
        match = saskatoon_geocoder.geocode(text)
        assert match.asset_id == str(parcel["SiteId"].iloc[0])
        assert parcel.geometry.iloc[0].contains(Point(match.lon, match.lat))

    def test_geocode_rejects_injection_on_real_parcels(self, saskatoon_geocoder: Geocoder) -> None:
        with pytest.raises(GeocodeError, match="no address matches"):
            saskatoon_geocoder.geocode(INJECTION)

    def test_reverse_returns_real_parcel(self, saskatoon_geocoder: Geocoder) -> None:
        match = saskatoon_geocoder.geocode("243 2nd Ave S")
        assert saskatoon_geocoder.reverse(match.lon, match.lat).full_address == "243 2nd Ave S"
