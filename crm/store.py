"""The tracking-number store: requests, contacts, the audit trail, incidents and crews.

One :class:`Store` serves every interface over either backend. Values a person typed
only ever travel as query parameters; the few SQL fragments assembled here are made of
fixed column names chosen by the code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm import tracking
from crm.backends import Row, Transaction, UniqueViolationError, open_backend
from crm.errors import (
    ConflictError,
    FeedbackError,
    NotFoundError,
    TrackingNumberError,
)
from crm.lifecycle import CLOSED_STATUSES, OPEN_STATUSES, check_transition
from crm.services import SKILLS
from settings import Settings, load_settings

LOGGER = logging.getLogger(__name__)

_REQUEST_COLUMNS = (
    "id, tracking, service_code, channel, description, address, lon, lat, location_source, "
    "asset_layer, asset_id, snap_distance_m, is_flagged, flag_reason, attributes, status, "
    "version, incident_id, duplicate_of, expected_at, created_at, updated_at, resolved_at"
)
_SELECT_BY_TRACKING = f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE tracking = ?"


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Contact:
    """How to reach the person who reported; never shown publicly."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(slots=True)
class Request:
    """A service request as stored. Holds no reporter contact details.

    A snapshot to read, not to edit: changes go through the store (``change_status``
    and friends). Not frozen only because building frozen instances costs a look-up its
    speed, and look-ups by tracking number are the hottest path of the public pages.
    """

    id: int
    tracking: str
    service_code: str
    channel: str
    description: str
    address: str | None
    lon: float | None
    lat: float | None
    location_source: str
    asset_layer: str | None
    asset_id: str | None
    snap_distance_m: float | None
    is_flagged: bool
    flag_reason: str | None
    attributes: dict[str, str]
    status: str
    version: int
    incident_id: int | None
    duplicate_of: int | None
    expected_at: datetime | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @property
    def number(self) -> str:
        """The tracking number as printed: ``XXXXX-XXXXX``."""
        return tracking.format_number(self.tracking)

    @property
    def is_open(self) -> bool:
        """Whether work on the request is still to be done."""
        return self.status in OPEN_STATUSES

    @classmethod
    def from_row(cls, row: Row) -> Request:
        """Build a request from a database row."""
        attributes = row["attributes"]
        row["attributes"] = json.loads(attributes) if attributes and attributes != "{}" else {}
        return cls(**row)


@dataclass(frozen=True)
class Event:
    """One entry of a request's append-only audit trail."""

    id: int
    request_id: int
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str
    is_public: bool


@dataclass(frozen=True)
class Incident:
    """One fault seen through one or more requests."""

    id: int
    code: str
    service_code: str
    status: str
    version: int
    group_key: str | None
    priority: float
    customers_affected: int
    details: dict[str, Any]
    area_geojson: str | None
    crew_id: int | None
    eta_at: datetime | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Incident:
        """Build an incident from a database row."""
        values = {k: v for k, v in row.items() if k != "area"}
        values["details"] = json.loads(values["details"] or "{}")
        return cls(**values)


@dataclass(frozen=True)
class Crew:
    """A field crew."""

    id: int
    name: str
    skills: list[str]
    depot_lon: float | None
    depot_lat: float | None
    shift_start: str
    shift_end: str
    status: str
    created_at: datetime = field(default_factory=utc_now)

    @classmethod
    def from_row(cls, row: Row) -> Crew:
        """Build a crew from a database row."""
        values = dict(row)
        values["skills"] = json.loads(values["skills"])
        return cls(**values)


@dataclass(frozen=True)
class NewRequest:
    """Everything intake has checked and worked out, ready to be stored."""

    service_code: str
    channel: str
    description: str
    address: str | None
    lon: float | None
    lat: float | None
    location_source: str
    attributes: dict[str, str]
    expected_at: datetime | None
    created_at: datetime
    actor: str
    contact: Contact | None = None
    idempotency_key: str | None = None
    asset_layer: str | None = None
    asset_id: str | None = None
    snap_distance_m: float | None = None
    is_flagged: bool = False
    flag_reason: str | None = None


