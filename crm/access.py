"""API keys for Open311 clients and bearer tokens for staff users and crews.

A key or token is drawn with :func:`secrets.token_urlsafe` and shown once, when it is
created; the store keeps only its SHA-256 hash and a short prefix that lets staff tell
keys apart in a listing. Verifying hashes what was presented and looks the hash up, so a
leaked database does not hand out working keys. Revoking is immediate and permanent.

These are plain functions over a :class:`~crm.store.Store` so that the command line
(``waterdesk api-keys``, ``waterdesk staff-tokens``) and the API share them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from crm.backends import Row
from crm.errors import NotFoundError
from crm.store import Store, utc_now

LOGGER = logging.getLogger(__name__)

API_KEY_LABEL = "wdk_"
STAFF_TOKEN_LABEL = "wds_"
MAX_NAME = 100
MAX_SECRET = 200
_PREFIX_LENGTH = 8


class AccessError(PermissionError):
    """A key or token is missing, unknown or revoked.

    The message is safe to show the caller: it never says which of those it was for a
    presented secret, so that guessing learns nothing.
    """


@dataclass(frozen=True)
class ApiKey:
    """An Open311 client's key, as listed; the key itself is never stored."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def is_active(self) -> bool:
        """Whether the key is still accepted."""
        return self.revoked_at is None


@dataclass(frozen=True)
class StaffToken:
    """A staff user's or a crew's bearer token, as listed."""

    id: int
    name: str
    prefix: str
    crew_id: int | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def is_active(self) -> bool:
        """Whether the token is still accepted."""
        return self.revoked_at is None


