"""Abuse limits: a sliding-window rate limit and a cap on request bodies.

The rate limit counts in memory, per process: behind several API processes each keeps
its own windows, so the effective limit is the per-process limit times the number of
processes. The client address is the socket's peer address; behind a reverse proxy it is
the proxy's, so put the limit there too or run uvicorn with ``--proxy-headers``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from api.errors import TooManyRequestsError
from api.formats import MEDIA_TYPES, to_json, to_xml

LOGGER = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """How much one client may send.

    Attributes
    ----------
    posts_per_key
        New requests one api_key may post per window. Default 30.
    posts_per_address
        POSTs (any, refused ones included) one client address may make per window.
        Default 60: several keyed clients may share an address.
    window_s
        The sliding window in seconds. Default 60.
    max_body_bytes
        The largest request body accepted. Default 64 KiB.
    """

    posts_per_key: int = 30
    posts_per_address: int = 60
    window_s: float = 60.0
    max_body_bytes: int = 64 * 1024


class SlidingWindow:
    """Count events per identity over the last ``window_s`` seconds.

    Parameters
    ----------
    limit
        Events allowed per identity within the window.
    window_s
        The window's length in seconds.
    clock
        A monotonic clock, replaceable in tests.
    max_identities
        Identities tracked at most; the idle ones are pruned first when it fills.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_identities: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._max = max_identities
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, identity: str) -> int:
        """Record one event; return 0, or the seconds to wait when over the limit.

        A refused event is not recorded, so a client that waits as told gets through.
        """
        now = self._clock()
        with self._lock:
            hits = self._hits.get(identity)
            if hits is None:
                if len(self._hits) >= self._max:
                    self._prune(now)
                hits = self._hits[identity] = deque()
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window_s - now))
            hits.append(now)
            return 0

    def _prune(self, now: float) -> None:
        idle = [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]
        for key in idle:
            del self._hits[key]
        if len(self._hits) >= self._max:
            # still full of active identities: forget the oldest half rather than grow
            for key in list(self._hits)[: self._max // 2]:
                del self._hits[key]
            LOGGER.warning(
                "rate limiter full with %s active identities; forgot half", f"{self._max:,}"
            )


class RateLimiter:
    """The POST limits of one API process: per client address and per api_key."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.by_address = SlidingWindow(limits.posts_per_address, limits.window_s, clock=clock)
        self.by_key = SlidingWindow(limits.posts_per_key, limits.window_s, clock=clock)

    def check_address(self, address: str) -> None:
        """Count a POST from an address.

        Raises
        ------
        TooManyRequestsError
            With ``Retry-After`` when the address is over its limit.
        """
        wait = self.by_address.hit(address)
        if wait:
            raise TooManyRequestsError(
                f"too many requests from this address; try again in {wait} seconds",
                retry_after=wait,
                detail=f"address {address} over {self.by_address.limit} POSTs per window",
            )

    def check_key(self, key_id: int, key_name: str) -> None:
        """Count a POST made with an api_key.

        Raises
        ------
        TooManyRequestsError
            With ``Retry-After`` when the key is over its limit.
        """
        wait = self.by_key.hit(f"key:{key_id}")
        if wait:
            raise TooManyRequestsError(
                f"this api_key has posted {self.by_key.limit} requests in the last "
                f"{self.by_key.window_s:g} seconds, its limit; try again in {wait} seconds",
                retry_after=wait,
                detail=f"api key {key_id} ({key_name}) over its POST limit",
            )


class _BodyTooLargeError(Exception):
    pass


class BodyLimitMiddleware:
    """Answer 413 to a request whose body is over ``max_bytes``, declared or streamed.

    A declared ``Content-Length`` over the limit is refused before any of the body is
    read; a chunked body is counted as it arrives and refused once it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False
            if too_large:
                await self._refuse(scope, send)
                return

        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the app's answer to a cut-off body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_BodyTooLargeError):
            await self.app(scope, counting_receive, guarded_send)
        if over and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = (
            f"the request body is over the limit of {self.max_bytes:,} bytes; "
            "send a shorter description and no attachments"
        )
        LOGGER.info("refused a request body over %s bytes", f"{self.max_bytes:,}")
        errors = [{"code": 413, "description": message}]
        fmt = "xml" if str(scope.get("path", "")).endswith(".xml") else "json"
        body = to_xml(errors, "errors") if fmt == "xml" else to_json(errors)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPES[fmt].encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
