"""Checking a canonical layer before anything relies on it.

:func:`validate_layer` looks at columns, CRS, ids, geometry, the service area and, for
pipe networks, references and connectivity. It repairs only what is safe to repair
(polygons through ``make_valid`` and dropping tiny slivers, single-part multi-geometries,
multi-lines that merge into one line) and says what it repaired. Everything it finds is
a structured item of a :class:`ValidationReport`; errors make the layer unusable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import LayerError
from gis.layers.schema import LAYERS, NETWORK_LAYERS, WGS84
from gis.projection import metric_crs
from settings import BBox, load_settings

LOGGER = logging.getLogger(__name__)

FIRST_IDS = 5
"""How many example ids an item of the report carries."""


@dataclass(frozen=True)
class Issue:
    """One finding about a layer.

    Attributes
    ----------
    code
        A short stable name (``duplicate_id``, ``outside_service_area``...).
    message
        A sentence for staff: what was found and how to fix it.
    count
        How many features (or ends, or columns) it concerns.
    first_ids
        The first few asset ids concerned.
    """

    code: str
    message: str
    count: int = 0
    first_ids: tuple[str, ...] = ()


@dataclass
class ValidationReport:
    """What validating (and loading) one layer found.

    Attributes
    ----------
    kind
        The canonical kind validated.
    source
        Where the layer came from, for messages.
    rows
        Features in the layer as validated.
    errors
        Findings that make the layer unusable.
    warnings
        Findings worth knowing that do not stop the layer, repairs included.
    """

    kind: str
    source: str = ""
    rows: int = 0
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the layer has no errors."""
        return not self.errors

    def add_error(self, code: str, message: str, count: int = 0, ids: Iterable[Any] = ()) -> None:
        """Record an error."""
        self.errors.append(Issue(code, message, count, _first(ids)))

    def add_warning(
        self, code: str, message: str, count: int = 0, ids: Iterable[Any] = ()
    ) -> None:
        """Record a warning."""
        self.warnings.append(Issue(code, message, count, _first(ids)))

    def find(self, code: str) -> Issue | None:
        """Return the first error or warning with ``code``, or None."""
        return next((i for i in [*self.errors, *self.warnings] if i.code == code), None)

    def summary(self) -> str:
        """Return the report as text: a headline, then one line per error and warning."""
        where = f" from {self.source}" if self.source else ""
        verdict = "ok" if self.ok else "REJECTED"
        lines = [
            f"{self.kind}{where}: {verdict}, {self.rows:,} features, "
            f"{len(self.errors):,} errors, {len(self.warnings):,} warnings"
        ]
        for label, items in (("error", self.errors), ("warning", self.warnings)):
            for item in items:
                ids = f" (first ids: {', '.join(item.first_ids)})" if item.first_ids else ""
                lines.append(f"  {label} {item.code}: {item.message}{ids}")
        return "\n".join(lines)


