"""Benchmark: isolation segments on a synthetic grid against a networkx reference.

The grid has a main on every street between two intersections and a valve on each leg
but one at every intersection (the usual "n - 1 valves" rule), a few of them inoperable.
The project's :func:`gis.network.isolation_segments` and a straightforward networkx
implementation (split each main at its valves, link the pieces through the nodes,
``networkx.connected_components``) run on the same layers; both answers are checked to
be the same partition before the times are printed.

Run with ``.venv/bin/python -m bench.network`` (``--scale 0.1`` for a quick run).
"""

from __future__ import annotations

import argparse
import itertools
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from bench.report import BenchResult
from gis.network import isolation_segments
from gis.projection import resolve_metric_crs

ORIGIN = (383_000.0, 5_776_000.0)
"""Lower-left corner of synthetic networks in EPSG:26913 (south-west Saskatoon)."""


def make_grid_network(
    side: int,
    spacing_m: float = 100.0,
    valve_offset_m: float = 3.0,
    inoperable_share: float = 0.05,
    seed: int = 0,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return water mains and valves of a ``side`` x ``side`` street grid in EPSG:4326.

    Parameters
    ----------
    side
        Intersections per row and per column; the grid has ``2 * side * (side - 1)``
        mains.
    spacing_m
        Block length.
    valve_offset_m
        How far from the intersection each valve sits on its leg.
    inoperable_share
        Share of valves marked inoperable.
    seed
        Seed for which leg goes without a valve and which valves are inoperable.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        Mains (``asset_id``, ``diameter_mm``) and valves (``asset_id``, ``operable``).
    """
    rng = np.random.default_rng(seed)
    x0, y0 = ORIGIN

    # mains along rows, then along columns
    i, j = np.meshgrid(np.arange(side), np.arange(side - 1), indexing="ij")
    i, j = i.ravel(), j.ravel()
    row_start = np.column_stack([x0 + j * spacing_m, y0 + i * spacing_m])
    row_end = row_start + np.array([spacing_m, 0.0])
    col_start = np.column_stack([x0 + i * spacing_m, y0 + j * spacing_m])
    col_end = col_start + np.array([0.0, spacing_m])
    starts = np.vstack([row_start, col_start])
    ends = np.vstack([row_end, col_end])
    n = len(starts)
    lines = shapely.linestrings(np.stack([starts, ends], axis=1))

    # legs at each intersection: (main, at its start or end)
    legs = pd.DataFrame(
        {
            "main": np.concatenate([np.arange(n), np.arange(n)]),
            "at_start": np.repeat([True, False], n),
            "x": np.concatenate([starts[:, 0], ends[:, 0]]),
            "y": np.concatenate([starts[:, 1], ends[:, 1]]),
        }
    )
    legs["node"] = legs.groupby(["x", "y"]).ngroup()

    # every leg but one (chosen at random) carries a valve
    legs["draw"] = rng.random(len(legs))
    skip = legs.groupby("node")["draw"].idxmax()
    legs = legs.drop(index=skip)
    direction = (ends - starts) / spacing_m
    main = legs["main"].to_numpy()
    offset = np.where(legs["at_start"], valve_offset_m, spacing_m - valve_offset_m)
    xy = starts[main] + direction[main] * offset[:, None]

    # frames in WGS84 with canonical columns
    crs = resolve_metric_crs("EPSG:26913")
    mains = gpd.GeoDataFrame(
        {"asset_id": [f"WM{k}" for k in range(n)], "diameter_mm": 150.0},
        geometry=lines,
        crs=crs,
    ).to_crs(4326)
    valves = gpd.GeoDataFrame(
        {
            "asset_id": [f"V{k}" for k in range(len(xy))],
            "operable": rng.random(len(xy)) >= inoperable_share,
        },
        geometry=shapely.points(xy),
        crs=crs,
    ).to_crs(4326)
    return mains, valves


def isolation_segments_networkx(
    mains: gpd.GeoDataFrame,
    valves: gpd.GeoDataFrame,
    valve_tolerance_m: float = 3.0,
    metric_crs: str = "EPSG:26913",
) -> pd.Series:
    """Return isolation segments the straightforward way, one main at a time.

    Ends meet where their coordinates agree to the centimetre; each operable valve cuts
    its nearest main; the pieces of mains are graph vertices joined through the nodes;
    each main takes the component of its longest piece.
    """
    lines = mains.to_crs(metric_crs).geometry.to_list()
    points = valves.to_crs(metric_crs)
    tree = shapely.STRtree(lines)

    # valve positions along their mains
    cuts: dict[int, list[float]] = {k: [] for k in range(len(lines))}
    for point, operable in zip(points.geometry, points["operable"], strict=True):
        if operable is False:
            continue
        nearest = tree.query_nearest(point, max_distance=valve_tolerance_m, all_matches=True)
        if len(nearest):
            k = int(min(nearest))
            cuts[k].append(lines[k].project(point))

    # pieces joined through the nodes at main ends
    graph = nx.Graph()
    longest: dict[int, tuple[int, int]] = {}
    for k, line in enumerate(lines):
        first = tuple(round(c, 2) for c in line.coords[0])
        last = tuple(round(c, 2) for c in line.coords[-1])
        marks = [0.0, *sorted(cuts[k]), line.length]
        sizes = [b - a for a, b in itertools.pairwise(marks)]
        for piece in range(len(sizes)):
            graph.add_node((k, piece))
        graph.add_edge(("node", first), (k, 0))
        graph.add_edge(("node", last), (k, len(sizes) - 1))
        longest[k] = (k, int(np.argmax(sizes)))

    # a main's segment is the component of its longest piece
    component: dict[object, int] = {}
    for label, members in enumerate(nx.connected_components(graph)):
        component.update(dict.fromkeys(members, label))
    return pd.Series([component[longest[k]] for k in range(len(lines))], index=mains.index)


def same_partition(a: pd.Series, b: pd.Series) -> bool:
    """Return whether two labellings group the same items together."""
    pairs = pd.DataFrame({"a": a.to_numpy(), "b": b.to_numpy()}).drop_duplicates()
    return bool(pairs["a"].is_unique and pairs["b"].is_unique)


def run(scale: float = 1.0) -> list[BenchResult]:
    """Time isolation segments on a grid of about 20,000 mains times ``scale``."""
    side = max(4, round(np.sqrt(20_200 * scale / 2)) + 1)
    mains, valves = make_grid_network(side)

    # the project's code, then the reference, on the same layers
    start = time.perf_counter()
    project = isolation_segments(mains, valves)
    project_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = isolation_segments_networkx(mains, valves)
    reference_s = time.perf_counter() - start
    if not same_partition(project, reference):
        message = "isolation_segments disagrees with the networkx reference on the grid"
        raise AssertionError(message)

    note = (
        f"{len(mains):,} mains, {len(valves):,} valves, {project.nunique():,} segments, "
        "same partition"
    )
    return [
        BenchResult(
            "isolation segments vs networkx",
            project_s,
            reference_s,
            "s",
            higher_is_better=False,
            note=note,
        )
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    for result in run(parser.parse_args().scale):
        print(result.line())
