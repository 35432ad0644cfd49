"""The dispatch queue order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from crm.store import Incident
from dispatch.priority import people_affected, queue_score, rank_incidents

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def _incident(
    code: str, customers: int, priority: float, hours_old: float, reports: int = 1
) -> Incident:
    at = NOW - timedelta(hours=hours_old)
    return Incident(
        id=hash(code) % 1000,
        code=code,
        service_code="water_outage",
        status="new",
        version=1,
        group_key=None,
        priority=priority,
        customers_affected=customers,
        details={"reports": reports},
        area_geojson=None,
        crew_id=None,
        eta_at=None,
        created_at=at,
        updated_at=at,
        resolved_at=None,
    )


def test_more_people_affected_goes_first() -> None:
    small, big = _incident("S", 10, 9.0, 1), _incident("B", 300, 5.0, 1)
    assert [i.code for i in rank_incidents([small, big], NOW)] == ["B", "S"]


def test_reports_count_as_people_where_no_customers_are_known() -> None:
    burst = _incident("R", 0, 3.0, 1, reports=14)
    assert people_affected(burst) == 14
    assert rank_incidents([_incident("C", 5, 9.0, 1), burst], NOW)[0].code == "R"


def test_among_equals_waiting_lifts_an_older_incident() -> None:
    old, fresh = _incident("OLD", 50, 5.0, 48), _incident("NEW", 50, 7.0, 0)
    assert [i.code for i in rank_incidents([fresh, old], NOW)] == ["OLD", "NEW"]


def test_ties_go_to_the_older_incident() -> None:
    a = _incident("A", 5, 5.0, 2)
    b = replace(_incident("B", 5, 5.0, 2), created_at=a.created_at - timedelta(seconds=1))
    assert rank_incidents([a, b], NOW)[0].code == "B"


def test_future_creation_time_adds_nothing() -> None:
    assert queue_score(_incident("F", 0, 3.0, -5), NOW) == 3.0
