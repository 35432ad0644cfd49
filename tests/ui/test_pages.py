"""AppTest for every Streamlit page: it renders, and shows only what its audience may see."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from shapely.geometry import mapping

from tests.conftest import PROJECT_ROOT, make_settings

APP = str(PROJECT_ROOT / "app.py")
TIMEOUT = 30
PUBLIC = ["ui/report.py", "ui/track.py", "ui/outage.py"]
STAFF = ["ui/intake.py", "ui/dispatch.py", "ui/manager.py"]
ASSET_KINDS = ("hydrants", "water_mains", "valves", "sewer_mains", "manholes", "streets")

REPORTER = {"name": "Quentin Zabriskie", "phone": "306-555-0199", "email": "qz@example.ca"}
INTERNAL_NOTE = "internal: crew says caller was rude"
PUBLIC_NOTE = "Crew is on the way"


@dataclass(frozen=True)
class UiStore:
    """A small store for the page tests, and the facts the tests check against."""

    url: str
    data_dir: Path
    tracked: str
    resolved: str
    incident: str


def build_ui_store(tmp_path: Path) -> UiStore:
    """Build a store with demo layers, a dozen reports, notes and one incident.

    Parameters
    ----------
    tmp_path
        A private folder; the store is ``ui.db`` in it.
    """
    from crm.assets import save_layer
    from crm.intake import Report, submit_report
    from crm.store import Contact, Store
    from data.democity import generate_city

    settings = make_settings(tmp_path)
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    store = Store(url, settings)
    city = generate_city(seed=7, scale=0.25)
    for kind in ASSET_KINDS:
        save_layer(store, kind, city.layers[kind], source="demo")
    for crew in city.crews:
        store.add_crew(crew["name"], crew["skills"], depot_lon=crew["depot_lon"],
                       depot_lat=crew["depot_lat"])

    # a dozen open reports around the demo city, each with a reporter's contact
    mains = city.layers["water_mains"].to_crs(settings.metric_crs).centroid.to_crs(4326)
    numbers = []
    for i in range(12):
        point = mains.iloc[i * 5]
        code = ("water_outage", "hydrant_issue", "sewer_backup", "sewer_locate")[i % 4]
        receipt = submit_report(
            store,
            Report(
                service_code=code,
                channel=("online", "phone", "counter")[i % 3],
                description=f"Problem number {i} near the corner",
                lat=point.y,
                lon=point.x,
                address=f"{100 + i} Test Street",
                contact=Contact(**REPORTER),
            ),
        )
        numbers.append(receipt.number)

    # notes, one incident of three water outages, and a resolved request to rate
    tracked = numbers[0]
    store.add_note(tracked, INTERNAL_NOTE, actor="agent", public=False)
    request = store.get_request(tracked)
    store.change_status(tracked, "acknowledged", actor="agent",
                        expected_version=request.version, note=PUBLIC_NOTE, public=True)
    members = [store.get_request(n).id for n in numbers if store.get_request(n).service_code
               == "water_outage"]
    first = city.layers["water_mains"].iloc[:3].to_crs(settings.metric_crs).buffer(80)
    area = mapping(first.to_crs(4326).union_all())
    incident = store.create_incident("water_outage", group_key="test", request_ids=members,
                                     priority=5.0, customers_affected=42,
                                     area_geojson=json.dumps(area))
    resolved = numbers[3]
    request = store.get_request(resolved)
    store.change_status(resolved, "resolved", actor="crew", expected_version=request.version)
    store.close()
    return UiStore(url, tmp_path, tracked, resolved, incident.code)


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    """One store for every page test of this module."""
    return build_ui_store(tmp_path_factory.mktemp("ui"))


@pytest.fixture
def app_env(ui_store: UiStore, monkeypatch: pytest.MonkeyPatch) -> UiStore:
    """Point the app at the test store, with no staff passcode."""
    monkeypatch.setenv("WATERDESK_DATABASE_URL", ui_store.url)
    monkeypatch.setenv("WATERDESK_DATA_DIR", str(ui_store.data_dir))
    monkeypatch.delenv("WATERDESK_STAFF_PASSCODE", raising=False)
    return ui_store


def open_page(page: str):  # noqa: ANN201
    """Run the app once, switch to a page and run it."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at.switch_page(page).run()


def page_text(at) -> str:  # noqa: ANN001
    """Return every visible text of a page run, joined."""
    parts = []
    for kind in ("title", "subheader", "markdown", "text", "caption", "success", "info",
                 "warning", "error", "metric"):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("page", PUBLIC + STAFF)
def test_page_renders_without_exception(app_env: UiStore, page: str) -> None:
    at = open_page(page)
    assert not at.exception, at.exception
    assert at.title, f"{page} shows no title"
