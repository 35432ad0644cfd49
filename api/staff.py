"""Staff endpoints at ``/staff/v1`` for a crew's field device or a staff user's tools.

Each call carries ``Authorization: Bearer TOKEN`` (``crm.access`` issues tokens). A crew
token sees and changes only the requests of the incidents assigned to its crew; a staff
token may change any request. Answers are JSON; errors share Open311's list of
``{code, description}``. No answer carries reporter contact details.

Notes
-----
The route is, for now, the open requests of the crew's open incidents ordered by the
incident's priority and then by age; the ordering by street route replaces it once
dispatch plans routes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path
from fastapi import Request as HttpRequest
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from api.errors import (
    BadRequestError,
    ForbiddenError,
    UnauthorizedError,
    UnprocessableError,
    VersionConflictError,
)
from api.formats import w3c
from api.open311 import get_by_number
from crm.access import AccessError, StaffToken, verify_staff_token
from crm.errors import ConflictError, TransitionError
from crm.lifecycle import open311_status
from crm.services import load_services
from crm.store import Incident, Request, Store

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/staff/v1", tags=["staff"])
_bearer = HTTPBearer(auto_error=False, description="A staff or crew token.")


class StatusChange(BaseModel):
    """A status update, based on the version the sender last read."""

    status: str = Field(max_length=40, description="The status asked for.")
    expected_version: int = Field(
        ge=1, le=2**31 - 1, description="The request's version as last read."
    )
    note: str = Field("", max_length=4000)
    public: bool = Field(True, description="Whether the resident may read the note.")


class NoteIn(BaseModel):
    """A note for a request's trail."""

    note: str = Field(min_length=1, max_length=4000)
    public: bool = Field(False, description="Whether the resident may read it.")


def _store(http: HttpRequest) -> Store:
    return http.app.state.store


def authenticate(
    http: HttpRequest,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StaffToken:
    """Return the staff or crew token the call carries.

    Raises
    ------
    UnauthorizedError
        If there is none, or it is unknown or revoked.
    """
    presented = credentials.credentials if credentials else None
    try:
        return verify_staff_token(_store(http), presented)
    except AccessError as exc:
        raise UnauthorizedError(
            str(exc), detail=f"refused staff token: {exc}", headers={"WWW-Authenticate": "Bearer"}
        ) from None


Token = Annotated[StaffToken, Depends(authenticate)]
Number = Annotated[str, Path(max_length=60, description="The tracking number.")]


def _crew_incidents(store: Store, crew_id: int) -> list[Incident]:
    return [i for i in store.list_incidents(status="open") if i.crew_id == crew_id]


def route_requests(store: Store, crew_id: int) -> list[tuple[Incident, Request]]:
    """Return a crew's open work: by incident priority, highest first, then oldest first."""
    work = []
    for incident in _crew_incidents(store, crew_id):
        for request in store.list_requests(incident_id=incident.id, status="open", limit=None):
            work.append((incident, request))
    work.sort(key=lambda pair: (-pair[0].priority, pair[1].created_at, pair[1].id))
    return work


def _view(store: Store, request: Request, incident: Incident | None = None) -> dict[str, Any]:
    zone = ZoneInfo(store.settings.timezone)
    service = load_services(store.settings.services_file).get(request.service_code)
    if incident is None and request.incident_id is not None:
        incident = store.get_incident(request.incident_id)
    return {
        "service_request_id": request.number,
        "status": request.status,
        "open311_status": open311_status(request.status),
        "version": request.version,
        "service_code": request.service_code,
        "service_name": service.name if service else request.service_code,
        "description": request.description,
        "address": request.address,
        "lat": request.lat,
        "long": request.lon,
        "asset_layer": request.asset_layer,
        "asset_id": request.asset_id,
        "flagged": request.is_flagged,
        "incident_code": incident.code if incident else None,
        "priority": incident.priority if incident else None,
        "requested_datetime": w3c(request.created_at, zone),
        "updated_datetime": w3c(request.updated_at, zone),
        "expected_datetime": w3c(request.expected_at, zone),
    }


def _check_may_change(store: Store, token: StaffToken, request: Request) -> None:
    if token.crew_id is None:
        return
    mine = {i.id for i in _crew_incidents(store, token.crew_id)}
    if request.incident_id not in mine:
        message = (
            f"request {request.number} is not on your crew's route; ask the dispatcher to "
            "assign it"
        )
        raise ForbiddenError(
            message,
            detail=f"token {token.id} ({token.name}) tried "
            f"{request.number} outside crew {token.crew_id}",
        )


@router.get("/route", summary="My route today")
def get_route(http: HttpRequest, token: Token) -> dict[str, Any]:
    """Return the open requests assigned to the token's crew, most urgent first."""
    store = _store(http)
    if token.crew_id is None:
        message = "this token belongs to no crew, so it has no route; use a crew's token"
        raise ForbiddenError(message)
    crew = next((c for c in store.list_crews() if c.id == token.crew_id), None)
    zone = ZoneInfo(store.settings.timezone)
    work = route_requests(store, token.crew_id)
    return {
        "crew": crew.name if crew else None,
        "date": datetime.now(zone).date().isoformat(),
        "requests": [_view(store, r, i) for i, r in work],
    }


@router.get("/requests/{number}", summary="One request, with its version")
def get_request(http: HttpRequest, number: Number, token: Token) -> dict[str, Any]:
    """Return a request as staff see it (never with contact details)."""
    store = _store(http)
    request = get_by_number(store, number)
    _check_may_change(store, token, request)
    return _view(store, request)


@router.post("/requests/{number}/status", summary="Change a request's status")
def post_status(
    http: HttpRequest, number: Number, change: StatusChange, token: Token
) -> dict[str, Any]:
    """Move a request on, refusing a change based on a stale version (409)."""
    store = _store(http)
    request = get_by_number(store, number)
    _check_may_change(store, token, request)
    try:
        changed = store.change_status(
            request.number,
            change.status.strip(),
            actor=token.name,
            expected_version=change.expected_version,
            note=change.note.strip(),
            public=change.public,
        )
    except ConflictError as exc:
        raise VersionConflictError(str(exc)) from None
    except TransitionError as exc:
        raise UnprocessableError(str(exc)) from None
    LOGGER.info("%s moved %s to %s", token.name, changed.number, changed.status)
    return _view(store, changed)


@router.post("/requests/{number}/notes", status_code=201, summary="Add a note")
def post_note(http: HttpRequest, number: Number, body: NoteIn, token: Token) -> dict[str, Any]:
    """Append a note to a request's trail; public notes show in Open311 status_notes."""
    store = _store(http)
    request = get_by_number(store, number)
    _check_may_change(store, token, request)
    try:
        event = store.add_note(request.number, body.note, actor=token.name, public=body.public)
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None
    zone = ZoneInfo(store.settings.timezone)
    return {
        "service_request_id": request.number,
        "datetime": w3c(event.at, zone),
        "note": event.note,
        "public": event.is_public,
    }
