"""Snapping reports to assets, and finding open reports nearby.

A :class:`Snapper` indexes one static asset layer once, in the metric CRS: a shapely
STRtree for lines, a scipy cKDTree for points. Snapping many reports is one projection
and one vectorised query. :class:`OpenRequestIndex` holds the live open requests in an
rtree index that accepts inserts and deletes as reports arrive and close.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from rtree import index as rtree_index
from scipy.spatial import cKDTree

from gis.errors import LayerError
from gis.projection import lonlat_to_metric, metric_crs, to_metric

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snap:
    """One report snapped to its nearest asset.

    Attributes
    ----------
    asset_id
        The nearest asset, or ``None`` if it lies beyond ``max_distance``.
    distance_m
        The distance to the nearest asset in metres (given even when too far).
    nearest_id
        The nearest asset whether or not it is within ``max_distance``.
    """

    asset_id: str | None
    distance_m: float
    nearest_id: str

    @property
    def snapped(self) -> bool:
        """Whether the report is within ``max_distance`` of an asset."""
        return self.asset_id is not None


@dataclass(frozen=True)
class SnapBatch:
    """Many reports snapped at once; arrays aligned with the input.

    Attributes
    ----------
    positions
        Row of the nearest asset in the layer.
    nearest_ids
        Asset id of the nearest asset (object array of str).
    distances_m
        Distance to it in metres.
    within
        Whether it lies within ``max_distance`` (all True when there is none).
    """

    positions: npt.NDArray[np.int64]
    nearest_ids: npt.NDArray[np.object_]
    distances_m: npt.NDArray[np.float64]
    within: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def asset_ids(self) -> list[str | None]:
        """Asset ids, ``None`` where the nearest asset is beyond ``max_distance``."""
        return [a if ok else None for a, ok in zip(self.nearest_ids, self.within, strict=True)]


class Snapper:
    """Snap WGS84 points to the nearest feature of one asset layer.

    Parameters
    ----------
    layer
        Canonical layer with ``asset_id`` and point or line geometry, CRS set.
    max_distance
        Metres; farther reports are flagged (``asset_id`` None, ``within`` False).
        ``None`` snaps at any distance.
    crs
        The metric CRS; ``None`` means ``settings.metric_crs``.

    Raises
    ------
    LayerError
        If the layer is empty, lacks ``asset_id`` or mixes points with other geometry.
    """

    def __init__(
        self, layer: gpd.GeoDataFrame, max_distance: float | None = None, crs: Any = None
    ) -> None:
        if "asset_id" not in layer or len(layer) == 0:
            message = (
                f"cannot snap to a layer of {len(layer):,} features with columns "
                f"{', '.join(map(str, layer.columns))}; expected a loaded canonical layer "
                "with asset_id and at least one feature"
            )
            raise LayerError(message)
        self.crs = metric_crs(crs)
        self.max_distance = max_distance
        self.ids = layer["asset_id"].astype(str).to_numpy(dtype=object)

        # points go into a KD-tree, anything else into an STRtree, both in metres
        geoms = to_metric(layer, self.crs).geometry.values
        types = set(shapely.get_type_id(geoms).tolist())
        self.points = types == {0}
        if self.points:
            self._kdtree = cKDTree(shapely.get_coordinates(geoms))
        elif 0 in types:
            message = "the layer mixes points with lines or polygons; split it by type first"
            raise LayerError(message)
        else:
            self._strtree = shapely.STRtree(geoms)
        LOGGER.info(
            "indexed %s %s for snapping", f"{len(geoms):,}", "points" if self.points else "lines"
        )

    def __len__(self) -> int:
        return len(self.ids)

    def snap(self, lon: float, lat: float) -> Snap:
        """Snap one point given in WGS84 degrees.

        Returns
        -------
        Snap
            The nearest asset and its distance in metres.
        """
        batch = self.snap_many(np.array([lon]), np.array([lat]))
        nearest = str(batch.nearest_ids[0])
        return Snap(nearest if batch.within[0] else None, float(batch.distances_m[0]), nearest)

    def snap_many(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> SnapBatch:
        """Snap many points given in WGS84 degrees, in one vectorised query.

        Parameters
        ----------
        lons, lats
            Arrays of one length.

        Returns
        -------
        SnapBatch
            Nearest asset rows, ids, distances in metres and the within flag.
        """
        x, y = lonlat_to_metric(lons, lats, self.crs)
        return self.snap_xy(x, y)

    def snap_xy(self, x: npt.ArrayLike, y: npt.ArrayLike) -> SnapBatch:
        """Snap many points already in the metric CRS (see :meth:`snap_many`)."""
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        y = np.atleast_1d(np.asarray(y, dtype=np.float64))
        if self.points:
            distances, positions = self._kdtree.query(np.column_stack([x, y]), k=1)
        else:
            pairs, distances = self._strtree.query_nearest(
                shapely.points(x, y), return_distance=True, all_matches=False
            )
            positions = pairs[1]
        within = (
            np.ones(len(x), dtype=bool)
            if self.max_distance is None
            else distances <= self.max_distance
        )
        return SnapBatch(
            positions.astype(np.int64), self.ids[positions], distances.astype(np.float64), within
        )


class OpenRequestIndex:
    """The open requests, in an rtree index in metres, for duplicate look-ups at intake.

    Parameters
    ----------
    crs
        The metric CRS; ``None`` means ``settings.metric_crs``.

    Notes
    -----
    One rtree index per service code keeps a look-up to the requests of that service.
    The index lives in process memory: rebuild it from the store's open requests when a
    process starts. Inserts, deletes and look-ups hold a lock, so threads may share it.
    """

    def __init__(self, crs: Any = None) -> None:
        self.crs = metric_crs(crs)
        self._indexes: dict[str, rtree_index.Index] = {}
        self._entries: dict[str, tuple[int, str, float, float]] = {}
        self._keys: dict[int, str] = {}
        self._next = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, request_key: object) -> bool:
        return request_key in self._entries

    def insert(self, request_key: str, service_code: str, lon: float, lat: float) -> None:
        """Add an open request (replacing any earlier entry for the same key)."""
        x, y = lonlat_to_metric(lon, lat, self.crs)
        with self._lock:
            self._remove(request_key)
            number = self._next
            self._next += 1
            self._entries[request_key] = (number, service_code, float(x), float(y))
            self._keys[number] = request_key
            index = self._indexes.get(service_code)
            if index is None:
                index = self._indexes[service_code] = rtree_index.Index()
            index.insert(number, (float(x), float(y), float(x), float(y)))

    def delete(self, request_key: str) -> bool:
        """Remove a request that closed; return whether it was in the index."""
        with self._lock:
            return self._remove(request_key)

    def nearby(
        self, service_code: str, lon: float, lat: float, radius_m: float
    ) -> list[tuple[str, float]]:
        """Return open requests of the same service within ``radius_m`` metres, nearest first.

        Returns
        -------
        list of tuple
            ``(request_key, distance_m)`` pairs.
        """
        xs, ys = lonlat_to_metric(lon, lat, self.crs)
        x, y = float(xs), float(ys)
        with self._lock:
            index = self._indexes.get(service_code)
            if index is None:
                return []
            box = (x - radius_m, y - radius_m, x + radius_m, y + radius_m)
            found = []
            for number in index.intersection(box):
                key = self._keys[number]
                _, _, kx, ky = self._entries[key]
                distance = float(np.hypot(kx - x, ky - y))
                if distance <= radius_m:
                    found.append((key, distance))
        return sorted(found, key=lambda pair: (pair[1], pair[0]))

    def _remove(self, request_key: str) -> bool:
        entry = self._entries.pop(request_key, None)
        if entry is None:
            return False
        number, service_code, x, y = entry
        self._indexes[service_code].delete(number, (x, y, x, y))
        del self._keys[number]
        return True
