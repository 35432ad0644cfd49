"""Loading a city's layer into its canonical shape, whole or not at all.

:func:`load_layer` reads anything pyogrio reads (GeoPackage, GeoJSON, Shapefile,
FileGDB...) or a CSV with coordinate columns, applies a column mapping
(:mod:`gis.layers.mapping`), validates the result (:mod:`gis.layers.validation`) and
returns it in EPSG:4326 with the canonical columns and dtypes. Any error raises
:class:`~gis.layers.validation.InvalidLayerError` (a :class:`~gis.errors.LayerError`)
carrying the full report, so a bad layer never half-loads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis.errors import LayerError
from gis.layers.mapping import ColumnMapping, LayerMapping, load_mapping
from gis.layers.schema import LAYERS, WGS84
from gis.layers.validation import InvalidLayerError, ValidationReport, validate_layer
from gis.projection import metric_crs, to_wgs84
from settings import BBox, load_settings

LOGGER = logging.getLogger(__name__)

# CSV coordinate columns tried when the mapping names none; lon/lat pairs imply WGS84
_LONLAT_COLUMNS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"))
_XY_COLUMNS = (("x", "y"),)
_WKT_COLUMNS = ("wkt", "geometry", "geom")
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def load_layer(
    name: str,
    path: str | Path,
    mapping: str | Path | ColumnMapping | None = None,
    layer: str | None = None,
    crs: Any = None,
    *,
    nodes: gpd.GeoDataFrame | None = None,
    service_area: BBox | None = None,
) -> tuple[gpd.GeoDataFrame, ValidationReport]:
    """Load one layer through a column mapping and validate it.

    Parameters
    ----------
    name
        The mapping entry to load: a canonical kind (``"sewer_mains"``) or another entry
        of the mapping (``"storm_mains"``).
    path
        A file (``.gpkg``, ``.geojson``, ``.shp``, ``.gdb``, ``.csv``...) or a folder in
        which the entry's ``file`` is looked up.
    mapping
        A mapping name, a path to a mapping TOML, or a loaded mapping; ``None`` means
        ``settings.layer_mapping``.
    layer
        The layer inside a multi-layer source; default: the entry's ``layer``.
    crs
        The source CRS when the file states none (CSV, shapefile without .prj).
    nodes
        For network layers, the node layer their references are checked against.
    service_area
        Features outside it are a warning; ``None`` means the configured one.

    Returns
    -------
    tuple
        The layer (canonical columns and dtypes, EPSG:4326) and its report.

    Raises
    ------
    LayerError
        If the mapping, the file or the layer cannot be used; an
        :class:`~gis.layers.validation.InvalidLayerError` carries the report.
    """
    # the mapping entry and the file it names
    column_mapping = load_mapping(
        mapping if mapping is not None else load_settings().layer_mapping
    )
    entry = column_mapping.entry(name)
    source = _resolve_path(Path(path), entry)
    report = ValidationReport(entry.kind, source=str(source))

    # read the source and settle its CRS
    raw = _read_source(source, entry, layer or entry.layer, crs or entry.crs)
    if raw.crs is not None and crs is not None and CRS.from_user_input(crs) != raw.crs:
        message = (
            f"{source} states {raw.crs.to_string()} but crs={crs!r} was given; drop crs= "
            "(it only fills in a missing CRS) or fix the file"
        )
        raise LayerError(message)
    if raw.crs is None and (crs or entry.crs):
        raw = raw.set_crs(crs or entry.crs)

    # apply the mapping, then validate the canonical frame
    gdf = _apply_mapping(raw, entry, report)
    if not report.ok:
        raise InvalidLayerError(report)
    gdf, report = validate_layer(entry.kind, gdf, service_area, nodes=nodes, report=report)
    if not report.ok:
        LOGGER.error("rejected %s from %s:\n%s", entry.kind, source, report.summary())
        raise InvalidLayerError(report)

    # exchange CRS and canonical column order
    gdf = to_wgs84(gdf)
    gdf = gdf[[*LAYERS[entry.kind].columns, "geometry"]].reset_index(drop=True)
    LOGGER.info(
        "loaded %s %s from %s (%s warnings)",
        f"{len(gdf):,}",
        name,
        source,
        f"{len(report.warnings):,}",
    )
    return gdf, report


def _resolve_path(path: Path, entry: LayerMapping) -> Path:
    if path.is_dir():
        if entry.file is None:
            message = (
                f"{path} is a folder but mapping entry {entry.name!r} names no file; "
                "give the file's path or add file = ... to the entry"
            )
            raise LayerError(message)
        path = path / entry.file
    if not path.exists():
        message = f"{path} does not exist; expected the source of {entry.name!r} there"
        raise LayerError(message)
    return path


def _read_source(path: Path, entry: LayerMapping, layer: str | None, crs: Any) -> gpd.GeoDataFrame:
    if path.suffix.lower() in {".csv", ".txt"}:
        return _read_csv(path, entry, crs)
    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:
        try:
            layers = ", ".join(str(row[0]) for row in pyogrio.list_layers(path))
        except Exception:
            layers = "none readable"
        message = (
            f"cannot read layer {layer or '(first)'} of {path}: {exc}. Its layers: {layers}. "
            "Check the path, the format and layer=."
        )
        raise LayerError(message) from None


def _read_csv(path: Path, entry: LayerMapping, crs: Any) -> gpd.GeoDataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LayerError(f"cannot read {path} as CSV: {exc}") from None
    present = {c.lower(): c for c in frame.columns}

    # geometry from WKT, from named x/y columns, or from columns found by their names
    wkt = entry.coordinates.get("wkt") or next(
        (present[c] for c in _WKT_COLUMNS if c in present and not entry.coordinates), None
    )
    x_col, y_col = entry.coordinates.get("x"), entry.coordinates.get("y")
    implied_crs = None
    if not entry.coordinates and wkt is None:
        for pairs, implied in ((_LONLAT_COLUMNS, WGS84), (_XY_COLUMNS, None)):
            found = next(
                ((present[a], present[b]) for a, b in pairs if a in present and b in present), None
            )
            if found:
                (x_col, y_col), implied_crs = found, implied
                break
    if wkt is not None:
        geometry = _parse_wkt(path, frame, wkt)
    elif x_col and y_col:
        geometry = _parse_xy(path, frame, x_col, y_col)
    else:
        message = (
            f"{path} has no coordinate columns; expected lon/lat, x/y or wkt, or name them "
            f"under [layers.{entry.name}.coordinates]. Present: {', '.join(frame.columns)}"
        )
        raise LayerError(message)
    used = {c for c in (wkt, x_col, y_col) if c}
    return gpd.GeoDataFrame(
        frame.drop(columns=list(used - set(entry.columns))),
        geometry=geometry,
        crs=crs or implied_crs,
    )


def _parse_xy(path: Path, frame: pd.DataFrame, x_col: str, y_col: str) -> gpd.GeoSeries:
    for column in (x_col, y_col):
        if column not in frame:
            message = f"{path} has no column {column!r}; present: {', '.join(frame.columns)}"
            raise LayerError(message)
    x = pd.to_numeric(frame[x_col], errors="coerce")
    y = pd.to_numeric(frame[y_col], errors="coerce")
    bad = x.isna() | y.isna() | ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad)[:5])
        message = (
            f"{int(bad.sum()):,} rows of {path} have missing or non-numeric {x_col}/{y_col} "
            f"(first lines: {rows}); expected numbers on every row"
        )
        raise LayerError(message)
    return gpd.GeoSeries(gpd.points_from_xy(x, y), index=frame.index)


def _parse_wkt(path: Path, frame: pd.DataFrame, column: str) -> gpd.GeoSeries:
    text = frame[column]
    geoms = shapely.from_wkt(text.fillna("").to_numpy(), on_invalid="ignore")
    bad = shapely.is_missing(geoms) & text.notna().to_numpy()
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad)[:5])
        message = (
            f"{int(bad.sum()):,} rows of {path} hold text in {column!r} that is not WKT "
            f"(first lines: {rows}); expected e.g. POINT (-106.66 52.13)"
        )
        raise LayerError(message)
    return gpd.GeoSeries(geoms, index=frame.index)


def _apply_mapping(
    raw: gpd.GeoDataFrame, entry: LayerMapping, report: ValidationReport
) -> gpd.GeoDataFrame:
    spec = LAYERS[entry.kind]

    # every source column the entry names must be present
    missing = [
        c
        for c in entry.source_columns
        if c not in raw.columns and c not in entry.coordinates.values()
    ]
    if missing:
        present = ", ".join(str(c) for c in raw.columns if c != raw.geometry.name)
        report.add_error(
            "missing_column",
            f"mapped column(s) {', '.join(missing)} not in the source; present: {present}. "
            f"Fix [layers.{entry.name}] in the mapping.",
            len(missing),
        )
        return raw

    # keep only the rows that count
    before = len(raw)
    rows = pd.Series(True, index=raw.index)
    for column, allowed in entry.keep.items():
        rows &= raw[column].astype("string").isin([str(v) for v in allowed]).fillna(False)
    for column, dropped in entry.drop.items():
        text = raw[column].astype("string")
        rows &= ~(
            text.isin([str(v) for v in dropped]).fillna(False) | ("" in dropped and text.isna())
        )
    raw = raw[rows.to_numpy()]
    if len(raw) < before:
        LOGGER.info(
            "kept %s of %s %s rows by the mapping's keep/drop filters",
            f"{len(raw):,}",
            f"{before:,}",
            entry.name,
        )

    # rename, translate values, add constants and absent columns
    out = gpd.GeoDataFrame(index=raw.index, geometry=_shape(raw, entry), crs=raw.crs)
    for source, target in entry.columns.items():
        values = raw[source]
        if source in entry.values:
            table = {str(k): v for k, v in entry.values[source].items()}
            values = values.astype("string").map(
                lambda v, t=table: t.get(v, v) if pd.notna(v) else v
            )
        out[target] = values
    for target, value in entry.constants.items():
        out[target] = value
    for column, dtype in spec.columns.items():
        if column in out:
            out[column] = _cast(out[column], dtype, column, report)
        else:
            empty = np.nan if dtype == "float64" else pd.NA
            out[column] = pd.Series(empty, index=out.index, dtype=dtype)
    return out[[*spec.columns, "geometry"]]


def _shape(raw: gpd.GeoDataFrame, entry: LayerMapping) -> gpd.GeoSeries:
    geoms = raw.geometry
    if geoms.has_z.any():
        geoms = gpd.GeoSeries(shapely.force_2d(geoms.values), index=raw.index, crs=raw.crs)
    if entry.geometry == "representative_point":
        return geoms.representative_point()
    if entry.geometry == "centroid":
        if raw.crs is None:
            return geoms.centroid
        return geoms.to_crs(metric_crs(None)).centroid.to_crs(raw.crs)
    return geoms


def _cast(values: pd.Series, dtype: str, column: str, report: ValidationReport) -> pd.Series:
    # text columns: whole numbers lose their ".0", the rest stays as written
    if dtype == "string":
        if pd.api.types.is_float_dtype(values) and values.dropna().mod(1).eq(0).all():
            values = values.astype("Int64")
        return values.astype("string").str.strip().replace("", pd.NA)

    # booleans from the usual spellings, numbers from anything numeric
    text = values.astype("string").str.strip().str.lower()
    if dtype == "boolean":
        cast = pd.Series(pd.NA, index=values.index, dtype="boolean")
        cast[text.isin(_TRUE).fillna(False)] = True
        cast[text.isin(_FALSE).fillna(False)] = False
        expected = "true/false, yes/no or 1/0"
    else:
        cast = pd.to_numeric(values, errors="coerce")
        if dtype == "Int64":
            whole = cast.isna() | cast.mod(1).eq(0)
            cast = cast.where(whole)
            expected = "whole numbers"
        else:
            expected = "numbers"
        cast = cast.astype(dtype)
    bad = cast.isna() & text.notna() & (text != "")
    if bad.any():
        samples = ", ".join(repr(v) for v in values[bad].astype(str).unique()[:3])
        report.add_error(
            "bad_values",
            f"{int(bad.sum()):,} values of {column} cannot be read as {expected} "
            f"(for instance {samples}); fix them or map another column",
            int(bad.sum()),
        )
    return cast
