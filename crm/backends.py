"""Database connections for the two backends: embedded SQLite and PostgreSQL/PostGIS.

Both hand the store a :class:`Transaction` that speaks one dialect of SQL (``?``
placeholders, ``RETURNING``, ISO times) and returns rows as dictionaries with times as
aware datetimes and flags as booleans. Numbered migrations are applied on open, under a
lock, so that many processes may start at once.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from crm.errors import StoreError

LOGGER = logging.getLogger(__name__)

Row = dict[str, Any]


class UniqueViolationError(Exception):
    """An insert hit a unique constraint; ``constraint`` names the column if known."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


class Transaction(Protocol):
    """One open transaction; committed when its block ends without an error."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement and return the number of rows it changed."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query and return its first row, or None."""

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row."""

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each parameter row."""


class Backend(Protocol):
    """What the store needs of a database."""

    name: str

    def transaction(self, write: bool = True) -> Any:
        """Return a context manager yielding a :class:`Transaction`."""

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run one read-only query outside any explicit transaction; first row or None."""

    def close(self) -> None:
        """Release every connection."""


def _migrations(dialect: str) -> list[tuple[int, str, str]]:
    folder = resources.files("crm.migrations") / dialect
    found = []
    for entry in folder.iterdir():
        match = re.match(r"^(\d{4})_(\w+)\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found)


def _sqlite_params(params: Sequence[Any]) -> list[Any]:
    # SQLite keeps times as ISO-8601 text in UTC, which sorts as time does
    return [p.astimezone(UTC).isoformat() if isinstance(p, datetime) else p for p in params]


def _converter(name: str) -> Any:
    if name.endswith("_at") or name == "at":
        return datetime.fromisoformat
    if name.startswith("is_"):
        return bool
    return None


_SHAPES: dict[str, tuple[tuple[str, ...], tuple[tuple[int, Any], ...]]] = {}


def _sqlite_rows(sql: str, cursor: sqlite3.Cursor, rows: list[tuple[Any, ...]]) -> list[Row]:
    # times come back as aware datetimes and flags as booleans, as from PostgreSQL; the
    # columns and their converters are worked out once per statement
    shape = _SHAPES.get(sql)
    if shape is None:
        names = tuple(d[0] for d in cursor.description)
        converters = tuple((i, c) for i, n in enumerate(names) if (c := _converter(n)))
        shape = _SHAPES[sql] = (names, converters)
    names, converters = shape
    out = []
    for row in rows:
        values = list(row)
        for i, convert in converters:
            if values[i] is not None:
                values[i] = convert(values[i])
        out.append(dict(zip(names, values, strict=True)))
    return out


class _SqliteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _run(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, _sqlite_params(params) if params else ())
        except sqlite3.IntegrityError as exc:
            text = str(exc)
            if text.startswith("UNIQUE constraint failed"):
                raise UniqueViolationError(text.split(":", 1)[1].strip()) from exc
            raise

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._run(sql, params).rowcount

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        cursor = self._run(sql, params)
        row = cursor.fetchone()
        return None if row is None else _sqlite_rows(sql, cursor, [row])[0]

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._run(sql, params)
        return _sqlite_rows(sql, cursor, cursor.fetchall())

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(sql, (_sqlite_params(r) for r in rows))


class SqliteBackend:
    """The embedded store: one SQLite file in WAL mode.

    Each thread gets its own connection (Streamlit serves sessions from threads). Writes
    begin with ``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout instead
    of failing when a read lock would have to be upgraded. ``synchronous=FULL`` makes a
    commit durable before the tracking number is handed out.
    """

    name = "sqlite"

    def __init__(self, path: Path, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=self._busy_timeout_ms / 1000,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[_SqliteTransaction]:
        conn = self._connection()
        if not write:
            # a read runs each statement in autocommit: one statement, one snapshot
            yield _SqliteTransaction(conn)
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SqliteTransaction(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return _SqliteTransaction(self._connection()).one(sql, params)

    def _migrate(self) -> None:
        conn = self._connection()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        with self.transaction() as tx:
            done = {r["version"] for r in tx.all("SELECT version FROM schema_migrations")}
            for version, name, sql in _migrations("sqlite"):
                if version in done:
                    continue
                for statement in _split_sqlite(sql):
                    conn.execute(statement)
                tx.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (version, name, datetime.now(UTC)),
                )
                LOGGER.info("applied migration %04d_%s to %s", version, name, self.path)

    def integrity_check(self) -> str:
        """Return SQLite's own verdict on the file (``ok`` when sound)."""
        row = self._connection().execute("PRAGMA integrity_check").fetchone()
        return str(row[0])

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def _split_sqlite(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


class _PostgresTransaction:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        import psycopg

        try:
            return self._conn.execute(self._sql(sql), list(params))
        except psycopg.errors.UniqueViolation as exc:
            raise UniqueViolationError(exc.diag.constraint_name or "") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self._run(sql, params).rowcount)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._run(sql, params).fetchone()
        return None if row is None else dict(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [dict(r) for r in self._run(sql, params).fetchall()]

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._conn.cursor() as cursor:
            cursor.executemany(self._sql(sql), [list(r) for r in rows])


class PostgresBackend:
    """PostgreSQL with PostGIS through psycopg 3 and a connection pool."""

    name = "postgis"

    def __init__(self, url: str, max_size: int = 8) -> None:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        self.url = url
        try:
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=max_size,
                kwargs={"row_factory": dict_row, "autocommit": False},
                open=True,
                timeout=30,
            )
            self._pool.wait(timeout=30)
        except (psycopg.Error, Exception) as exc:
            message = (
                f"cannot connect to PostgreSQL at {_redact(url)}: {exc}. Check that the "
                "server runs and WATERDESK_DATABASE_URL names a database you may use."
            )
            raise StoreError(message) from None
        self._migrate()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[_PostgresTransaction]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PostgresTransaction(conn)

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self._pool.connection() as conn:
            return _PostgresTransaction(conn).one(sql, params)

    def _migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            # one migrator at a time across processes
            conn.execute("SELECT pg_advisory_xact_lock(7314159)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
            rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
            done = {dict(r)["version"] for r in rows}
            for version, name, sql in _migrations("postgres"):
                if version in done:
                    continue
                conn.execute(sql.encode("utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                    (version, name, datetime.now(UTC)),
                )
                LOGGER.info("applied migration %04d_%s to %s", version, name, _redact(self.url))

    def close(self) -> None:
        self._pool.close()


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def open_backend(url: str) -> SqliteBackend | PostgresBackend:
    """Open the backend a database URL names.

    Raises
    ------
    StoreError
        If the URL has an unknown scheme or the database cannot be reached.
    """
    if url.startswith("sqlite:///"):
        return SqliteBackend(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(url)
    message = (
        f"unknown database URL {_redact(url)!r}: use sqlite:///PATH for the embedded store "
        "or postgresql://USER@HOST/DB for PostGIS"
    )
    raise StoreError(message)
