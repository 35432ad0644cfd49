"""Pipe networks: water isolation segments and sewer flow traces.

Water mains meet at shared ends (within a tolerance in metres, or through explicit
``from_node``/``to_node`` ids). An operable valve lying on a main cuts that main at its
position. An isolation segment is what stays connected once every operable valve is
closed: the valve-controlled segment of the water-resilience literature (Walski; Jun and
Loganathan, 2007; Giustolisi's segment-valve graph). :class:`WaterNetwork` works the
segments out once per network with sparse connected components, so every later question
(which segment holds a main, which valves close it, how it grows when a valve fails) is
an array look-up.

Sewer mains flow from ``from_node`` to ``to_node`` (or downhill by their inverts where
the ids are missing). :class:`SewerNetwork` traces what lies upstream of a blockage and
finds the first main that several backups share downstream.

Everything is measured in the metric CRS from the settings (EPSG:26913 for Saskatoon);
inputs are GeoDataFrames in EPSG:4326 with the canonical columns of
:mod:`gis.layers.schema`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gis.errors import NetworkError
from gis.projection import resolve_metric_crs

LOGGER = logging.getLogger(__name__)

DEFAULT_NODE_TOLERANCE_M = 0.5
"""Main ends closer than this (metres) meet at one node when no node ids are given."""

DEFAULT_VALVE_TOLERANCE_M = 3.0
"""A valve farther than this (metres) from every main cuts nothing."""


# ---------------------------------------------------------------------------------------
# shared helpers: CRS checks and node matching
# ---------------------------------------------------------------------------------------


def check_and_project(
    frame: gpd.GeoDataFrame,
    layer: str,
    columns: Iterable[str],
    metric_crs: str | None = None,
    error: type[ValueError] = ValueError,
) -> gpd.GeoDataFrame:
    """Check a layer's columns and CRS, then project it to the metric CRS (refusing degrees).

    Parameters
    ----------
    frame
        The layer, normally in EPSG:4326.
    layer
        The layer's name, for messages.
    columns
        Columns the caller needs.
    metric_crs
        The projected CRS to measure in; the settings' when omitted.
    error
        The error class to raise.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer in the metric CRS.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        message = f"{layer} must be a GeoDataFrame, received {type(frame).__name__}"
        raise error(message)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        message = (
            f"{layer} lacks the column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, frame.columns))}. Load it through gis.layers so it has "
            "the canonical columns."
        )
        raise error(message)
    if frame.crs is None:
        message = f"{layer} has no CRS; expected EPSG:4326. Set it with .set_crs(4326)."
        raise error(message)
    try:
        crs = resolve_metric_crs(metric_crs)
    except ValueError as exc:
        raise error(str(exc)) from None
    return frame.to_crs(crs)


