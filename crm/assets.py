"""Asset layers kept in the store: PostGIS tables with GiST indexes, or SQLite with R*Tree.

A layer is replaced whole, in one transaction: a reload that fails leaves the previous
version in place, so a bad file never half-loads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from crm.store import Store, utc_now
from gis.layers.schema import LAYERS, WGS84

LOGGER = logging.getLogger(__name__)
_CHUNK = 5000


@dataclass(frozen=True)
class LayerInfo:
    """What the store holds of one layer."""

    kind: str
    source: str
    feature_count: int
    report: str
    loaded_at: datetime


def _properties(frame: pd.DataFrame) -> list[str]:
    columns = [c for c in frame.columns if c not in ("asset_id", "geometry")]
    if not columns:
        return ["{}"] * len(frame)
    records = frame[columns].astype(object).where(frame[columns].notna(), None)
    out = []
    for row in records.itertuples(index=False, name=None):
        out.append(
            json.dumps(
                {
                    c: (v.item() if isinstance(v, np.generic) else v)
                    for c, v in zip(columns, row, strict=True)
                },
                default=str,
            )
        )
    return out


def save_layer(
    store: Store,
    kind: str,
    frame: gpd.GeoDataFrame,
    *,
    source: str,
    report: str = "",
    progress: Callable[[int], object] | None = None,
) -> int:
    """Replace a layer in the store with a validated GeoDataFrame.

    Parameters
    ----------
    store
        The store.
    kind
        A layer kind from :data:`gis.layers.schema.LAYERS`.
    frame
        The layer in canonical columns and EPSG:4326.
    source
        Where it came from (a path), kept for the layer list.
    report
        The validation report's summary, kept beside it.
    progress
        Called with the number of features written after each chunk (a progress bar's
        ``update``).

    Returns
    -------
    int
        The number of features stored.
    """
    if kind not in LAYERS:
        message = f"unknown layer kind {kind!r}; the kinds are {', '.join(LAYERS)}"
        raise ValueError(message)
    if frame.crs is None or frame.crs.to_string() != WGS84:
        message = f"layer {kind} must be in {WGS84} to be stored, got {frame.crs}"
        raise ValueError(message)

    # one transaction: the old layer stays until the new one is complete
    ids = frame["asset_id"].astype(str).tolist()
    wkb = shapely.to_wkb(frame.geometry.values, output_dimension=2)
    bounds = shapely.bounds(frame.geometry.values)
    props = _properties(pd.DataFrame(frame.drop(columns="geometry")))
    now = utc_now()
    postgis = store.backend == "postgis"
    geom_sql = "ST_SetSRID(ST_GeomFromWKB(?), 4326)" if postgis else "?"
    with store.transaction() as tx:
        tx.execute("DELETE FROM layers WHERE kind = ?", (kind,))
        tx.execute(
            "INSERT INTO layers (kind, source, feature_count, report, loaded_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind, source, len(frame), report, now),
        )
        rows = [(kind, i, p, bytes(g)) for i, p, g in zip(ids, props, wkb, strict=True)]
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            tx.many(
                "INSERT INTO assets (kind, asset_id, properties, geom) "
                f"VALUES (?, ?, ?, {geom_sql})",
                chunk,
            )
            if progress is not None:
                progress(len(chunk))
        if not postgis:
            # the R*Tree carries each asset's box under the asset's row id
            stored = tx.all("SELECT id FROM assets WHERE kind = ? ORDER BY id", (kind,))
            tx.many(
                "INSERT INTO assets_rtree VALUES (?, ?, ?, ?, ?)",
                [
                    (r["id"], b[0], b[2], b[1], b[3])
                    for r, b in zip(stored, bounds.tolist(), strict=True)
                ],
            )
    LOGGER.info("stored %s %s from %s", f"{len(frame):,}", kind, source)
    return len(frame)


def read_layer(
    store: Store,
    kind: str,
    bbox: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Return a stored layer as a GeoDataFrame in canonical columns, optionally in a box.

    Raises
    ------
    LookupError
        If the layer has not been loaded.
    """
    spec = LAYERS.get(kind)
    if spec is None:
        message = f"unknown layer kind {kind!r}; the kinds are {', '.join(LAYERS)}"
        raise ValueError(message)
    postgis = store.backend == "postgis"
    geom = "ST_AsBinary(geom) AS geom" if postgis else "geom"
    sql = f"SELECT asset_id, properties, {geom} FROM assets WHERE kind = ?"
    params: list[Any] = [kind]
    if bbox is not None:
        if postgis:
            sql += " AND geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)"
            params.extend(bbox)
        else:
            sql += (
                " AND id IN (SELECT id FROM assets_rtree WHERE max_lon >= ? AND "
                "min_lon <= ? AND max_lat >= ? AND min_lat <= ?)"
            )
            params.extend([bbox[0], bbox[2], bbox[1], bbox[3]])
    with store.transaction(write=False) as tx:
        if tx.one("SELECT kind FROM layers WHERE kind = ?", (kind,)) is None:
            message = (
                f"the {kind} layer has not been loaded; load it with "
                f"`waterdesk layers load {kind} PATH` or build the demo with `waterdesk demo`"
            )
            raise LookupError(message)
        rows = tx.all(sql + " ORDER BY id", params)

    # rebuild the canonical columns with their dtypes
    records = [json.loads(r["properties"]) for r in rows]
    frame = pd.DataFrame.from_records(
        records, columns=[c for c in spec.columns if c != "asset_id"]
    )
    frame.insert(0, "asset_id", [r["asset_id"] for r in rows])
    for column, dtype in spec.columns.items():
        if column in frame:
            frame[column] = frame[column].astype(dtype)
    geometry = shapely.from_wkb([bytes(r["geom"]) for r in rows])
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84)


def list_layers(store: Store) -> list[LayerInfo]:
    """Return what the store holds of each layer."""
    with store.transaction(write=False) as tx:
        rows = tx.all(
            "SELECT kind, source, feature_count, report, loaded_at FROM layers ORDER BY kind"
        )
    return [LayerInfo(**r) for r in rows]
