"""The store contract, run on SQLite and on PostGIS alike."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from crm import tracking
from crm.errors import (
    ConflictError,
    FeedbackError,
    NotFoundError,
    TrackingNumberError,
    TransitionError,
)
from crm.intake import Report, submit_report
from crm.store import Contact, Store, utc_now

INJECTIONS = [
    "'; DROP TABLE requests; --",
    "1' OR '1'='1",
    '" OR 1=1 --',
    "Robert'); DELETE FROM events; --",
]


def _report(**overrides: object) -> Report:
    values: dict[str, object] = {
        "service_code": "water_outage",
        "channel": "phone",
        "description": "No water since this morning",
        "lat": 52.1300,
        "lon": -106.6600,
        "contact": Contact("Pat Example", "306-555-0199", "pat@example.ca"),
    }
    values.update(overrides)
    return Report(**values)  # type: ignore[arg-type]


class TestRequests:
    def test_submit_stores_request_contact_and_first_event(self, store: Store) -> None:
        receipt = submit_report(store, _report())

        request = store.get_request(receipt.number)
        assert request.status == "new"
        assert request.version == 1
        assert tracking.is_valid(request.tracking)
        assert store.contact_for(receipt.number) == Contact(
            "Pat Example", "306-555-0199", "pat@example.ca"
        )
        events = store.events_for(receipt.number)
        assert [(e.from_status, e.to_status) for e in events] == [(None, "new")]

    def test_request_record_holds_no_contact_fields(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        fields = {f.name for f in dataclasses.fields(store.get_request(receipt.number))}
        assert not fields & {"name", "phone", "email"}

    def test_get_forgives_lowercase_and_spaces(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        typed = " ".join(receipt.request.tracking.lower())
        assert store.get_request(typed).id == receipt.request.id

    def test_get_unknown_number_says_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError, match="no request has the tracking number"):
            store.get_request(tracking.new_number())

    def test_get_mistyped_number_suggests_the_one_stored_number(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        number = receipt.request.tracking
        slipped = number[:4] + ("Z" if number[4] != "Z" else "Y") + number[5:]
        with pytest.raises(TrackingNumberError, match="Did you mean") as caught:
            store.get_request(slipped)
        assert caught.value.suggestion == receipt.number

    def test_get_swapped_number_suggests_the_one_stored_number(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        n = receipt.request.tracking
        i = next(i for i in range(9) if n[i] != n[i + 1])
        swapped = n[:i] + n[i + 1] + n[i] + n[i + 2 :]
        with pytest.raises(TrackingNumberError) as caught:
            store.get_request(swapped)
        assert caught.value.suggestion == receipt.number

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_injection_in_lookup_is_refused_not_executed(self, store: Store, text: str) -> None:
        submit_report(store, _report())
        with pytest.raises(TrackingNumberError):
            store.get_request(text)
        assert store.count_requests() == 1

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_injection_in_text_fields_is_stored_verbatim(self, store: Store, text: str) -> None:
        receipt = submit_report(
            store,
            _report(
                description=text,
                address=text,
                contact=Contact(text, None, None),
                idempotency_key=text,
            ),
        )
        request = store.get_request(receipt.number)
        assert request.description == text
        assert request.address == text
        assert store.contact_for(receipt.number) == Contact(text, None, None)
        assert store.count_requests() == 1

    def test_list_filters_by_status_service_time_and_box(self, store: Store) -> None:
        a = submit_report(store, _report())
        b = submit_report(store, _report(service_code="hydrant_issue", lat=52.16, lon=-106.60))
        store.change_status(b.number, "cancelled", actor="agent", expected_version=1)

        assert [r.id for r in store.list_requests(status="open")] == [a.request.id]
        assert [r.id for r in store.list_requests(status="closed")] == [b.request.id]
        hydrants = store.list_requests(service_codes=["hydrant_issue"])
        assert [r.id for r in hydrants] == [b.request.id]
        boxed = store.list_requests(bbox=(-106.67, 52.12, -106.65, 52.14))
        assert [r.id for r in boxed] == [a.request.id]
        later = store.list_requests(since=utc_now() + timedelta(minutes=1))
        assert later == []

    def test_list_pages_without_overlap(self, store: Store) -> None:
        for _ in range(5):
            submit_report(store, _report())
        first = store.list_requests(limit=2, offset=0)
        second = store.list_requests(limit=2, offset=2)
        assert len(first) == len(second) == 2
        assert not {r.id for r in first} & {r.id for r in second}


class TestIdempotency:
    def test_retry_with_same_key_returns_first_number(self, store: Store) -> None:
        first = submit_report(store, _report(idempotency_key="client-42"))
        again = submit_report(store, _report(idempotency_key="client-42", description="x"))
        assert again.replayed
        assert again.number == first.number
        assert store.count_requests() == 1

    def test_different_keys_make_different_requests(self, store: Store) -> None:
        a = submit_report(store, _report(idempotency_key="a"))
        b = submit_report(store, _report(idempotency_key="b"))
        assert a.number != b.number


class TestLifecycle:
    def test_full_path_records_every_change(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        path = ["acknowledged", "dispatched", "in_progress", "resolved", "closed"]
        for version, status in enumerate(path, start=1):
            store.change_status(
                receipt.number,
                status,
                actor="disp",
                expected_version=version,
                note=f"to {status}",
                public=status != "dispatched",
            )
        events = store.events_for(receipt.number)
        assert [e.to_status for e in events] == ["new", *path]
        public = store.events_for(receipt.number, public_only=True)
        assert "dispatched" not in [e.to_status for e in public]

    def test_illegal_transition_names_current_and_allowed(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        with pytest.raises(TransitionError, match=r"from new to closed.*acknowledged"):
            store.change_status(receipt.number, "closed", actor="d", expected_version=1)
        assert store.get_request(receipt.number).status == "new"

    def test_unknown_status_is_refused(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        with pytest.raises(TransitionError, match="unknown status 'done'"):
            store.change_status(receipt.number, "done", actor="d", expected_version=1)

    def test_reopen_within_window(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        store.change_status(receipt.number, "resolved", actor="d", expected_version=1)
        again = store.change_status(
            receipt.number, "acknowledged", actor="d", expected_version=2, note="still no water"
        )
        assert again.status == "acknowledged"
        assert again.resolved_at is None

    def test_reopen_after_window_is_refused(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        long_ago = utc_now() - timedelta(days=store.settings.reopen_days + 1)
        store.change_status(receipt.number, "resolved", actor="d", expected_version=1, at=long_ago)
        with pytest.raises(TransitionError, match="more than 14 days ago"):
            store.change_status(receipt.number, "acknowledged", actor="d", expected_version=2)

    def test_stale_version_gets_conflict_naming_who_and_when(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        store.change_status(receipt.number, "acknowledged", actor="alice", expected_version=1)
        with pytest.raises(ConflictError, match="changed by alice at") as caught:
            store.change_status(receipt.number, "cancelled", actor="bob", expected_version=1)
        assert caught.value.current_version == 2
        assert store.get_request(receipt.number).status == "acknowledged"

    def test_events_are_append_only(self, store: Store) -> None:
        submit_report(store, _report())
        with pytest.raises(Exception, match="append-only"), store.transaction() as tx:
            tx.execute("UPDATE events SET note = 'rewritten'")
        with pytest.raises(Exception, match="append-only"), store.transaction() as tx:
            tx.execute("DELETE FROM events")


class TestFeedback:
    def test_rate_once_after_resolution(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        with pytest.raises(FeedbackError, match="once it is resolved"):
            store.add_feedback(receipt.number, 5)
        store.change_status(receipt.number, "resolved", actor="d", expected_version=1)
        store.add_feedback(receipt.number, 4, "quick fix")
        with pytest.raises(FeedbackError, match="already been rated"):
            store.add_feedback(receipt.number, 5)
        assert store.feedback_summary() == {"count": 1.0, "mean": 4.0}

    @pytest.mark.parametrize("rating", [0, 6, 3.5, "5", True])
    def test_reject_rating_outside_one_to_five(self, store: Store, rating: object) -> None:
        receipt = submit_report(store, _report())
        store.change_status(receipt.number, "resolved", actor="d", expected_version=1)
        with pytest.raises(FeedbackError, match="from 1 to 5"):
            store.add_feedback(receipt.number, rating)  # type: ignore[arg-type]


class TestIncidents:
    def test_incident_status_moves_every_member(self, store: Store) -> None:
        receipts = [submit_report(store, _report()) for _ in range(3)]
        incident = store.create_incident(
            "water_outage",
            group_key="segment:1",
            request_ids=[r.request.id for r in receipts],
        )
        store.change_incident_status(incident.code, "dispatched", actor="disp", expected_version=1)
        for receipt in receipts:
            request = store.get_request(receipt.number)
            assert request.status == "dispatched"
            assert store.events_for(receipt.number)[-1].actor == "disp"

    def test_stale_incident_update_is_refused(self, store: Store) -> None:
        receipt = submit_report(store, _report())
        incident = store.create_incident(
            "water_outage", group_key=None, request_ids=[receipt.request.id]
        )
        store.change_incident_status(incident.id, "acknowledged", actor="a", expected_version=1)
        with pytest.raises(ConflictError, match="changed after you read version 1"):
            store.change_incident_status(incident.id, "dispatched", actor="b", expected_version=1)

    def test_mark_duplicate_points_to_original(self, store: Store) -> None:
        a = submit_report(store, _report())
        b = submit_report(store, _report())
        dup = store.mark_duplicate(b.number, a.number, actor="disp", expected_version=1)
        assert dup.status == "duplicate"
        assert dup.duplicate_of == a.request.id


class TestCrews:
    def test_add_and_list(self, store: Store) -> None:
        store.add_crew("Water 1", ["water"], depot_lon=-106.66, depot_lat=52.13)
        assert [c.name for c in store.list_crews()] == ["Water 1"]

    def test_reject_duplicate_name_and_unknown_skill(self, store: Store) -> None:
        store.add_crew("Water 1", ["water"])
        with pytest.raises(ValueError, match="exists already"):
            store.add_crew("Water 1", ["sewer"])
        with pytest.raises(ValueError, match="unknown skills"):
            store.add_crew("Odd", ["welding"])