def _match_nodes(
    starts: np.ndarray,
    ends: np.ndarray,
    from_ids: np.ndarray,
    to_ids: np.ndarray,
    tolerance_m: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Number the nodes at main ends.

    Ends with an explicit id join the other ends with that id. Ends without one join any
    end within ``tolerance_m``. Returns start nodes, end nodes and the node count.
    """
    n = len(starts)
    xy = np.vstack([starts, ends])
    ids = np.concatenate([from_ids, to_ids]).astype(object)
    has_id = pd.notna(ids)

    # ends that share an explicit id
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    if has_id.any():
        codes, _ = pd.factorize(pd.Series(ids[has_id], dtype=object))
        where = np.flatnonzero(has_id)
        first = np.unique(codes, return_index=True)[1]
        rows.append(where)
        cols.append(where[first[codes]])

    # ends without an id that lie within the tolerance of any end
    if (~has_id).any():
        pairs = cKDTree(xy).query_pairs(tolerance_m, output_type="ndarray")
        keep = ~has_id[pairs[:, 0]] | ~has_id[pairs[:, 1]]
        rows.append(pairs[keep, 0])
        cols.append(pairs[keep, 1])

    # connected ends are one node
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    graph = sparse.coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(2 * n, 2 * n))
    count, labels = csgraph.connected_components(graph, directed=False)
    return labels[:n].astype(np.int64), labels[n:].astype(np.int64), int(count)


def _column_or_none(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Return a column as an object array with None for missing, or all None if absent."""
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    values = frame[column].astype(object).to_numpy()
    values[pd.isna(values)] = None
    return values


def _end_points(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and last vertices of line geometries as (n, 2) arrays."""
    starts = shapely.get_coordinates(shapely.get_point(lines, 0))
    ends = shapely.get_coordinates(shapely.get_point(lines, -1))
    return starts, ends


def _check_lines(frame: gpd.GeoDataFrame, layer: str) -> np.ndarray:
    """Return the line geometries, refusing empty layers and other geometry types."""
    if len(frame) == 0:
        message = f"{layer} is empty; a network needs at least one main"
        raise NetworkError(message)
    if frame["asset_id"].isna().any():
        message = (
            f"{layer} has {int(frame['asset_id'].isna().sum()):,} rows without an asset_id; "
            "every main needs a unique id (fill them from another key before building)"
        )
        raise NetworkError(message)
    if not frame["asset_id"].is_unique:
        dupes = frame["asset_id"][frame["asset_id"].duplicated()].unique()[:5]
        message = (
            f"{layer} asset_id values repeat ({', '.join(map(str, dupes))}); make them unique"
        )
        raise NetworkError(message)
    lines = frame.geometry.to_numpy()
    kinds = shapely.get_type_id(lines)
    if (kinds != shapely.GeometryType.LINESTRING).any() or shapely.is_empty(lines).any():
        bad = frame.geometry[(kinds != shapely.GeometryType.LINESTRING)].geom_type.unique()
        message = (
            f"{layer} must hold non-empty LineStrings; received {', '.join(map(str, bad))} or "
            "empty geometries. Explode multi-part lines and drop empty ones first."
        )
        raise NetworkError(message)
    return lines


# ---------------------------------------------------------------------------------------
# water: isolation segments
# ---------------------------------------------------------------------------------------


class WaterNetwork:
    """A water network cut into isolation segments by its operable valves.

    Parameters
    ----------
    mains
        Water mains (``asset_id``, LineString geometry, optional ``from_node``/``to_node``).
    valves
        Valves (``asset_id``, Point geometry, ``operable``). A valve whose ``operable`` is
        False does not cut; a missing value counts as operable.
    node_tolerance_m
        Main ends closer than this meet, where no node ids are given.
    valve_tolerance_m
        A valve farther than this from every main is ignored (and counted in the log).
    metric_crs
        The projected CRS to measure in; the settings' when omitted.

    Attributes
    ----------
    segment_of_main : pandas.Series
        Segment id (int) of each main, indexed like ``mains``; a main cut by valves
        belongs to the segment holding its longest piece.
    segments : pandas.DataFrame
        One row per segment: ``length_m``, ``mains`` (asset ids of mains with any piece in
        it) and ``valves`` (the boundary valves).
    valves : pandas.DataFrame
        One row per snapped operable valve: ``main_id``, ``position_m``, ``side_a`` and
        ``side_b`` (segment ids on either side; equal when the valve closes nothing off).

    Notes
    -----
    A valve snaps to the nearest main; where it lies at a junction, several mains are
    equally near and the first of them in ``mains`` order is taken. A valve at a junction
    therefore cuts that main right beside the node, which leaves the node with the other
    mains. Each segment is a set of pipe pieces; a piece of zero length (between a valve
    and the node it sits on) forms a segment of its own when valves close off every
    main at a node, as a fitting between valves does.
    """

    def __init__(
        self,
        mains: gpd.GeoDataFrame,
        valves: gpd.GeoDataFrame | None = None,
        *,
        node_tolerance_m: float = DEFAULT_NODE_TOLERANCE_M,
        valve_tolerance_m: float = DEFAULT_VALVE_TOLERANCE_M,
        metric_crs: str | None = None,
    ) -> None:
        metric = check_and_project(mains, "water_mains", ["asset_id"], metric_crs, NetworkError)
        lines = _check_lines(metric, "water_mains")
        n_mains = len(metric)
        self._index = mains.index
        self.main_ids = metric["asset_id"].astype(str).to_numpy()
        lengths = shapely.length(lines)

        # nodes at main ends
        starts, ends = _end_points(lines)
        start_node, end_node, n_nodes = _match_nodes(
            starts,
            ends,
            _column_or_none(metric, "from_node"),
            _column_or_none(metric, "to_node"),
            node_tolerance_m,
        )

        # operable valves snapped to their main and position
        valve_main, valve_pos, valve_ids = self._snap_valves(
            valves, lines, valve_tolerance_m, metric_crs
        )

        # pieces: main i cut by its k valves has k + 1 pieces, numbered from offset[i]
        order = np.lexsort((valve_pos, valve_main))
        valve_main, valve_pos, valve_ids = valve_main[order], valve_pos[order], valve_ids[order]
        per_main = np.bincount(valve_main, minlength=n_mains)
        offset = np.concatenate([[0], np.cumsum(per_main + 1)])
        n_pieces = int(offset[-1])
        first_valve = np.concatenate([[0], np.cumsum(per_main)])[:-1]
        rank = np.arange(len(valve_main)) - first_valve[valve_main]
        valve_piece = offset[valve_main] + rank  # the piece before each valve

        # piece lengths: differences between consecutive cut positions
        piece_main = np.repeat(np.arange(n_mains), per_main + 1)
        piece_end = lengths[piece_main].copy()
        piece_end[valve_piece] = valve_pos
        piece_start = np.zeros(n_pieces)
        piece_start[valve_piece + 1] = valve_pos
        piece_length = np.maximum(piece_end - piece_start, 0.0)

        # graph of nodes and pieces: a main's first piece touches its start node, its last
        # piece its end node; consecutive pieces of a main are apart (a valve between)
        first_piece = offset[:-1]
        last_piece = offset[1:] - 1
        rows = np.concatenate([first_piece, last_piece])
        cols = n_pieces + np.concatenate([start_node, end_node])
        size = n_pieces + n_nodes
        graph = sparse.coo_matrix(
            (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(size, size)
        )
        _, labels = csgraph.connected_components(graph, directed=False)

        # segment ids numbered in piece order, so main order decides the numbering
        piece_label = labels[:n_pieces]
        _, first_seen, piece_segment = np.unique(
            piece_label, return_index=True, return_inverse=True
        )
        renumber = np.empty(len(first_seen), dtype=np.int64)
        renumber[np.argsort(first_seen)] = np.arange(len(first_seen))
        piece_segment = renumber[piece_segment]
        self.n_segments = len(first_seen)

        # a main belongs to the segment of its longest piece (the first one on a tie)
        by_length = np.lexsort((-np.arange(n_pieces), piece_length, piece_main))
        longest = by_length[offset[1:] - 1]
        main_segment = piece_segment[longest]
        self.segment_of_main = pd.Series(main_segment, index=self._index, name="segment_id")
        self._main_position = pd.Series(np.arange(n_mains), index=self.main_ids)

        # valve sides and per-segment tables
        side_a = piece_segment[valve_piece]
        side_b = piece_segment[valve_piece + 1]
        self.valves = pd.DataFrame(
            {
                "main_id": self.main_ids[valve_main],
                "position_m": valve_pos,
                "side_a": side_a,
                "side_b": side_b,
            },
            index=pd.Index(valve_ids, name="valve_id"),
        )
        self._side_a, self._side_b = side_a, side_b
        self._valve_ids = valve_ids
        self._piece_segment, self._piece_main = piece_segment, piece_main
        self._piece_length = piece_length
        LOGGER.info(
            "built a water network of %s mains, %s nodes and %s operable valves into "
            "%s isolation segments",
            f"{n_mains:,}",
            f"{n_nodes:,}",
            f"{len(valve_ids):,}",
            f"{self.n_segments:,}",
        )

    def _snap_valves(
        self,
        valves: gpd.GeoDataFrame | None,
        lines: np.ndarray,
        tolerance_m: float,
        metric_crs: str | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return each operable valve's main position, distance along it, and its id."""
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=object))
        if valves is None or len(valves) == 0:
            return empty
        metric = check_and_project(
            valves, "valves", ["asset_id", "operable"], metric_crs, NetworkError
        )

        # inoperable valves do not cut; unknown counts as operable
        operable = metric["operable"].astype("boolean").fillna(True).to_numpy(dtype=bool)
        points = metric.geometry.to_numpy()[operable]
        ids = metric["asset_id"].astype(str).to_numpy()[operable]
        if (~operable).any():
            LOGGER.info("left %s inoperable valves open", f"{(~operable).sum():,}")

        # nearest main within the tolerance; on a tie the first main in order
        tree = shapely.STRtree(lines)
        pairs = tree.query_nearest(points, max_distance=tolerance_m, all_matches=True)
        order = np.lexsort((pairs[1], pairs[0]))
        pairs = pairs[:, order]
        first = np.unique(pairs[0], return_index=True)[1]
        which, main = pairs[0, first], pairs[1, first]
        unsnapped = len(points) - len(which)
        if unsnapped:
            LOGGER.warning(
                "ignored %s valves farther than %s m from every main",
                f"{unsnapped:,}",
                tolerance_m,
            )

        # distance along the main
        position = shapely.line_locate_point(lines[main], points[which])
        return main.astype(np.int64), position, ids[which].astype(object)

    @cached_property
    def segments(self) -> pd.DataFrame:
        """One row per segment: ``length_m``, ``mains`` and boundary ``valves`` (lists)."""
        n = self.n_segments
        length = np.bincount(self._piece_segment, weights=self._piece_length, minlength=n)

        # mains with a piece in each segment
        keys = np.unique(self._piece_segment * len(self.main_ids) + self._piece_main)
        segment, main = np.divmod(keys, len(self.main_ids))
        mains = _split_by(self.main_ids[main], segment, n)

        # valves with one side in each segment
        boundary = self._side_a != self._side_b
        sides = np.concatenate([self._side_a[boundary], self._side_b[boundary]])
        ids = np.concatenate([self._valve_ids[boundary]] * 2)
        order = np.argsort(sides, kind="stable")
        valves = _split_by(ids[order], sides[order], n)

        table = pd.DataFrame({"length_m": length}, index=pd.RangeIndex(n, name="segment_id"))
        table["mains"] = mains
        table["valves"] = valves
        return table

    def segment_of(self, main_ids: Sequence[str] | str) -> np.ndarray | int:
        """Return the segment id of one main or of several.

        Raises
        ------
        NetworkError
            If a main id is not in the network.
        """
        single = isinstance(main_ids, str)
        wanted = pd.Index([main_ids] if single else list(main_ids), dtype=object)
        positions = self._main_position.reindex(wanted)
        if positions.isna().any():
            unknown = list(wanted[positions.isna().to_numpy()][:5])
            message = f"main(s) {unknown} are not in this water network; check the asset ids"
            raise NetworkError(message)
        segments = self.segment_of_main.to_numpy()[positions.to_numpy(dtype=np.int64)]
        return int(segments[0]) if single else segments

    def boundary_valves(self, segment_id: int | Iterable[int]) -> list[str]:
        """Return the valves to close to isolate a segment (or a union of segments).

        Parameters
        ----------
        segment_id
            One segment id or several; several are treated as one area.

        Returns
        -------
        list of str
            Valve asset ids with one side inside the area and the other outside.
        """
        area = self._check_segments(segment_id)
        inside_a = np.isin(self._side_a, area)
        inside_b = np.isin(self._side_b, area)
        return list(self._valve_ids[inside_a != inside_b])

    def grow_segment(self, segment_id: int, failed_valves: Iterable[str] = ()) -> list[int]:
        """Return the segments shut off when some boundary valves cannot be closed.

        A failed valve merges the segments on its two sides, so the area grows through it
        to the next ring of valves, and on through any failed valve of that ring.

        Parameters
        ----------
        segment_id
            The segment to isolate.
        failed_valves
            Valve asset ids that will not close.

        Returns
        -------
        list of int
            The segment ids of the grown area, sorted, ``segment_id`` included.
        """
        self._check_segments(segment_id)
        failed = np.isin(self._valve_ids, list(failed_valves))

        # segment graph joined through the failed valves only
        a, b = self._side_a[failed], self._side_b[failed]
        n = self.n_segments
        graph = sparse.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
        reached = csgraph.breadth_first_order(graph, segment_id, directed=False)[0]
        return sorted(int(s) for s in reached)

    def segment_mains(self, segment_id: int | Iterable[int]) -> list[str]:
        """Return the asset ids of mains with any piece inside the segment(s)."""
        area = self._check_segments(segment_id)
        mains = np.unique(self._piece_main[np.isin(self._piece_segment, area)])
        return list(self.main_ids[mains])

    def _check_segments(self, segment_id: int | Iterable[int]) -> np.ndarray:
        if isinstance(segment_id, Iterable):
            area = np.asarray(list(segment_id), dtype=np.int64)
        else:
            area = np.asarray([segment_id], dtype=np.int64)
        if len(area) == 0 or area.min() < 0 or area.max() >= self.n_segments:
            message = (
                f"segment id(s) {area.tolist()[:5]} are outside 0..{self.n_segments - 1}; "
                "take ids from segment_of_main"
            )
            raise NetworkError(message)
        return area


