"""The city's layers, indexes and networks as intake needs them, built once per process."""

from __future__ import annotations

from typing import Any

from crm.store import Store


class SpatialContext:
    """Geocoding, snapping, duplicate look-up and incident grouping for one city."""

    def geocode(self, address: str) -> tuple[float, float]:
        """Return ``(lon, lat)`` for an address."""
        raise NotImplementedError

    def snap(self, service: Any, lon: float, lat: float) -> dict[str, Any]:
        """Return the snapped asset fields for a new request."""
        raise NotImplementedError

    def nearby_open(self, request: Any) -> list[str]:
        """Return tracking numbers of open requests of the same service nearby."""
        raise NotImplementedError

    def assign_incident(self, store: Store, request: Any) -> str | None:
        """Put a new request into an incident; return the incident's code."""
        raise NotImplementedError


def get_spatial_context(store: Store) -> SpatialContext | None:
    """Return the spatial context for the store's layers, or None when none are loaded."""
    return None
