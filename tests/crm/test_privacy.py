"""Contact details typed into free text are removed before it is published."""

from __future__ import annotations

import pytest

from crm.privacy import REDACTED, redact_contacts


@pytest.mark.parametrize(
    "text",
    [
        "call 306-555-0199",
        "call (306) 555-0199 please",
        "cell +1 306 555 0199",
        "my number is 3065550199",
        "555-0199 after six",
        "email pat.example+water@example.ca",
        "PAT@EXAMPLE.CO.UK",
    ],
)
def test_remove_phone_numbers_and_emails(text: str) -> None:
    cleaned = redact_contacts(text)
    assert REDACTED in cleaned
    assert not any(part in cleaned for part in ("0199", "example.ca", "EXAMPLE.CO"))


@pytest.mark.parametrize(
    "text",
    [
        "243 2nd Ave S",
        "water off since 2026-12-03",
        "main break at 21st St E and 3rd Ave N, about 150 m long",
        "pipe 300 mm, depth 2.5 m",
        "lot 12/34",
    ],
)
def test_keep_addresses_dates_and_measures(text: str) -> None:
    assert redact_contacts(text) == text


@pytest.mark.parametrize("text", [None, ""])
def test_nothing_gives_empty_text(text: str | None) -> None:
    assert redact_contacts(text) == ""
