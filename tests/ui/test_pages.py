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
ASSET_KINDS = (
    "hydrants",
    "water_mains",
    "valves",
    "sewer_mains",
    "manholes",
    "streets",
    "addresses",
)

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
    address: str


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
        store.add_crew(
            crew["name"], crew["skills"], depot_lon=crew["depot_lon"], depot_lat=crew["depot_lat"]
        )

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
    store.change_status(
        tracked,
        "acknowledged",
        actor="agent",
        expected_version=request.version,
        note=PUBLIC_NOTE,
        public=True,
    )
    members = [
        store.get_request(n).id
        for n in numbers
        if store.get_request(n).service_code == "water_outage"
    ]
    first = city.layers["water_mains"].iloc[:3].to_crs(settings.metric_crs).buffer(80)
    area = mapping(first.to_crs(4326).union_all())
    incident = store.create_incident(
        "water_outage",
        group_key="test",
        request_ids=members,
        priority=5.0,
        customers_affected=42,
        area_geojson=json.dumps(area),
    )
    resolved = numbers[3]
    request = store.get_request(resolved)
    store.change_status(resolved, "resolved", actor="crew", expected_version=request.version)
    store.close()
    address = str(city.layers["addresses"]["full_address"].iloc[10])
    return UiStore(url, tmp_path, tracked, resolved, incident.code, address)


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


def open_page(page: str):
    """Run the app once, switch to a page and run it."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at.switch_page(page).run()


def page_text(at) -> str:
    """Return every visible text of a page run, joined."""
    parts = []
    for kind in (
        "title",
        "subheader",
        "markdown",
        "text",
        "caption",
        "success",
        "info",
        "warning",
        "error",
        "metric",
    ):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("page", PUBLIC + STAFF)
def test_page_renders_without_exception(app_env: UiStore, page: str) -> None:
    at = open_page(page)
    assert not at.exception, at.exception
    assert at.title, f"{page} shows no title"


def everything(at) -> str:
    """Return the protobuf text of every element the run produced, sidebar included."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        stack.extend(getattr(node, "children", {}).values())
    return "\n".join(out)


def widget(elements, label: str):
    """Return the one widget of a list with this label."""
    found = [w for w in elements if w.label == label]
    assert len(found) == 1, f"expected one widget labelled {label!r}, got {len(found)}"
    return found[0]


def assert_no_reporter_data(text: str) -> None:
    """Fail if any of the test reporter's details appear."""
    for value in REPORTER.values():
        assert value not in text, f"reporter data {value!r} on a public page"


class TestReportPage:
    def test_submit_report_shows_tracking_number(self, app_env: UiStore) -> None:
        from crm.store import Store

        at = open_page("ui/report.py")
        widget(at.text_area, "What is happening?").input("Water bubbling up on the road")
        widget(at.text_input, "Address or nearest intersection").input(app_env.address)
        widget(at.text_input, "Phone").input("306-555-0111")
        widget(at.button, "Send report").click()
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        shown = at.success[0].value
        assert "tracking number" in shown
        number = shown.split("**")[1]
        store = Store(app_env.url)
        assert store.get_request(number).description == "Water bubbling up on the road"
        store.close()

    def test_submit_without_location_shows_field_error(self, app_env: UiStore) -> None:
        at = open_page("ui/report.py")
        widget(at.text_area, "What is happening?").input("No water since this morning")
        widget(at.button, "Send report").click()
        at.run()
        assert not at.exception, at.exception
        assert at.error, "a report with no address and no point must be refused"
        assert not at.success