def _status_filter(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    if isinstance(status, str):
        if status == "open":
            return sorted(OPEN_STATUSES)
        if status == "closed":
            return sorted(CLOSED_STATUSES)
        return [status]
    names: list[str] = []
    for s in status:
        names.extend(_status_filter(s) or [])
    return names


class Store:
    """The tracking-number store over SQLite or PostgreSQL/PostGIS.

    Parameters
    ----------
    url
        A database URL; ``settings.database_url`` when omitted.
    settings
        The settings to use; read from the environment when omitted.
    """

    def __init__(self, url: str | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.url = url or self.settings.database_url
        self._backend = open_backend(self.url)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgis``."""
        return self._backend.name

    def transaction(self, write: bool = True) -> Any:
        """Return a context manager yielding one transaction on the backend."""
        return self._backend.transaction(write)

    def close(self) -> None:
        """Release the store's connections."""
        self._backend.close()

    def integrity_check(self) -> str:
        """Return the database's own integrity verdict (``ok``); SQLite only."""
        check = getattr(self._backend, "integrity_check", None)
        return "ok" if check is None else str(check())

    # --- requests -------------------------------------------------------------------

    def insert_request(self, new: NewRequest) -> tuple[Request, bool]:
        """Store a checked request with its contact and first event.

        Returns
        -------
        (Request, bool)
            The stored request, and True if it was stored by an earlier call with the same
            idempotency key (nothing new was written).
        """
        if new.idempotency_key:
            earlier = self._by_idempotency_key(new.idempotency_key)
            if earlier is not None:
                return earlier, True
        for _attempt in range(8):
            number = tracking.new_number()
            try:
                with self.transaction() as tx:
                    request = self._insert_request(tx, new, number)
                return request, False
            except UniqueViolationError as exc:
                if "idempotency" in exc.constraint and new.idempotency_key:
                    earlier = self._by_idempotency_key(new.idempotency_key)
                    if earlier is not None:
                        return earlier, True
                LOGGER.warning("tracking number collision on %s; drawing again", exc.constraint)
        message = "could not draw an unused tracking number in 8 attempts"
        raise RuntimeError(message)

    def insert_requests(self, batch: Sequence[NewRequest]) -> list[tuple[Request, bool]]:
        """Store many checked requests in one transaction (imports, bulk intake).

        Requests whose idempotency key is already stored are returned as they were, with
        True beside them; the rest are all stored or, on any error, none are.
        """
        keys = [n.idempotency_key for n in batch if n.idempotency_key]
        earlier: dict[str, Request] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            with self.transaction(write=False) as tx:
                rows = tx.all(
                    f"SELECT {_REQUEST_COLUMNS}, idempotency_key AS k FROM requests "
                    f"WHERE idempotency_key IN ({marks})",
                    chunk,
                )
            earlier.update({r.pop("k"): Request.from_row(r) for r in rows})
        for _attempt in range(8):
            try:
                out: list[tuple[Request, bool]] = []
                seen: dict[str, Request] = {}
                deferred: list[tuple[Request, NewRequest]] = []
                with self.transaction() as tx:
                    for new in batch:
                        key = new.idempotency_key
                        if key and key in earlier:
                            out.append((earlier[key], True))
                        elif key and key in seen:
                            out.append((seen[key], True))
                        else:
                            request = self._insert_request(
                                tx, new, tracking.new_number(), deferred
                            )
                            if key:
                                seen[key] = request
                            out.append((request, False))
                    self._insert_companions(tx, deferred)
                return out
            except UniqueViolationError as exc:
                if "idempotency" in exc.constraint:
                    raise
                LOGGER.warning("tracking number collision in a batch; drawing again")
        raise RuntimeError("could not draw unused tracking numbers in 8 attempts")

    def _insert_request(
        self,
        tx: Transaction,
        new: NewRequest,
        number: str,
        deferred: list[tuple[Request, NewRequest]] | None = None,
    ) -> Request:
        row = tx.one(
            "INSERT INTO requests (tracking, service_code, channel, description, address, lon, "
            "lat, location_source, asset_layer, asset_id, snap_distance_m, is_flagged, "
            "flag_reason, attributes, status, version, idempotency_key, expected_at, "
            "created_at, updated_at) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', 1, ?, ?, ?, ?) RETURNING id",
            (
                number,
                new.service_code,
                new.channel,
                new.description,
                new.address,
                new.lon,
                new.lat,
                new.location_source,
                new.asset_layer,
                new.asset_id,
                new.snap_distance_m,
                new.is_flagged,
                new.flag_reason,
                json.dumps(new.attributes),
                new.idempotency_key,
                new.expected_at,
                new.created_at,
                new.created_at,
            ),
        )
        assert row is not None
        request = Request(
            id=int(row["id"]),
            tracking=number,
            service_code=new.service_code,
            channel=new.channel,
            description=new.description,
            address=new.address,
            lon=new.lon,
            lat=new.lat,
            location_source=new.location_source,
            asset_layer=new.asset_layer,
            asset_id=new.asset_id,
            snap_distance_m=new.snap_distance_m,
            is_flagged=new.is_flagged,
            flag_reason=new.flag_reason,
            attributes=dict(new.attributes),
            status="new",
            version=1,
            incident_id=None,
            duplicate_of=None,
            expected_at=new.expected_at,
            created_at=new.created_at,
            updated_at=new.created_at,
            resolved_at=None,
        )
        if deferred is None:
            self._insert_companions(tx, [(request, new)])
        else:
            deferred.append((request, new))
        return request

    @staticmethod
    def _insert_companions(tx: Transaction, stored: Sequence[tuple[Request, NewRequest]]) -> None:
        # each request's contact (kept apart) and its first event, in bulk
        tx.many(
            "INSERT INTO contacts (request_id, name, phone, email) VALUES (?, ?, ?, ?)",
            [
                (r.id, n.contact.name, n.contact.phone, n.contact.email)
                for r, n in stored
                if n.contact is not None and any(vars(n.contact).values())
            ],
        )
        tx.many(
            "INSERT INTO events (request_id, at, actor, from_status, to_status, note, is_public)"
            " VALUES (?, ?, ?, NULL, 'new', ?, ?)",
            [(r.id, n.created_at, n.actor, f"received by {n.channel}", True) for r, n in stored],
        )

    def _by_idempotency_key(self, key: str) -> Request | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE idempotency_key = ?", (key,)
            )
        return None if row is None else Request.from_row(row)

    def get_request(self, number: str) -> Request:
        """Return the request a typed tracking number names.

        Parameters
        ----------
        number
            As typed: case, spaces, dashes and O/0, I/L/1 slips are forgiven.

        Raises
        ------
        TrackingNumberError
            If the number is malformed or fails its check; ``suggestion`` holds the one
            stored number a single slip away, when exactly one fits.
        NotFoundError
            If the number is well formed but no request has it.
        """
        canonical = tracking.normalise(number)
        if not tracking.is_valid(canonical):
            candidates = list(tracking.single_slips(canonical))
            with self.transaction(write=False) as tx:
                found = self._existing_numbers(tx, candidates)
            suggestion = tracking.format_number(found[0]) if len(found) == 1 else None
            message = (
                f"{tracking.format_number(canonical)} is not a valid tracking number: one "
                "character looks mistyped."
            )
            if suggestion:
                message += f" Did you mean {suggestion}?"
            else:
                message += " Check it against the receipt."
            raise TrackingNumberError(message, suggestion)
        row = self._backend.read_one(_SELECT_BY_TRACKING, (canonical,))
        if row is None:
            message = (
                f"no request has the tracking number {tracking.format_number(canonical)}. "
                "Check it against the receipt; numbers are given only at intake."
            )
            raise NotFoundError(message)
        return Request.from_row(row)

    @staticmethod
    def _existing_numbers(tx: Transaction, candidates: Sequence[str]) -> list[str]:
        if not candidates:
            return []
        marks = ", ".join("?" for _ in candidates)
        rows = tx.all(f"SELECT tracking FROM requests WHERE tracking IN ({marks})", candidates)
        return sorted(r["tracking"] for r in rows)

    def get_request_by_id(self, request_id: int) -> Request:
        """Return a request by its internal id."""
        with self.transaction(write=False) as tx:
            row = tx.one(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,))
        if row is None:
            raise NotFoundError(f"no request has the id {request_id}")
        return Request.from_row(row)

    def list_requests(
        self,
        *,
        status: str | Sequence[str] | None = None,
        service_codes: Sequence[str] | None = None,
        numbers: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        incident_id: int | None = None,
        limit: int | None = 1000,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[Request]:
        """Return requests matching every filter given.

        Parameters
        ----------
        status
            A status, ``open``, ``closed``, or a list of these.
        service_codes, numbers
            Service codes, or canonical tracking numbers.
        since, until
            Bounds on ``created_at`` (inclusive, exclusive).
        bbox
            ``(min_lon, min_lat, max_lon, max_lat)``; uses the spatial index.
        incident_id
            Only the members of one incident.
        limit, offset
            Paging; ``limit=None`` returns all.
        """
        where: list[str] = []
        params: list[Any] = []
        statuses = _status_filter(status)
        if statuses is not None:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if service_codes:
            where.append(f"service_code IN ({', '.join('?' for _ in service_codes)})")
            params.extend(service_codes)
        if numbers is not None:
            if not numbers:
                return []
            where.append(f"tracking IN ({', '.join('?' for _ in numbers)})")
            params.extend(numbers)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        if until is not None:
            where.append("created_at < ?")
            params.append(until)
        if incident_id is not None:
            where.append("incident_id = ?")
            params.append(incident_id)
        if bbox is not None:
            if self.backend == "postgis":
                where.append("geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)")
                params.extend(bbox)
            else:
                where.append(
                    "id IN (SELECT id FROM requests_rtree WHERE min_lon >= ? AND max_lon <= ? "
                    "AND min_lat >= ? AND max_lat <= ?)"
                )
                params.extend([bbox[0], bbox[2], bbox[1], bbox[3]])
        sql = f"SELECT {_REQUEST_COLUMNS} FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params.extend([int(limit), int(offset)])
        with self.transaction(write=False) as tx:
            rows = tx.all(sql, params)
        return [Request.from_row(r) for r in rows]

    def count_requests(self, *, status: str | Sequence[str] | None = None) -> int:
        """Return how many requests there are, optionally with a status filter."""
        statuses = _status_filter(status)
        sql = "SELECT COUNT(*) AS n FROM requests"
        params: list[Any] = []
        if statuses is not None:
            sql += f" WHERE status IN ({', '.join('?' for _ in statuses)})"
            params = statuses
        with self.transaction(write=False) as tx:
            row = tx.one(sql, params)
        return int(row["n"]) if row else 0

    def contact_for(self, number: str) -> Contact | None:
        """Return the reporter's contact details; for staff pages only."""
        request = self.get_request(number)
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT name, phone, email FROM contacts WHERE request_id = ?", (request.id,)
            )
        return None if row is None else Contact(**row)

    def events_for(self, number: str, *, public_only: bool = False) -> list[Event]:
        """Return a request's audit trail, oldest first."""
        request = self.get_request(number)
        sql = "SELECT * FROM events WHERE request_id = ?"
        if public_only:
            sql += " AND is_public = ?"
        with self.transaction(write=False) as tx:
            rows = tx.all(
                sql + " ORDER BY id", (request.id, True) if public_only else (request.id,)
            )
        return [Event(**{**r, "is_public": bool(r["is_public"])}) for r in rows]

    def public_events(self, request_ids: Sequence[int]) -> dict[int, list[Event]]:
        """Return the public events of many requests in one query, oldest first, by id."""
        found: dict[int, list[Event]] = {int(i): [] for i in request_ids}
        if not found:
            return found
        marks = ", ".join("?" for _ in found)
        with self.transaction(write=False) as tx:
            rows = tx.all(
                f"SELECT * FROM events WHERE request_id IN ({marks}) "
                "AND is_public = ? ORDER BY id",
                (*found, True),
            )
        for r in rows:
            found[int(r["request_id"])].append(Event(**{**r, "is_public": True}))
        return found

    # --- status changes -------------------------------------------------------------

    def change_status(
        self,
        number: str,
        to_status: str,
        *,
        actor: str,
        expected_version: int,
        note: str = "",
        public: bool = True,
        at: datetime | None = None,
    ) -> Request:
        """Move a request to a new status, if nobody changed it since it was read.

        Parameters
        ----------
        number
            The tracking number, as typed.
        to_status
            The status asked for; the lifecycle must allow it.
        actor
            Who makes the change (a staff user, a crew, ``system``).
        expected_version
            The ``version`` of the request as the caller read it.
        note, public
            A note for the audit trail, and whether the resident may see it.
        at
            When the change happened; now when omitted.

        Raises
        ------
        ConflictError
            If the stored version differs: says who changed it and when.
        TransitionError
            If the lifecycle does not allow the change.
        """
        request = self.get_request(number)
        now = at or utc_now()
        with self.transaction() as tx:
            self._change_status(
                tx,
                request.id,
                to_status,
                actor=actor,
                expected_version=expected_version,
                note=note,
                public=public,
                now=now,
            )
        return self.get_request_by_id(request.id)

    def _change_status(
        self,
        tx: Transaction,
        request_id: int,
        to_status: str,
        *,
        actor: str,
        expected_version: int | None,
        note: str,
        public: bool,
        now: datetime,
    ) -> None:
        row = tx.one(
            "SELECT tracking, status, version, resolved_at FROM requests WHERE id = ?",
            (request_id,),
        )
        if row is None:
            raise NotFoundError(f"no request has the id {request_id}")
        if expected_version is not None and row["version"] != expected_version:
            raise self._conflict(tx, request_id, row, expected_version)
        check_transition(
            row["status"],
            to_status,
            resolved_at=row["resolved_at"],
            now=now,
            reopen_days=self.settings.reopen_days,
        )
        resolved_at = (
            now
            if to_status == "resolved"
            else (None if to_status == "acknowledged" else row["resolved_at"])
        )
        changed = tx.execute(
            "UPDATE requests SET status = ?, version = version + 1, updated_at = ?, "
            "resolved_at = ? WHERE id = ? AND version = ?",
            (to_status, now, resolved_at, request_id, row["version"]),
        )
        if changed != 1:
            raise self._conflict(tx, request_id, row, row["version"])
        tx.execute(
            "INSERT INTO events (request_id, at, actor, from_status, to_status, note, is_public)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (request_id, now, actor, row["status"], to_status, note, public),
        )

    @staticmethod
    def _conflict(tx: Transaction, request_id: int, row: Row, expected: int) -> ConflictError:
        last = tx.one(
            "SELECT actor, at, to_status FROM events WHERE request_id = ? ORDER BY id DESC "
            "LIMIT 1",
            (request_id,),
        )
        fresh = tx.one("SELECT version FROM requests WHERE id = ?", (request_id,))
        current = int(fresh["version"]) if fresh else int(row["version"])
        who = last["actor"] if last else None
        when = last["at"] if last else None
        message = (
            f"request {tracking.format_number(row['tracking'])} was changed by {who} at "
            f"{when:%Y-%m-%d %H:%M:%S} UTC (now {last['to_status'] if last else '?'}, "
            f"version {current}) after you read version {expected}. Reload it and decide again."
            if when
            else f"request changed since version {expected}; reload it"
        )
        return ConflictError(message, current, who, when)

    def replay_history(self, steps: Sequence[tuple[int, str, datetime]], *, actor: str) -> int:
        """Apply past status changes in one transaction (imports of historical requests).

        Each step is ``(request_id, status, when)``, applied in order through the same
        lifecycle checks and audit events as a live change.

        Returns
        -------
        int
            The number of changes applied.
        """
        with self.transaction() as tx:
            for request_id, status, at in steps:
                self._change_status(
                    tx,
                    request_id,
                    status,
                    actor=actor,
                    expected_version=None,
                    note="",
                    public=True,
                    now=at,
                )
        return len(steps)

    def add_note(self, number: str, note: str, *, actor: str, public: bool) -> Event:
        """Append a note to a request's trail without changing its status."""
        request = self.get_request(number)
        text = note.strip()
        if not text:
            raise ValueError("a note needs some text; got an empty note")
        with self.transaction() as tx:
            row = tx.one(
                "INSERT INTO events (request_id, at, actor, from_status, to_status, note, "
                "is_public) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    request.id,
                    utc_now(),
                    actor,
                    request.status,
                    request.status,
                    text[:4000],
                    public,
                ),
            )
        assert row is not None
        return Event(**{**row, "is_public": bool(row["is_public"])})

    # --- feedback -------------------------------------------------------------------

    def add_feedback(self, number: str, rating: int, comment: str = "") -> None:
        """Record the resident's 1-5 rating of a resolved request, once.

        Raises
        ------
        FeedbackError
            If the rating is not 1-5, the request is not resolved or closed, or it was
            already rated.
        """
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise FeedbackError(f"a rating is a whole number from 1 to 5, got {rating!r}")
        request = self.get_request(number)
        if request.status not in ("resolved", "closed"):
            message = (
                f"request {request.number} is {request.status}; it can be rated once it is "
                "resolved"
            )
            raise FeedbackError(message)
        try:
            with self.transaction() as tx:
                tx.execute(
                    "INSERT INTO feedback (request_id, rating, comment, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (request.id, rating, comment.strip()[:2000], utc_now()),
                )
        except UniqueViolationError:
            raise FeedbackError(f"request {request.number} has already been rated") from None

    def feedback_summary(self) -> dict[str, float]:
        """Return the count and mean of ratings."""
        with self.transaction(write=False) as tx:
            row = tx.one("SELECT COUNT(*) AS n, AVG(rating) AS mean FROM feedback")
        return {
            "count": float(row["n"]) if row else 0.0,
            "mean": float(row["mean"]) if row and row["mean"] is not None else 0.0,
        }

    # --- incidents ------------------------------------------------------------------

    def create_incident(
        self,
        service_code: str,
        *,
        group_key: str | None,
        request_ids: Iterable[int],
        priority: float = 0.0,
        customers_affected: int = 0,
        details: dict[str, Any] | None = None,
        area_geojson: str | None = None,
        at: datetime | None = None,
    ) -> Incident:
        """Open an incident and attach the given requests to it."""
        now = at or utc_now()
        for _attempt in range(8):
            code = "IN" + tracking.new_number()[:6]
            try:
                with self.transaction() as tx:
                    row = tx.one(
                        "INSERT INTO incidents (code, service_code, status, version, group_key, "
                        "priority, customers_affected, details, area_geojson, created_at, "
                        "updated_at) VALUES (?, ?, 'new', 1, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                        (
                            code,
                            service_code,
                            group_key,
                            priority,
                            customers_affected,
                            json.dumps(details or {}),
                            area_geojson,
                            now,
                            now,
                        ),
                    )
                    assert row is not None
                    ids = list(request_ids)
                    tx.many(
                        "UPDATE requests SET incident_id = ? WHERE id = ?",
                        [(row["id"], i) for i in ids],
                    )
                return Incident.from_row(row)
            except UniqueViolationError:
                continue
        raise RuntimeError("could not draw an unused incident code in 8 attempts")

    def update_incident(self, incident_id: int, **values: Any) -> Incident:
        """Set some of an incident's fields (priority, customers, details, area, crew, eta)."""
        allowed = {
            "priority",
            "customers_affected",
            "details",
            "area_geojson",
            "crew_id",
            "eta_at",
            "group_key",
        }
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(f"cannot set {unknown} on an incident; settable: {sorted(allowed)}")
        if "details" in values:
            values["details"] = json.dumps(values["details"])
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as tx:
            row = tx.one(
                f"UPDATE incidents SET {sets}, updated_at = ?, version = version + 1 "
                "WHERE id = ? RETURNING *",
                (*values.values(), utc_now(), incident_id),
            )
        if row is None:
            raise NotFoundError(f"no incident has the id {incident_id}")
        return Incident.from_row(row)

    def get_incident(self, key: int | str) -> Incident:
        """Return an incident by id or code."""
        column = "id" if isinstance(key, int) else "code"
        value = key if isinstance(key, int) else str(key).strip().upper()
        with self.transaction(write=False) as tx:
            row = tx.one(f"SELECT * FROM incidents WHERE {column} = ?", (value,))
        if row is None:
            raise NotFoundError(f"no incident has the {column} {key!r}")
        return Incident.from_row(row)

    def list_incidents(self, *, status: str | Sequence[str] | None = "open") -> list[Incident]:
        """Return incidents, highest priority first."""
        statuses = _status_filter(status)
        sql = "SELECT * FROM incidents"
        params: list[Any] = []
        if statuses is not None:
            sql += f" WHERE status IN ({', '.join('?' for _ in statuses)})"
            params = statuses
        with self.transaction(write=False) as tx:
            rows = tx.all(sql + " ORDER BY priority DESC, created_at", params)
        return [Incident.from_row(r) for r in rows]

    def change_incident_status(
        self,
        key: int | str,
        to_status: str,
        *,
        actor: str,
        expected_version: int,
        note: str = "",
        public: bool = True,
        at: datetime | None = None,
    ) -> Incident:
        """Move an incident and every open member request with it, in one transaction.

        Each member gets its own event. Members already past the target (for example a
        request that was cancelled) are left as they are.

        Raises
        ------
        ConflictError
            If the incident changed since ``expected_version`` was read.
        TransitionError
            If the incident's own status does not allow the change.
        """
        incident = self.get_incident(key)
        now = at or utc_now()
        with self.transaction() as tx:
            if incident.version != expected_version:
                message = (
                    f"incident {incident.code} changed after you read version "
                    f"{expected_version} (now version {incident.version}, "
                    f"{incident.status}). Reload it and decide again."
                )
                raise ConflictError(message, incident.version, None, incident.updated_at)
            check_transition(
                incident.status,
                to_status,
                resolved_at=incident.resolved_at,
                now=now,
                reopen_days=self.settings.reopen_days,
            )
            changed = tx.execute(
                "UPDATE incidents SET status = ?, version = version + 1, updated_at = ?, "
                "resolved_at = ? WHERE id = ? AND version = ?",
                (
                    to_status,
                    now,
                    now if to_status == "resolved" else incident.resolved_at,
                    incident.id,
                    expected_version,
                ),
            )
            if changed != 1:
                raise ConflictError(
                    f"incident {incident.code} changed meanwhile; reload it",
                    incident.version + 1,
                    None,
                    None,
                )
            members = tx.all(
                "SELECT id, status FROM requests WHERE incident_id = ?", (incident.id,)
            )
            for member in members:
                if member["status"] == to_status:
                    continue
                try:
                    check_transition(
                        member["status"],
                        to_status,
                        resolved_at=None,
                        now=now,
                        reopen_days=self.settings.reopen_days,
                    )
                except ValueError:
                    continue
                self._change_status(
                    tx,
                    member["id"],
                    to_status,
                    actor=actor,
                    expected_version=None,
                    note=note or f"with incident {incident.code}",
                    public=public,
                    now=now,
                )
        return self.get_incident(incident.id)

    def set_request_incident(self, request_id: int, incident_id: int | None) -> None:
        """Attach a request to an incident, or detach it with None."""
        with self.transaction() as tx:
            changed = tx.execute(
                "UPDATE requests SET incident_id = ?, version = version + 1 WHERE id = ?",
                (incident_id, request_id),
            )
        if changed != 1:
            raise NotFoundError(f"no request has the id {request_id}")

    def mark_duplicate(
        self, number: str, of_number: str, *, actor: str, expected_version: int
    ) -> Request:
        """Mark a request a duplicate of another; the original carries on."""
        request = self.get_request(number)
        original = self.get_request(of_number)
        if original.id == request.id:
            raise ValueError("a request cannot be a duplicate of itself")
        now = utc_now()
        with self.transaction() as tx:
            self._change_status(
                tx,
                request.id,
                "duplicate",
                actor=actor,
                expected_version=expected_version,
                note=f"duplicate of {original.number}",
                public=True,
                now=now,
            )
            tx.execute(
                "UPDATE requests SET duplicate_of = ?, incident_id = ? WHERE id = ?",
                (original.id, original.incident_id, request.id),
            )
        return self.get_request_by_id(request.id)

    # --- crews ----------------------------------------------------------------------

    def add_crew(
        self,
        name: str,
        skills: Sequence[str],
        *,
        depot_lon: float | None = None,
        depot_lat: float | None = None,
        shift_start: str = "07:00",
        shift_end: str = "17:00",
    ) -> Crew:
        """Add a crew; names are unique."""
        known = set(SKILLS)
        unknown = sorted(set(skills) - known)
        if unknown:
            raise ValueError(
                f"unknown skills {unknown}; a crew's skills are among {sorted(known)}"
            )
        try:
            with self.transaction() as tx:
                row = tx.one(
                    "INSERT INTO crews (name, skills, depot_lon, depot_lat, shift_start, "
                    "shift_end, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'available', ?) "
                    "RETURNING *",
                    (
                        name,
                        json.dumps(sorted(skills)),
                        depot_lon,
                        depot_lat,
                        shift_start,
                        shift_end,
                        utc_now(),
                    ),
                )
        except UniqueViolationError:
            raise ValueError(f"a crew named {name!r} exists already; pick another name") from None
        assert row is not None
        return Crew.from_row(row)

    def list_crews(self) -> list[Crew]:
        """Return every crew by name."""
        with self.transaction(write=False) as tx:
            rows = tx.all("SELECT * FROM crews ORDER BY name")
        return [Crew.from_row(r) for r in rows]

    # --- reporting ------------------------------------------------------------------

    def first_acknowledged(self) -> dict[int, datetime]:
        """Return, per request id, when it first left ``new``."""
        with self.transaction(write=False) as tx:
            rows = tx.all(
                "SELECT request_id, MIN(at) AS at FROM events "
                "WHERE from_status = 'new' GROUP BY request_id"
            )
        return {int(r["request_id"]): r["at"] for r in rows}