def isolation_segments(
    mains: gpd.GeoDataFrame,
    valves: gpd.GeoDataFrame | None,
    *,
    node_tolerance_m: float = DEFAULT_NODE_TOLERANCE_M,
    valve_tolerance_m: float = DEFAULT_VALVE_TOLERANCE_M,
    metric_crs: str | None = None,
) -> pd.Series:
    """Return each main's isolation segment id.

    Parameters
    ----------
    mains
        Water mains in the canonical shape.
    valves
        Valves in the canonical shape; inoperable ones do not cut.
    node_tolerance_m, valve_tolerance_m, metric_crs
        As for :class:`WaterNetwork`.

    Returns
    -------
    pandas.Series
        Segment id (int) per main, indexed like ``mains``. A main that a valve splits
        belongs to the segment holding its longer part.

    See Also
    --------
    WaterNetwork : keeps the segments for repeated questions.
    """
    network = WaterNetwork(
        mains,
        valves,
        node_tolerance_m=node_tolerance_m,
        valve_tolerance_m=valve_tolerance_m,
        metric_crs=metric_crs,
    )
    return network.segment_of_main


def valves_to_close(
    mains: gpd.GeoDataFrame,
    valves: gpd.GeoDataFrame | None,
    segment_id: int,
    failed_valves: Iterable[str] = (),
) -> list[str]:
    """Return the valves to close to isolate a segment, going around failed ones.

    Builds a :class:`WaterNetwork` each call; keep one for repeated questions.
    """
    network = WaterNetwork(mains, valves)
    area = network.grow_segment(segment_id, failed_valves)
    return network.boundary_valves(area)


