"""The dispatch queue: open incidents in the order a dispatcher should take them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from crm.store import Incident

# an incident's urgency grows by one point for every this many hours it waits
HOURS_PER_POINT = 12.0


def queue_score(incident: Incident, now: datetime) -> float:
    """Return the incident's stored priority plus a bonus for waiting.

    The stored priority is severity times people affected on a log scale (see
    ``crm.incidents.score_incident``); waiting adds one point per 12 hours, so a small
    job left for days climbs past a fresh one of the same size, never past a large break.
    """
    waited = max((now - incident.created_at).total_seconds() / 3600, 0.0)
    return incident.priority + waited / HOURS_PER_POINT


def rank_incidents(incidents: Sequence[Incident], now: datetime) -> list[Incident]:
    """Return the incidents highest score first; ties go to the older incident."""
    return sorted(incidents, key=lambda i: (-queue_score(i, now), i.created_at, i.id))
