"""Benchmark of the demo-city generator against the bare cost of the same output size.

No other tool generates a utility network, so the peer is a floor rather than a rival:
building the same number of geometries (or request rows) straight from uniform random
numpy arrays, with shapely and pyproj, without names, topology or attributes. The ratio
says what share of that floor's speed the generator keeps while doing the real work.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from bench.report import BenchResult
from data.democity import CENTRE_LAT, CENTRE_LON, METRIC_CRS, generate_city


def run(scale: float = 1.0) -> list[BenchResult]:
    """Time the generator at 100,000 assets and a million requests, each beside its floor.

    Parameters
    ----------
    scale
        Size factor, as for every benchmark: 1.0 is about 100,000 assets (city scale
        11.5) and about a million requests.

    Returns
    -------
    list of BenchResult
        Assets per second, then requests per second, higher is better.
    """
    # assets: the generator, then the same count of bare lines in WGS84
    area = 11.5 * scale
    started = time.perf_counter()
    city = generate_city(seed=1, scale=area, request_scale=1)
    project = city.asset_count() / (time.perf_counter() - started)
    started = time.perf_counter()
    _bare_lines(city.asset_count())
    peer = city.asset_count() / (time.perf_counter() - started)
    results = [
        BenchResult(
            f"democity assets, scale {area:g} ({city.asset_count():,} assets)",
            project,
            peer,
            "assets/s",
            note="peer: bare random lines built and reprojected with shapely and pyproj",
        )
    ]

    # requests: the stream over a small city, then a bare frame of the same rows
    started = time.perf_counter()
    requests = generate_city(seed=1, scale=1, request_scale=max(830 * scale, 1)).requests
    project = len(requests) / (time.perf_counter() - started)
    started = time.perf_counter()
    _bare_requests(len(requests))
    peer = len(requests) / (time.perf_counter() - started)
    results.append(
        BenchResult(
            f"democity requests ({len(requests):,} rows)",
            project,
            peer,
            "requests/s",
            note="peer: uniform random timestamps, codes and points in one DataFrame",
        )
    )
    return results


def _bare_lines(n: int) -> gpd.GeoDataFrame:
    # random two-vertex lines around the centre, reprojected to WGS84
    rng = np.random.default_rng(0)
    x, y = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True).transform(
        CENTRE_LON, CENTRE_LAT
    )
    start = rng.uniform([x - 2000, y - 4000], [x + 2000, y + 4000], (n, 2))
    coords = np.stack([start, start + rng.uniform(-100, 100, (n, 2))], axis=1)
    return gpd.GeoDataFrame(geometry=shapely.linestrings(coords), crs=METRIC_CRS).to_crs(4326)


def _bare_requests(n: int) -> pd.DataFrame:
    # random times over a year, codes and points, in one frame
    rng = np.random.default_rng(0)
    now = pd.Timestamp("2026-12-01", tz="UTC").value
    created = now - rng.integers(0, 365 * 86_400, n) * 10**9
    return pd.DataFrame(
        {
            "created_at": pd.to_datetime(created, utc=True),
            "service_code": pd.Categorical.from_codes(rng.integers(0, 5, n), list("abcde")),
            "lon": CENTRE_LON + rng.normal(0, 0.02, n),
            "lat": CENTRE_LAT + rng.normal(0, 0.02, n),
        }
    )


if __name__ == "__main__":
    for result in run():
        print(result.line())