class TestTrackPage:
    def track(self, typed: str):
        at = open_page("ui/track.py")
        at.text_input(key="track_number").input(typed)
        widget(at.button, "Track").click()
        return at.run()

    def test_track_shows_status_and_public_notes_only(self, app_env: UiStore) -> None:
        at = self.track(app_env.tracked)
        assert not at.exception, at.exception
        text = everything(at)
        assert "Acknowledged" in text
        assert PUBLIC_NOTE in text
        assert INTERNAL_NOTE not in text
        assert "agent" not in page_text(at)
        assert_no_reporter_data(text)

    def test_track_is_forgiving_of_case_and_spaces(self, app_env: UiStore) -> None:
        typed = " " + app_env.tracked.lower().replace("-", " ") + " "
        at = self.track(typed)
        assert not at.error, [e.value for e in at.error]
        assert app_env.tracked in page_text(at)

    def test_mistyped_number_suggests_the_stored_one(self, app_env: UiStore) -> None:
        from crm.tracking import ALPHABET

        first = app_env.tracked[0]
        slipped = ALPHABET[(ALPHABET.index(first) + 1) % len(ALPHABET)] + app_env.tracked[1:]
        at = self.track(slipped)
        assert at.error, "a mistyped number must say so"
        assert f"Did you mean {app_env.tracked}?" in at.error[0].value
        widget(at.button, f"Track {app_env.tracked}").click()
        at.run()
        assert not at.error
        assert PUBLIC_NOTE in everything(at)

    def test_unknown_number_says_not_found(self, app_env: UiStore) -> None:
        from crm.tracking import format_number, new_number

        at = self.track(format_number(new_number()))
        assert not at.exception, at.exception
        assert "no request has the tracking number" in at.warning[0].value

    def test_garbage_is_refused_without_echoing_markup(self, app_env: UiStore) -> None:
        at = self.track("<script>alert(1)</script>")
        assert not at.exception, at.exception
        assert "<script>" not in page_text(at)

    def test_resolved_request_offers_rating_once(self, app_env: UiStore) -> None:
        at = self.track(app_env.resolved)
        widget(at.button, "Send rating").click()
        at.run()
        assert "Thank you for your rating." in [s.value for s in at.success]
        widget(at.button, "Send rating").click()
        at.run()
        assert "already been rated" in at.warning[0].value


class TestOutagePage:
    def test_outage_page_lists_incident_without_reporter_data(self, app_env: UiStore) -> None:
        at = open_page("ui/outage.py")
        assert not at.exception, at.exception
        assert app_env.incident in at.dataframe[0].value["incident"].tolist()
        text = everything(at)
        assert_no_reporter_data(text)
        assert "Problem number" not in text, "descriptions must stay off the public map"


