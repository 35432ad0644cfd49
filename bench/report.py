"""The one line format every benchmark prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchResult:
    """One benchmark figure: the project's rate or time beside its peer's.

    ``higher_is_better`` says whether the figures are rates (per second) or costs
    (seconds, bytes). The ratio is always oriented so that above 1 means the project did
    better than its peer.
    """

    name: str
    project: float
    peer: float
    unit: str
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float:
        """The project's figure over the peer's, so that 1.0 is parity and above is better."""
        if self.higher_is_better:
            return self.project / self.peer if self.peer else float("inf")
        return self.peer / self.project if self.project else float("inf")

    def line(self) -> str:
        """Return ``name: project X, peer Y, ratio R`` with units."""
        text = (
            f"{self.name}: project {self.project:,.4g} {self.unit}, "
            f"peer {self.peer:,.4g} {self.unit}, ratio {self.ratio:.2f}"
        )
        return f"{text} ({self.note})" if self.note else text
