"""Intake refuses bad reports with a clear message and stores nothing."""

from __future__ import annotations

import pytest

from crm.errors import IntakeError
from crm.intake import MAX_DESCRIPTION, Report, clean_text, submit_report
from crm.store import Contact, Store


def _report(**overrides: object) -> Report:
    values: dict[str, object] = {
        "service_code": "hydrant_issue",
        "channel": "online",
        "description": "Hydrant knocked over",
        "lat": 52.1280,
        "lon": -106.6650,
    }
    values.update(overrides)
    return Report(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field", "match"),
    [
        ({"service_code": "pothole"}, "service_code", "unknown service code 'pothole'"),
        ({"service_code": None}, "service_code", "use one of: water_outage"),
        ({"channel": "fax"}, "channel", "unknown channel 'fax'"),
        ({"lat": 95.0}, "lat", "out of range"),
        ({"lon": -200.0}, "lat", "out of range"),
        ({"lat": float("nan")}, "lat", "not NaN"),
        ({"lon": float("inf")}, "lat", "not NaN or infinity"),
        ({"lat": "north"}, "lat", "must be numbers"),
        ({"lat": 49.28, "lon": -123.12}, "lat", "outside the area this utility serves"),
        ({"lat": None}, "lat", "both lat and long"),
        ({"lat": None, "lon": None}, "address", "give lat and long, or a street address"),
        ({"description": "x" * (MAX_DESCRIPTION + 1)}, "description", "limit is 4,000"),
        ({"description": b"\x89PNG\r\n\x1a\n"}, "description", "not binary data"),
        ({"description": "ok\x00\x01\x02\x03"}, "description", "looks like binary"),
        ({"description": 42}, "description", "must be text"),
        ({"address": "a" * 301}, "address", "limit is 300"),
        ({"contact": Contact(None, "call me", None)}, "phone", "is not a phone number"),
        ({"contact": Contact(None, None, "nobody")}, "email", "not an email address"),
        ({"attributes": {"colour": "red"}}, "attribute", "has no question 'colour'"),
        ({"attributes": {"hydrant_leaking": "maybe"}}, "attribute", "not one of: yes, no"),
        ({"idempotency_key": "k" * 101}, "idempotency key", "limit is 100"),
    ],
)
def test_reject_bad_report_and_store_nothing(
    store: Store, overrides: dict[str, object], field: str, match: str
) -> None:
    kept = submit_report(store, _report())

    with pytest.raises(IntakeError, match=match) as caught:
        submit_report(store, _report(**overrides))

    assert caught.value.field == field
    assert store.count_requests() == 1
    assert store.get_request(kept.number).status == "new"


def test_strip_control_characters_but_keep_newlines(store: Store) -> None:
    receipt = submit_report(
        store, _report(description="line one\x07\nline\ttwo, and a few more words\x1b")
    )
    assert receipt.request.description == "line one\nline\ttwo, and a few more words"


def test_store_markup_as_text(store: Store) -> None:
    text = "<script>alert('x')</script>"
    receipt = submit_report(store, _report(description=text))
    assert store.get_request(receipt.number).description == text


def test_address_only_report_is_stored_pending_without_layers(store: Store) -> None:
    receipt = submit_report(store, _report(lat=None, lon=None, address="243 2nd Ave S"))
    assert receipt.request.location_source == "pending"
    assert receipt.request.lat is None
    assert receipt.notices


def test_expected_date_follows_service_standard(store: Store) -> None:
    receipt = submit_report(store, _report())
    hours = (receipt.request.expected_at - receipt.request.created_at).total_seconds() / 3600
    assert hours == pytest.approx(72)


@pytest.mark.parametrize("text", ["", None, "  "])
def test_clean_text_of_nothing_is_empty(text: str | None) -> None:
    assert clean_text(text, "description", 10) == ""
