"""The city's layers, indexes and networks as intake needs them, built once per process.

:func:`get_spatial_context` reads the layers from the store the first time it is asked
and keeps the geocoder, the snappers and the open-request index for the life of the
process, rebuilding them only when a layer is reloaded.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from crm.assets import list_layers, read_layer
from crm.errors import IntakeError
from crm.lifecycle import CLOSED_STATUSES
from crm.services import Service
from crm.store import Request, Store, utc_now
from gis.errors import GeocodeError
from gis.geocode import Geocoder
from gis.snapping import OpenRequestIndex, Snapper

if TYPE_CHECKING:
    from gis.network import SewerNetwork, WaterNetwork

LOGGER = logging.getLogger(__name__)


class SpatialContext:
    """Geocoding, snapping, duplicate look-up and incident grouping for one city.

    Parameters
    ----------
    store
        The store the layers were read from.
    layers
        The loaded layers by kind.
    """

    def __init__(self, store: Store, layers: dict[str, gpd.GeoDataFrame]) -> None:
        self.settings = store.settings
        self.layers = layers
        self.geocoder = (
            Geocoder(layers["addresses"], crs=self.settings.metric_crs)
            if "addresses" in layers and len(layers["addresses"])
            else None
        )
        self.snappers = {
            kind: Snapper(
                frame, max_distance=self.settings.snap_limit_m, crs=self.settings.metric_crs
            )
            for kind, frame in layers.items()
            if kind in ("hydrants", "water_mains", "sewer_mains") and len(frame)
        }
        self.open_index = OpenRequestIndex(crs=self.settings.metric_crs)
        self._last_id = 0
        self._synced_at: datetime | None = None
        self._lock = threading.Lock()

    # --- placing a report -------------------------------------------------------------

    def geocode(self, address: str) -> tuple[float, float]:
        """Return ``(lon, lat)`` for an address.

        Raises
        ------
        IntakeError
            If the address matches nothing well enough; the message lists the closest
            addresses.
        """
        if self.geocoder is None:
            message = "addresses cannot be placed yet (no address layer is loaded); give lat/long"
            raise IntakeError(message, "address")
        try:
            match = self.geocoder.geocode(address)
        except GeocodeError as exc:
            close = "; ".join(name for name, _score in exc.candidates[:3])
            hint = f" Closest known addresses: {close}." if close else ""
            message = (
                f"could not find the address {address[:80]!r}.{hint} Check the house "
                "number and street, or give lat/long."
            )
            raise IntakeError(message, "address") from None
        return match.lon, match.lat

    def snap(self, service: Service, lon: float, lat: float) -> dict[str, Any]:
        """Return the snapped-asset fields of a new request for its service's layer."""
        snapper = self.snappers.get(service.layer)
        if snapper is None:
            return {
                "asset_layer": service.layer,
                "is_flagged": True,
                "flag_reason": f"no {service.layer} layer is loaded",
            }
        snap = snapper.snap(lon, lat)
        fields: dict[str, Any] = {
            "asset_layer": service.layer,
            "snap_distance_m": round(float(snap.distance_m), 2),
        }
        if snap.asset_id is None:
            fields.update(
                is_flagged=True,
                flag_reason=(
                    f"nearest {service.layer} asset {snap.nearest_id} is "
                    f"{snap.distance_m:,.0f} m away, beyond the "
                    f"{self.settings.snap_limit_m:g} m limit"
                ),
            )
        else:
            fields["asset_id"] = snap.asset_id
        return fields

    # --- relating it to what is open -----------------------------------------------

    def sync_open(self, store: Store) -> None:
        """Bring the open-request index up to date with the store.

        New open requests are inserted and requests closed since the last sync are
        deleted, so reports taken by other processes are seen too.
        """
        with self._lock:
            now = utc_now()
            with store.transaction(write=False) as tx:
                fresh = tx.all(
                    "SELECT id, tracking, service_code, lon, lat, status FROM requests "
                    "WHERE id > ? AND lon IS NOT NULL ORDER BY id",
                    (self._last_id,),
                )
                closed = (
                    []
                    if self._synced_at is None
                    else tx.all(
                        "SELECT tracking FROM requests WHERE updated_at >= ? AND status IN "
                        f"({', '.join('?' for _ in CLOSED_STATUSES)})",
                        (self._synced_at, *sorted(CLOSED_STATUSES)),
                    )
                )
            for row in fresh:
                if row["status"] not in CLOSED_STATUSES:
                    self.open_index.insert(
                        row["tracking"], row["service_code"], row["lon"], row["lat"]
                    )
                self._last_id = max(self._last_id, int(row["id"]))
            for row in closed:
                self.open_index.delete(row["tracking"])
            self._synced_at = now

    def nearby_open(self, store: Store, request: Request) -> list[str]:
        """Return printed numbers of other open requests of the same service nearby."""
        if request.lon is None or request.lat is None:
            return []
        self.sync_open(store)
        found = self.open_index.nearby(
            request.service_code, request.lon, request.lat, self.settings.duplicate_radius_m
        )
        return [f"{key[:5]}-{key[5:]}" for key, _distance in found if key != request.tracking]

    def assign_incident(self, store: Store, request: Request) -> str | None:
        """Put a new request into the open incident it fits, or open one for it."""
        from crm.incidents import assign_incident

        return assign_incident(store, self, request)

    # --- networks, built on first use ------------------------------------------------

    @cached_property
    def water_network(self) -> WaterNetwork | None:
        """The water network with its isolation segments, if mains are loaded."""
        from gis.network import WaterNetwork

        mains = self.layers.get("water_mains")
        if mains is None or not len(mains):
            return None
        valves = self.layers.get("valves")
        if valves is None:
            valves = gpd.GeoDataFrame({"asset_id": [], "operable": []}, geometry=[], crs=mains.crs)
        return WaterNetwork(mains, valves, metric_crs=self.settings.metric_crs)

    @cached_property
    def sewer_network(self) -> SewerNetwork | None:
        """The directed sewer network, if sewer mains are loaded."""
        from gis.network import SewerNetwork

        mains = self.layers.get("sewer_mains")
        if mains is None or not len(mains):
            return None
        return SewerNetwork(
            mains, self.layers.get("manholes"), metric_crs=self.settings.metric_crs
        )


_CONTEXTS: dict[str, tuple[tuple[Any, ...], SpatialContext]] = {}
_BUILD_LOCK = threading.Lock()


def get_spatial_context(store: Store) -> SpatialContext | None:
    """Return the spatial context for the store's layers, or None when none are loaded.

    The context is built once per process and store, and rebuilt when a layer is
    reloaded (the layer list's load times change).
    """
    infos = list_layers(store)
    if not infos:
        return None
    signature = tuple((i.kind, i.loaded_at, i.feature_count) for i in infos)
    with _BUILD_LOCK:
        cached = _CONTEXTS.get(store.url)
        if cached is not None and cached[0] == signature:
            return cached[1]
        layers = {i.kind: read_layer(store, i.kind) for i in infos}
        context = SpatialContext(store, layers)
        _CONTEXTS[store.url] = (signature, context)
        LOGGER.info(
            "built the spatial context from %s layers (%s features)",
            f"{len(layers):,}",
            f"{sum(len(f) for f in layers.values()):,}",
        )
        return context
