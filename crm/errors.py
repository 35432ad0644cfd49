"""Errors raised by the tracking-number store and intake.

Each error carries a message for staff (the exception text: what was received, what was
expected, how to fix it). Errors a resident may see also carry ``public_message``, which
never repeats stored data.
"""

from __future__ import annotations

from datetime import datetime


class IntakeError(ValueError):
    """A report was refused; nothing was stored.

    Attributes
    ----------
    field
        The input field at fault (``service_code``, ``lat``, ``description``...).
    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field

    @property
    def public_message(self) -> str:
        """The text to show the person who made the report."""
        return str(self)


class TrackingNumberError(ValueError):
    """A typed tracking number is malformed or fails its check character.

    Attributes
    ----------
    suggestion
        The one stored number a single-character slip away from what was typed, if exactly
        one fits; otherwise None.
    """

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


class NotFoundError(LookupError):
    """No request, incident or crew has the key asked for."""


class TransitionError(ValueError):
    """A status change is not allowed from the current status."""


class ConflictError(RuntimeError):
    """A change was based on a version that someone else has already replaced.

    Attributes
    ----------
    current_version
        The version now stored.
    changed_by, changed_at
        Who made the change that won, and when.
    """

    def __init__(
        self,
        message: str,
        current_version: int,
        changed_by: str | None,
        changed_at: datetime | None,
    ) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.changed_by = changed_by
        self.changed_at = changed_at


class FeedbackError(ValueError):
    """Feedback was refused: wrong rating, request not resolved, or already rated."""


class StoreError(RuntimeError):
    """The store cannot be opened or migrated as configured."""
