"""String checks on the Leaflet HTML the map builders generate: local assets, layers, privacy."""

from __future__ import annotations

import re
from pathlib import Path

import folium
import pytest

from tests.ui.test_pages import REPORTER, UiStore, build_ui_store

# any absolute URL in a src or href attribute, or in a url(...) of inline css
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//(?!localhost|127\.0\.0\.1)""")


@pytest.fixture(scope="module")
def city_store(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    """The page tests' store, built once for this module."""
    return build_ui_store(tmp_path_factory.mktemp("maps"))


@pytest.fixture(scope="module")
def layers(city_store: UiStore) -> dict:
    """The stored layers the maps draw."""
    from crm.assets import read_layer
    from crm.store import Store

    store = Store(city_store.url)
    kinds = ("hydrants", "water_mains", "valves", "sewer_mains", "manholes", "streets")
    found = {k: read_layer(store, k) for k in kinds}
    store.close()
    return found


@pytest.fixture(scope="module")
def open_items(city_store: UiStore) -> tuple[list, list]:
    """The open requests and incidents of the store."""
    from crm.lifecycle import OPEN_STATUSES
    from crm.store import Store

    store = Store(city_store.url)
    requests = store.list_requests(status=sorted(OPEN_STATUSES), limit=None)
    incidents = store.list_incidents(status="open")
    store.close()
    return requests, incidents


NAMES = {"water_outage": "Water outage", "hydrant_issue": "Hydrant issue"}


def render(fmap: folium.Map) -> str:
    """Return the map's full HTML page."""
    return fmap.get_root().render()


def public_map(layers: dict, open_items: tuple[list, list]) -> folium.Map:
    from ui.maps import add_incident_areas, add_requests, base_map, bounds_of, finish_map

    requests, incidents = open_items
    fmap = base_map(bounds_of([layers["streets"]]), streets=layers["streets"])
    add_incident_areas(fmap, incidents, NAMES)
    add_requests(fmap, requests, NAMES, public=True)
    return finish_map(fmap)


def staff_map(layers: dict, open_items: tuple[list, list]) -> folium.Map:
    from ui.dispatch import dispatch_map

    requests, incidents = open_items
    return dispatch_map(layers, requests, incidents, NAMES, (0.0, 0.0, 1.0, 1.0))


class TestAssets:
    @pytest.mark.parametrize("builder", [public_map, staff_map])
    def test_map_loads_no_remote_assets(self, builder, layers, open_items) -> None:
        from ui.assets import VENDOR_URL, remote_urls

        page = render(builder(layers, open_items))
        assert remote_urls(page) == []
        assert not REMOTE.search(page)
        assert f'src="{VENDOR_URL}/leaflet/leaflet.js"' in page
        assert f'href="{VENDOR_URL}/leaflet/leaflet.css"' in page
        assert "tile.openstreetmap" not in page
        assert "L.tileLayer" not in page

    def test_heatmap_uses_vendored_plugin(self, layers) -> None:
        from ui.assets import VENDOR_URL, remote_urls
        from ui.maps import bounds_of, heat_map

        page = render(heat_map([(52.13, -106.66)] * 4, bounds_of([layers["streets"]])))
        assert remote_urls(page) == []
        assert f"{VENDOR_URL}/leaflet.heat/leaflet-heat.js" in page
        assert "L.heatLayer" in page

    def test_unvendored_plugin_is_refused(self) -> None:
        from folium.plugins import MarkerCluster

        from ui.assets import use_local_assets

        fmap = folium.Map(tiles=None)
        MarkerCluster().add_to(fmap)
        with pytest.raises(ValueError, match="not vendored"):
            use_local_assets(fmap)

    def test_vendored_files_are_in_place(self) -> None:
        from ui.assets import VENDOR_DIR, missing_assets

        assert missing_assets() == [], (
            f"run `npm ci --omit=dev && scripts/vendor-assets.sh` to fill {VENDOR_DIR}"
        )

    def test_streamlit_folium_gets_only_local_links(self, layers, open_items) -> None:
        # the same walk streamlit-folium does to collect the links it loads in its iframe
        from streamlit_folium import _get_header

        fmap = staff_map(layers, open_items)
        links = []
        stack = [fmap]
        while stack:
            element = stack.pop()
            links += [u for _, u in getattr(element, "default_js", [])]
            links += [u for _, u in getattr(element, "default_css", [])]
            stack.extend(element._children.values())
        assert links
        assert all(u.startswith("../ui.assets.vendor/") for u in links), links
        assert not re.search(r"(?:https?:)?//(?!localhost|127\.0\.0\.1)", _get_header(fmap))


class TestLayers:
    def test_staff_map_has_every_asset_layer(self, layers, open_items) -> None:
        page = render(staff_map(layers, open_items))
        for label in (
            "Water mains",
            "Sewer mains",
            "Valves",
            "Hydrants",
            "Manholes",
            "Streets",
            "Open requests",
            "Affected areas",
        ):
            assert f'"{label}"' in page, f"layer {label} missing from the layer control"
        assert "L.control.layers" in page
        assert "L.circleMarker" in page
        assert "HYD-" in page or "asset_id" in page

    def test_public_map_draws_incident_area_and_requests(self, layers, open_items) -> None:
        requests, incidents = open_items
        page = render(public_map(layers, open_items))
        assert incidents[0].code in page
        assert page.count("L.circleMarker") >= len([r for r in requests if r.lat is not None])


class TestPrivacy:
    def test_public_map_has_no_reporter_data(self, layers, open_items) -> None:
        page = render(public_map(layers, open_items))
        for value in REPORTER.values():
            assert value not in page
        assert "Problem number" not in page, "descriptions stay off the public map"

    def test_public_map_has_no_tracking_numbers(self, layers, open_items) -> None:
        requests, _ = open_items
        page = render(public_map(layers, open_items))
        for request in requests:
            assert request.number not in page

    def test_public_map_coarsens_positions(self, layers, open_items) -> None:
        requests, _ = open_items
        page = render(public_map(layers, open_items))
        exact = [r for r in requests if r.lat is not None]
        assert not any(f"{r.lat}" in page and len(f"{r.lat}") > 8 for r in exact)

    def test_labels_are_escaped(self) -> None:
        from datetime import UTC, datetime

        from crm.store import Request
        from ui.maps import request_label

        now = datetime.now(UTC)
        request = Request(
            id=1,
            tracking="0000000000",
            service_code="<b>x</b>",
            channel="online",
            description="",
            address=None,
            lon=None,
            lat=None,
            location_source="pending",
            asset_layer=None,
            asset_id=None,
            snap_distance_m=None,
            is_flagged=False,
            flag_reason=None,
            attributes={},
            status="new",
            version=1,
            incident_id=None,
            duplicate_of=None,
            expected_at=None,
            created_at=now,
            updated_at=now,
            resolved_at=None,
        )
        assert "<b>" not in request_label(request, {}, public=True)


def test_bounds_of_refuses_nothing() -> None:
    from ui.maps import bounds_of

    with pytest.raises(ValueError, match="nothing to bound"):
        bounds_of([])


def test_paths_exist() -> None:
    assert Path(__file__).resolve().parents[2].joinpath("package.json").is_file()
