"""Tracking numbers: short, readable over the phone, checked, and not enumerable.

A number is nine random symbols and one check symbol from Crockford's base-32 alphabet
(digits and letters without I, L, O and U), written in two groups of five:
``7K3MQ-9XH2B``. The random part comes from :mod:`secrets`, so one number says
nothing about any other. The check symbol follows Damm's algorithm over the field with
32 elements: the quasigroup ``x * y = a.x + y`` (``a`` the field's generator) is totally
anti-symmetric, so every single-symbol substitution and every swap of two neighbours,
the check symbol included, changes the result.

Typing is forgiven: case, spaces and dashes are ignored, O reads as 0 and I or L as 1.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

from crm.errors import TrackingNumberError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 9
LENGTH = RANDOM_LENGTH + 1
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_SLIPS = {"O": "0", "I": "1", "L": "1"}
_IGNORED = " -_.\t"
_FORGIVE = str.maketrans({**dict.fromkeys(_IGNORED), **_SLIPS})
_CANONICAL = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")

# GF(32) with the irreducible polynomial x^5 + x^2 + 1; the generator a is x (value 2)
_POLY = 0b100101
_GEN = 2


def _times_gen(value: int) -> int:
    value <<= 1
    if value & 0b100000:
        value ^= _POLY
    return value


_TABLE = [[_times_gen(x) ^ y for y in range(32)] for x in range(32)]


def _interim(symbols: str) -> int:
    state = 0
    for symbol in symbols:
        state = _TABLE[state][_VALUE[symbol]]
    return state


def check_symbol(body: str) -> str:
    """Return the check symbol that makes ``body`` plus it validate.

    Parameters
    ----------
    body
        Canonical symbols (upper case, from :data:`ALPHABET`).
    """
    # the check c solves a.state + c = 0; in characteristic 2, c = a.state
    return ALPHABET[_times_gen(_interim(body))]


def is_valid(canonical: str) -> bool:
    """Return whether a canonical number passes its check symbol."""
    return len(canonical) == LENGTH and _interim(canonical) == 0


def new_number() -> str:
    """Return a fresh random tracking number in canonical form (no dash)."""
    bits = int.from_bytes(secrets.token_bytes(6), "big")
    body = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(RANDOM_LENGTH))
    return body + check_symbol(body)


def format_number(canonical: str) -> str:
    """Return the number as it is printed and read out: ``XXXXX-XXXXX``."""
    return f"{canonical[:5]}-{canonical[5:]}"


def normalise(typed: str) -> str:
    """Return the canonical form of a typed number without checking it.

    Raises
    ------
    TrackingNumberError
        If a character is outside the alphabet or the length is wrong.
    """
    if not isinstance(typed, str):
        raise TrackingNumberError(f"a tracking number is text, got {type(typed).__name__}")
    text = typed.upper().translate(_FORGIVE)
    if _CANONICAL.fullmatch(text):
        return text
    bad = sorted({c for c in text if c not in _VALUE})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5])
        raise TrackingNumberError(
            f"a tracking number uses only digits and letters other than U; found {shown}. "
            "It looks like 7K3MQ-9XH2B."
        )
    if len(text) != LENGTH:
        raise TrackingNumberError(
            f"a tracking number has {LENGTH} characters, found {len(text)}. "
            "It looks like 7K3MQ-9XH2B."
        )
    return text


def parse_number(typed: str) -> str:
    """Return the canonical form of a typed number, checked.

    Raises
    ------
    TrackingNumberError
        If the number is malformed or its check symbol does not match. The caller may
        then look for a stored number among :func:`single_slips`.
    """
    canonical = normalise(typed)
    if not is_valid(canonical):
        raise TrackingNumberError(
            f"{format_number(canonical)} is not a valid tracking number: one character "
            "looks mistyped. Check it against the receipt."
        )
    return canonical


def single_slips(canonical: str) -> Iterator[str]:
    """Yield every valid number one substitution or one neighbour swap away."""
    seen: set[str] = set()
    for i in range(LENGTH):
        for c in ALPHABET:
            if c != canonical[i]:
                candidate = canonical[:i] + c + canonical[i + 1 :]
                if candidate not in seen and is_valid(candidate):
                    seen.add(candidate)
                    yield candidate
    for i in range(LENGTH - 1):
        if canonical[i] != canonical[i + 1]:
            candidate = canonical[:i] + canonical[i + 1] + canonical[i] + canonical[i + 2 :]
            if candidate not in seen and is_valid(candidate):
                seen.add(candidate)
                yield candidate
