"""Grouping reports into incidents: DBSCAN in metres, by segment, by downstream path.

:func:`cluster_points` is DBSCAN on longitude/latitude measured in the metric CRS. It
gives the same labels as ``sklearn.cluster.DBSCAN(algorithm="ball_tree")`` on the
projected points (same core points, same border-point convention, same numbering), but
finds neighbours as one array of pairs from ``scipy.spatial.cKDTree.query_pairs`` and the
clusters with sparse connected components, so it needs no per-point neighbour arrays.
Where pairs far outnumber points, core points are first joined within grid cells of side
``eps / sqrt(2)`` (all mutual neighbours) and the components are taken over cells.
:func:`cluster_points_in_window` adds a time window: neighbours must also be close in
time.

:func:`group_by_segment` groups water outages on one isolation segment, and
:func:`group_by_downstream` sewer backups whose mains drain to a shared main, each within
a time window. Every grouping returns one label per report, numbered from 0 in the order
of each group's first report; a lone report is a group of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
import pyproj
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gis.network import SewerNetwork, WaterNetwork
from gis.projection import resolve_metric_crs

LOGGER = logging.getLogger(__name__)


def project_points(lons: ArrayLike, lats: ArrayLike, metric_crs: str | None = None) -> np.ndarray:
    """Return longitude/latitude points as an (n, 2) array of metres in the metric CRS.

    Raises
    ------
    ValueError
        If the arrays differ in length, hold non-finite values or lie outside WGS84
        ranges, or the metric CRS is geographic.
    """
    lon = np.asarray(lons, dtype=float).ravel()
    lat = np.asarray(lats, dtype=float).ravel()
    if lon.shape != lat.shape:
        message = f"received {lon.size:,} longitudes but {lat.size:,} latitudes; pass pairs"
        raise ValueError(message)
    if lon.size and (not np.isfinite(lon).all() or not np.isfinite(lat).all()):
        message = "longitudes and latitudes must be finite numbers; drop missing locations"
        raise ValueError(message)
    if lon.size and (np.abs(lon).max() > 180 or np.abs(lat).max() > 90):
        message = (
            "points lie outside longitude +-180 / latitude +-90; expected WGS84 degrees, "
            "not projected coordinates"
        )
        raise ValueError(message)
    x, y = _transformer(metric_crs).transform(lon, lat)
    return np.column_stack([x, y])


def cluster_points(
    lons: ArrayLike,
    lats: ArrayLike,
    eps_m: float,
    min_samples: int = 5,
    *,
    metric_crs: str | None = None,
) -> np.ndarray:
    """Run DBSCAN on longitude/latitude points with a radius in metres.

    Parameters
    ----------
    lons, lats
        Point coordinates in WGS84 degrees.
    eps_m
        Neighbourhood radius in metres (a neighbour at exactly ``eps_m`` counts).
    min_samples
        Points, itself included, a point needs within ``eps_m`` to be a core point.
    metric_crs
        The projected CRS to measure in; the settings' when omitted.

    Returns
    -------
    numpy.ndarray
        One integer label per point, ``-1`` for noise. Labels equal those of
        ``sklearn.cluster.DBSCAN(eps_m, min_samples=min_samples, algorithm="ball_tree")``
        on the projected points: a border point near several clusters joins the one
        whose lowest-numbered core point comes first.

    Raises
    ------
    ValueError
        If there are no points, ``eps_m`` or ``min_samples`` is not positive, or the
        coordinates or CRS are unusable.
    """
    xy = _checked_points(lons, lats, eps_m, min_samples, metric_crs)

    pairs = cKDTree(xy).query_pairs(eps_m, output_type="ndarray")
    return _label_pairs(len(xy), pairs, min_samples, xy, eps_m)


def cluster_points_in_window(
    lons: ArrayLike,
    lats: ArrayLike,
    times: ArrayLike,
    eps_m: float,
    window_hours: float,
    min_samples: int = 5,
    *,
    metric_crs: str | None = None,
) -> np.ndarray:
    """Run DBSCAN where neighbours must be within ``eps_m`` and ``window_hours``.

    Parameters
    ----------
    lons, lats
        Point coordinates in WGS84 degrees.
    times
        One timestamp per point (anything :func:`pandas.to_datetime` reads).
    eps_m
        Neighbourhood radius in metres.
    window_hours
        Neighbours are at most this many hours apart (inclusive).
    min_samples
        As for :func:`cluster_points`.
    metric_crs
        The projected CRS to measure in; the settings' when omitted.

    Returns
    -------
    numpy.ndarray
        One label per point, ``-1`` for noise, numbered as DBSCAN numbers them.
    """
    xy = _checked_points(lons, lats, eps_m, min_samples, metric_crs)
    hours = _hours(times, len(xy))
    _check_window(window_hours)

    # spatial pairs, then keep those close in time
    pairs = cKDTree(xy).query_pairs(eps_m, output_type="ndarray")
    close = np.abs(hours[pairs[:, 0]] - hours[pairs[:, 1]]) <= window_hours
    return _label_pairs(len(xy), pairs[close], min_samples)


def group_by_segment(
    main_ids: Sequence[str | None],
    times: ArrayLike,
    network: WaterNetwork,
    window_hours: float,
) -> np.ndarray:
    """Group water-outage reports on one isolation segment within a time window.

    Reports on the same segment join one group when they follow each other within
    ``window_hours`` (a chain: a report joins if it is within the window of any member).

    Parameters
    ----------
    main_ids
        The water main each report snapped to; None (or an unknown main) for a report
        that did not snap, which stays a group of its own.
    times
        One timestamp per report.
    network
        The water network the mains belong to.
    window_hours
        Greatest gap in hours between consecutive reports of one group.

    Returns
    -------
    numpy.ndarray
        One group label per report, from 0, in the order of each group's first report.
    """
    n = len(main_ids)
    hours = _hours(times, n)
    _check_window(window_hours)
    if n == 0:
        return np.zeros(0, dtype=np.int64)

    # segment per report; unsnapped reports get a segment of their own
    known = pd.Index(network.main_ids)
    ids = pd.Series(list(main_ids), dtype=object)
    found = ids.isin(known).to_numpy()
    segment = np.full(n, -1, dtype=np.int64)
    if found.any():
        segment[found] = network.segment_of(ids[found].tolist())
    segment[~found] = network.n_segments + np.arange((~found).sum())
    if (~found).any():
        LOGGER.info(
            "kept %s unsnapped water reports as groups of their own", f"{(~found).sum():,}"
        )

    # chain by time inside each segment
    order = np.lexsort((hours, segment))
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (np.diff(segment[order]) != 0) | (np.diff(hours[order]) > window_hours)
    group = np.empty(n, dtype=np.int64)
    group[order] = np.cumsum(new_group) - 1
    return _number_by_first(group)


def group_by_downstream(
    main_ids: Sequence[str | None],
    times: ArrayLike,
    network: SewerNetwork,
    max_mains: int,
    window_hours: float,
) -> np.ndarray:
    """Group sewer-backup reports whose mains drain to a shared main nearby.

    Two reports are linked when some main lies at most ``max_mains`` mains downstream of
    both their mains (a report's own main counts as 0) and they are at most
    ``window_hours`` apart; groups are the linked chains.

    Parameters
    ----------
    main_ids
        The sewer main each report snapped to; None (or an unknown main) for a report
        that did not snap, which stays a group of its own.
    times
        One timestamp per report.
    network
        The sewer network the mains belong to.
    max_mains
        How far downstream, in mains, a shared main may lie.
    window_hours
        Greatest time apart, in hours, of two linked reports.

    Returns
    -------
    numpy.ndarray
        One group label per report, from 0, in the order of each group's first report.
    """
    n = len(main_ids)
    hours = _hours(times, n)
    _check_window(window_hours)
    if max_mains < 0:
        message = f"max_mains must be 0 or more, received {max_mains}"
        raise ValueError(message)
    if n == 0:
        return np.zeros(0, dtype=np.int64)

    # each distinct main's downstream mains within reach, as a report x main incidence
    known = set(network.main_ids)
    reach: dict[str, pd.Index] = {}
    for main in dict.fromkeys(m for m in main_ids if m in known):
        reach[str(main)] = network.downstream_distances(str(main), max_mains).index
    rows, cols = [], []
    column = {m: k for k, m in enumerate(network.main_ids)}
    for report, main in enumerate(main_ids):
        if main in reach:
            hits = [column[m] for m in reach[str(main)]]
            rows.extend([report] * len(hits))
            cols.extend(hits)
    incidence = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(n, len(column))
    )

    # linked: a shared downstream main and close in time
    shared = (incidence @ incidence.T).tocoo()
    close = np.abs(hours[shared.row] - hours[shared.col]) <= window_hours
    links = sparse.coo_matrix(
        (np.ones(close.sum(), dtype=np.int8), (shared.row[close], shared.col[close])),
        shape=(n, n),
    )
    _, labels = csgraph.connected_components(links, directed=False)
    return _number_by_first(labels)


@lru_cache(maxsize=8)
def _transformer(metric_crs: str | None) -> pyproj.Transformer:
    """Return a WGS84 to metric-CRS transformer, built once per CRS."""
    crs = resolve_metric_crs(metric_crs)
    return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def _checked_points(
    lons: ArrayLike, lats: ArrayLike, eps_m: float, min_samples: int, metric_crs: str | None
) -> np.ndarray:
    """Validate DBSCAN arguments and return the projected points."""
    if not np.isfinite(eps_m) or eps_m <= 0:
        message = f"eps_m must be a positive number of metres, received {eps_m!r}"
        raise ValueError(message)
    if int(min_samples) != min_samples or min_samples < 1:
        message = f"min_samples must be a whole number of at least 1, received {min_samples!r}"
        raise ValueError(message)
    xy = project_points(lons, lats, metric_crs)
    if len(xy) == 0:
        message = "received no points to cluster; pass at least one longitude/latitude pair"
        raise ValueError(message)
    return xy


def _label_pairs(
    n: int, pairs: np.ndarray, min_samples: int, xy: np.ndarray | None = None, eps: float = 0
) -> np.ndarray:
    """Return DBSCAN labels from the neighbour pairs (i < j) of ``n`` points.

    With ``xy`` and ``eps`` (pure distance neighbourhoods) the clusters come from a grid
    of cells small enough that all points in a cell are neighbours; without them (pairs
    filtered by time, say) from the graph of all core-core pairs.
    """
    first, second = pairs[:, 0], pairs[:, 1]

    # core points: neighbours, itself included, reach min_samples
    counts = np.bincount(pairs.ravel(), minlength=n) + 1
    core = counts >= min_samples

    # clusters: connected core points (through cells where pairs far outnumber points)
    if xy is not None and len(first) > _PAIRS_PER_POINT_FOR_CELLS * n:
        component = _components_by_cells(xy, eps, core, first, second)
    else:
        component = _components_by_pairs(n, core, first, second)

    # number clusters by their lowest core point, as DBSCAN's scan in index order does
    core_index = np.flatnonzero(core)
    ids, first_core = np.unique(component[core_index], return_index=True)
    rank = np.full(component.max() + 1 if n else 0, -1, dtype=np.int64)
    rank[ids[np.argsort(first_core)]] = np.arange(len(ids))
    labels = np.full(n, -1, dtype=np.int64)
    labels[core] = rank[component[core]]

    # border points join the lowest-numbered cluster among their core neighbours
    border_first = ~core[first] & core[second]
    border_second = core[first] & ~core[second]
    border = np.concatenate([first[border_first], second[border_second]])
    cluster = np.concatenate([labels[second[border_first]], labels[first[border_second]]])
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, border, cluster)
    touched = best != np.iinfo(np.int64).max
    labels[touched] = best[touched]
    return labels


def _components_by_pairs(
    n: int, core: np.ndarray, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """Return a component id per point from the graph of core-core pairs."""
    index = np.int32 if n < np.iinfo(np.int32).max else np.int64
    both = core[first] & core[second]
    rows, cols = first[both].astype(index), second[both].astype(index)
    graph = sparse.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    return csgraph.connected_components(graph, directed=False)[1]


_CHUNK = 500_000
"""Pairs handled at a time when reducing pairs to cell links, to bound temporary memory."""

_PAIRS_PER_POINT_FOR_CELLS = 8
"""Above this many neighbour pairs per point, clusters are joined through grid cells."""


def _components_by_cells(
    xy: np.ndarray, eps: float, core: np.ndarray, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """Return a component id per point, joining core points through grid cells.

    Cells are squares of side just under ``eps / sqrt(2)``, so the core points of one
    cell are all neighbours and belong to one cluster. Two cells join when some
    core-core pair links them; a pair's cells are at most two apart in each direction,
    so each cell has 25 possible links, marked in a boolean array instead of sorting
    the (possibly many millions of) pairs.
    """
    # cell of each point, numbered compactly
    side = eps / np.sqrt(2) * (1 - 1e-9)
    grid = np.floor((xy - xy.min(axis=0)) / side).astype(np.int64)
    height = int(grid[:, 1].max()) + 3
    keys, cell = np.unique((grid[:, 0] + 2) * height + grid[:, 1] + 2, return_inverse=True)
    n_cells = len(keys)
    cell = cell.astype(np.int32 if n_cells < np.iinfo(np.int32).max // 25 else np.int64)
    cell_x, cell_y = np.divmod(keys, height)

    # mark (cell, offset) links of core-core pairs, a chunk of pairs at a time; a link
    # is kept from the cell whose offset to the other is "forward" (codes 13..24)
    linked = np.zeros(n_cells * 25, dtype=bool)
    for start in range(0, len(first), _CHUNK):
        a, b = first[start : start + _CHUNK], second[start : start + _CHUNK]
        both = core[a] & core[b]
        ca, cb = cell[a[both]], cell[b[both]]
        offset = (cell_x[cb] - cell_x[ca] + 2) * 5 + (cell_y[cb] - cell_y[ca] + 2)
        back = offset < 12
        source = np.where(back, cb, ca)
        linked[source * 25 + np.where(back, 24 - offset, offset)] = True
    linked[12::25] = False

    # the cell graph, built a chunk of links at a time, and its components
    link = np.flatnonzero(linked).astype(cell.dtype)
    del linked
    target = np.empty_like(link)
    for start in range(0, len(link), _CHUNK):
        source, offset = np.divmod(link[start : start + _CHUNK], 25)
        dx, dy = np.divmod(offset, 5)
        target_key = (cell_x[source] + dx - 2) * height + cell_y[source] + dy - 2
        target[start : start + _CHUNK] = np.searchsorted(keys, target_key)
    link //= 25
    graph = sparse.coo_matrix(
        (np.ones(len(link), dtype=np.int8), (link, target)), shape=(n_cells, n_cells)
    )
    return csgraph.connected_components(graph, directed=False)[1][cell]


def _hours(times: ArrayLike, n: int) -> np.ndarray:
    """Return timestamps as float hours since the epoch, checking their count."""
    stamps = pd.to_datetime(pd.Series(np.asarray(times, dtype=object).ravel()), utc=True)
    if len(stamps) != n:
        message = f"received {len(stamps):,} timestamps for {n:,} reports; pass one each"
        raise ValueError(message)
    if stamps.isna().any():
        message = f"{int(stamps.isna().sum()):,} timestamps are missing; every report needs one"
        raise ValueError(message)
    nanoseconds = stamps.astype("int64").to_numpy()
    return (nanoseconds - (nanoseconds.min() if n else 0)) / 3.6e12


def _check_window(window_hours: float) -> None:
    if not np.isfinite(window_hours) or window_hours < 0:
        message = f"window_hours must be 0 or more hours, received {window_hours!r}"
        raise ValueError(message)


def _number_by_first(labels: np.ndarray) -> np.ndarray:
    """Renumber labels from 0 in the order each first appears."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse]
