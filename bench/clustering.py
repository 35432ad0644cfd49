"""Benchmark: DBSCAN in metres against scikit-learn, and affected areas in bulk.

DBSCAN: :func:`gis.clustering.cluster_points` and ``sklearn.cluster.DBSCAN(
algorithm="ball_tree")`` cluster the same synthetic reports (half in blobs of about 100 m,
half spread evenly, at the density of 1,000,000 points over about 400 km2) at 100,000 and
1,000,000 points times ``scale`` with a 25 m radius, then 300,000 times ``scale`` with a
120 m radius (dense neighbourhoods). Both start from longitude/latitude, so the peer's
time includes the same pyproj projection. The labels are checked to be identical.

Each run happens in a fresh subprocess so that peak memory can be read from the
operating system: the figure is the peak resident set size (``ru_maxrss``) during the
call minus the resident size just before it. tracemalloc is not used because it sees only
allocations made through Python's allocator; scipy's KD-tree and scikit-learn's ball tree
allocate much of their working memory in C/C++, which tracemalloc would miss unevenly.

Affected areas: :func:`gis.affected.affected_areas` for 1,000 incidents (each a block of
mains of a synthetic grid with a service connection every 15 m) against the one bulk
``shapely.STRtree.query(..., predicate="dwithin")`` of all connections that it is built
around, with and without the map polygons.

Run with ``.venv/bin/python -m bench.clustering`` (``--scale 0.1`` for a quick run).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from bench.network import ORIGIN, make_grid_network
from bench.report import BenchResult

EPS_M = 25.0
MIN_SAMPLES = 5
DENSITY_PER_M2 = 1_000_000 / 400e6


def make_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``n`` report locations (lon, lat): half in 100 m blobs, half spread evenly."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(n / DENSITY_PER_M2)
    spread = rng.random((n - n // 2, 2)) * side
    centres = rng.random((max(1, n // 200), 2)) * side
    blobs = centres[rng.integers(0, len(centres), n // 2)] + rng.normal(0, 100, (n // 2, 2))
    xy = np.vstack([spread, blobs]) + np.array(ORIGIN)
    to_wgs84 = pyproj.Transformer.from_crs("EPSG:26913", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lon), np.asarray(lat)


def _resident_bytes() -> int:
    """Return the current resident set size of this process in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def run_worker(which: str, n: int, out: Path, eps_m: float = EPS_M) -> dict[str, float]:
    """Cluster ``n`` points with one implementation; save labels; return time and memory."""
    from sklearn.cluster import DBSCAN

    from gis.clustering import cluster_points

    lon, lat = make_points(n)
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:26913", always_xy=True)
    cluster_points(lon[:10], lat[:10], EPS_M, MIN_SAMPLES, metric_crs="EPSG:26913")

    # the call itself, between two readings of memory
    before = _resident_bytes()
    start = time.perf_counter()
    if which == "project":
        labels = cluster_points(lon, lat, eps_m, MIN_SAMPLES, metric_crs="EPSG:26913")
    else:
        x, y = to_metric.transform(lon, lat)
        model = DBSCAN(eps=eps_m, min_samples=MIN_SAMPLES, algorithm="ball_tree")
        labels = model.fit(np.column_stack([x, y])).labels_
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.save(out, labels)
    return {"seconds": seconds, "peak_bytes": max(peak - before, 1)}


