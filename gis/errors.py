"""Errors and warnings raised by the spatial package.

Each message says what was received, what was expected and how to fix it.
"""

from __future__ import annotations


class LayerError(ValueError):
    """A layer cannot be loaded: wrong columns, geometry, CRS or contents."""


class GeocodeError(LookupError):
    """An address could not be matched to a location.

    Attributes
    ----------
    candidates
        The closest addresses found, best first, as ``(full_address, score)`` pairs.
    """

    def __init__(self, message: str, candidates: list[tuple[str, float]] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


class NetworkError(ValueError):
    """A pipe network cannot be built or traced as asked."""


class DegreesWarning(UserWarning):
    """A length, area or distance was about to be measured in degrees."""


class CRSMismatchWarning(UserWarning):
    """Two layers in different coordinate reference systems were about to be joined."""
