"""A dispatcher's corrections: merge, split, move and the versions they are based on."""

from __future__ import annotations

import pytest

from crm.errors import ConflictError, TransitionError
from crm.incidents import assign_crew, merge_incidents, move_request, split_incident
from crm.intake import Report, submit_report
from crm.store import Incident, Store


def _incident(store: Store, count: int, service: str = "water_outage") -> Incident:
    ids = [
        submit_report(store, Report(service, "phone", "x", lat=52.13, lon=-106.66)).request.id
        for _ in range(count)
    ]
    return store.create_incident(service, group_key=None, request_ids=ids)


def _members(store: Store, incident: Incident) -> set[int]:
    return {r.id for r in store.list_requests(incident_id=incident.id, limit=None)}


class TestMerge:
    def test_merge_moves_every_member_and_cancels_the_other(self, store: Store) -> None:
        a, b = _incident(store, 2), _incident(store, 3)
        before = _members(store, a) | _members(store, b)
        kept = merge_incidents(
            store, None, a.code, b.code, actor="disp", versions=(a.version, b.version)
        )
        assert _members(store, kept) == before
        assert store.get_incident(b.code).status == "cancelled"

    def test_moved_request_notes_are_internal(self, store: Store) -> None:
        a, b = _incident(store, 1), _incident(store, 1)
        moved = store.list_requests(incident_id=b.id, limit=1)[0]
        merge_incidents(store, None, a.code, b.code, actor="disp", versions=(1, 1))
        events = store.events_for(moved.number)
        assert "merged" in events[-1].note
        assert not events[-1].is_public
        assert all(
            "merged" not in e.note for e in store.events_for(moved.number, public_only=True)
        )

    def test_stale_version_is_refused_and_nothing_moves(self, store: Store) -> None:
        a, b = _incident(store, 1), _incident(store, 2)
        store.update_incident(b.id, priority=3.0)
        with pytest.raises(ConflictError, match=f"incident {b.code} changed"):
            merge_incidents(store, None, a.code, b.code, actor="d", versions=(1, 1))
        assert len(_members(store, b)) == 2

    @pytest.mark.parametrize("other_service", ["sewer_backup"])
    def test_reject_other_service_and_self(self, store: Store, other_service: str) -> None:
        a, b = _incident(store, 1), _incident(store, 1, other_service)
        with pytest.raises(ValueError, match="cannot merge a sewer_backup incident"):
            merge_incidents(store, None, a.code, b.code, actor="d", versions=(1, 1))
        with pytest.raises(ValueError, match="into itself"):
            merge_incidents(store, None, a.code, a.code, actor="d", versions=(1, 1))

    def test_reject_closed_incident(self, store: Store) -> None:
        a, b = _incident(store, 1), _incident(store, 1)
        store.change_incident_status(b.code, "cancelled", actor="d", expected_version=1)
        b = store.get_incident(b.code)
        with pytest.raises(TransitionError, match="only open incidents change"):
            merge_incidents(store, None, a.code, b.code, actor="d", versions=(1, b.version))


class TestSplit:
    def test_split_takes_chosen_requests_into_a_new_incident(self, store: Store) -> None:
        a = _incident(store, 3)
        chosen = store.list_requests(incident_id=a.id, limit=1)[0]
        created = split_incident(store, None, a.code, [chosen.number], actor="d", version=1)
        assert _members(store, created) == {chosen.id}
        assert chosen.id not in _members(store, a)
        assert len(_members(store, a)) == 2

    def test_reject_stranger_and_emptying(self, store: Store) -> None:
        a, b = _incident(store, 2), _incident(store, 1)
        stranger = store.list_requests(incident_id=b.id, limit=1)[0]
        with pytest.raises(ValueError, match="not members"):
            split_incident(store, None, a.code, [stranger.number], actor="d", version=1)
        everyone = [r.number for r in store.list_requests(incident_id=a.id, limit=None)]
        with pytest.raises(ValueError, match=r"leave .* empty"):
            split_incident(store, None, a.code, everyone, actor="d", version=1)
        assert len(_members(store, a)) == 2


class TestMove:
    def test_move_request_and_cancel_emptied_source(self, store: Store) -> None:
        a, b = _incident(store, 1), _incident(store, 2)
        request = store.list_requests(incident_id=a.id, limit=1)[0]
        move_request(
            store, None, request.number, b.code, actor="d", expected_version=request.version
        )
        assert request.id in _members(store, b)
        assert store.get_incident(a.code).status == "cancelled"

    def test_reject_stale_request_version(self, store: Store) -> None:
        a, b = _incident(store, 1), _incident(store, 1)
        request = store.list_requests(incident_id=a.id, limit=1)[0]
        with pytest.raises(ConflictError, match="changed after you read version 0"):
            move_request(store, None, request.number, b.code, actor="d", expected_version=0)

    def test_reject_other_service_and_same_incident(self, store: Store) -> None:
        a, b = _incident(store, 1), _incident(store, 1, "hydrant_issue")
        request = store.list_requests(incident_id=a.id, limit=1)[0]
        with pytest.raises(ValueError, match="is a water_outage report"):
            move_request(
                store, None, request.number, b.code, actor="d", expected_version=request.version
            )
        with pytest.raises(ValueError, match="already in incident"):
            move_request(
                store, None, request.number, a.code, actor="d", expected_version=request.version
            )


class TestAssignCrew:
    def test_assign_dispatches_members_with_a_public_eta(self, store: Store) -> None:
        store.add_crew("Water 1", ["water"])
        incident = _incident(store, 2)
        assigned = assign_crew(
            store,
            incident.code,
            "water 1",
            eta_hours=2,
            actor="disp",
            expected_version=incident.version,
        )
        assert assigned.status == "dispatched"
        assert assigned.crew_id == store.list_crews()[0].id
        assert assigned.eta_at is not None
        for member in store.list_requests(incident_id=incident.id, limit=None):
            assert member.status == "dispatched"
            public = store.events_for(member.number, public_only=True)
            assert "A crew is assigned" in public[-1].note
            assert "Water 1" not in public[-1].note

    @pytest.mark.parametrize(
        ("crew", "eta", "match"),
        [
            ("Nobody", 2, "no crew is named 'Nobody'"),
            ("Sewer 1", 2, "job needs water"),
            ("Water 1", 0, "above 0 and at most 336"),
            ("Water 1", 1000, "above 0 and at most 336"),
        ],
    )
    def test_reject_unknown_unskilled_crew_and_bad_eta(
        self, store: Store, crew: str, eta: float, match: str
    ) -> None:
        store.add_crew("Water 1", ["water"])
        store.add_crew("Sewer 1", ["sewer"])
        incident = _incident(store, 1)
        with pytest.raises(ValueError, match=match):
            assign_crew(
                store,
                incident.code,
                crew,
                eta_hours=eta,
                actor="d",
                expected_version=incident.version,
            )
        assert store.get_incident(incident.code).crew_id is None

    def test_stale_version_is_refused(self, store: Store) -> None:
        store.add_crew("Water 1", ["water"])
        incident = _incident(store, 1)
        with pytest.raises(ConflictError):
            assign_crew(
                store,
                incident.code,
                "Water 1",
                eta_hours=1,
                actor="d",
                expected_version=incident.version + 1,
            )