class InvalidLayerError(LayerError):
    """A layer failed validation; ``report`` holds every finding."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.summary())
        self.report = report


def validate_layer(
    kind: str,
    gdf: gpd.GeoDataFrame,
    service_area: BBox | None = None,
    *,
    crs: Any = None,
    nodes: gpd.GeoDataFrame | None = None,
    measure_crs: Any = None,
    end_tolerance_m: float = 1.0,
    sliver_area_m2: float = 1.0,
    report: ValidationReport | None = None,
) -> tuple[gpd.GeoDataFrame, ValidationReport]:
    """Check a layer in canonical columns and repair what is safe to repair.

    Parameters
    ----------
    kind
        The canonical kind (a key of ``gis.layers.schema.LAYERS``).
    gdf
        The layer, in canonical columns, in any CRS.
    service_area
        Features wholly outside it are a warning; ``None`` means the configured one.
    crs
        The CRS to assume when ``gdf`` has none; without it a missing CRS is an error.
    nodes
        For network layers, the node layer (manholes) that ``from_node`` and ``to_node``
        refer to; references to ids missing from it are warnings.
    measure_crs
        The metric CRS to measure in; ``None`` means ``settings.metric_crs``.
    end_tolerance_m
        A main's end closer than this to another main or a node is connected.
    sliver_area_m2
        Polygon parts smaller than this left by a repair are dropped.
    report
        A report to add to (the loader's); a new one when omitted.

    Returns
    -------
    tuple
        The repaired layer (same CRS as given, or ``crs``) and the report.

    Raises
    ------
    LayerError
        If ``kind`` is not a canonical kind.
    """
    if kind not in LAYERS:
        message = f"unknown layer kind {kind!r}; expected one of {', '.join(sorted(LAYERS))}"
        raise LayerError(message)
    spec = LAYERS[kind]
    report = report if report is not None else ValidationReport(kind)
    gdf = gdf.copy()

    # required columns
    missing = sorted(spec.required - set(gdf.columns))
    if missing:
        report.add_error(
            "missing_column",
            f"required column(s) {', '.join(missing)} missing; present: "
            f"{', '.join(map(str, gdf.columns))}. Map them in the layer mapping.",
            len(missing),
        )
        report.rows = len(gdf)
        return gdf, report
    ids = gdf["asset_id"].astype("string")

    # coordinate reference system
    if gdf.crs is None:
        if crs is None:
            report.add_error(
                "no_crs",
                "the layer has no CRS; expected the source to state one. Pass crs= "
                "(for instance crs='EPSG:26913') or set crs in the mapping.",
                len(gdf),
            )
        else:
            gdf = gdf.set_crs(crs)

    # identifiers: present and unique
    _check_ids(ids, report)

    # geometry: present, of the right type, valid
    gdf = _check_geometry(kind, gdf, report, sliver_area_m2)
    report.rows = len(gdf)
    if gdf.crs is None or not report.ok:
        return gdf, report

    # service area, then network references and connectivity
    _check_service_area(gdf, service_area or load_settings().service_area, report)
    if kind in NETWORK_LAYERS:
        _check_references(gdf, nodes, report)
        _check_ends(gdf, nodes, metric_crs(measure_crs), end_tolerance_m, report)
    LOGGER.info(
        "validated %s %s: %s errors, %s warnings",
        f"{len(gdf):,}",
        kind,
        f"{len(report.errors):,}",
        f"{len(report.warnings):,}",
    )
    return gdf, report


def _first(ids: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for value in ids:
        out.append(str(value))
        if len(out) == FIRST_IDS:
            break
    return tuple(out)


def _check_ids(ids: pd.Series, report: ValidationReport) -> None:
    null = ids.isna()
    if null.any():
        report.add_error(
            "missing_id",
            f"{int(null.sum()):,} features have no asset_id; every feature needs one",
            int(null.sum()),
            ids.index[null],
        )
    doubled = ids[ids.duplicated(keep=False) & ~null]
    if len(doubled):
        report.add_error(
            "duplicate_id",
            f"{doubled.nunique():,} asset ids are used by {len(doubled):,} features; "
            "ids must be unique. Fix the source or map a unique column to asset_id.",
            len(doubled),
            doubled.unique(),
        )


def _check_geometry(
    kind: str, gdf: gpd.GeoDataFrame, report: ValidationReport, sliver_area_m2: float
) -> gpd.GeoDataFrame:
    allowed = set(LAYERS[kind].geometry_types)
    ids = gdf["asset_id"].astype("string")

    # missing or empty geometries
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        report.add_error(
            "empty_geometry",
            f"{int(empty.sum()):,} features have no geometry; expected "
            f"{' or '.join(sorted(allowed))}. Delete them or fix the source.",
            int(empty.sum()),
            ids[empty],
        )
        return gdf

    # multi-part geometries of an allowed single-part type
    gdf = _unwrap_multiparts(gdf, allowed, report)
    ids = gdf["asset_id"].astype("string")
    types = gdf.geom_type
    wrong = ~types.isin(allowed)
    if wrong.any():
        found = ", ".join(f"{n:,} {t}" for t, n in types[wrong].value_counts().items())
        report.add_error(
            "wrong_geometry_type",
            f"{int(wrong.sum()):,} features have the wrong geometry type ({found}); "
            f"{kind} expects {' or '.join(sorted(allowed))}",
            int(wrong.sum()),
            ids[wrong],
        )
        return gdf

    # invalid geometries: polygons are repaired, anything else is an error
    invalid = ~gdf.geometry.is_valid
    if not invalid.any():
        return gdf
    polygonal = invalid & (types == "Polygon")
    broken = invalid & ~polygonal
    if broken.any():
        report.add_error(
            "invalid_geometry",
            f"{int(broken.sum()):,} features have invalid geometry "
            f"({shapely.is_valid_reason(gdf.geometry[broken].iloc[0])}); fix them in the source",
            int(broken.sum()),
            ids[broken],
        )
    if polygonal.any():
        gdf = _repair_polygons(gdf, polygonal, report, sliver_area_m2)
    return gdf


def _unwrap_multiparts(
    gdf: gpd.GeoDataFrame, allowed: set[str], report: ValidationReport
) -> gpd.GeoDataFrame:
    multi = gdf.geom_type.isin({f"Multi{t}" for t in allowed})
    if not multi.any():
        return gdf
    geoms = gdf.geometry.values.copy()

    # single parts and multi-lines that merge into one line become single geometries
    parts = shapely.get_num_geometries(geoms)
    simple = multi.to_numpy() & (parts == 1)
    geoms[simple] = shapely.get_geometry(geoms[simple], 0)
    lines = multi.to_numpy() & ~simple & (gdf.geom_type == "MultiLineString").to_numpy()
    merged = shapely.line_merge(geoms[lines]) if lines.any() else geoms[lines]
    joined = np.zeros(len(gdf), dtype=bool)
    joined[np.flatnonzero(lines)] = shapely.get_type_id(merged) == 1
    geoms[joined] = merged[shapely.get_type_id(merged) == 1]
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    fixed = simple | joined
    if fixed.any():
        report.add_warning(
            "repaired_multipart",
            f"{int(fixed.sum()):,} multi-part geometries held one part (or merged into one "
            "line) and were made single-part",
            int(fixed.sum()),
            gdf["asset_id"][fixed],
        )

    # the rest are exploded, each part keeping its id with a part number
    rest = multi.to_numpy() & ~fixed
    if not rest.any():
        return gdf
    exploded = gdf.explode(index_parts=True)
    part = exploded.index.get_level_values(1)
    split = exploded.index.get_level_values(0).isin(gdf.index[rest])
    exploded.loc[split, "asset_id"] = (
        exploded.loc[split, "asset_id"].astype("string") + "-part" + (part[split] + 1).astype(str)
    )
    report.add_warning(
        "exploded_multipart",
        f"{int(rest.sum()):,} multi-part geometries were split into "
        f"{int(split.sum()):,} features with ids suffixed -part1, -part2...",
        int(rest.sum()),
        gdf["asset_id"][rest],
    )
    return exploded.reset_index(drop=True)


def _repair_polygons(
    gdf: gpd.GeoDataFrame, mask: pd.Series, report: ValidationReport, sliver_area_m2: float
) -> gpd.GeoDataFrame:
    # make valid, keep the polygonal parts and drop tiny slivers (measured in metres)
    fixed = shapely.make_valid(gdf.geometry[mask].values)
    parts = gpd.GeoSeries(fixed, crs=gdf.crs).explode(index_parts=False)
    parts = parts[parts.geom_type == "Polygon"]
    area = parts.to_crs(metric_crs(None)).area if gdf.crs else parts.area
    slivers = int((area < sliver_area_m2).sum())
    parts = parts[area >= sliver_area_m2]
    rebuilt = parts.groupby(level=0).agg(lambda s: shapely.union_all(s.values))
    positions = np.flatnonzero(mask.to_numpy())
    ids = gdf["asset_id"][mask]
    lost = [i for i in range(len(positions)) if i not in set(rebuilt.index)]
    if lost:
        report.add_error(
            "invalid_geometry",
            f"{len(lost):,} invalid polygons have no area left once repaired; fix the source",
            len(lost),
            ids.iloc[lost],
        )
        return gdf
    geoms = gdf.geometry.values.copy()
    geoms[positions] = np.asarray(rebuilt.sort_index().values, dtype=object)
    note = f", dropping {slivers:,} slivers under {sliver_area_m2:g} m2" if slivers else ""
    report.add_warning(
        "repaired_geometry",
        f"{len(positions):,} invalid polygons were repaired with make_valid{note}",
        len(positions),
        ids,
    )
    return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))


def _check_service_area(gdf: gpd.GeoDataFrame, area: BBox, report: ValidationReport) -> None:
    box = shapely.box(area.min_lon, area.min_lat, area.max_lon, area.max_lat)
    outside = ~gdf.geometry.to_crs(WGS84).intersects(box)
    if outside.any():
        report.add_warning(
            "outside_service_area",
            f"{int(outside.sum()):,} of {len(gdf):,} features lie outside the service area "
            f"({area}); check the CRS or WATERDESK_SERVICE_AREA",
            int(outside.sum()),
            gdf["asset_id"][outside],
        )


def _check_references(
    gdf: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame | None, report: ValidationReport
) -> None:
    if nodes is None or "asset_id" not in nodes:
        return
    known = set(nodes["asset_id"].dropna().astype(str))
    for column, end in (("from_node", "upstream"), ("to_node", "downstream")):
        if column not in gdf:
            continue
        refs = gdf[column]
        dangling = refs.notna() & ~refs.astype("string").isin(known)
        if dangling.any():
            report.add_warning(
                f"dangling_{column}",
                f"{int(dangling.sum()):,} mains name a {column} ({end} node) missing from "
                f"the {len(known):,} nodes given; the node layer may be a cut of a larger one",
                int(dangling.sum()),
                gdf["asset_id"][dangling],
            )


def _check_ends(
    gdf: gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame | None,
    crs: Any,
    tolerance_m: float,
    report: ValidationReport,
) -> None:
    # start and end of every main, in metres
    lines = gdf.geometry.to_crs(crs).values
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    owner = np.tile(np.arange(len(lines)), 2)

    # an end is connected if another main or a node lies within the tolerance
    left, right = shapely.STRtree(lines).query(ends, predicate="dwithin", distance=tolerance_m)
    connected = np.zeros(len(ends), dtype=bool)
    connected[left[right != owner[left]]] = True
    if nodes is not None and len(nodes) and nodes.crs is not None:
        points = nodes.geometry.to_crs(crs).values
        near, _ = shapely.STRtree(points).query(ends, predicate="dwithin", distance=tolerance_m)
        connected[near] = True
    loose = ~connected
    if loose.any():
        mains = np.unique(owner[loose])
        report.add_warning(
            "unconnected_end",
            f"{int(loose.sum()):,} main ends on {len(mains):,} mains touch no other main "
            f"or node within {tolerance_m:g} m",
            int(loose.sum()),
            gdf["asset_id"].iloc[mains],
        )
