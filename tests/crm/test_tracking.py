"""Tracking numbers: check symbol, forgiving input, and no enumeration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm import tracking
from crm.errors import TrackingNumberError

bodies = st.text(
    alphabet=tracking.ALPHABET, min_size=tracking.RANDOM_LENGTH, max_size=tracking.RANDOM_LENGTH
)


def _number(body: str) -> str:
    return body + tracking.check_symbol(body)


class TestCheckSymbol:
    @given(bodies, st.integers(0, tracking.LENGTH - 1), st.sampled_from(tracking.ALPHABET))
    @settings(max_examples=2000)
    def test_detect_single_substitution_anywhere(self, body: str, pos: int, c: str) -> None:
        number = _number(body)
        if number[pos] == c:
            return
        slipped = number[:pos] + c + number[pos + 1 :]
        assert not tracking.is_valid(slipped)

    @given(bodies, st.integers(0, tracking.LENGTH - 2))
    @settings(max_examples=2000)
    def test_detect_neighbour_swap_anywhere(self, body: str, pos: int) -> None:
        number = _number(body)
        if number[pos] == number[pos + 1]:
            return
        swapped = number[:pos] + number[pos + 1] + number[pos] + number[pos + 2 :]
        assert not tracking.is_valid(swapped)

    def test_detect_every_substitution_and_swap_exhaustively_for_one_number(self) -> None:
        number = tracking.new_number()
        assert tracking.is_valid(number)
        assert list(tracking.single_slips(number)) == []

    def test_new_numbers_are_valid_and_distinct(self) -> None:
        numbers = {tracking.new_number() for _ in range(5000)}
        assert len(numbers) == 5000
        assert all(tracking.is_valid(n) for n in numbers)

    def test_new_numbers_are_not_sequential(self) -> None:
        # consecutive numbers share no long common prefix, unlike a counter
        a, b = tracking.new_number(), tracking.new_number()
        shared = next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), 10)
        assert shared < 6


class TestNormalise:
    @given(bodies, st.sampled_from(["lower", "spaces", "dashes", "mixed"]))
    def test_forgive_case_spaces_and_dashes(self, body: str, style: str) -> None:
        number = _number(body)
        typed = {
            "lower": number.lower(),
            "spaces": " ".join(number),
            "dashes": tracking.format_number(number),
            "mixed": f"  {number[:3].lower()}-{number[3:7]} {number[7:].lower()} ",
        }[style]
        assert tracking.parse_number(typed) == number

    @given(bodies)
    def test_forgive_letter_o_and_i_and_l_for_digits(self, body: str) -> None:
        number = _number(body)
        typed = number.replace("0", "O").replace("1", "I")
        if "1" in number:
            typed = typed.replace("I", "l", 1)
        assert tracking.parse_number(typed) == number

    @pytest.mark.parametrize(
        ("typed", "match"),
        [
            ("ABCDE", "has 10 characters, found 5"),
            ("ABCDE-FGHJKM", "has 10 characters, found 11"),
            ("ABCDE-FGHJU", "found 'U'"),
            ("'; DROP TABLE requests; --", "found"),
            ("", "found 0"),
        ],
    )
    def test_reject_malformed_input(self, typed: str, match: str) -> None:
        with pytest.raises(TrackingNumberError, match=match):
            tracking.parse_number(typed)

    def test_reject_wrong_check_symbol(self) -> None:
        number = tracking.new_number()
        bad = number[:-1] + ("0" if number[-1] != "0" else "1")
        with pytest.raises(TrackingNumberError, match="looks mistyped"):
            tracking.parse_number(bad)

    def test_reject_non_text(self) -> None:
        with pytest.raises(TrackingNumberError, match="is text"):
            tracking.normalise(12345)  # type: ignore[arg-type]
