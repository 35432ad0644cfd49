"""The status lifecycle of a request and of an incident.

``new -> acknowledged -> dispatched -> in_progress -> resolved -> closed``, with
``duplicate`` and ``cancelled`` as other ends. A resolved request may be reopened (back
to ``acknowledged``) within a configurable window; after that a new report is needed.
Open311 sees only ``open`` and ``closed``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crm.errors import TransitionError

STATUSES = (
    "new",
    "acknowledged",
    "dispatched",
    "in_progress",
    "resolved",
    "closed",
    "duplicate",
    "cancelled",
)
CLOSED_STATUSES = frozenset({"resolved", "closed", "duplicate", "cancelled"})
OPEN_STATUSES = frozenset(STATUSES) - CLOSED_STATUSES

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("acknowledged", "dispatched", "resolved", "duplicate", "cancelled"),
    "acknowledged": ("dispatched", "in_progress", "resolved", "duplicate", "cancelled"),
    "dispatched": ("acknowledged", "in_progress", "resolved", "cancelled"),
    "in_progress": ("dispatched", "resolved"),
    "resolved": ("closed", "acknowledged"),
    "closed": (),
    "duplicate": (),
    "cancelled": (),
}


def open311_status(status: str) -> str:
    """Return ``open`` or ``closed``, the two states Open311 knows."""
    return "closed" if status in CLOSED_STATUSES else "open"


def check_transition(
    current: str,
    target: str,
    *,
    resolved_at: datetime | None = None,
    now: datetime,
    reopen_days: float,
) -> None:
    """Refuse a status change the lifecycle does not allow.

    Parameters
    ----------
    current, target
        The stored status and the one asked for.
    resolved_at
        When the request was resolved, for the reopening window.
    now
        The time of the change.
    reopen_days
        How long after resolution a request may be reopened.

    Raises
    ------
    TransitionError
        Naming the current status and the statuses allowed next.
    """
    if target not in STATUSES:
        message = f"unknown status {target!r}; the statuses are {', '.join(STATUSES)}"
        raise TransitionError(message)
    allowed = TRANSITIONS[current]
    if target not in allowed:
        following = ", ".join(allowed) if allowed else "none (it is final)"
        message = (
            f"cannot move a request from {current} to {target}; from {current} the next "
            f"status may be: {following}"
        )
        raise TransitionError(message)
    reopening = current == "resolved" and target == "acknowledged"
    if reopening and (resolved_at is None or now - resolved_at > timedelta(days=reopen_days)):
        message = (
            f"cannot reopen: the request was resolved more than {reopen_days:g} days "
            "ago. Take a new report and mention the old tracking number in it."
        )
        raise TransitionError(message)