def hash_secret(secret: str) -> str:
    """Return the hex SHA-256 of a key or token, the only form the store keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check_name(name: str, what: str) -> str:
    text = (name or "").strip()
    if not text or len(text) > MAX_NAME or not text.isprintable():
        message = (
            f"a {what} needs a printable name of 1 to {MAX_NAME} characters, got {name!r}; "
            "use something like the client's or person's name"
        )
        raise ValueError(message)
    return text


def _new_secret(label: str) -> str:
    return label + secrets.token_urlsafe(32)


def _api_key(row: Row) -> ApiKey:
    return ApiKey(row["id"], row["name"], row["prefix"], row["created_at"], row["revoked_at"])


def _staff_token(row: Row) -> StaffToken:
    return StaffToken(
        row["id"], row["name"], row["prefix"], row["crew_id"], row["created_at"], row["revoked_at"]
    )


# the two kinds of secret share their table layout; names below are fixed by the code
_KEY_TABLE = ("api_keys", "key_hash", "id, name, prefix, created_at, revoked_at")
_TOKEN_TABLE = ("staff_tokens", "token_hash", "id, name, prefix, crew_id, created_at, revoked_at")


def _list(store: Store, table: tuple[str, str, str], include_revoked: bool) -> list[Row]:
    name, _hash, columns = table
    sql = f"SELECT {columns} FROM {name}"
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    with store.transaction(write=False) as tx:
        return tx.all(sql + " ORDER BY id")


def _revoke(store: Store, table: tuple[str, str, str], row_id: int) -> Row | None:
    name, _hash, columns = table
    with store.transaction() as tx:
        tx.execute(
            f"UPDATE {name} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (utc_now(), int(row_id)),
        )
        return tx.one(f"SELECT {columns} FROM {name} WHERE id = ?", (int(row_id),))


def _find_active(store: Store, table: tuple[str, str, str], presented: str) -> Row | None:
    name, hash_column, columns = table
    with store.transaction(write=False) as tx:
        return tx.one(
            f"SELECT {columns} FROM {name} WHERE {hash_column} = ? AND revoked_at IS NULL",
            (hash_secret(presented),),
        )


# --- API keys ---------------------------------------------------------------------


def create_api_key(store: Store, name: str) -> tuple[ApiKey, str]:
    """Issue a key for an Open311 client.

    Parameters
    ----------
    store
        The store that keeps the key's hash.
    name
        Who the key is for (shown in listings and used as the actor of its reports).

    Returns
    -------
    (ApiKey, str)
        The stored record, and the key itself: show it once, it cannot be read back.

    Raises
    ------
    ValueError
        If the name is empty, too long or not printable.
    """
    name = _check_name(name, "key")
    secret = _new_secret(API_KEY_LABEL)
    prefix = secret[: len(API_KEY_LABEL) + _PREFIX_LENGTH]
    with store.transaction() as tx:
        row = tx.one(
            "INSERT INTO api_keys (name, key_hash, prefix, created_at) VALUES (?, ?, ?, ?) "
            "RETURNING id, name, prefix, created_at, revoked_at",
            (name, hash_secret(secret), prefix, utc_now()),
        )
    assert row is not None
    LOGGER.info("issued API key %s (%s) to %s", row["id"], prefix, name)
    return _api_key(row), secret


def list_api_keys(store: Store, *, include_revoked: bool = True) -> list[ApiKey]:
    """Return the API keys, oldest first, without the keys themselves."""
    return [_api_key(r) for r in _list(store, _KEY_TABLE, include_revoked)]


def revoke_api_key(store: Store, key_id: int) -> ApiKey:
    """Stop accepting a key at once; revoking it again changes nothing.

    Raises
    ------
    NotFoundError
        If no key has the id.
    """
    row = _revoke(store, _KEY_TABLE, key_id)
    if row is None:
        message = f"no API key has the id {key_id}; `waterdesk api-keys list` shows the ids"
        raise NotFoundError(message)
    LOGGER.info("revoked API key %s (%s) of %s", row["id"], row["prefix"], row["name"])
    return _api_key(row)


def verify_api_key(store: Store, presented: str | None) -> ApiKey:
    """Return the active key a client presented.

    Raises
    ------
    AccessError
        If no key was presented, or it is unknown or revoked.
    """
    if not presented or len(presented) > MAX_SECRET:
        raise AccessError("an api_key is required: ask the utility for one")
    row = _find_active(store, _KEY_TABLE, presented)
    if row is None:
        raise AccessError("the api_key is not valid: check it, or ask the utility for one")
    return _api_key(row)


# --- staff and crew tokens --------------------------------------------------------


def _crew_id(store: Store, crew: str | int | None) -> int | None:
    if crew is None:
        return None
    crews = store.list_crews()
    for c in crews:
        if (
            c.id == crew
            or c.name == crew
            or (isinstance(crew, str) and c.name.casefold() == crew.strip().casefold())
        ):
            return c.id
    names = ", ".join(c.name for c in crews) or "none yet"
    message = f"no crew is named {crew!r}; the crews are: {names}"
    raise NotFoundError(message)


def create_staff_token(
    store: Store, name: str, *, crew: str | int | None = None
) -> tuple[StaffToken, str]:
    """Issue a bearer token for a staff user, or for a crew's field device.

    Parameters
    ----------
    store
        The store that keeps the token's hash.
    name
        The user or device; it becomes the actor of the changes made with the token.
    crew
        The crew's name or id, for a crew token; None for a staff user.

    Returns
    -------
    (StaffToken, str)
        The stored record, and the token itself: show it once.

    Raises
    ------
    ValueError
        If the name is unusable.
    NotFoundError
        If no crew has the name or id given.
    """
    name = _check_name(name, "token")
    crew_id = _crew_id(store, crew)
    secret = _new_secret(STAFF_TOKEN_LABEL)
    prefix = secret[: len(STAFF_TOKEN_LABEL) + _PREFIX_LENGTH]
    with store.transaction() as tx:
        row = tx.one(
            "INSERT INTO staff_tokens (name, token_hash, prefix, crew_id, created_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id, name, prefix, crew_id, created_at, revoked_at",
            (name, hash_secret(secret), prefix, crew_id, utc_now()),
        )
    assert row is not None
    LOGGER.info("issued staff token %s (%s) to %s", row["id"], prefix, name)
    return _staff_token(row), secret


def list_staff_tokens(store: Store, *, include_revoked: bool = True) -> list[StaffToken]:
    """Return the staff and crew tokens, oldest first, without the tokens themselves."""
    return [_staff_token(r) for r in _list(store, _TOKEN_TABLE, include_revoked)]


def revoke_staff_token(store: Store, token_id: int) -> StaffToken:
    """Stop accepting a token at once; revoking it again changes nothing.

    Raises
    ------
    NotFoundError
        If no token has the id.
    """
    row = _revoke(store, _TOKEN_TABLE, token_id)
    if row is None:
        message = f"no staff token has the id {token_id}; list the tokens to see the ids"
        raise NotFoundError(message)
    LOGGER.info("revoked staff token %s (%s) of %s", row["id"], row["prefix"], row["name"])
    return _staff_token(row)


def verify_staff_token(store: Store, presented: str | None) -> StaffToken:
    """Return the active staff or crew token presented.

    Raises
    ------
    AccessError
        If no token was presented, or it is unknown or revoked.
    """
    if not presented or len(presented) > MAX_SECRET:
        raise AccessError("a bearer token is required: send Authorization: Bearer TOKEN")
    row = _find_active(store, _TOKEN_TABLE, presented)
    if row is None:
        raise AccessError("the bearer token is not valid: ask a supervisor for a new one")
    return _staff_token(row)
