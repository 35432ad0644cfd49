"""Open311 GeoReport v2 at ``/open311/v2``: discovery, services, requests and tokens.

Every endpoint answers in ``.json`` and ``.xml``. Requests are named by their tracking
number, typed forgivingly; a number is issued at once, so a token is the tracking number
itself. Reporter contact details go into intake and never come out of any GET.

Notes
-----
``extensions=true`` on the request look-ups adds ``extended_attributes`` holding the
detailed status, the incident code and the list of public notes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Header, Query
from fastapi import Request as HttpRequest
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.errors import BadRequestError, ForbiddenError, MissingResourceError
from api.formats import render, w3c
from crm import tracking
from crm.access import AccessError, verify_api_key
from crm.errors import IntakeError, NotFoundError, TrackingNumberError
from crm.intake import Receipt, Report, submit_report
from crm.lifecycle import open311_status
from crm.privacy import redact_contacts
from crm.services import Service, load_services
from crm.spatial import get_spatial_context
from crm.store import Contact, Event, Request, Store, utc_now

LOGGER = logging.getLogger(__name__)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_SPAN = timedelta(days=90)
MAX_PAGE_SIZE = 1000
MAX_IDS = 1000
MAX_CLIENT_KEY = 80
_OPEN311_STATUSES = ("open", "closed")


class Format(StrEnum):
    """The two formats every GeoReport v2 endpoint speaks."""

    json = "json"
    xml = "xml"


@dataclass(frozen=True)
class Open311Options:
    """What the endpoint says about the utility behind it.

    Attributes
    ----------
    agency
        ``agency_responsible`` of every request.
    contact
        Discovery's contact line.
    key_service
        Discovery's note on how to get an api_key.
    changeset
        When the endpoint last changed, W3C.
    """

    agency: str = "City of Saskatoon Water and Sewer"
    contact: str = "City of Saskatoon Water and Sewer, 306-975-2476"
    key_service: str = "Ask the utility for an api_key; staff issue them with waterdesk."
    changeset: str = "2025-01-01T00:00:00-06:00"


router = APIRouter(prefix="/open311/v2", tags=["open311"])


def _store(http: HttpRequest) -> Store:
    return http.app.state.store


def _zone(store: Store) -> ZoneInfo:
    return ZoneInfo(store.settings.timezone)


def _services(store: Store) -> dict[str, Service]:
    return load_services(store.settings.services_file)


def _options(http: HttpRequest) -> Open311Options:
    return http.app.state.open311


# --- parameters -------------------------------------------------------------------


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _parse_codes(text: str | None, services: dict[str, Service]) -> list[str] | None:
    codes = _split(text)
    if not codes:
        return None
    unknown = [c[:40] for c in codes if c not in services]
    if unknown:
        message = (
            f"unknown service_code {', '.join(repr(c) for c in unknown[:5])}; "
            f"use one or more of: {', '.join(services)}"
        )
        raise BadRequestError(message)
    return codes


def _parse_status(text: str | None) -> str | None:
    wanted = _split(text)
    unknown = [s[:20] for s in wanted if s not in _OPEN311_STATUSES]
    if unknown:
        message = (
            f"unknown status {', '.join(repr(s) for s in unknown[:5])}; "
            "use open, closed, or open,closed"
        )
        raise BadRequestError(message)
    return wanted[0] if len(set(wanted)) == 1 else None


def parse_w3c(text: str, name: str, zone: ZoneInfo) -> datetime:
    """Return an aware datetime from a W3C date or date-time.

    A date alone means midnight in the utility's time zone; a date-time must carry its
    offset (``Z`` or ``-06:00``).

    Raises
    ------
    BadRequestError
        Naming the parameter, the value received and the form expected.
    """
    value = text.strip()
    example = "2025-06-01T00:00:00-06:00 or 2025-06-01"
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), zone)
        parsed = datetime.fromisoformat(value) if "T" in value.upper() else None
    except ValueError:
        parsed = None
    if parsed is None:
        message = f"{name} {value[:40]!r} is not a W3C date-time; write it like {example}"
        raise BadRequestError(message)
    if parsed.tzinfo is None:
        message = f"{name} {value[:40]!r} has no time zone; add Z or an offset, like {example}"
        raise BadRequestError(message)
    return parsed


def _window(start: str | None, end: str | None, zone: ZoneInfo) -> tuple[datetime, datetime]:
    since = parse_w3c(start, "start_date", zone) if start else None
    until = parse_w3c(end, "end_date", zone) if end else None
    if since is None and until is None:
        until = utc_now()
        return until - MAX_SPAN, until
    if since is None:
        assert until is not None
        return until - MAX_SPAN, until
    if until is None:
        return since, since + MAX_SPAN
    if until < since:
        message = "end_date is before start_date; swap them"
        raise BadRequestError(message)
    if until - since > MAX_SPAN:
        message = (
            f"start_date to end_date spans {(until - since).days} days; "
            "the most one search may span is 90 days"
        )
        raise BadRequestError(message)
    return since, until


def lookup_error(store: Store, typed: str) -> BadRequestError | MissingResourceError:
    """Return the API error for a tracking number that does not parse.

    A number with foreign characters or the wrong length is a 400; a well-formed number
    that fails its check symbol is a 404 carrying the stored number one slip away, if
    exactly one fits.
    """
    try:
        store.get_request(typed)
    except TrackingNumberError as exc:
        try:
            tracking.normalise(typed)
        except TrackingNumberError:
            return BadRequestError(str(exc), suggestion=exc.suggestion)
        return MissingResourceError(str(exc), suggestion=exc.suggestion)
    except NotFoundError as exc:
        return MissingResourceError(str(exc))
    return MissingResourceError("no request has that tracking number")


def get_by_number(store: Store, typed: str) -> Request:
    """Return the request a typed number names, or raise the API error for it."""
    try:
        return store.get_request(typed)
    except TrackingNumberError:
        raise lookup_error(store, typed) from None
    except NotFoundError as exc:
        raise MissingResourceError(str(exc)) from None


def _parse_numbers(text: str, store: Store) -> list[str]:
    typed = _split(text)
    if len(typed) > MAX_IDS:
        raise BadRequestError(f"at most {MAX_IDS:,} service_request_id values per search")
    numbers = []
    for value in typed:
        try:
            numbers.append(tracking.parse_number(value))
        except TrackingNumberError:
            error = lookup_error(store, value)
            raise BadRequestError(
                f"service_request_id: {error.message}", suggestion=error.suggestion
            ) from None
    return numbers


# --- views ------------------------------------------------------------------------


def _notes(events: Iterable[Event], zone: ZoneInfo) -> list[dict[str, Any]]:
    return [
        {
            "datetime": w3c(e.at, zone),
            "status": open311_status(e.to_status),
            "description": redact_contacts(e.note),
        }
        for e in events
        if e.note
    ]


def request_views(
    store: Store,
    requests: Sequence[Request],
    *,
    agency: str,
    extensions: bool = False,
) -> list[dict[str, Any]]:
    """Return the public Open311 view of requests: never any contact detail.

    Parameters
    ----------
    store
        For the service names, public notes and incident codes.
    requests
        The requests to show.
    agency
        ``agency_responsible``.
    extensions
        Add ``extended_attributes``: detailed status, incident code, public notes.
    """
    zone = _zone(store)
    services = _services(store)
    events = store.public_events([r.id for r in requests])
    incidents: dict[int, str] = {}
    views = []
    for r in requests:
        notes = _notes(events.get(r.id, []), zone)
        service = services.get(r.service_code)
        view: dict[str, Any] = {
            "service_request_id": r.number,
            "status": open311_status(r.status),
            "status_notes": notes[-1]["description"] if notes else None,
            "service_name": service.name if service else r.service_code,
            "service_code": r.service_code,
            "description": redact_contacts(r.description),
            "agency_responsible": agency,
            "service_notice": None,
            "requested_datetime": w3c(r.created_at, zone),
            "updated_datetime": w3c(r.updated_at, zone),
            "expected_datetime": w3c(r.expected_at, zone),
            "address": r.address,
            "address_id": None,
            "zipcode": None,
            "lat": r.lat,
            "long": r.lon,
            "media_url": "",
        }
        if extensions:
            code = None
            if r.incident_id is not None:
                if r.incident_id not in incidents:
                    incidents[r.incident_id] = store.get_incident(r.incident_id).code
                code = incidents[r.incident_id]
            view["extended_attributes"] = {
                "detailed_status": r.status,
                "incident_code": code,
                "notes": notes,
            }
        views.append(view)
    return views


# --- endpoints --------------------------------------------------------------------


@router.get("/discovery.{fmt}", summary="Where the endpoint is and what it speaks")
def get_discovery(http: HttpRequest, fmt: Format) -> Response:
    """Return the GeoReport v2 discovery document."""
    options = _options(http)
    url = str(http.base_url).rstrip("/") + router.prefix
    data = {
        "changeset": options.changeset,
        "contact": options.contact,
        "key_service": options.key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": options.changeset,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return render(data, fmt.value, "discovery")


@router.get("/services.{fmt}", summary="The services a request may be made for")
def get_services(http: HttpRequest, fmt: Format, jurisdiction_id: str | None = None) -> Response:
    """Return the service catalogue."""
    services = _services(_store(http))
    data = [
        {
            "service_code": s.code,
            "service_name": s.name,
            "description": s.description,
            "metadata": bool(s.attributes),
            "type": "realtime",
            "keywords": ",".join(s.keywords),
            "group": s.group,
        }
        for s in services.values()
    ]
    return render(data, fmt.value, "services")


@router.get("/services/{service_code}.{fmt}", summary="The questions a service asks")
def get_service_definition(
    http: HttpRequest, service_code: str, fmt: Format, jurisdiction_id: str | None = None
) -> Response:
    """Return a service's definition: its attributes in order."""
    services = _services(_store(http))
    service = services.get(service_code)
    if service is None:
        message = f"no service has the code {service_code[:40]!r}; see services.{fmt.value}"
        raise MissingResourceError(message)
    attributes = [
        {
            "variable": True,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": ("one of: " + ", ".join(a.values)) if a.values else "",
            "order": i,
            "description": a.description,
            "values": [{"key": v, "name": v} for v in a.values],
        }
        for i, a in enumerate(service.attributes, start=1)
    ]
    data = {"service_code": service.code, "attributes": attributes}
    return render(data, fmt.value, "service_definition")


