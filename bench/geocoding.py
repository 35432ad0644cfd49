"""Geocoding benchmark: ``Geocoder.geocode_many`` against rapidfuzz alone.

20,000 synthetic civic addresses and 5,000 queries typed the ways residents type them
(``avenue``, ``2 Ave``, ``Unit 4``, ``#4-``, a dropped letter); ``scale`` multiplies both.
The peer scores every query against every address with ``rapidfuzz.process.cdist``
(all cores) and takes the best. The figures are queries per second; the note gives the
share each side placed at the right address.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
from rapidfuzz import fuzz, process, utils

from bench.report import BenchResult
from gis.geocode import Geocoder

NAMES = [
    "Spadina",
    "Idylwyld",
    "Broadway",
    "Avenue",
    "Main",
    "Pacific",
    "Ontario",
    "Wall",
    "Queen",
    "Albert",
    "College",
    "Taylor",
    "Clarence",
    "Victoria",
]
TYPES = [("Ave", "avenue"), ("St", "street"), ("Cres", "crescent"), ("Dr", "drive")]
DIRECTIONS = [("N", "north"), ("S", "south"), ("E", "east"), ("W", "west")]


def run(scale: float = 1.0) -> list[BenchResult]:
    """Run the benchmark and return its one result.

    Parameters
    ----------
    scale
        Multiplies the number of addresses (20,000) and queries (5,000).

    Returns
    -------
    list of BenchResult
        Queries per second for the project and the peer.
    """
    rng = np.random.default_rng(4326)
    n_addresses, n_queries = max(int(20_000 * scale), 50), max(int(5_000 * scale), 10)

    # addresses: distinct number, street, type and direction
    addresses = _addresses(rng, n_addresses)
    layer = gpd.GeoDataFrame(
        {
            "asset_id": [f"P{i}" for i in range(n_addresses)],
            "full_address": [a[0] for a in addresses],
        },
        geometry=gpd.points_from_xy(
            rng.uniform(-106.75, -106.55, n_addresses), rng.uniform(52.05, 52.20, n_addresses)
        ),
        crs="EPSG:4326",
    )
    geocoder = Geocoder(layer)

    # queries typed several ways
    truth = rng.integers(0, n_addresses, n_queries)
    queries = [_typed(rng, addresses[i]) for i in truth]
    expected = layer["full_address"].to_numpy()[truth]

    # project: normalise, exact keys, then fuzzy within the house number
    start = time.perf_counter()
    matches = geocoder.geocode_many(queries)
    project_s = time.perf_counter() - start
    project_ok = np.mean(
        [m is not None and m.full_address == e for m, e in zip(matches, expected, strict=True)]
    )

    # peer: every query against every address, best score wins
    choices = layer["full_address"].tolist()
    start = time.perf_counter()
    scores = process.cdist(
        queries,
        choices,
        scorer=fuzz.ratio,
        processor=utils.default_process,
        dtype=np.uint8,
        workers=-1,
    )
    best = scores.argmax(axis=1)
    peer_s = time.perf_counter() - start
    peer_ok = np.mean(np.asarray(choices, dtype=object)[best] == expected)
    return [
        BenchResult(
            f"geocode {n_queries:,} typed addresses among {n_addresses:,}",
            n_queries / project_s,
            n_queries / peer_s,
            "queries/s",
            note=f"right address: project {project_ok:.1%}, rapidfuzz cdist {peer_ok:.1%}",
        )
    ]


def _addresses(rng: np.random.Generator, n: int) -> list[tuple[str, str, str, str, str]]:
    streets = [f"{_ordinal(k)}" for k in range(1, 61)] + NAMES
    seen: set[str] = set()
    out = []
    while len(out) < n:
        number = str(int(rng.integers(1, 3000)))
        street = streets[int(rng.integers(len(streets)))]
        kind = TYPES[int(rng.integers(len(TYPES)))]
        direction = DIRECTIONS[int(rng.integers(len(DIRECTIONS)))]
        full = f"{number} {street} {kind[0]} {direction[0]}"
        if full not in seen:
            seen.add(full)
            out.append((full, number, street, kind[1], direction[1]))
    return out


def _typed(rng: np.random.Generator, address: tuple[str, str, str, str, str]) -> str:
    full, number, street, kind, direction = address
    way = int(rng.integers(5))
    if way == 0:
        return full
    if way == 1:
        return f"{number} {street} {kind} {direction}".upper()
    if way == 2:
        return (
            f"Unit {int(rng.integers(1, 20))}, {number} {street.rstrip('stndrh')} "
            f"{kind[:3]} {direction[0]}, Saskatoon"
        )
    if way == 3:
        return f"#{int(rng.integers(1, 9))}-{full}"
    cut = int(rng.integers(1, max(len(street), 2)))
    return f"{number} {street[:cut]}{street[cut + 1 :]} {kind} {direction}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


if __name__ == "__main__":
    for line in run():
        print(line.line())