# ---------------------------------------------------------------------------------------
# sewer: flow traces
# ---------------------------------------------------------------------------------------


class SewerNetwork:
    """A directed sewer network: each main flows from its upstream to its downstream node.

    Parameters
    ----------
    mains
        Sewer mains (``asset_id``, LineString geometry, and ``from_node``/``to_node`` or
        ``up_invert_m``/``down_invert_m``).
    manholes
        Optional manholes (``asset_id``). Node ids that mains name but the manholes lack
        are dangling references; they become terminal nodes and are counted in the log.
    node_tolerance_m
        Main ends closer than this meet, where a main has no node ids.
    metric_crs
        The projected CRS to measure in; the settings' when omitted.

    Attributes
    ----------
    dangling_nodes : list of str
        Node ids named by mains but missing from ``manholes`` (empty without manholes).
    dangling_mains : list of str
        Mains naming a dangling node.

    Notes
    -----
    Where a main lacks node ids, its ends are matched to other ends by distance and its
    direction comes from its inverts, read as the invert at the first and at the last
    vertex: flow runs from the higher to the lower. With equal or missing inverts the
    digitised direction (first to last vertex) is kept and counted in the log.
    """

    def __init__(
        self,
        mains: gpd.GeoDataFrame,
        manholes: pd.DataFrame | None = None,
        *,
        node_tolerance_m: float = DEFAULT_NODE_TOLERANCE_M,
        metric_crs: str | None = None,
    ) -> None:
        metric = check_and_project(mains, "sewer_mains", ["asset_id"], metric_crs, NetworkError)
        lines = _check_lines(metric, "sewer_mains")
        n = len(metric)
        self.main_ids = metric["asset_id"].astype(str).to_numpy()
        self._main_position = pd.Series(np.arange(n), index=self.main_ids)

        # nodes from ids where given, else by matching ends
        from_ids = _column_or_none(metric, "from_node")
        to_ids = _column_or_none(metric, "to_node")
        starts, ends = _end_points(lines)
        first, last, n_nodes = _match_nodes(starts, ends, from_ids, to_ids, node_tolerance_m)

        # direction: ids say from -> to; otherwise downhill by inverts
        has_ids = pd.notna(from_ids) & pd.notna(to_ids)
        up = _numeric_column(metric, "up_invert_m")
        down = _numeric_column(metric, "down_invert_m")
        reverse = ~has_ids & (up < down)
        undecided = ~has_ids & ~(up != down)
        if undecided.any():
            LOGGER.info(
                "kept the digitised direction of %s sewer mains without node ids or "
                "differing inverts",
                f"{undecided.sum():,}",
            )
        self.up_node = np.where(reverse, last, first)
        self.down_node = np.where(reverse, first, last)
        self.n_nodes = n_nodes

        # node names: the explicit id where one exists
        names = np.full(n_nodes, None, dtype=object)
        for nodes, ids in ((first, from_ids), (last, to_ids)):
            named = pd.notna(ids)
            names[nodes[named]] = ids[named]
        self._node_of_name = pd.Series(np.arange(n_nodes), index=names).loc[
            lambda s: s.index.notna()
        ]
        self._node_of_name = self._node_of_name[~self._node_of_name.index.duplicated()]

        # node-to-node adjacency, one edge per main
        self._down = sparse.csr_matrix(
            (np.arange(1, n + 1), (self.up_node, self.down_node)), shape=(n_nodes, n_nodes)
        )
        self._up = self._down.T.tocsr()
        self._mains_from = _group_positions(self.up_node, n_nodes)
        self._mains_into = _group_positions(self.down_node, n_nodes)

        # dangling references to manholes the layer lacks
        self.dangling_nodes: list[str] = []
        self.dangling_mains: list[str] = []
        if manholes is not None:
            known = set(manholes["asset_id"].astype(str))
            named = pd.Series(np.concatenate([from_ids, to_ids])).dropna().astype(str)
            self.dangling_nodes = sorted(set(named) - known)
            missing = pd.Series(from_ids).isin(self.dangling_nodes) | pd.Series(to_ids).isin(
                self.dangling_nodes
            )
            self.dangling_mains = list(self.main_ids[missing.to_numpy()])
            if self.dangling_nodes:
                LOGGER.info(
                    "%s sewer mains name %s manholes missing from the manhole layer; "
                    "treated them as terminal nodes",
                    f"{len(self.dangling_mains):,}",
                    f"{len(self.dangling_nodes):,}",
                )
        sinks = np.setdiff1d(self.down_node, self.up_node).size
        LOGGER.info(
            "built a sewer network of %s mains and %s nodes with %s outlets",
            f"{n:,}",
            f"{n_nodes:,}",
            f"{sinks:,}",
        )

    def _main(self, main_id: str) -> int:
        if main_id not in self._main_position.index:
            message = f"sewer main {main_id!r} is not in this network; check the asset id"
            raise NetworkError(message)
        return int(self._main_position[main_id])

    def _start(self, asset_id: str, upstream: bool) -> tuple[int, list[int]]:
        """Return the node to trace from and the mains the trace starts with."""
        if asset_id in self._main_position.index:
            main = int(self._main_position[asset_id])
            node = self.up_node[main] if upstream else self.down_node[main]
            return int(node), [main]
        if asset_id in self._node_of_name.index:
            return int(self._node_of_name[asset_id]), []
        message = (
            f"{asset_id!r} is neither a sewer main nor a manhole id of this network; "
            "pass a main asset_id or a from_node/to_node id"
        )
        raise NetworkError(message)

    def upstream_mains(self, asset_id: str) -> list[str]:
        """Return the mains whose flow passes through a main or a manhole.

        Parameters
        ----------
        asset_id
            A main's asset id (the main itself is included) or a manhole id.

        Returns
        -------
        list of str
            Main asset ids, nearest first.
        """
        node, seed = self._start(asset_id, upstream=True)
        nodes = csgraph.breadth_first_order(self._up, node, directed=True)[0]
        mains = _concat([seed, *(self._mains_into[k] for k in nodes)])
        return list(self.main_ids[pd.unique(mains)])

    def downstream_mains(self, asset_id: str) -> list[str]:
        """Return the mains that flow from a main or a manhole passes through.

        Parameters
        ----------
        asset_id
            A main's asset id (the main itself is included) or a manhole id.

        Returns
        -------
        list of str
            Main asset ids, nearest first.
        """
        node, seed = self._start(asset_id, upstream=False)
        nodes = csgraph.breadth_first_order(self._down, node, directed=True)[0]
        mains = _concat([seed, *(self._mains_from[k] for k in nodes)])
        return list(self.main_ids[pd.unique(mains)])

    def downstream_distances(self, main_id: str, max_mains: int | None = None) -> pd.Series:
        """Return how many mains downstream each reachable main lies (the main itself: 0).

        Parameters
        ----------
        main_id
            The main to start from.
        max_mains
            Stop after this many mains downstream; no limit when omitted.

        Returns
        -------
        pandas.Series
            Distance in mains, indexed by main asset id, nearest first.
        """
        start = self._main(main_id)
        limit = np.inf if max_mains is None else max_mains
        distance = {start: 0}
        frontier = [start]
        depth = 0
        while frontier and depth < limit:
            depth += 1
            following = _concat([self._mains_from[self.down_node[m]] for m in frontier])
            frontier = [int(m) for m in following if int(m) not in distance]
            frontier = list(dict.fromkeys(frontier))
            distance.update(dict.fromkeys(frontier, depth))
        keys = np.fromiter(distance.keys(), dtype=np.int64)
        return pd.Series(list(distance.values()), index=self.main_ids[keys], name="mains")

    def first_shared_downstream(
        self, main_ids: Sequence[str], max_mains: int | None = None
    ) -> SharedDownstream | None:
        """Return the first main that flow from every given main passes through.

        Parameters
        ----------
        main_ids
            Mains (for example the mains that sewer backups snapped to).
        max_mains
            Only look this many mains downstream of each; no limit when omitted.

        Returns
        -------
        SharedDownstream or None
            The shared main and how many mains downstream of each given main it lies, or
            None when their flows never meet. Among several shared mains, the one with the
            smallest greatest distance is first (then the smallest total distance).
        """
        if len(main_ids) == 0:
            message = "first_shared_downstream needs at least one main id, received none"
            raise NetworkError(message)
        traces = [self.downstream_distances(m, max_mains) for m in main_ids]
        table = pd.concat(traces, axis=1, join="inner")
        if table.empty:
            return None
        worst = table.max(axis=1)
        total = table.sum(axis=1)
        best = pd.DataFrame({"worst": worst, "total": total}).sort_values(
            ["worst", "total"], kind="stable"
        )
        main = str(best.index[0])
        distances = dict(zip(main_ids, (int(v) for v in table.loc[main]), strict=True))
        return SharedDownstream(main, distances)


@dataclass(frozen=True)
class SharedDownstream:
    """The first main several mains share downstream, and how far each is from it."""

    main_id: str
    distances: dict[str, int]

    @property
    def max_distance(self) -> int:
        """The greatest distance, in mains, from a given main to the shared one."""
        return max(self.distances.values())


def _numeric_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _split_by(values: np.ndarray, keys: np.ndarray, size: int) -> list[list[str]]:
    """Split ``values`` (sorted by ``keys``) into one list per key 0..size-1."""
    bounds = np.searchsorted(keys, np.arange(1, size))
    return [part.tolist() for part in np.split(values, bounds)]


def _group_positions(keys: np.ndarray, size: int) -> list[np.ndarray]:
    """Return, for each key 0..size-1, the positions holding it."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(size + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(size)]


def _concat(parts: Sequence[Sequence[int] | np.ndarray]) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])
