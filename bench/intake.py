"""Intake and look-up rates of the store against raw database calls doing the same writes.

On PostgreSQL both work in a schema of the benchmark's own, created and dropped by it,
so running it against a live database touches none of its data. The peer opens its own
connection with the same settings (SQLite: WAL, synchronous=FULL,
foreign keys; PostgreSQL: one connection) on a fresh copy of the same schema and makes,
per report, the same three inserts the store makes (request, contact, first event) in
one transaction; for look-ups, the same select by the unique tracking-number index. The
project's figure includes everything intake does besides: validation, text cleaning,
the tracking number and its check symbol, and building the result objects.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import BenchResult
from crm import tracking
from crm.intake import Report, submit_report, submit_reports
from crm.store import Contact, Store
from settings import load_settings

_INSERT_REQUEST = (
    "INSERT INTO requests (tracking, service_code, channel, description, address, lon, lat, "
    "location_source, attributes, status, version, expected_at, created_at, updated_at) "
    "VALUES (?, 'water_outage', 'api', ?, NULL, ?, ?, 'given', '{}', 'new', 1, ?, ?, ?) "
    "RETURNING id"
)
_INSERT_CONTACT = "INSERT INTO contacts (request_id, name, phone, email) VALUES (?, ?, ?, NULL)"
_INSERT_EVENT = (
    "INSERT INTO events (request_id, at, actor, from_status, to_status, note, is_public) "
    "VALUES (?, ?, 'resident', NULL, 'new', 'received by api', ?)"
)


def _report(i: int) -> Report:
    return Report(
        "water_outage",
        "api",
        f"bench report {i}",
        lat=52.13 + i * 1e-6,
        lon=-106.66,
        contact=Contact("Bench Resident", "306-555-0100", None),
    )


def _rate(count: int, action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return count / (time.perf_counter() - start)


def _peer_rows(i: int) -> tuple[Any, ...]:
    now = datetime.now(UTC)
    return (tracking.new_number(), f"bench report {i}", -106.66, 52.13 + i * 1e-6, now, now, now)


class _Peer:
    """Raw DB-API calls on a fresh database with the project's schema."""

    def __init__(self, connect: Callable[[], Any], placeholder: str, iso: bool) -> None:
        self.conn = connect()
        self.mark = placeholder
        self.iso = iso

    def sql(self, text: str) -> str:
        return text.replace("?", self.mark)

    def value(self, v: Any) -> Any:
        if self.iso and isinstance(v, datetime):
            return v.isoformat()
        return v

    def insert_one(self, i: int) -> None:
        rows = [self.value(v) for v in _peer_rows(i)]
        cur = self.conn.cursor()
        if self.iso:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(self.sql(_INSERT_REQUEST), rows)
        request_id = cur.fetchone()[0]
        cur.execute(self.sql(_INSERT_CONTACT), (request_id, "Bench Resident", "306-555-0100"))
        cur.execute(self.sql(_INSERT_EVENT), (request_id, rows[-1], True))
        self.conn.commit() if not self.iso else cur.execute("COMMIT")

    def insert_batch(self, start: int, count: int) -> None:
        # requests one by one for their ids, then contacts and events in bulk, as the
        # store does
        cur = self.conn.cursor()
        if self.iso:
            cur.execute("BEGIN IMMEDIATE")
        contacts, events = [], []
        for i in range(start, start + count):
            rows = [self.value(v) for v in _peer_rows(i)]
            cur.execute(self.sql(_INSERT_REQUEST), rows)
            request_id = cur.fetchone()[0]
            contacts.append((request_id, "Bench Resident", "306-555-0100"))
            events.append((request_id, rows[-1], True))
        cur.executemany(self.sql(_INSERT_CONTACT), contacts)
        cur.executemany(self.sql(_INSERT_EVENT), events)
        self.conn.commit() if not self.iso else cur.execute("COMMIT")

    def lookup(self, number: str) -> None:
        cur = self.conn.cursor()
        cur.execute(self.sql("SELECT * FROM requests WHERE tracking = ?"), (number,))
        assert cur.fetchone() is not None
        if not self.iso:
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def numbers(self) -> list[str]:
        cur = self.conn.cursor()
        cur.execute("SELECT tracking FROM requests")
        return [r[0] for r in cur.fetchall()]


def _measure(backend: str, store: Store, peer: _Peer, n: int) -> list[BenchResult]:
    # warm both up, then alternate so that drift hits both alike
    submit_report(store, _report(-1))
    peer.insert_one(-1)
    ours_one = _rate(n, lambda: [submit_report(store, _report(i)) for i in range(n)])
    peer_one = _rate(n, lambda: [peer.insert_one(i) for i in range(n)])
    batch = [_report(i) for i in range(n)]
    ours_batch = _rate(n, lambda: submit_reports(store, batch))
    peer_batch = _rate(n, lambda: peer.insert_batch(0, n))

    ours_numbers = [r.number for r in store.list_requests(limit=n)]
    peer_numbers = peer.numbers()[:n]
    ours_get = _rate(len(ours_numbers), lambda: [store.get_request(x) for x in ours_numbers])
    peer_get = _rate(len(peer_numbers), lambda: [peer.lookup(x) for x in peer_numbers])
    unit = "per s"
    return [
        BenchResult(
            f"intake one per call ({backend})",
            ours_one,
            peer_one,
            unit,
            note="peer: raw inserts of request, contact and event, commit each",
        ),
        BenchResult(
            f"intake batched x{n:,} ({backend})",
            ours_batch,
            peer_batch,
            unit,
            note="peer: the same inserts in one transaction, contacts and events in bulk",
        ),
        BenchResult(
            f"look-up by tracking number ({backend})",
            ours_get,
            peer_get,
            unit,
            note="peer: raw select on the unique index",
        ),
    ]


def run(scale: float = 1.0) -> list[BenchResult]:
    """Measure intake and look-ups on SQLite, and on PostGIS when a database is named."""
    n = max(50, int(500 * scale))
    settings = load_settings()
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'ours.db'}", settings)
        Store(f"sqlite:///{Path(folder) / 'peer.db'}", settings).close()

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(Path(folder) / "peer.db", isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")
            return conn

        peer = _Peer(connect, "?", iso=True)
        results += _measure("sqlite", store, peer, n)
        peer.close()
        store.close()

    url = os.environ.get("WATERDESK_TEST_DATABASE_URL") or (
        settings.database_url if settings.database_url.startswith("postgres") else ""
    )
    if url:
        results += _measure_postgis(url, n)
    return results


def _measure_postgis(url: str, n: int) -> list[BenchResult]:
    """Measure in a schema of the benchmark's own, dropped afterwards: no data is touched."""
    import psycopg

    schema = f"waterdesk_bench_{os.getpid()}"
    private = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema},public"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        store = Store(private, load_settings())
        peer = _Peer(lambda: psycopg.connect(private), "%s", iso=False)
        try:
            return _measure("postgis", store, peer, n)
        finally:
            peer.close()
            store.close()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    for result in run():
        print(result.line())
