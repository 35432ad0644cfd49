"""Affected areas of incidents: who is cut off, what is inside, and a polygon for the map.

An incident's affected mains are the mains of its isolation segment (water) or the
network upstream of a blockage (sewer). Its service connections are those within a
distance of those mains; its customers the sum of their accounts; its hydrants and
critical facilities those inside its polygon, the union of its mains buffered in the
metric CRS. :func:`affected_areas` answers for many incidents at once with one bulk
``shapely.STRtree`` query of every point layer against the affected mains, then joins
the hits to the incidents as tables; no incident is looped over except to union its
polygon.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import LayerError
from gis.network import check_and_project
from gis.projection import resolve_metric_crs, warn_if_crs_differ

LOGGER = logging.getLogger(__name__)

WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class AffectedArea:
    """What one incident affects.

    Attributes
    ----------
    connections
        Asset ids of the service connections cut off.
    addresses
        Their addresses (None where a connection has none).
    customers
        Sum of the connections' accounts (a connection without a count is one account).
    hydrants
        Asset ids of hydrants inside the polygon.
    critical_facilities
        Names of critical facilities inside the polygon.
    polygon
        The area for the map in EPSG:4326, or None when polygons were not asked for or
        the incident has no mains.
    """

    connections: list[str]
    addresses: list[str | None]
    customers: int
    hydrants: list[str]
    critical_facilities: list[str]
    polygon: BaseGeometry | None


def affected_areas(
    mains: gpd.GeoDataFrame,
    incidents: Mapping[Hashable, Sequence[str]],
    service_connections: gpd.GeoDataFrame,
    *,
    hydrants: gpd.GeoDataFrame | None = None,
    critical_facilities: gpd.GeoDataFrame | None = None,
    connection_distance_m: float = 30.0,
    buffer_m: float | None = None,
    simplify_m: float = 2.0,
    polygons: bool = True,
    metric_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Return the affected area of many incidents at once.

    Parameters
    ----------
    mains
        The network's mains (water or sewer), with ``asset_id``.
    incidents
        Incident id to the asset ids of its affected mains.
    service_connections
        Service connections (``asset_id``, ``address``, ``accounts``), points or parcels.
    hydrants, critical_facilities
        Optional point layers (``asset_id``; ``name`` for facilities).
    connection_distance_m
        A connection within this distance of an affected main is cut off.
    buffer_m
        Half-width of the polygon around the mains; ``connection_distance_m`` when
        omitted. Hydrants and facilities within it are inside.
    simplify_m
        Tolerance for simplifying the polygon, in metres (0 keeps every vertex).
    polygons
        Whether to build the polygons (the counts do not need them).
    metric_crs
        The projected CRS to measure in; the settings' when omitted.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per incident, indexed by incident id, in EPSG:4326, with columns
        ``connections``, ``addresses``, ``customers``, ``hydrants``,
        ``critical_facilities`` and ``geometry`` (None without polygons).

    Raises
    ------
    LayerError
        If a layer lacks columns or a CRS, an incident names a main the layer lacks, or a
        distance is not positive.
    """
    buffer_m = connection_distance_m if buffer_m is None else buffer_m
    for name, value in (("connection_distance_m", connection_distance_m), ("buffer_m", buffer_m)):
        if not np.isfinite(value) or value <= 0:
            message = f"{name} must be a positive number of metres, received {value!r}"
            raise LayerError(message)
    try:
        resolve_metric_crs(metric_crs)
    except ValueError as exc:
        raise LayerError(str(exc)) from None

    layers_in = {"mains": mains, "service connections": service_connections}
    layers_in.update(
        {
            k: f
            for k, f in (("hydrants", hydrants), ("critical facilities", critical_facilities))
            if f is not None
        }
    )
    warn_if_crs_differ(layers_in)

    # incidents as a long table of (incident, main)
    members = _incident_members(incidents, mains)
    involved = np.unique(members["main"].to_numpy())
    chosen = check_and_project(mains.iloc[involved], "mains", ["asset_id"], metric_crs, LayerError)
    lines = chosen.geometry.to_numpy()

    # one bulk query of every point layer against the affected mains
    layers = {
        "connection": (service_connections, ["asset_id", "address", "accounts"]),
        "hydrant": (hydrants, ["asset_id"]),
        "facility": (critical_facilities, ["asset_id", "name"]),
    }
    frames = {
        kind: check_and_project(frame, f"{kind} layer", columns, metric_crs, LayerError)
        for kind, (frame, columns) in layers.items()
        if frame is not None
    }
    geometries = np.concatenate([f.geometry.to_numpy() for f in frames.values()])
    kind_of = np.repeat(list(frames), [len(f) for f in frames.values()])
    row_of = np.concatenate([np.arange(len(f)) for f in frames.values()])
    reach = max(connection_distance_m, buffer_m)
    tree = shapely.STRtree(lines)
    point, line = tree.query(geometries, predicate="dwithin", distance=reach)

    # keep each layer's hits within its own distance
    limit = np.where(kind_of[point] == "connection", connection_distance_m, buffer_m)
    if connection_distance_m != buffer_m:
        keep = shapely.distance(geometries[point], lines[line]) <= limit
        point, line = point[keep], line[keep]
    hits = pd.DataFrame(
        {"kind": kind_of[point], "row": row_of[point], "main": involved[line]}
    ).merge(members, on="main")[["incident", "kind", "row"]]
    hits = hits.drop_duplicates().sort_values(["incident", "kind", "row"], kind="stable")

    # per incident: connections, customers, hydrants, facilities
    table = pd.DataFrame(index=pd.Index(list(incidents), name="incident", dtype=object))
    size = len(table)
    connections = _lists(hits, frames, "connection", "asset_id", size)
    table["connections"] = connections
    table["addresses"] = _lists(hits, frames, "connection", "address", size)
    table["customers"] = _customers(hits, frames, size)
    table["hydrants"] = _lists(hits, frames, "hydrant", "asset_id", size)
    table["critical_facilities"] = _lists(hits, frames, "facility", "name", size)

    # polygons: buffered mains unioned per incident, simplified, in WGS84
    geometry = [None] * len(table)
    if polygons:
        geometry = _polygons(members, involved, lines, size, buffer_m, simplify_m)
    metric = resolve_metric_crs(metric_crs)
    result = gpd.GeoDataFrame(
        table, geometry=gpd.GeoSeries(geometry, index=table.index, crs=metric)
    )
    result = result.to_crs(WGS84)
    LOGGER.info(
        "worked out %s affected areas: %s customers, %s hydrants, %s critical facilities",
        f"{len(result):,}",
        f"{int(result['customers'].sum()):,}",
        f"{sum(map(len, result['hydrants'])):,}",
        f"{sum(map(len, result['critical_facilities'])):,}",
    )
    return result


