"""Moving layers and coordinates between WGS84 and the utility's metric CRS.

Waterdesk stores and exchanges coordinates in WGS84 (EPSG:4326) and measures lengths,
areas and distances in a projected, metric CRS (``settings.metric_crs``). The helpers
here are the only places that choose between the two, so that nothing is ever buffered
or measured in degrees by accident.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer

from gis.errors import CRSMismatchWarning, DegreesWarning, LayerError
from gis.layers.schema import WGS84
from settings import load_settings

FloatArray = npt.NDArray[np.float64]


def metric_crs(crs: Any = None) -> CRS:
    """Return the metric CRS to measure in: ``crs`` if given, else the configured one.

    Parameters
    ----------
    crs
        Anything pyproj accepts (``"EPSG:26913"``, an EPSG integer, a CRS); ``None``
        means ``settings.metric_crs``.

    Returns
    -------
    pyproj.CRS
        The CRS. A geographic one triggers a :class:`DegreesWarning`.
    """
    chosen = CRS.from_user_input(crs if crs is not None else load_settings().metric_crs)
    warn_if_degrees(chosen, "measure distances")
    return chosen


def resolve_metric_crs(metric_crs: str | None = None) -> CRS:
    """Return the metric CRS to measure in, refusing a geographic one.

    Parameters
    ----------
    metric_crs
        A CRS string such as ``"EPSG:26913"``; the settings' ``metric_crs`` when omitted.

    Returns
    -------
    pyproj.CRS
        The projected CRS.

    Raises
    ------
    ValueError
        If the CRS is geographic (degrees), so distances in metres would be wrong.
    """
    if metric_crs is None:
        metric_crs = load_settings().metric_crs
    crs = CRS.from_user_input(metric_crs)
    if not crs.is_projected:
        message = (
            f"metric_crs={metric_crs!r} is geographic (degrees); distances need a "
            "projected CRS in metres such as EPSG:26913. Set WATERDESK_METRIC_CRS or pass "
            "a projected metric_crs."
        )
        raise ValueError(message)
    return crs


def warn_if_crs_differ(frames: dict[str, gpd.GeoDataFrame], stacklevel: int = 3) -> bool:
    """Warn with :class:`CRSMismatchWarning` when layers about to be joined differ in CRS.

    They are still joined, each projected to the metric CRS first; the warning says that
    one of them did not arrive in the exchange CRS the rest of the system expects.

    Returns
    -------
    bool
        True if a warning was issued.
    """
    crss = {name: CRS.from_user_input(f.crs) for name, f in frames.items() if f.crs is not None}
    if len({c.to_string() for c in crss.values()}) <= 1:
        return False
    listed = ", ".join(f"{name} in {crs.to_string()}" for name, crs in crss.items())
    message = (
        f"joining layers in different CRSs ({listed}); each is projected to the metric CRS "
        f"first, but layers are exchanged in {WGS84}: load them through gis.layers"
    )
    warnings.warn(message, CRSMismatchWarning, stacklevel=stacklevel)
    return True


def warn_if_degrees(crs: Any, action: str = "measure", stacklevel: int = 3) -> bool:
    """Warn with :class:`DegreesWarning` if ``crs`` is geographic, before measuring in it.

    Parameters
    ----------
    crs
        The CRS about to be measured in (anything pyproj accepts).
    action
        What was about to happen, for the message (``"buffer"``, ``"measure lengths"``).
    stacklevel
        Passed to :func:`warnings.warn` so the warning points at the caller.

    Returns
    -------
    bool
        True if a warning was issued.
    """
    chosen = CRS.from_user_input(crs)
    if not chosen.is_geographic:
        return False
    message = (
        f"asked to {action} in {chosen.to_string()}, a geographic CRS whose units are "
        "degrees; project to a metric CRS first (gis.projection.to_metric)"
    )
    warnings.warn(message, DegreesWarning, stacklevel=stacklevel)
    return True


def to_metric(gdf: gpd.GeoDataFrame, crs: Any = None) -> gpd.GeoDataFrame:
    """Project a layer to the metric CRS.

    Parameters
    ----------
    gdf
        A layer with a CRS set.
    crs
        The target CRS; ``None`` means ``settings.metric_crs``.

    Returns
    -------
    geopandas.GeoDataFrame
        A projected copy (the same object if it is already in the target CRS).

    Raises
    ------
    LayerError
        If the layer has no CRS.
    """
    target = metric_crs(crs)
    _require_crs(gdf)
    if CRS.from_user_input(gdf.crs) == target:
        return gdf
    return gdf.to_crs(target)


def to_wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Project a layer to WGS84 (EPSG:4326), the CRS Waterdesk stores and exchanges.

    Parameters
    ----------
    gdf
        A layer with a CRS set.

    Returns
    -------
    geopandas.GeoDataFrame
        A projected copy (the same object if it is already in WGS84).

    Raises
    ------
    LayerError
        If the layer has no CRS.
    """
    _require_crs(gdf)
    if CRS.from_user_input(gdf.crs) == CRS.from_user_input(WGS84):
        return gdf
    return gdf.to_crs(WGS84)


@lru_cache(maxsize=32)
def transformer(source: str, target: str) -> Transformer:
    """Return a cached, always-xy :class:`pyproj.Transformer` from ``source`` to ``target``.

    Parameters
    ----------
    source, target
        CRS strings such as ``"EPSG:4326"``.

    Returns
    -------
    pyproj.Transformer
        Reused across calls: building one costs far more than using it.
    """
    return Transformer.from_crs(source, target, always_xy=True)


def lonlat_to_metric(
    lons: npt.ArrayLike, lats: npt.ArrayLike, crs: Any = None
) -> tuple[FloatArray, FloatArray]:
    """Project longitude and latitude arrays to metric x and y arrays.

    Parameters
    ----------
    lons, lats
        WGS84 degrees, scalars or arrays of one shape.
    crs
        The metric CRS; ``None`` means ``settings.metric_crs``.

    Returns
    -------
    tuple of numpy.ndarray
        x and y in metres, float64.
    """
    target = metric_crs(crs).to_string()
    x, y = transformer(WGS84, target).transform(
        np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
    )
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def metric_to_lonlat(
    x: npt.ArrayLike, y: npt.ArrayLike, crs: Any = None
) -> tuple[FloatArray, FloatArray]:
    """Project metric x and y arrays back to longitude and latitude.

    Parameters
    ----------
    x, y
        Coordinates in ``crs``, in metres.
    crs
        The metric CRS they are in; ``None`` means ``settings.metric_crs``.

    Returns
    -------
    tuple of numpy.ndarray
        Longitudes and latitudes in WGS84 degrees.
    """
    source = metric_crs(crs).to_string()
    lons, lats = transformer(source, WGS84).transform(
        np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    )
    return np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)


def _require_crs(gdf: gpd.GeoDataFrame) -> None:
    if gdf.crs is None:
        message = (
            f"the layer of {len(gdf):,} features has no CRS; expected one such as "
            "EPSG:4326. Set it with gdf.set_crs(...) or pass crs= when loading."
        )
        raise LayerError(message)