class TestStaffPages:
    def test_staff_pages_warn_when_unprotected(self, app_env: UiStore) -> None:
        for page in STAFF:
            at = open_page(page)
            assert any("unprotected" in w.value for w in at.warning), page

    def test_staff_pages_locked_with_passcode(
        self, app_env: UiStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from streamlit.testing.v1 import AppTest

        monkeypatch.setenv("WATERDESK_STAFF_PASSCODE", "s3cret-pass")
        at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
        for page in STAFF:
            with pytest.raises(ValueError, match="navigation page"):
                at.switch_page(page)

        # a wrong passcode keeps them closed, the right one opens them
        at.text_input(key="staff_passcode_typed").input("guess")
        widget(at.button, "Open staff pages").click()
        at.run()
        assert any("not right" in e.value for e in at.error)
        at.text_input(key="staff_passcode_typed").input("s3cret-pass")
        widget(at.button, "Open staff pages").click()
        at.run()
        at.switch_page("ui/intake.py").run()
        assert not at.exception, at.exception
        assert at.title[0].value == "Take a report"
        assert not any("unprotected" in w.value for w in at.warning)

    def test_staff_page_run_directly_stops_without_passcode(
        self, app_env: UiStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from streamlit.testing.v1 import AppTest

        monkeypatch.setenv("WATERDESK_STAFF_PASSCODE", "s3cret-pass")
        at = AppTest.from_file(str(PROJECT_ROOT / "ui" / "intake.py"), default_timeout=TIMEOUT)
        at.run()
        assert "for utility staff" in at.error[0].value
        assert not at.tabs

    def test_agent_takes_phone_report_and_reads_number_back(self, app_env: UiStore) -> None:
        at = open_page("ui/intake.py")
        widget(at.text_area, "What the caller describes").input("Hydrant knocked over")
        widget(at.text_input, "Address or intersection").input(app_env.address)
        widget(at.text_input, "Name").input("Caller Person")
        widget(at.button, "Create tracking number").click()
        at.run()
        assert not at.exception, at.exception
        number = at.success[0].value.split("**")[1]
        assert any(t.value.startswith("Read back: ") for t in at.text)

        # where is my job: staff see the contact details and the internal trail
        at.text_input(key="intake_lookup").input(app_env.tracked)
        widget(at.button, "Look up").click()
        at.run()
        text = everything(at)
        assert REPORTER["phone"] in text
        assert INTERNAL_NOTE in text
        assert number

    def test_dispatcher_moves_incident_and_sees_conflict(self, app_env: UiStore) -> None:
        from crm.store import Store

        at = open_page("ui/dispatch.py")
        assert app_env.incident in at.dataframe[0].value["incident"].tolist()
        store = Store(app_env.url)
        incident = store.get_incident(app_env.incident)

        # someone else moves the incident after this page read it
        target = at.selectbox(key="dispatch_target").value
        store.change_incident_status(
            incident.code, target, actor="other", expected_version=incident.version
        )
        widget(at.button, f"Update (based on version {incident.version})").click()
        at.run()
        assert any("Reload it and decide again" in e.value for e in at.error)

        # after the reload the move goes through
        fresh = store.get_incident(app_env.incident)
        at.selectbox(key="dispatch_target").select(TRANSITIONS_OK[fresh.status])
        widget(at.button, f"Update (based on version {fresh.version})").click()
        at.run()
        assert any("is now" in s.value for s in at.success)
        assert store.get_incident(app_env.incident).version == fresh.version + 1
        store.close()

    def test_dispatcher_merges_another_incident_in(self, app_env: UiStore) -> None:
        from crm.intake import Report, submit_report
        from crm.store import Store

        store = Store(app_env.url)
        kept = store.get_incident(app_env.incident)
        extra = submit_report(
            store, Report(kept.service_code, "phone", "same fault", lat=52.13, lon=-106.66)
        )
        other = store.create_incident(
            kept.service_code, group_key=None, request_ids=[extra.request.id]
        )

        at = open_page("ui/dispatch.py")
        at.selectbox(key="dispatch_incident").select(kept.code)
        at.run()
        at.text_input(key="dispatch_merge_other").input(other.code)
        widget(at.button, "Merge").click()
        at.run()
        assert not at.exception, at.exception
        assert any(f"{other.code} merged into {kept.code}" in s.value for s in at.success), [
            e.value for e in at.error
        ]
        assert store.get_incident(other.code).status == "cancelled"
        assert store.get_request(extra.number).incident_id == kept.id
        store.close()

    def test_dispatcher_gives_incident_to_a_crew(self, app_env: UiStore) -> None:
        from crm.store import Store

        store = Store(app_env.url)
        incident = store.get_incident(app_env.incident)
        at = open_page("ui/dispatch.py")
        at.selectbox(key="dispatch_incident").select(incident.code)
        at.run()
        crew = at.selectbox(key="dispatch_crew").value
        widget(at.button, "Assign and dispatch").click()
        at.run()
        assert not at.exception, at.exception
        assert any(f"is with {crew}" in s.value for s in at.success), [e.value for e in at.error]
        assigned = store.get_incident(incident.code)
        assert assigned.crew_id is not None
        assert assigned.status == "dispatched"
        store.close()

    def test_manager_page_exports_without_contact_details(self, app_env: UiStore) -> None:
        from crm.store import Store
        from ui.manager import export_csv, requests_frame

        at = open_page("ui/manager.py")
        assert not at.exception, at.exception
        assert at.get("download_button")
        store = Store(app_env.url)
        csv = export_csv(requests_frame(store.list_requests(limit=None), {})).decode()
        store.close()
        assert app_env.tracked in csv
        assert_no_reporter_data(csv)
        assert "Problem number" not in csv


TRANSITIONS_OK = {"acknowledged": "dispatched", "dispatched": "in_progress", "new": "acknowledged"}
