"""Errors the API answers with: an HTTP status, a message for the caller, a detail to log.

The message is what a client or resident reads; the detail is what staff read in the log
(it may name stored data the caller must not see). Open311 wants errors as a list of
``{code, description}``; the staff endpoints answer in the same shape.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with an HTTP status and a user-facing message kept apart from the detail.

    Parameters
    ----------
    message
        What the caller is told.
    detail
        What is logged; the message when omitted.
    suggestion
        A corrected value the caller may retry with (a tracking number one slip away).
    headers
        Extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    status = 500

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        suggestion: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message
        self.suggestion = suggestion
        self.headers = headers or {}


class BadRequestError(ApiError):
    """A parameter is missing or malformed (400)."""

    status = 400


class UnauthorizedError(ApiError):
    """No valid bearer token was sent to a staff endpoint (401)."""

    status = 401


class ForbiddenError(ApiError):
    """The api_key is missing or not valid, or the token may not do this (403)."""

    status = 403


class MissingResourceError(ApiError):
    """No such request, service, token or format (404)."""

    status = 404


class VersionConflictError(ApiError):
    """The change was based on a version someone else already replaced (409)."""

    status = 409


class PayloadTooLargeError(ApiError):
    """The request body is over the limit (413)."""

    status = 413


class UnprocessableError(ApiError):
    """Well formed, but the lifecycle does not allow it now (422)."""

    status = 422


class TooManyRequestsError(ApiError):
    """The caller is over its rate limit (429)."""

    status = 429

    def __init__(self, message: str, *, retry_after: int, detail: str | None = None) -> None:
        super().__init__(message, detail=detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after
