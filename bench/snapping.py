"""Snapping benchmark: the project's Snapper against raw shapely and scipy.

100,000 random reports are snapped to 20,000 synthetic mains and to 20,000 hydrants
(``scale`` multiplies the counts). The project path takes WGS84 longitudes and latitudes
(``Snapper.snap_many``, projection included); the peers take the same points already
projected and call ``STRtree.query_nearest`` and ``cKDTree.query`` directly. The chosen
assets must be identical; the figures are seconds, best of three.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from bench.report import BenchResult
from gis.projection import lonlat_to_metric, metric_to_lonlat
from gis.snapping import Snapper

CRS = "EPSG:26913"
CENTRE = (383_000.0, 5_776_000.0)  # downtown Saskatoon in UTM 13N
EXTENT_M = 15_000.0


def run(scale: float = 1.0) -> list[BenchResult]:
    """Run the benchmark and return one result for mains and one for hydrants.

    Parameters
    ----------
    scale
        Multiplies the number of reports (100,000) and assets (20,000 each).

    Returns
    -------
    list of BenchResult
        Seconds for the project and the peer; above 1 the project was faster.

    Raises
    ------
    AssertionError
        If the project and the peer chose different assets.
    """
    rng = np.random.default_rng(26913)
    n_requests, n_assets = max(int(100_000 * scale), 10), max(int(20_000 * scale), 10)

    # reports in WGS84 and the same points in metres
    qx = CENTRE[0] + rng.uniform(0, EXTENT_M, n_requests)
    qy = CENTRE[1] + rng.uniform(0, EXTENT_M, n_requests)
    lons, lats = metric_to_lonlat(qx, qy, CRS)
    qx, qy = lonlat_to_metric(lons, lats, CRS)

    # synthetic mains: short random segments; hydrants: random points
    mains_m = _mains(rng, n_assets)
    hydrants_m = shapely.points(
        CENTRE[0] + rng.uniform(0, EXTENT_M, n_assets),
        CENTRE[1] + rng.uniform(0, EXTENT_M, n_assets),
    )
    results = []
    for name, geoms in (("mains", mains_m), ("hydrants", hydrants_m)):
        layer = gpd.GeoDataFrame(
            {"asset_id": [f"A{i}" for i in range(len(geoms))]}, geometry=geoms, crs=CRS
        ).to_crs("EPSG:4326")
        snapper = Snapper(layer, max_distance=75.0, crs=CRS)
        metric = layer.to_crs(CRS).geometry.values
        peer = _peer_lines(metric) if name == "mains" else _peer_points(metric)
        project_s, chosen = _best(lambda s=snapper: s.snap_many(lons, lats).positions)
        peer_s, expected = _best(lambda p=peer: p(qx, qy))
        if not np.array_equal(chosen, expected):
            differ = int((chosen != expected).sum())
            message = f"snapping to {name}: {differ:,} of {n_requests:,} chosen assets differ"
            raise AssertionError(message)
        peer_name = "shapely STRtree.query_nearest" if name == "mains" else "scipy cKDTree"
        results.append(
            BenchResult(
                f"snap {n_requests:,} reports to {len(geoms):,} {name}",
                project_s,
                peer_s,
                "s",
                higher_is_better=False,
                note=f"peer: raw {peer_name} on projected arrays",
            )
        )
    return results


def _mains(rng: np.random.Generator, n: int) -> np.ndarray:
    x0 = CENTRE[0] + rng.uniform(0, EXTENT_M, n)
    y0 = CENTRE[1] + rng.uniform(0, EXTENT_M, n)
    angle = rng.uniform(0, np.pi, n)
    length = rng.uniform(30, 150, n)
    coords = np.stack(
        [
            np.column_stack([x0, y0]),
            np.column_stack([x0 + length * np.cos(angle), y0 + length * np.sin(angle)]),
        ],
        axis=1,
    )
    return shapely.linestrings(coords)


def _peer_lines(geoms: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    tree = shapely.STRtree(geoms)

    def query(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        pairs = tree.query_nearest(shapely.points(x, y), all_matches=False)
        return np.asarray(pairs[1])

    return query


def _peer_points(geoms: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    tree = cKDTree(shapely.get_coordinates(geoms))

    def query(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.asarray(tree.query(np.column_stack([x, y]), k=1)[1])

    return query


def _best(call: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


if __name__ == "__main__":
    for line in run():
        print(line.line())