def affected_area(
    mains: gpd.GeoDataFrame,
    main_ids: Sequence[str],
    service_connections: gpd.GeoDataFrame,
    **options: Any,
) -> AffectedArea:
    """Return the affected area of one incident.

    Parameters
    ----------
    mains
        The network's mains, with ``asset_id``.
    main_ids
        Asset ids of the incident's affected mains.
    service_connections
        Service connections (``asset_id``, ``address``, ``accounts``).
    **options
        Keyword options of :func:`affected_areas` (hydrants, critical_facilities,
        distances, ``polygons``, ``metric_crs``).

    Returns
    -------
    AffectedArea
        Connections, customers, hydrants, facilities and the polygon.
    """
    table = affected_areas(mains, {0: main_ids}, service_connections, **options)
    row = table.iloc[0]
    return AffectedArea(
        connections=row["connections"],
        addresses=row["addresses"],
        customers=int(row["customers"]),
        hydrants=row["hydrants"],
        critical_facilities=row["critical_facilities"],
        polygon=row.geometry,
    )


def _incident_members(
    incidents: Mapping[Hashable, Sequence[str]], mains: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Return (incident position, main position) rows, refusing mains the layer lacks."""
    if "asset_id" not in mains.columns:
        message = f"mains lack asset_id; they have {', '.join(map(str, mains.columns))}"
        raise LayerError(message)
    if isinstance(incidents, str) or not isinstance(incidents, Mapping):
        message = (
            f"incidents must map incident ids to lists of main ids, received "
            f"{type(incidents).__name__}"
        )
        raise LayerError(message)
    codes = [k for k, ids in enumerate(incidents.values()) for _ in ids]
    ids = [str(m) for ids in incidents.values() for m in ids]
    named = mains["asset_id"].notna().to_numpy()
    position = pd.Series(
        np.flatnonzero(named), index=mains["asset_id"][named].astype(str).to_numpy()
    )
    position = position[~position.index.duplicated()]
    found = position.reindex(ids)
    if found.isna().any():
        unknown = sorted(set(np.asarray(ids, dtype=object)[found.isna().to_numpy()]))[:5]
        message = (
            f"incidents name main(s) {unknown} that the mains layer lacks; pass the layer "
            "the incidents were traced on"
        )
        raise LayerError(message)
    return pd.DataFrame(
        {"incident": np.asarray(codes, dtype=np.int64), "main": found.to_numpy(dtype=np.int64)}
    )


def _lists(
    hits: pd.DataFrame,
    frames: Mapping[str, gpd.GeoDataFrame],
    kind: str,
    column: str,
    size: int,
) -> list[list[object]]:
    """Return, per incident position, the values of ``column`` for its hits of one layer."""
    if kind not in frames:
        return [[] for _ in range(size)]
    chosen = hits[hits["kind"] == kind]
    values = frames[kind][column].astype(object).to_numpy()[chosen["row"].to_numpy()]
    values[pd.isna(values)] = None
    bounds = np.searchsorted(chosen["incident"].to_numpy(), np.arange(1, size))
    return [part.tolist() for part in np.split(values, bounds)]


def _customers(
    hits: pd.DataFrame, frames: Mapping[str, gpd.GeoDataFrame], size: int
) -> np.ndarray:
    """Return, per incident position, the sum of accounts of its connections (missing: 1)."""
    chosen = hits[hits["kind"] == "connection"]
    accounts = pd.to_numeric(frames["connection"]["accounts"], errors="coerce")
    accounts = accounts.fillna(1).to_numpy(dtype=np.int64)[chosen["row"].to_numpy()]
    totals = np.bincount(chosen["incident"].to_numpy(), weights=accounts, minlength=size)
    return totals.astype(np.int64)


def _polygons(
    members: pd.DataFrame,
    involved: np.ndarray,
    lines: np.ndarray,
    size: int,
    buffer_m: float,
    simplify_m: float,
) -> list[BaseGeometry | None]:
    """Return one simplified polygon per incident position, in the metric CRS."""
    # buffer each affected main once
    buffers = shapely.buffer(lines, buffer_m, quad_segs=4)
    where = np.searchsorted(involved, members["main"].to_numpy())

    # union per incident (members come in incident order)
    bounds = np.searchsorted(members["incident"].to_numpy(), np.arange(1, size))
    parts = np.split(where, bounds)
    shapes = np.array(
        [shapely.union_all(buffers[p]) if len(p) else None for p in parts], dtype=object
    )
    if simplify_m > 0:
        shapes = shapely.simplify(shapes, simplify_m, preserve_topology=True)
    return list(shapes)
