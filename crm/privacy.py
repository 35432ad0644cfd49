"""Keeping reporters' contact details off public pages and public API responses.

Contact fields are stored apart and never published. Free text a resident typed is
published (it says what is wrong), so before it is shown publicly anything in it that
looks like an email address or a phone number is replaced with ``[contact removed]``.
"""

from __future__ import annotations

import re

REDACTED = "[contact removed]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_LIKE = re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{5,18}\d(?![\w/])")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# 7 digits (local), 10 (with area code) or 11 (with the country code 1)
_PHONE_DIGITS = {7, 10, 11}


def _phone_or_keep(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if digits in _PHONE_DIGITS and not _DATE.match(text.strip()):
        return REDACTED
    return text


def redact_contacts(text: str | None) -> str:
    """Return free text with email addresses and phone numbers replaced.

    Examples
    --------
    >>> redact_contacts("Call me at 306-555-0199 or pat@example.ca, house 243")
    'Call me at [contact removed] or [contact removed], house 243'
    """
    if not text:
        return ""
    return _PHONE_LIKE.sub(_phone_or_keep, _EMAIL.sub(REDACTED, text))