def _float(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise BadRequestError(f"{name} {value[:40]!r} is not a number in degrees") from None


@router.post("/requests.{fmt}", summary="Make a service request")
async def post_request(
    http: HttpRequest,
    fmt: Format,
    api_key: str | None = Form(None, description="Required: the client's key."),
    service_code: str | None = Form(None),
    lat: str | None = Form(None, description="WGS84 latitude; with long, or an address."),
    long: str | None = Form(None, description="WGS84 longitude."),
    address_string: str | None = Form(None),
    address_id: str | None = Form(None),
    description: str | None = Form(None),
    email: str | None = Form(None),
    first_name: str | None = Form(None),
    last_name: str | None = Form(None),
    phone: str | None = Form(None),
    device_id: str | None = Form(None),
    account_id: str | None = Form(None),
    media_url: str | None = Form(None),
    jurisdiction_id: str | None = Form(None),
    client_request_id: str | None = Form(None, description="An idempotency key."),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Response:
    """Take a report through intake and return its tracking number.

    Answers may include ``attribute[CODE]=VALUE`` fields. A retry with the same
    ``Idempotency-Key`` header (or ``client_request_id``) returns the first number.
    """
    store = _store(http)
    limiter = http.app.state.limiter

    # count the attempt against the address; the form is parsed already
    limiter.check_address(http.client.host if http.client else "unknown")
    form = await http.form()
    attributes: dict[str, str] = {}
    for field, value in form.multi_items():
        if field.startswith("attribute[") and field.endswith("]"):
            if not isinstance(value, str):
                raise BadRequestError(f"{field[:60]} must be text, not a file")
            attributes[field[len("attribute[") : -1]] = value
    client_key = (idempotency_key or client_request_id or "").strip()
    if len(client_key) > MAX_CLIENT_KEY:
        message = f"the idempotency key is {len(client_key):,} characters; the most is 80"
        raise BadRequestError(message)
    name = " ".join(p.strip() for p in (first_name, last_name) if p and p.strip()) or None
    report = Report(
        service_code=(service_code or "").strip(),
        channel="api",
        description=description or "",
        address=address_string,
        contact=Contact(name, phone or None, email or None),
        attributes=attributes,
    )

    def take() -> Receipt:
        # check the key and count it, then the one intake every channel shares
        try:
            key = verify_api_key(store, api_key)
        except AccessError as exc:
            raise ForbiddenError(str(exc), detail=f"refused api_key: {exc}") from None
        limiter.check_key(key.id, key.name)
        report.lat, report.lon = _float(lat, "lat"), _float(long, "long")
        report.idempotency_key = f"api:{key.id}:{client_key}" if client_key else None
        report.actor = f"api:{key.name}"[:100]
        try:
            return submit_report(store, report, spatial=get_spatial_context(store))
        except IntakeError as exc:
            message = exc.public_message
            raise BadRequestError(message, detail=f"intake refused {exc.field}: {exc}") from None

    receipt = await run_in_threadpool(take)

    # the receipt
    request = receipt.request
    expected = w3c(request.expected_at, _zone(store))
    notice = " ".join(receipt.notices) or (
        f"Keep the tracking number {request.number}. We aim to resolve it by {expected}."
    )
    data = [
        {
            "service_request_id": request.number,
            "service_notice": notice,
            "account_id": account_id,
        }
    ]
    headers = {"Idempotent-Replayed": "true"} if receipt.replayed else None
    return render(data, fmt.value, "service_requests", headers=headers)


@router.get("/requests.{fmt}", summary="Search requests")
def get_requests(
    http: HttpRequest,
    fmt: Format,
    service_request_id: str | None = Query(None, description="Tracking numbers, commas."),
    service_code: str | None = Query(None, description="Service codes, commas."),
    start_date: str | None = Query(None, description="W3C; default 90 days before end."),
    end_date: str | None = Query(None, description="W3C; default now."),
    status: str | None = Query(None, description="open, closed, or both with a comma."),
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    extensions: bool = False,
    jurisdiction_id: str | None = None,
) -> Response:
    """Return requests, newest first; at most 1,000 a page and 90 days a search.

    Given ``service_request_id``, the other filters are ignored, as the spec says.
    """
    store = _store(http)
    if service_request_id is not None and _split(service_request_id):
        numbers = _parse_numbers(service_request_id, store)
        found = store.list_requests(numbers=numbers, limit=None)
    else:
        codes = _parse_codes(service_code, _services(store))
        wanted = _parse_status(status)
        since, until = _window(start_date, end_date, _zone(store))
        found = store.list_requests(
            status=wanted,
            service_codes=codes,
            since=since,
            until=until + timedelta(microseconds=1),
            limit=page_size,
            offset=(page - 1) * page_size,
        )
    views = request_views(store, found, agency=_options(http).agency, extensions=extensions)
    return render(views, fmt.value, "service_requests")


@router.get("/requests/{service_request_id}.{fmt}", summary="One request")
def get_request(
    http: HttpRequest,
    service_request_id: str,
    fmt: Format,
    extensions: bool = False,
    jurisdiction_id: str | None = None,
) -> Response:
    """Return one request by its tracking number, typed forgivingly."""
    store = _store(http)
    request = get_by_number(store, service_request_id)
    views = request_views(store, [request], agency=_options(http).agency, extensions=extensions)
    return render(views, fmt.value, "service_requests")


@router.get("/tokens/{token}.{fmt}", summary="The request a token became")
def get_token(
    http: HttpRequest, token: str, fmt: Format, jurisdiction_id: str | None = None
) -> Response:
    """Return the request id for a token; tokens are tracking numbers here."""
    request = get_by_number(_store(http), token)
    data = [{"service_request_id": request.number, "token": request.number}]
    return render(data, fmt.value, "service_requests")