def _run_in_subprocess(which: str, n: int, out: Path, eps_m: float) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.clustering", "--worker", which, "--n", str(n)]
    command += ["--out", str(out), "--eps", str(eps_m)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_dbscan(n: int, eps_m: float = EPS_M) -> list[BenchResult]:
    """Time and weigh DBSCAN on ``n`` points, the project's against scikit-learn's."""
    with tempfile.TemporaryDirectory() as folder:
        ours = _run_in_subprocess("project", n, Path(folder) / "project.npy", eps_m)
        peer = _run_in_subprocess("sklearn", n, Path(folder) / "sklearn.npy", eps_m)
        labels = np.load(Path(folder) / "project.npy")
        expected = np.load(Path(folder) / "sklearn.npy")
    if not np.array_equal(labels, expected):
        message = f"cluster_points and sklearn DBSCAN disagree on {n:,} points"
        raise AssertionError(message)

    clusters = int(labels.max()) + 1
    note = f"{clusters:,} clusters, {(labels == -1).sum():,} noise, identical labels"
    return [
        BenchResult(
            f"dbscan {n:,} points eps {eps_m:g} m time",
            ours["seconds"],
            peer["seconds"],
            "s",
            higher_is_better=False,
            note=note,
        ),
        BenchResult(
            f"dbscan {n:,} points eps {eps_m:g} m peak memory",
            ours["peak_bytes"] / 2**20,
            peer["peak_bytes"] / 2**20,
            "MiB",
            higher_is_better=False,
            note="peak RSS during the call, fresh subprocess each",
        ),
    ]


def make_service_connections(mains: gpd.GeoDataFrame, every_m: float = 15.0) -> gpd.GeoDataFrame:
    """Return service connections every ``every_m`` metres along the mains, 10 m aside."""
    metric = mains.to_crs("EPSG:26913")
    lines = metric.geometry.to_numpy()
    counts = np.maximum(1, (shapely.length(lines) // every_m).astype(int))
    which = np.repeat(np.arange(len(lines)), counts)
    along = (np.concatenate([np.arange(c) for c in counts]) + 0.5) * every_m
    points = shapely.line_interpolate_point(lines[which], along)
    xy = shapely.get_coordinates(points) + np.array([10.0, 10.0])
    return gpd.GeoDataFrame(
        {
            "asset_id": [f"SC{k}" for k in range(len(xy))],
            "address": [f"{k} Main St" for k in range(len(xy))],
            "accounts": np.ones(len(xy), dtype=np.int64),
        },
        geometry=shapely.points(xy),
        crs="EPSG:26913",
    ).to_crs(4326)


def bench_affected(n_incidents: int, scale: float = 1.0) -> list[BenchResult]:
    """Time affected areas for many incidents against one bulk STRtree query.

    The grid has about 20,000 mains times ``scale`` (at least 1,200).
    """
    from gis.affected import affected_areas
    from gis.network import WaterNetwork

    mains, valves = make_grid_network(max(25, round(101 * np.sqrt(scale))))
    connections = make_service_connections(mains)
    network = WaterNetwork(mains, valves)
    segments = np.linspace(0, network.n_segments - 1, n_incidents).astype(int)
    incidents = {f"INC{k}": network.segment_mains(int(s)) for k, s in enumerate(segments)}

    # the peer: one bulk query of every connection against every main
    start = time.perf_counter()
    metric = connections.to_crs("EPSG:26913").geometry.to_numpy()
    tree = shapely.STRtree(mains.to_crs("EPSG:26913").geometry.to_numpy())
    pairs = tree.query(metric, predicate="dwithin", distance=30.0)
    peer_s = time.perf_counter() - start

    results = []
    for polygons in (False, True):
        start = time.perf_counter()
        table = affected_areas(
            mains, incidents, connections, connection_distance_m=30.0, polygons=polygons
        )
        seconds = time.perf_counter() - start
        label = "with polygons" if polygons else "counts only"
        note = (
            f"{len(incidents):,} incidents, {len(connections):,} connections, "
            f"{pairs.shape[1]:,} connection-main pairs, {table['customers'].sum():,} customers"
        )
        results.append(
            BenchResult(
                f"affected areas {label} vs one STRtree query",
                seconds,
                peer_s,
                "s",
                higher_is_better=False,
                note=note,
            )
        )
    return results


def run(scale: float = 1.0) -> list[BenchResult]:
    """Run DBSCAN at 100,000 and 1,000,000 points times ``scale``, then affected areas."""
    results = []
    for n in (100_000, 1_000_000):
        results += bench_dbscan(max(1_000, round(n * scale)))
    # dense neighbourhoods (about 130 neighbours a point), where cells join the clusters
    results += bench_dbscan(max(1_000, round(300_000 * scale)), eps_m=120.0)
    results += bench_affected(1_000, scale)
    return results


def main() -> None:
    """Parse the command line and print the figures, or run one worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--worker", choices=["project", "sklearn"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--eps", type=float, default=EPS_M, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.n, args.out, args.eps)))
        return
    for result in run(args.scale):
        print(result.line())


if __name__ == "__main__":
    main()
