"""Intake: the one function every channel calls to turn a report into a tracking number.

The Streamlit forms, the agent's intake page, the Open311 POST and the CSV import all call
:func:`submit_report`, so validation, geocoding, snapping, incident grouping, idempotency
and the tracking number are the same whichever way a report arrives.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crm.errors import IntakeError
from crm.services import Service, load_services
from crm.store import Contact, NewRequest, Request, Store, utc_now

if TYPE_CHECKING:
    from crm.spatial import SpatialContext

LOGGER = logging.getLogger(__name__)

CHANNELS = ("phone", "counter", "online", "api", "import", "staff")
MAX_DESCRIPTION = 4000
MAX_ADDRESS = 300
MAX_NAME = 200
MAX_KEY = 100
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{7,25}$")
# control characters (C0 and C1 but tab and newline), lone surrogates, private use
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff]")


@dataclass
class Report:
    """A report as it arrives from any channel, before it is checked.

    Attributes
    ----------
    service_code
        A code from the service catalogue.
    channel
        phone, counter, online, api, import or staff.
    description
        Free text, at most 4,000 characters; stored as text, never rendered as HTML.
    lat, lon
        WGS84 degrees, both or neither.
    address
        The address as given; geocoded when no coordinates come with it.
    contact
        Name, phone and email of the reporter; kept apart and never shown publicly.
    attributes
        Answers to the service's questions, by attribute code.
    idempotency_key
        A key chosen by the client; a retry with the same key returns the first
        tracking number instead of storing the report twice.
    actor
        Who entered the report (a staff user, an API key's name, ``resident``).
    received_at
        When the report was made; now when omitted (the CSV import passes its own).
    """

    service_code: str
    channel: str
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    contact: Contact | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    actor: str = "resident"
    received_at: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    """What the reporter is told at once.

    Attributes
    ----------
    request
        The stored request; ``request.number`` is the tracking number to read back.
    replayed
        True when an earlier submission with the same idempotency key is returned.
    nearby_open
        Tracking numbers of open reports of the same service close by: likely the same
        problem, for the agent to mention.
    incident_code
        The incident the report joined or opened, if grouping ran.
    notices
        Plain sentences for the reporter (location pending, flagged for review...).
    """

    request: Request
    replayed: bool = False
    nearby_open: tuple[str, ...] = ()
    incident_code: str | None = None
    notices: tuple[str, ...] = ()

    @property
    def number(self) -> str:
        """The tracking number as printed."""
        return self.request.number


def clean_text(value: Any, field_name: str, limit: int) -> str:
    """Return text with control characters removed, or refuse it.

    Raises
    ------
    IntakeError
        If the value is bytes or looks like binary data, or is longer than ``limit``.
    """
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        message = f"{field_name} must be text, not binary data; send it as UTF-8 text"
        raise IntakeError(message, field_name)
    if not isinstance(value, str):
        raise IntakeError(f"{field_name} must be text, got {type(value).__name__}", field_name)
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    controls = len(_CONTROLS.findall(text))
    if "\x00" in text or (text and controls / len(text) > 0.1):
        message = (
            f"{field_name} looks like binary data ({controls:,} control characters); send "
            "plain text"
        )
        raise IntakeError(message, field_name)
    text = _CONTROLS.sub("", text).strip() if controls else text.strip()
    if len(text) > limit:
        message = (
            f"{field_name} is {len(text):,} characters long; the limit is {limit:,}. Shorten it."
        )
        raise IntakeError(message, field_name)
    return text


def _check_service(code: Any, services: dict[str, Service]) -> Service:
    if not isinstance(code, str) or code.strip() not in services:
        known = ", ".join(services)
        shown = str(code)[:40]
        raise IntakeError(f"unknown service code {shown!r}; use one of: {known}", "service_code")
    return services[code.strip()]


def _check_channel(channel: Any) -> str:
    if channel not in CHANNELS:
        shown = str(channel)[:40]
        message = f"unknown channel {shown!r}; use one of: {', '.join(CHANNELS)}"
        raise IntakeError(message, "channel")
    return str(channel)


def _check_coordinates(report: Report, store: Store) -> tuple[float, float] | None:
    if report.lat is None and report.lon is None:
        return None
    if report.lat is None or report.lon is None:
        message = "give both lat and long, or neither and an address instead"
        raise IntakeError(message, "lat" if report.lat is None else "long")
    try:
        lat, lon = float(report.lat), float(report.lon)
    except (TypeError, ValueError):
        message = f"lat and long must be numbers in degrees, got {report.lat!r}, {report.lon!r}"
        raise IntakeError(message, "lat") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise IntakeError("lat and long must be finite numbers, not NaN or infinity", "lat")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        message = (
            f"lat {lat} or long {lon} is out of range: latitude is within +-90 and longitude "
            "within +-180 degrees (did you swap them?)"
        )
        raise IntakeError(message, "lat")
    area = store.settings.service_area
    if not area.contains(lon, lat):
        message = (
            f"the location {lat:.5f}, {lon:.5f} is outside the area this utility serves "
            f"({area}); check the point, or contact the utility that serves it"
        )
        raise IntakeError(message, "lat")
    return lon, lat


def _check_contact(contact: Contact | None) -> Contact | None:
    if contact is None:
        return None
    name = clean_text(contact.name, "name", MAX_NAME) or None
    phone = clean_text(contact.phone, "phone", 40) or None
    email = clean_text(contact.email, "email", 320) or None
    if phone and not _PHONE.match(phone):
        raise IntakeError(
            f"phone {phone!r} is not a phone number (digits, spaces, + - ( ))", "phone"
        )
    if email and not _EMAIL.match(email):
        raise IntakeError(f"email {email!r} is not an email address like name@example.ca", "email")
    return Contact(name, phone, email) if (name or phone or email) else None


def _check_attributes(attributes: dict[str, Any], service: Service) -> dict[str, str]:
    known = {a.code: a for a in service.attributes}
    checked: dict[str, str] = {}
    for code, value in (attributes or {}).items():
        if code not in known:
            names = ", ".join(known) or "none"
            message = (
                f"service {service.code} has no question {str(code)[:40]!r}; its questions "
                f"are: {names}"
            )
            raise IntakeError(message, "attribute")
        text = clean_text(value, f"attribute {code}", 200)
        allowed = known[code].values
        if allowed and text not in allowed:
            message = f"answer {text!r} to {code} is not one of: {', '.join(allowed)}"
            raise IntakeError(message, "attribute")
        checked[code] = text
    missing = [a.code for a in service.attributes if a.required and a.code not in checked]
    if missing:
        raise IntakeError(f"answer the required questions: {', '.join(missing)}", "attribute")
    return checked


def submit_report(
    store: Store,
    report: Report,
    *,
    spatial: SpatialContext | None = None,
) -> Receipt:
    """Check a report, store it and return its tracking number.

    Parameters
    ----------
    store
        The tracking-number store.
    report
        The report as received.
    spatial
        The city's layers, indexes and networks. With it, an address-only report is
        geocoded, the report is snapped to the asset its service names, likely
        duplicates are looked up and the report joins or opens an incident. Without it,
        an address-only report is stored with its location pending.

    Returns
    -------
    Receipt
        The tracking number and what the reporter should be told.

    Raises
    ------
    IntakeError
        If anything in the report is unusable; nothing is stored. The message says which
        field and how to fix it.
    """
    new, notices = prepare_report(store, report, spatial=spatial)
    request, replayed = store.insert_request(new)
    if replayed:
        return Receipt(request, replayed=True)
    LOGGER.info("took %s report %s by %s", new.service_code, request.number, new.channel)
    return _relate(store, request, spatial, notices)


def submit_reports(
    store: Store,
    reports: list[Report],
    *,
    spatial: SpatialContext | None = None,
    relate: bool = True,
) -> list[Receipt]:
    """Check many reports and store them in one transaction: all of them, or none.

    With ``relate=False`` the reports are geocoded and snapped but not grouped into
    incidents one by one (an import of history regroups once at the end instead).

    Raises
    ------
    IntakeError
        For the first unusable report; its message starts with its position (1-based).
    """
    prepared = []
    for position, report in enumerate(reports, start=1):
        try:
            prepared.append(prepare_report(store, report, spatial=spatial))
        except IntakeError as exc:
            raise IntakeError(f"report {position:,}: {exc}", exc.field) from None
    stored = store.insert_requests([new for new, _ in prepared])
    LOGGER.info("took %s reports in one batch", f"{len(stored):,}")
    return [
        Receipt(request, replayed=True)
        if replayed
        else _relate(store, request, spatial if relate else None, notices)
        for (request, replayed), (_, notices) in zip(stored, prepared, strict=True)
    ]


def _relate(
    store: Store,
    request: Request,
    spatial: SpatialContext | None,
    notices: list[str],
) -> Receipt:
    # relate a fresh request to what is already open
    nearby: tuple[str, ...] = ()
    incident_code = None
    if spatial is not None and request.lon is not None:
        nearby = tuple(spatial.nearby_open(store, request))
        incident_code = spatial.assign_incident(store, request)
    return Receipt(request, False, nearby, incident_code, tuple(notices))


def prepare_report(
    store: Store,
    report: Report,
    *,
    spatial: SpatialContext | None = None,
) -> tuple[NewRequest, list[str]]:
    """Check a report and work out everything to store, without storing it.

    Returns
    -------
    (NewRequest, list of str)
        The request ready for the store, and notices for the reporter.

    Raises
    ------
    IntakeError
        If anything in the report is unusable.
    """
    # check everything before anything is written
    services = load_services(store.settings.services_file)
    service = _check_service(report.service_code, services)
    channel = _check_channel(report.channel)
    description = clean_text(report.description, "description", MAX_DESCRIPTION)
    address = clean_text(report.address, "address", MAX_ADDRESS) or None
    point = _check_coordinates(report, store)
    contact = _check_contact(report.contact)
    attributes = _check_attributes(report.attributes, service)
    key = clean_text(report.idempotency_key, "idempotency key", MAX_KEY) or None
    actor = clean_text(report.actor, "actor", 100) or "resident"
    if point is None and address is None:
        message = "say where the problem is: give lat and long, or a street address"
        raise IntakeError(message, "address")

    # place it: geocode an address-only report, then snap to the service's layer
    notices: list[str] = []
    source = "given"
    snap: dict[str, Any] = {}
    if point is None and spatial is not None:
        point = spatial.geocode(address or "")
        source = "geocoded"
    elif point is None:
        source = "pending"
        notices.append("The address will be placed on the map by staff.")
    if point is not None and spatial is not None:
        snap = spatial.snap(service, point[0], point[1])
        if snap.get("is_flagged"):
            notices.append("A dispatcher will confirm which asset this concerns.")

    # ready to store with its first event
    now = report.received_at or utc_now()
    new = NewRequest(
        service_code=service.code,
        channel=channel,
        description=description,
        address=address,
        lon=None if point is None else point[0],
        lat=None if point is None else point[1],
        location_source=source,
        attributes=attributes,
        expected_at=now + timedelta(hours=service.resolve_hours),
        created_at=now,
        actor=actor,
        contact=contact,
        idempotency_key=key,
        **snap,
    )
    return new, notices
