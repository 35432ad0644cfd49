"""Staff endpoints: bearer tokens, the crew's route, status updates and notes."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from api.app import create_app
from crm import access
from crm.intake import Report, submit_report
from crm.store import Store

with warnings.catch_warnings():
    # starlette's test client names an anyio alias that anyio now deprecates
    warnings.filterwarnings("ignore", "The anyio.abc.BlockingPortal alias", DeprecationWarning)
    from fastapi.testclient import TestClient

STAFF = "/staff/v1"


@dataclass
class Desk:
    client: TestClient
    store: Store
    crew_token: str
    staff_token: str
    crew_id: int

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def report(self, service: str = "hydrant_issue", **contact: str) -> str:
        report = Report(service, "phone", "Hydrant leaking", lat=52.128, lon=-106.665)
        return submit_report(self.store, report).number

    def assign(self, numbers: list[str], priority: float) -> None:
        ids = [self.store.get_request(n).id for n in numbers]
        incident = self.store.create_incident(
            "hydrant_issue", group_key=None, request_ids=ids, priority=priority
        )
        self.store.update_incident(incident.id, crew_id=self.crew_id)


@pytest.fixture
def desk(store: Store) -> Iterator[Desk]:
    crew = store.add_crew("North 1", ["water"])
    _t, crew_token = access.create_staff_token(store, "north-1 tablet", crew="North 1")
    _s, staff_token = access.create_staff_token(store, "dispatcher dana")
    with TestClient(create_app(store)) as client:
        yield Desk(client, store, crew_token, staff_token, crew.id)


class TestAuthentication:
    @pytest.mark.parametrize("header", [None, "Bearer wds_guess", "Basic abc", "Bearer "])
    def test_missing_or_bad_token_is_401(self, desk: Desk, header: str | None) -> None:
        headers = {"Authorization": header} if header else {}
        response = desk.client.get(f"{STAFF}/route", headers=headers)
        assert response.status_code in (401, 403)
        assert response.json()[0]["code"] == response.status_code

    def test_revoked_token_is_refused(self, desk: Desk) -> None:
        record, token = access.create_staff_token(desk.store, "temp", crew="North 1")
        assert desk.client.get(f"{STAFF}/route", headers=desk.auth(token)).status_code == 200
        access.revoke_staff_token(desk.store, record.id)
        response = desk.client.get(f"{STAFF}/route", headers=desk.auth(token))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_staff_token_has_no_route(self, desk: Desk) -> None:
        response = desk.client.get(f"{STAFF}/route", headers=desk.auth(desk.staff_token))
        assert response.status_code == 403
        assert "belongs to no crew" in response.json()[0]["description"]


class TestRoute:
    def test_empty_route_when_nothing_is_assigned(self, desk: Desk) -> None:
        desk.report()
        body = desk.client.get(f"{STAFF}/route", headers=desk.auth(desk.crew_token)).json()
        assert body["crew"] == "North 1"
        assert body["requests"] == []

    def test_route_orders_by_priority_then_age_and_skips_closed(self, desk: Desk) -> None:
        low_old, low_new = desk.report(), desk.report()
        high, closed, elsewhere = desk.report(), desk.report(), desk.report()
        desk.assign([low_old, low_new], priority=1.0)
        desk.assign([high, closed], priority=9.0)
        desk.store.change_status(closed, "cancelled", actor="agent", expected_version=1)
        body = desk.client.get(f"{STAFF}/route", headers=desk.auth(desk.crew_token)).json()
        order = [r["service_request_id"] for r in body["requests"]]
        assert order == [high, low_old, low_new]
        assert elsewhere not in order
        first = body["requests"][0]
        assert first["priority"] == 9.0
        assert first["version"] == 1
        assert not {"email", "phone", "name"} & set(first)


class TestChanges:
    def test_status_update_moves_the_request(self, desk: Desk) -> None:
        number = desk.report()
        desk.assign([number], priority=1.0)
        response = desk.client.post(
            f"{STAFF}/requests/{number}/status",
            headers=desk.auth(desk.crew_token),
            json={"status": "dispatched", "expected_version": 1, "note": "on site"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "dispatched"
        assert response.json()["version"] == 2
        last = desk.store.events_for(number)[-1]
        assert (last.actor, last.to_status, last.note) == (
            "north-1 tablet",
            "dispatched",
            "on site",
        )

    def test_stale_version_is_409_naming_who_and_when(self, desk: Desk) -> None:
        number = desk.report()
        desk.store.change_status(number, "acknowledged", actor="alice", expected_version=1)
        response = desk.client.post(
            f"{STAFF}/requests/{number}/status",
            headers=desk.auth(desk.staff_token),
            json={"status": "cancelled", "expected_version": 1},
        )
        assert response.status_code == 409
        description = response.json()[0]["description"]
        assert "alice" in description
        assert "UTC" in description
        assert desk.store.get_request(number).status == "acknowledged"

    @pytest.mark.parametrize(("status", "code"), [("closed", 422), ("teleported", 422)])
    def test_transition_not_allowed_is_422(self, desk: Desk, status: str, code: int) -> None:
        number = desk.report()
        response = desk.client.post(
            f"{STAFF}/requests/{number}/status",
            headers=desk.auth(desk.staff_token),
            json={"status": status, "expected_version": 1},
        )
        assert response.status_code == code
        assert (
            "new" in response.json()[0]["description"]
            or "unknown status" in (response.json()[0]["description"])
        )

    @pytest.mark.parametrize(
        "body", [{}, {"status": "resolved"}, {"status": "resolved", "expected_version": "one"}]
    )
    def test_malformed_body_is_400(self, desk: Desk, body: dict[str, object]) -> None:
        number = desk.report()
        response = desk.client.post(
            f"{STAFF}/requests/{number}/status", headers=desk.auth(desk.staff_token), json=body
        )
        assert response.status_code == 400
        assert "expected_version" in response.json()[0]["description"]

    def test_crew_may_not_touch_requests_off_its_route(self, desk: Desk) -> None:
        number = desk.report()
        response = desk.client.post(
            f"{STAFF}/requests/{number}/status",
            headers=desk.auth(desk.crew_token),
            json={"status": "resolved", "expected_version": 1},
        )
        assert response.status_code == 403
        assert desk.store.get_request(number).status == "new"

    @pytest.mark.parametrize("public", [True, False])
    def test_note_is_added_and_public_only_when_asked(self, desk: Desk, public: bool) -> None:
        number = desk.report()
        response = desk.client.post(
            f"{STAFF}/requests/{number}/notes",
            headers=desk.auth(desk.staff_token),
            json={"note": "valve exercised", "public": public},
        )
        assert response.status_code == 201
        assert response.json()["public"] is public
        view = desk.client.get(f"/open311/v2/requests/{number}.json").json()[0]
        assert (view["status_notes"] == "valve exercised") is public

    def test_empty_note_is_400(self, desk: Desk) -> None:
        number = desk.report()
        response = desk.client.post(
            f"{STAFF}/requests/{number}/notes",
            headers=desk.auth(desk.staff_token),
            json={"note": ""},
        )
        assert response.status_code == 400

    @pytest.mark.parametrize("text", ["'; DROP TABLE requests; --", "1' OR '1'='1"])
    def test_injection_as_number_is_refused(self, desk: Desk, text: str) -> None:
        desk.report()
        response = desk.client.post(
            f"{STAFF}/requests/{text}/notes",
            headers=desk.auth(desk.staff_token),
            json={"note": "x"},
        )
        assert response.status_code in (400, 404)
        assert desk.store.count_requests() == 1

    def test_get_request_gives_the_version_and_no_contact(self, desk: Desk) -> None:
        number = desk.report()
        body = desk.client.get(
            f"{STAFF}/requests/{number}", headers=desk.auth(desk.staff_token)
        ).json()
        assert body["version"] == 1
        assert body["status"] == "new"
        assert not {"email", "phone", "name", "contact"} & set(body)
