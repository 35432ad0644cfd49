"""The FastAPI application: Open311 GeoReport v2, the staff endpoints and their limits.

``uvicorn --factory api.app:create_app`` serves it; ``waterdesk api`` does the same on
``WATERDESK_API_PORT``. The OpenAPI document is at ``/openapi.json``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import open311, staff
from api.errors import ApiError
from api.formats import render
from api.limits import BodyLimitMiddleware, Limits, RateLimiter
from api.open311 import Open311Options
from crm.store import Store

LOGGER = logging.getLogger(__name__)


def _format_of(http: HttpRequest) -> str:
    return "xml" if http.url.path.endswith(".xml") else "json"


def _errors(
    http: HttpRequest,
    status: int,
    message: str,
    *,
    suggestion: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    error: dict[str, object] = {"code": status, "description": message}
    if suggestion:
        error["suggestion"] = suggestion
    return render(
        [error],
        _format_of(http),
        "errors",
        status=status,
        headers=dict(headers) if headers else None,
    )


async def _api_error(http: HttpRequest, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    level = logging.WARNING if exc.status in (403, 429) else logging.INFO
    LOGGER.log(level, "%s %s answered %s: %s", http.method, http.url.path, exc.status, exc.detail)
    return _errors(http, exc.status, exc.message, suggestion=exc.suggestion, headers=exc.headers)


async def _validation_error(http: HttpRequest, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = [str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body")]
        if where[:1] == ["fmt"]:
            return _errors(http, 404, "unknown format: end the path with .json or .xml")
        got = f" (got {str(error['input'])[:40]!r})" if error.get("input") is not None else ""
        problems.append(f"{'.'.join(where) or 'request'}: {error.get('msg', 'invalid')}{got}")
    message = "; ".join(problems) or "the request is malformed"
    LOGGER.info("%s %s answered 400: %s", http.method, http.url.path, message)
    return _errors(http, 400, message)


async def _http_error(http: HttpRequest, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    messages = {
        404: "no such endpoint: see /open311/v2/discovery.json",
        405: "this endpoint does not take that method",
    }
    message = messages.get(exc.status_code, str(exc.detail))
    return _errors(http, exc.status_code, message, headers=exc.headers)


async def _unexpected(http: HttpRequest, exc: Exception) -> Response:
    incident = uuid.uuid4().hex[:12]
    LOGGER.exception("%s %s failed (%s)", http.method, http.url.path, incident)
    message = f"something went wrong on our side; it was logged as {incident}"
    return _errors(http, 500, message)


def create_app(
    store: Store | None = None,
    *,
    open311_options: Open311Options | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """Build the API over a store.

    Parameters
    ----------
    store
        The tracking-number store; when omitted, the one the settings name is opened
        now and closed when the app shuts down.
    open311_options
        The agency, contact and key-service texts; Saskatoon's when omitted.
    limits
        Rate and body-size limits; 30 POSTs a minute per key, 64 KiB bodies by default.

    Returns
    -------
    FastAPI
        The application, ready for uvicorn or a test client.
    """
    owned = store is None
    opened = store or Store()
    limits = limits or Limits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            opened.close()

    app = FastAPI(
        title="Waterdesk Open311",
        version="2",
        summary="Open311 GeoReport v2 for water and sewer service requests.",
        lifespan=lifespan,
    )
    app.state.store = opened
    app.state.open311 = open311_options or Open311Options()
    app.state.limiter = RateLimiter(limits)
    app.include_router(open311.router)
    app.include_router(staff.router)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes)
    LOGGER.info("API ready on the %s store", opened.backend)
    return app
