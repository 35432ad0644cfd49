"""The dispatch queue: open incidents in the order a dispatcher should take them.

The queue is sorted by how many people an incident affects (customers cut off, or the
reports themselves where no network count exists); among equals, by the incident's
priority score, which weighs the service's severity, critical facilities inside the area
and how long the incident has waited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from crm.store import Incident

# an incident's score grows by one point for every this many hours it waits
HOURS_PER_POINT = 12.0


def people_affected(incident: Incident) -> int:
    """Return the customers cut off, or the number of reports when that is larger."""
    reports = int(incident.details.get("reports", 0)) if incident.details else 0
    return max(incident.customers_affected, reports)


def queue_score(incident: Incident, now: datetime) -> float:
    """Return the incident's stored priority plus a bonus for waiting.

    The stored priority is severity times people affected on a log scale, plus critical
    facilities (see ``crm.incidents.score_incident``); waiting adds one point per 12 hours.
    """
    waited = max((now - incident.created_at).total_seconds() / 3600, 0.0)
    return incident.priority + waited / HOURS_PER_POINT


def rank_incidents(incidents: Sequence[Incident], now: datetime) -> list[Incident]:
    """Return the queue: most people affected first, then highest score, then oldest."""
    return sorted(
        incidents,
        key=lambda i: (-people_affected(i), -queue_score(i, now), i.created_at, i.id),
    )
