"""The dispatch queue order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from crm.store import Incident
from dispatch.priority import queue_score, rank_incidents

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def _incident(code: str, priority: float, hours_old: float) -> Incident:
    at = NOW - timedelta(hours=hours_old)
    return Incident(
        id=hash(code) % 1000,
        code=code,
        service_code="water_outage",
        status="new",
        version=1,
        group_key=None,
        priority=priority,
        customers_affected=0,
        details={},
        area_geojson=None,
        crew_id=None,
        eta_at=None,
        created_at=at,
        updated_at=at,
        resolved_at=None,
    )


def test_bigger_break_goes_first() -> None:
    small, big = _incident("S", 5.0, 1), _incident("B", 15.0, 1)
    assert [i.code for i in rank_incidents([small, big], NOW)] == ["B", "S"]


def test_waiting_lifts_a_small_job_past_a_fresh_one_of_similar_size() -> None:
    old, fresh = _incident("OLD", 5.0, 48), _incident("NEW", 7.0, 0)
    assert [i.code for i in rank_incidents([fresh, old], NOW)] == ["OLD", "NEW"]


def test_ties_go_to_the_older_incident() -> None:
    a = _incident("A", 5.0, 2)
    b = replace(_incident("B", 5.0, 2), created_at=a.created_at - timedelta(seconds=1))
    assert rank_incidents([a, b], NOW)[0].code == "B"


def test_future_creation_time_adds_nothing() -> None:
    assert queue_score(_incident("F", 3.0, -5), NOW) == 3.0
