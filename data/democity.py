"""The demo city: a believable water and sewer utility laid out on Saskatoon's coordinates.

:func:`generate_city` builds, from a seed alone, every canonical asset layer of
:mod:`gis.layers.schema` (streets, water mains, valves, hydrants, sanitary sewer mains,
manholes, parcels as service connections, civic addresses, critical facilities), three
crews with depots and a year of service requests with the bursts a desk must recognise:
a main break reported by 14 households along one block, and a run of sewer backups on
one branch. The city is built in NAD83 / UTM zone 13N metres and handed out in WGS84.

The layout follows Saskatoon's habits: avenues run north-south (lettered west of
Idylwyld Dr, numbered east of it, suffixed S or N of 22nd St), streets run east-west
(numbered, suffixed W or E of Idylwyld Dr), and civic numbers count 100 a block away from
those two axes, even on the east side of an avenue and odd on the west.

Run ``python -m data.democity --help`` to write a city to disk.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from crm.lifecycle import STATUSES
from gis.layers.schema import LAYERS, WGS84

LOGGER = logging.getLogger(__name__)

METRIC_CRS = "EPSG:26913"
CENTRE_LON, CENTRE_LAT = -106.66, 52.13
BLOCK_WIDTH_M = 100.0
"""East-west distance between two avenues."""
BLOCK_LENGTH_M = 200.0
"""North-south distance between two streets."""
BASE_BLOCKS = 12
"""Blocks along each side of the city at scale 1."""
MAX_BLOCKS = 100
"""Blocks along each side beyond which the city would leave the default service area."""
SETBACK_M = 10.0
PARCELS_PER_FACE = 12
PARCEL_FRONTAGE_M = 15.0
PARCEL_DEPTH_M = 40.0
VALVE_OFFSET_M = 5.0
HYDRANT_SPACING_M = 150.0
HYDRANT_OFFSET_M = 7.0
SEWER_SHIFT_M = (4.0, 4.0)
OUTFALL_INVERT_M = 476.0
REQUESTS_PER_YEAR = 1200
"""Service requests in a year at request scale 1 (about 0.35 per account)."""
REFERENCE_END = pd.Timestamp("2026-12-01", tz="UTC")
"""Default end of the request stream, fixed so that a seed always gives the same city."""
LOCAL_UTC_OFFSET = pd.Timedelta(hours=-6)
"""America/Regina: UTC-6 all year, no daylight saving."""

SERVICE_CODES = (
    "water_outage",
    "hydrant_issue",
    "water_connection",
    "sewer_locate",
    "sewer_backup",
)
CHANNELS = ("phone", "counter", "online", "api")

# share of each service in the yearly stream, in SERVICE_CODES order
_SERVICE_SHARE = np.array([0.18, 0.14, 0.16, 0.32, 0.20])
# relative volume by month, January first: main breaks in frost, locates in the digging
# season, backups after the spring thaw and the summer storms
_MONTH_WEIGHT = np.array(
    [
        [1.9, 2.1, 1.8, 1.3, 0.8, 0.6, 0.6, 0.6, 0.6, 0.8, 1.2, 1.7],
        [1.2, 1.0, 0.9, 1.1, 1.3, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2],
        [0.4, 0.4, 0.6, 1.0, 1.6, 1.8, 1.8, 1.7, 1.5, 1.1, 0.6, 0.4],
        [0.2, 0.2, 0.4, 1.0, 2.0, 2.4, 2.4, 2.2, 1.6, 1.0, 0.4, 0.2],
        [0.6, 0.6, 1.1, 2.2, 1.4, 1.9, 1.7, 1.0, 0.8, 0.7, 0.6, 0.6],
    ]
)
# channel mix per service (rows: SERVICE_CODES, columns: CHANNELS)
_CHANNEL_MIX = np.array(
    [
        [0.70, 0.02, 0.20, 0.08],
        [0.50, 0.05, 0.35, 0.10],
        [0.25, 0.35, 0.30, 0.10],
        [0.20, 0.05, 0.30, 0.45],
        [0.75, 0.03, 0.17, 0.05],
    ]
)
# local hour of day per channel: phones peak in the morning, the counter keeps office
# hours, online reports come in the evening, the one-call feed runs through the workday
_HOUR_WEIGHT = np.array(
    [
        [1, 1, 1, 1, 1, 2, 4, 10, 16, 16, 14, 11, 9, 10, 9, 8, 7, 5, 4, 3, 3, 2, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 0, 6, 10, 10, 9, 8, 9, 9, 8, 5, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 1, 2, 4, 5, 5, 5, 5, 6, 5, 5, 5, 6, 7, 8, 9, 10, 9, 6, 3],
        [1, 1, 1, 1, 1, 1, 3, 8, 10, 10, 10, 9, 8, 9, 9, 9, 8, 5, 2, 1, 1, 1, 1, 1],
    ],
    dtype=float,
)
# share of reports that give an address, per channel
_ADDRESS_GIVEN = np.array([0.9, 1.0, 0.8, 0.6])
# status mix by age (rows: under 2 days, under 14, under 60, older; columns: STATUSES)
_STATUS_BY_AGE = np.array(
    [
        [0.45, 0.25, 0.12, 0.08, 0.06, 0.00, 0.03, 0.01],
        [0.05, 0.10, 0.15, 0.15, 0.35, 0.12, 0.06, 0.02],
        [0.00, 0.01, 0.02, 0.04, 0.20, 0.66, 0.05, 0.02],
        [0.00, 0.00, 0.00, 0.005, 0.03, 0.90, 0.05, 0.015],
    ]
)
_AGE_EDGES_DAYS = np.array([2.0, 14.0, 60.0])

_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "water_outage": (
        "No water at the house since this morning.",
        "Very low water pressure, the taps barely run.",
        "Water is off and the neighbours have none either.",
        "Water coming up through the boulevard and now no water inside.",
        "Brown water for a minute, then nothing from the taps.",
    ),
    "hydrant_issue": (
        "Hydrant leaking at the base.",
        "Hydrant hit by a vehicle, it is leaning over.",
        "Cap missing from the hydrant.",
        "Water running from the hydrant into the gutter.",
        "Hydrant buried by the snow windrow, cannot be seen from the road.",
    ),
    "water_connection": (
        "New service connection for a house under construction.",
        "Please turn the water off at the curb stop for a plumbing repair.",
        "Please turn the water back on after the renovation.",
        "Curb stop needs locating before a water service upgrade.",
        "Asking about replacing the lead service line.",
    ),
    "sewer_locate": (
        "Locate request: digging for a fence along the back of the lot.",
        "Please mark the sewer service before we build a deck.",
        "Contractor excavation for a basement development.",
        "Landscaping the yard, need the sewer line marked.",
        "Locate before planting trees on the boulevard.",
    ),
    "sewer_backup": (
        "Sewage backing up through the basement floor drain.",
        "Toilets gurgling and water rising in the floor drain.",
        "Basement flooded with sewage after the rain.",
        "Sewer smell and slow drains throughout the house.",
        "Backup in the basement, the plumber says the blockage is in the city line.",
    ),
}
_MAIN_BREAK_DESCRIPTIONS = (
    "No water at all since about an hour ago.",
    "Water gushing out of the pavement on the avenue, and our taps are dry.",
    "Pressure dropped to nothing, there is water running down the street.",
    "No water, and the road in front is flooding.",
)
_ASSET_KIND = {
    "water_outage": "water_mains",
    "hydrant_issue": "hydrants",
    "water_connection": "water_mains",
    "sewer_locate": "sewer_mains",
    "sewer_backup": "sewer_mains",
}

_FIRST_NAMES = (
    "Avery", "Blake", "Casey", "Dana", "Emery", "Finley", "Harper", "Jordan", "Kendall",
    "Logan", "Morgan", "Noel", "Parker", "Quinn", "Reese", "Riley", "Rowan", "Sage",
    "Skyler", "Taylor", "Alex", "Jamie", "Robin", "Sam",
)  # fmt: skip
_LAST_NAMES = (
    "Testerson", "Example", "Sampleton", "Demoski", "Fakeley", "Mockford", "Placeholder",
    "Doe", "Roe", "Prairieview", "Wheatfield", "Northgate", "Riverbend", "Aspenwood",
    "Birchley", "Stubble", "Canola", "Gopherton", "Flatlands", "Hoarfrost",
)  # fmt: skip
_HOSPITALS = ("St. Brigid's Hospital", "Prairie General Hospital")
_SCHOOLS = (
    "Riverbend School", "Willowgrove Collegiate", "Aspen Park School", "Meadowlark School",
    "Northgate Collegiate", "Wheatland School",
)  # fmt: skip
_CARE_HOMES = ("Sunset Lodge Care Home", "Bridgeview Care Home", "Prairie Rose Lodge")


@dataclass
class DemoCity:
    """A generated utility: its asset layers, crews and request stream.

    Attributes
    ----------
    layers
        One GeoDataFrame per canonical kind of :data:`gis.layers.schema.LAYERS`, in
        EPSG:4326, with exactly the schema's columns and dtypes plus ``geometry``.
    crews
        One dict per crew: ``crew_id``, ``name``, ``skills`` (a subset of water, sewer,
        locate), ``depot_name``, ``depot_lon``, ``depot_lat``, ``shift_start``,
        ``shift_end`` (local ``HH:MM``) and ``status``.
    requests
        The request stream sorted by ``created_at`` (UTC): ``request_id``,
        ``created_at``, ``service_code``, ``channel``, ``lon``, ``lat``, ``address``
        (missing when the reporter gave none), ``description``, ``status``,
        ``reporter_name``, ``reporter_phone``, and the ground truth a test can check the
        desk against: ``asset_kind``, ``asset_id`` (the asset the report concerns) and
        ``burst_id`` (``main_break_1``, ``sewer_backup_1``... or missing).
    seed, scale, request_scale, end
        The arguments the city was generated from.
    """

    layers: dict[str, gpd.GeoDataFrame]
    crews: list[dict[str, Any]]
    requests: pd.DataFrame
    seed: int = 7
    scale: float = 1.0
    request_scale: float = 1.0
    end: pd.Timestamp = field(default_factory=lambda: REFERENCE_END)

    def asset_count(self) -> int:
        """Return the number of assets over all layers."""
        return sum(len(gdf) for gdf in self.layers.values())

    def write(self, path: str | Path) -> Path:
        """Write the city beside ``path``.

        Parameters
        ----------
        path
            The GeoPackage to write (replaced if it exists). Each layer is written as the
            GeoPackage layer named after its kind; the requests go to
            ``<stem>.requests.parquet`` and the crews with the generation arguments to
            ``<stem>.crews.json`` in the same folder.

        Returns
        -------
        Path
            The GeoPackage written.
        """
        # start from an empty GeoPackage
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for target in _companion_paths(path):
            target.unlink(missing_ok=True)

        # one GeoPackage layer per kind
        for kind, gdf in self.layers.items():
            pyogrio.write_dataframe(gdf, path, layer=kind, driver="GPKG")

        # requests and crews beside it
        requests_path, crews_path = _companion_paths(path)[1:]
        self.requests.to_parquet(requests_path, index=False)
        meta = {
            "seed": self.seed,
            "scale": self.scale,
            "request_scale": self.request_scale,
            "end": self.end.isoformat(),
            "crews": self.crews,
        }
        crews_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        LOGGER.info(
            "wrote %s assets in %d layers to %s and %s requests beside it",
            f"{self.asset_count():,}",
            len(self.layers),
            path,
            f"{len(self.requests):,}",
        )
        return path


def read_city(path: str | Path) -> DemoCity:
    """Read a city written by :meth:`DemoCity.write`.

    Parameters
    ----------
    path
        The GeoPackage; its ``.requests.parquet`` and ``.crews.json`` companions must be
        beside it.

    Returns
    -------
    DemoCity
        The city, with every layer conformed to the canonical dtypes.

    Raises
    ------
    FileNotFoundError
        If the GeoPackage or one of its companions is missing.
    """
    # check the three files are there
    path = Path(path)
    missing = [str(p) for p in _companion_paths(path) if not p.exists()]
    if missing:
        message = (
            f"cannot read the demo city at {path}: missing {', '.join(missing)}. "
            "Write it with DemoCity.write or `python -m data.democity`."
        )
        raise FileNotFoundError(message)

    # layers, each conformed to the schema
    present = {name for name, _ in pyogrio.list_layers(path)}
    layers = {
        kind: _conform(pyogrio.read_dataframe(path, layer=kind), kind)
        for kind in LAYERS
        if kind in present
    }

    # requests and crews
    requests_path, crews_path = _companion_paths(path)[1:]
    requests = pd.read_parquet(requests_path)
    meta = json.loads(crews_path.read_text(encoding="utf-8"))
    city = DemoCity(
        layers=layers,
        crews=meta["crews"],
        requests=requests,
        seed=int(meta["seed"]),
        scale=float(meta["scale"]),
        request_scale=float(meta["request_scale"]),
        end=pd.Timestamp(meta["end"]),
    )
    LOGGER.info(
        "read %s assets and %s requests from %s",
        f"{city.asset_count():,}",
        f"{len(requests):,}",
        path,
    )
    return city


def generate_city(
    seed: int = 7,
    scale: float = 1.0,
    *,
    request_scale: float | None = None,
    end: pd.Timestamp | str | None = None,
) -> DemoCity:
    """Generate a demo city, identical for identical arguments.

    Parameters
    ----------
    seed
        Seed of every random choice.
    scale
        Area multiplier: scale 1 is 12 x 12 blocks of 100 x 200 m (about 8,900 assets,
        3,456 parcels); the number of blocks, and so of assets, grows in proportion.
    request_scale
        Multiplier of the yearly request volume (1,200 requests at 1) and of the number of
        bursts; ``scale`` when omitted. Kept apart from ``scale`` so that a large stream
        can be generated over a small city.
    end
        End of the twelve months of requests (UTC); :data:`REFERENCE_END` when omitted,
        so that the output does not depend on the day it is generated.

    Returns
    -------
    DemoCity
        The layers in EPSG:4326, the crews and the request stream.

    Raises
    ------
    ValueError
        If a scale is not a positive number, or ``scale`` would take the city outside
        the service area.

    Notes
    -----
    Simplifications a reader of the layers will meet:

    - water mains and streets share the centreline; the sewer runs 4 m east and north
      of it, so the layers do not hide each other on a map;
    - sanitary mains run under every avenue (where the parcels front) and along the
      southernmost street as the trunk to the lift station; the other streets have no
      sewer, and grades are fixed, so the relief grows with the city (about 16 m at
      scale 1, 53 m at scale 11.5);
    - hydrants stand along the avenues only; service connections are the parcels
      themselves, not separate curb-stop points;
    - the city area is capped by the service area (scale up to about 69), so a stream of
      a million requests is asked for with ``request_scale``, not ``scale``.
    """
    # check the arguments
    request_scale = scale if request_scale is None else request_scale
    for name, value in (("scale", scale), ("request_scale", request_scale)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            message = f"{name} must be a positive number; received {value!r}"
            raise ValueError(message)
    blocks = max(4, round(BASE_BLOCKS * math.sqrt(scale)))
    if blocks > MAX_BLOCKS:
        largest = (MAX_BLOCKS / BASE_BLOCKS) ** 2
        message = (
            f"scale={scale} asks for {blocks} x {blocks} blocks, which leaves the service "
            f"area; use a scale up to {largest:.0f}, and request_scale for more requests"
        )
        raise ValueError(message)
    end_ts = REFERENCE_END if end is None else pd.Timestamp(end)
    end_ts = end_ts.tz_localize("UTC") if end_ts.tzinfo is None else end_ts.tz_convert("UTC")

    # one independent random stream per part, so that parts do not disturb each other
    started = time.perf_counter()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    grid = _Grid.build(blocks, blocks)

    # the asset layers, in metres
    parcels = _build_parcels(grid, streams[0])
    sewer = _sewer(grid, streams[2])
    frames = {
        "streets": _build_streets(grid),
        "water_mains": _build_water_mains(grid, streams[1]),
        "sewer_mains": _build_sewer_mains(sewer),
        "manholes": _build_manholes(sewer),
        "addresses": parcels.addresses,
        "service_connections": parcels.connections,
        "critical_facilities": _build_facilities(parcels, scale, streams[3]),
    }
    frames["valves"] = _build_valves(grid, frames["water_mains"], streams[4])
    frames["hydrants"] = _build_hydrants(grid, streams[5])

    # one transformation to WGS84 for all of them, in the schema's order
    layers = {kind: _conform(frames[kind].to_crs(WGS84), kind) for kind in LAYERS}
    for kind, gdf in layers.items():
        LOGGER.debug("generated %s %s", f"{len(gdf):,}", kind.replace("_", " "))

    # crews and requests
    crews = _build_crews(grid, scale)
    requests = _build_requests(grid, parcels, frames, request_scale, end_ts, streams[6])
    city = DemoCity(layers, crews, requests, seed, scale, request_scale, end_ts)
    LOGGER.info(
        "generated %s assets (%s parcels, %s water mains), %d crews and %s requests in %.1f s",
        f"{city.asset_count():,}",
        f"{len(parcels.connections):,}",
        f"{len(layers['water_mains']):,}",
        len(crews),
        f"{len(requests):,}",
        time.perf_counter() - started,
    )
    return city


# ---------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class _Grid:
    """Intersections of avenues ``i`` (west to east) and streets ``j`` (south to north).

    Intersection ``(i, j)`` is node ``i * (ny + 1) + j``. Block faces (segments) come
    avenues first: avenue segment ``(i, j)`` joins ``(i, j)`` to ``(i, j + 1)`` and has
    index ``i * ny + j``; street segment ``(i, j)`` joins ``(i, j)`` to ``(i + 1, j)``
    and has index ``n_avenue_segments + i * (ny + 1) + j``.
    """

    nx: int
    ny: int
    i0: int
    j0: int
    x0: float
    y0: float
    avenue_name: NDArray[Any]
    avenue_base: NDArray[Any]
    avenue_type: NDArray[Any]
    street_name: NDArray[Any]
    avenue_class: NDArray[Any]
    street_class: NDArray[Any]

    @classmethod
    def build(cls, nx: int, ny: int) -> _Grid:
        # the origin, so that the city is centred on Saskatoon
        to_metric = Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True)
        cx, cy = to_metric.transform(CENTRE_LON, CENTRE_LAT)
        x0, y0 = cx - nx * BLOCK_WIDTH_M / 2, cy - ny * BLOCK_LENGTH_M / 2
        i0, j0 = nx // 3, min(ny // 2, 21)

        # avenue names: lettered west of Idylwyld Dr, numbered east of it
        base: list[str] = []
        kind: list[str | None] = []
        for i in range(nx + 1):
            if i == i0:
                base.append("Idylwyld")
                kind.append("Dr")
            elif i > i0:
                base.append(_ordinal(i - i0))
                kind.append("Ave")
            else:
                base.append(f"Avenue {_letters(i0 - i)}")
                kind.append(None)
        stem = [b if k is None else f"{b} {k}" for b, k in zip(base, kind, strict=True)]
        avenue_name = np.array([[f"{s} S", f"{s} N"] for s in stem], dtype=object)

        # street names: numbered north from 22nd St at j0, W or E of Idylwyld Dr
        numbers = [j - j0 + 22 for j in range(ny + 1)]
        street_name = np.array(
            [[f"{_ordinal(n)} St W", f"{_ordinal(n)} St E"] for n in numbers], dtype=object
        )

        # road classes: the two axes and every few blocks are arterial or collector
        return cls(
            nx,
            ny,
            i0,
            j0,
            x0,
            y0,
            avenue_name,
            np.array(base, dtype=object),
            np.array(kind, dtype=object),
            street_name,
            _road_classes(np.arange(nx + 1) - i0, 8, 4),
            _road_classes(np.arange(ny + 1) - j0, 6, 3),
        )

    @property
    def n_nodes(self) -> int:
        return (self.nx + 1) * (self.ny + 1)

    def node(self, i: NDArray[Any] | int, j: NDArray[Any] | int) -> NDArray[Any]:
        return np.asarray(i) * (self.ny + 1) + np.asarray(j)

    def node_xy(self, i: NDArray[Any], j: NDArray[Any]) -> NDArray[np.float64]:
        x = self.x0 + np.asarray(i) * BLOCK_WIDTH_M
        y = self.y0 + np.asarray(j) * BLOCK_LENGTH_M
        return np.column_stack([x, y]).astype(float)

    def segments(self) -> dict[str, NDArray[Any]]:
        """Every block face: end nodes, grid position, orientation, name and class."""
        # avenue faces, then street faces
        ai, aj = (a.ravel() for a in np.meshgrid(
            np.arange(self.nx + 1), np.arange(self.ny), indexing="ij"))  # fmt: skip
        si, sj = (a.ravel() for a in np.meshgrid(
            np.arange(self.nx), np.arange(self.ny + 1), indexing="ij"))  # fmt: skip
        a = np.concatenate([self.node(ai, aj), self.node(si, sj)])
        b = np.concatenate([self.node(ai, aj + 1), self.node(si + 1, sj)])
        avenue = np.concatenate([np.ones(ai.size, bool), np.zeros(si.size, bool)])

        # names and classes by side of the two axes
        name = np.concatenate([
            self.avenue_name[ai, (aj >= self.j0).astype(int)],
            self.street_name[sj, (si >= self.i0).astype(int)],
        ])  # fmt: skip
        road_class = np.concatenate([self.avenue_class[ai], self.street_class[sj]])
        return {
            "a": a,
            "b": b,
            "i": np.concatenate([ai, si]),
            "j": np.concatenate([aj, sj]),
            "avenue": avenue,
            "name": name,
            "road_class": road_class,
        }

    def node_ij(self, node: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        return np.divmod(np.asarray(node), self.ny + 1)

    def intersection_name(self, i: NDArray[Any], j: NDArray[Any]) -> NDArray[Any]:
        avenue = self.avenue_name[i, (j >= self.j0).astype(int)]
        street = self.street_name[j, (i >= self.i0).astype(int)]
        return np.asarray(avenue + " & " + street, dtype=object)


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _letters(n: int) -> str:
    text = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


def _road_classes(offset: NDArray[Any], arterial: int, collector: int) -> NDArray[Any]:
    classes = np.full(offset.size, "local", dtype=object)
    classes[offset % collector == 0] = "collector"
    classes[offset % arterial == 0] = "arterial"
    return classes


def _ids(prefix: str, n: int) -> NDArray[Any]:
    numbers = np.strings.zfill(np.arange(1, n + 1).astype("U"), 6)
    return np.strings.add(prefix, numbers).astype(object)


def _frame(columns: dict[str, Any], geometry: NDArray[Any]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=METRIC_CRS)


def _conform(gdf: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """Order and type the columns as :data:`LAYERS` says, geometry last."""
    spec = LAYERS[kind]
    columns = [*spec.columns, "geometry"]
    out = gdf.reset_index(drop=True)[columns].astype(spec.columns)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84 if gdf.crs is None else gdf.crs)


def _install_years(xy: NDArray[np.float64], grid: _Grid, rng: np.random.Generator) -> Any:
    # older downtown, newer outward, with a share renewed since the 1980s
    centre = grid.node_xy(np.array([grid.i0]), np.array([grid.j0]))[0]
    km = np.hypot(*(xy - centre).T) / 1000
    year = 1925 + 40 * km + rng.normal(0, 6, len(xy))
    renewed = rng.random(len(xy)) < 0.2
    year = np.where(renewed, rng.integers(1985, 2025, len(xy)), year)
    return np.clip(np.round(year), 1910, 2025).astype(int)


# -------------------------------------------------------------------- the asset layers


def _build_streets(grid: _Grid) -> gpd.GeoDataFrame:
    seg = grid.segments()
    coords = np.stack([grid.node_xy(*grid.node_ij(seg["a"])),
                       grid.node_xy(*grid.node_ij(seg["b"]))], axis=1)  # fmt: skip

    # downtown one-way pair: 3rd Ave northbound, 4th Ave southbound
    near = seg["avenue"] & (np.abs(seg["j"] - grid.j0 + 0.5) < 3)
    northbound = near & (seg["i"] == grid.i0 + 3)
    southbound = near & (seg["i"] == grid.i0 + 4)
    coords[southbound] = coords[southbound, ::-1]

    speed = np.where(seg["road_class"] == "local", 40.0, 50.0)
    return _frame(
        {
            "asset_id": _ids("ST-", len(coords)),
            "name": seg["name"],
            "road_class": seg["road_class"],
            "speed_kmh": speed,
            "one_way": northbound | southbound,
        },
        shapely.linestrings(coords),
    )


def _build_water_mains(grid: _Grid, rng: np.random.Generator) -> gpd.GeoDataFrame:
    seg = grid.segments()
    coords = np.stack([grid.node_xy(*grid.node_ij(seg["a"])),
                       grid.node_xy(*grid.node_ij(seg["b"]))], axis=1)  # fmt: skip
    n = len(coords)

    # bigger pipes under the bigger roads
    local = rng.choice([150.0, 200.0], n, p=[0.7, 0.3])
    collector = rng.choice([200.0, 250.0], n)
    diameter = np.select(
        [seg["road_class"] == "arterial", seg["road_class"] == "collector"],
        [300.0, collector],
        local,
    )

    # material follows the era: cast iron, then ductile iron, then PVC
    year = _install_years(coords.mean(axis=1), grid, rng)
    material = np.select([year < 1965, year < 1980], ["cast iron", "ductile iron"], "PVC")
    node_ids = _ids("WJ-", grid.n_nodes)
    return _frame(
        {
            "asset_id": _ids("WM-", n),
            "diameter_mm": diameter,
            "material": material.astype(object),
            "install_year": year,
            "from_node": node_ids[seg["a"]],
            "to_node": node_ids[seg["b"]],
        },
        shapely.linestrings(coords),
    )


def _build_valves(
    grid: _Grid, mains: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    # every leg of every intersection: the node, its main and the way out along it
    seg = grid.segments()
    start = grid.node_xy(*grid.node_ij(seg["a"]))
    stop = grid.node_xy(*grid.node_ij(seg["b"]))
    unit = (stop - start) / np.linalg.norm(stop - start, axis=1)[:, None]
    node = np.concatenate([seg["a"], seg["b"]])
    leg_main = np.tile(np.arange(len(start)), 2)
    xy = np.concatenate([start + VALVE_OFFSET_M * unit, stop - VALVE_OFFSET_M * unit])

    # all legs but one, chosen at random, get a valve
    order = np.lexsort((rng.random(node.size), node))
    last = np.r_[node[order][1:] != node[order][:-1], True]
    keep = np.sort(order[~last])
    diameter = mains["diameter_mm"].to_numpy()[leg_main[keep]]
    return _frame(
        {
            "asset_id": _ids("VLV-", keep.size),
            "operable": rng.random(keep.size) >= 0.03,
            "valve_type": np.where(diameter >= 300, "butterfly", "gate").astype(object),
        },
        shapely.points(xy[keep]),
    )


def _build_hydrants(grid: _Grid, rng: np.random.Generator) -> gpd.GeoDataFrame:
    # every 150 m along each avenue, staggered between neighbours, clear of intersections
    length = grid.ny * BLOCK_LENGTH_M
    slots = np.arange(int(length // HYDRANT_SPACING_M) + 1) * HYDRANT_SPACING_M
    avenue = np.arange(grid.nx + 1)
    start = np.where(avenue % 2 == 0, 40.0, 115.0)
    along = start[:, None] + slots[None, :]
    ii = np.broadcast_to(avenue[:, None], along.shape)
    inside = along < length
    x = grid.x0 + ii[inside] * BLOCK_WIDTH_M - HYDRANT_OFFSET_M
    y = grid.y0 + along[inside]

    status = rng.choice(
        np.array(["in_service", "out_of_service", "needs_maintenance"], dtype=object),
        x.size,
        p=[0.95, 0.02, 0.03],
    )
    return _frame(
        {"asset_id": _ids("HYD-", x.size), "status": status},
        shapely.points(x, y),
    )


@dataclass(frozen=True)
class _Sewer:
    """Manholes (intersections, then mid-block on each avenue) and the mains between."""

    manhole_xy: NDArray[np.float64]
    invert: NDArray[np.float64]
    rim: NDArray[np.float64]
    address: NDArray[Any]
    from_mh: NDArray[Any]
    to_mh: NDArray[Any]
    diameter: NDArray[np.float64]
    material: NDArray[Any]


def _sewer(grid: _Grid, rng: np.random.Generator) -> _Sewer:
    nx, ny = grid.nx, grid.ny
    n_nodes = grid.n_nodes
    shift = np.array(SEWER_SHIFT_M)

    # manholes: intersections, then the middle of each avenue face
    ni, nj = grid.node_ij(np.arange(n_nodes))
    mi, mj = (a.ravel() for a in np.meshgrid(np.arange(nx + 1), np.arange(ny), indexing="ij"))
    mid_xy = grid.node_xy(mi, mj) + np.array([0.0, BLOCK_LENGTH_M / 2])
    xy = np.concatenate([grid.node_xy(ni, nj), mid_xy]) + shift

    # inverts: the outfall at (0, 0), rising up the trunk on the south street, then up
    # each avenue; every step up is a positive grade so inverts fall downstream
    trunk_grade = rng.uniform(0.0015, 0.0025, nx)
    trunk = OUTFALL_INVERT_M + np.r_[0.0, np.cumsum(trunk_grade * BLOCK_WIDTH_M)]
    lateral_grade = rng.uniform(0.004, 0.007, (nx + 1, 2 * ny))
    rise = np.cumsum(lateral_grade * BLOCK_LENGTH_M / 2, axis=1)
    along = np.column_stack([trunk, trunk[:, None] + rise])
    invert = np.concatenate([along[:, 0::2].ravel(), along[:, 1::2].ravel()])

    # rims: 2.6 to 3.8 m of cover, deeper on the trunk and at the outfall
    depth = rng.uniform(2.6, 3.8, invert.size)
    depth[:n_nodes][nj == 0] += 0.8
    depth[0] += 1.5
    rim = invert + depth

    # the mains: each avenue face in two halves flowing south, then the trunk flowing west
    lower_from, lower_to = n_nodes + mi * ny + mj, grid.node(mi, mj)
    upper_from, upper_to = grid.node(mi, mj + 1), n_nodes + mi * ny + mj
    ti = np.arange(1, nx + 1)
    from_mh = np.concatenate([np.column_stack([lower_from, upper_from]).ravel(),
                              grid.node(ti, 0)])  # fmt: skip
    to_mh = np.concatenate([np.column_stack([lower_to, upper_to]).ravel(), grid.node(ti - 1, 0)])

    # pipe sizes: 200-250 mm laterals, a trunk widening toward the outfall
    lateral = np.repeat(np.where(mj < ny // 2, 250.0, 200.0), 2)
    share = (nx - ti + 1) / (nx + 1)
    sizes = np.array([300.0, 375.0, 450.0, 525.0, 600.0])
    trunk_d = sizes[np.minimum(4, (share * 5).astype(int))]
    year = _install_years(xy[from_mh[: lateral.size]], grid, rng)
    lateral_material = np.where(year < 1970, "vitrified clay", "PVC")
    material = np.concatenate([lateral_material, np.full(nx, "concrete")]).astype(object)

    # addresses: the intersection, or the civic number of the middle of the block
    address = np.concatenate([grid.intersection_name(ni, nj), _mid_block_address(grid, mi, mj)])
    address[0] = "Lift station, " + address[0]
    return _Sewer(xy, invert, rim, address, from_mh, to_mh,
                  np.concatenate([lateral, trunk_d]), material)  # fmt: skip


def _mid_block_address(grid: _Grid, i: NDArray[Any], j: NDArray[Any]) -> NDArray[Any]:
    north = j >= grid.j0
    block = np.where(north, j - grid.j0 + 1, grid.j0 - j)
    number = (100 * block + 50).astype("U")
    return np.asarray(number + " " + grid.avenue_name[i, north.astype(int)], dtype=object)


def _build_sewer_mains(sewer: _Sewer) -> gpd.GeoDataFrame:
    ids = _ids("MH-", len(sewer.manhole_xy))
    coords = np.stack([sewer.manhole_xy[sewer.from_mh], sewer.manhole_xy[sewer.to_mh]], 1)
    return _frame(
        {
            "asset_id": _ids("SAN-", len(coords)),
            "from_node": ids[sewer.from_mh],
            "to_node": ids[sewer.to_mh],
            "up_invert_m": np.round(sewer.invert[sewer.from_mh], 3),
            "down_invert_m": np.round(sewer.invert[sewer.to_mh], 3),
            "diameter_mm": sewer.diameter,
            "material": sewer.material,
            "system": "sanitary",
        },
        shapely.linestrings(coords),
    )


def _build_manholes(sewer: _Sewer) -> gpd.GeoDataFrame:
    return _frame(
        {
            "asset_id": _ids("MH-", len(sewer.manhole_xy)),
            "rim_m": np.round(sewer.rim, 3),
            "invert_m": np.round(sewer.invert, 3),
            "address": sewer.address,
            "system": "sanitary",
        },
        shapely.points(sewer.manhole_xy),
    )


@dataclass(frozen=True)
class _Parcels:
    """Parcels along each avenue face, with what the request stream needs to know."""

    connections: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    centroid: NDArray[np.float64]
    full_address: NDArray[Any]
    water_main: NDArray[Any]
    sewer_main: NDArray[Any]


def _parcel_index(grid: _Grid, i: Any, j: Any, row: Any, k: Any) -> Any:
    """Parcel ``k`` (south to north) of row ``row`` (0 west, 1 east) of block ``(i, j)``."""
    return ((np.asarray(i) * grid.ny + j) * 2 + row) * PARCELS_PER_FACE + k


def _build_parcels(grid: _Grid, rng: np.random.Generator) -> _Parcels:
    # every block holds two rows of parcels back to back, each facing its avenue
    bi, bj, row, k = (a.ravel() for a in np.meshgrid(
        np.arange(grid.nx), np.arange(grid.ny), np.arange(2), np.arange(PARCELS_PER_FACE),
        indexing="ij"))  # fmt: skip
    left = grid.x0 + bi * BLOCK_WIDTH_M + SETBACK_M + row * PARCEL_DEPTH_M
    bottom = grid.y0 + bj * BLOCK_LENGTH_M + SETBACK_M + k * PARCEL_FRONTAGE_M
    right, top = left + PARCEL_DEPTH_M, bottom + PARCEL_FRONTAGE_M
    ring = np.stack(
        [
            np.column_stack(c)
            for c in ((left, bottom), (right, bottom), (right, top), (left, top), (left, bottom))
        ],
        1,
    )
    polygons = shapely.polygons(ring)
    centroid = np.column_stack([(left + right) / 2, (bottom + top) / 2])

    # civic numbers: 100 a block away from 22nd St, even on an avenue's east side
    avenue = bi + row
    north = bj >= grid.j0
    block = np.where(north, bj - grid.j0 + 1, grid.j0 - bj)
    position = np.where(north, k, PARCELS_PER_FACE - 1 - k)
    number = 100 * block + 6 * position + np.where(row == 0, 2, 1)
    direction = np.where(north, "N", "S").astype(object)
    street = grid.avenue_name[avenue, north.astype(int)]
    full = np.asarray(number.astype("U").astype(object) + " " + street, dtype=object)

    # a few apartment buildings among the houses
    n = len(full)
    accounts = np.where(rng.random(n) < 0.03, rng.integers(12, 61, n), 1)
    connections = _frame(
        {"asset_id": _ids("SC-", n), "address": full, "accounts": accounts}, polygons
    )
    addresses = _frame(
        {
            "asset_id": _ids("ADR-", n),
            "full_address": full,
            "number": number.astype("U").astype(object),
            "street": grid.avenue_base[avenue],
            "street_type": grid.avenue_type[avenue],
            "direction": direction,
        },
        shapely.points(centroid),
    )

    # the water main of the parcel's block face, and the half of the sewer under it
    face = avenue * grid.ny + bj
    sewer = face * 2 + (k >= PARCELS_PER_FACE // 2)
    return _Parcels(
        connections,
        addresses,
        centroid,
        full,
        _ids("WM-", (grid.nx + 1) * grid.ny)[face],
        _ids("SAN-", 2 * (grid.nx + 1) * grid.ny)[sewer],
    )


def _build_facilities(
    parcels: _Parcels, scale: float, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    # a hospital, two schools and a care home per 144 blocks, each on its own parcel
    wanted = [
        ("hospital", _HOSPITALS, max(1, round(scale / 4))),
        ("school", _SCHOOLS, max(2, round(2 * scale))),
        ("care_home", _CARE_HOMES, max(1, round(scale))),
    ]
    names, kinds = [], []
    for kind, pool, count in wanted:
        for n in range(count):
            suffix = "" if n < len(pool) else f" {n // len(pool) + 1}"
            names.append(pool[n % len(pool)] + suffix)
            kinds.append(kind)
    chosen = rng.choice(len(parcels.centroid), len(names), replace=False)
    return _frame(
        {
            "asset_id": _ids("CF-", len(names)),
            "name": np.array(names, dtype=object),
            "facility_type": np.array(kinds, dtype=object),
        },
        shapely.points(parcels.centroid[chosen]),
    )


def _build_crews(grid: _Grid, scale: float) -> list[dict[str, Any]]:
    # two yards: the water yard downtown-north, the sewer yard by the lift station
    to_wgs = Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)
    yards = {
        "North water yard": grid.node_xy(np.array([grid.i0]), np.array([grid.ny]))[0]
        + np.array([-40.0, 60.0]),
        "Lift station yard": grid.node_xy(np.array([0]), np.array([0]))[0]
        + np.array([-60.0, -60.0]),
    }
    skills = (["water", "locate"], ["sewer", "locate"], ["water", "sewer", "locate"])
    crews = []
    for n in range(max(3, round(3 * math.sqrt(scale)))):
        yard = list(yards)[0 if n % 3 == 0 else 1]
        lon, lat = to_wgs.transform(*yards[yard])
        crews.append(
            {
                "crew_id": f"C{n + 1}",
                "name": f"{('Water', 'Sewer', 'Utility')[n % 3]} crew {n // 3 + 1}",
                "skills": list(skills[n % 3]),
                "depot_name": yard,
                "depot_lon": round(lon, 6),
                "depot_lat": round(lat, 6),
                "shift_start": "07:00",
                "shift_end": "17:00",
                "status": "available",
            }
        )
    return crews


# ------------------------------------------------------------------- the request stream


def _build_requests(
    grid: _Grid,
    parcels: _Parcels,
    frames: dict[str, gpd.GeoDataFrame],
    request_scale: float,
    end: pd.Timestamp,
    rng: np.random.Generator,
) -> pd.DataFrame:
    # the background stream, then the bursts, then one sort by time
    parts = [_background_requests(parcels, frames["hydrants"], request_scale, end, rng)]
    n_bursts = max(1, round(request_scale))
    parts.append(_main_breaks(grid, parcels, n_bursts, end, rng))
    parts.append(_sewer_backup_runs(grid, parcels, n_bursts, end, rng))
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(cols["created"], kind="stable")
    cols = {key: value[order] for key, value in cols.items()}
    n = order.size

    # status by age, except the bursts, which are open when live and closed when old
    age_days = (end.value - cols["created"]) / 86_400e9
    bucket = np.searchsorted(_AGE_EDGES_DAYS, age_days)
    cumulative = np.cumsum(_STATUS_BY_AGE / _STATUS_BY_AGE.sum(1, keepdims=True), axis=1)
    status = (rng.random(n)[:, None] > cumulative[bucket]).sum(axis=1)
    status = np.minimum(status, len(STATUSES) - 1)
    burst = cols["burst"] != ""
    status[burst] = np.where(age_days[burst] < 7, 0, STATUSES.index("closed"))

    # reporters: clearly fictional names and 555-01xx numbers
    names = np.array([f"{f} {la}" for f in _FIRST_NAMES for la in _LAST_NAMES], dtype=object)
    phones = np.array([f"306-555-01{d:02d}" for d in range(100)], dtype=object)

    # coordinates to WGS84 in one call
    to_wgs = Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)
    lon, lat = to_wgs.transform(cols["x"], cols["y"])
    ids = np.strings.add("DEMO-", np.strings.zfill(np.arange(1, n + 1).astype("U"), 7))
    frame = pd.DataFrame(
        {
            "request_id": pd.array(ids, dtype="string"),
            "created_at": pd.to_datetime(cols["created"], utc=True),
            "service_code": pd.Categorical.from_codes(cols["code"], SERVICE_CODES),
            "channel": pd.Categorical.from_codes(cols["channel"], CHANNELS),
            "lon": np.round(lon, 7),
            "lat": np.round(lat, 7),
            "address": pd.array(cols["address"], dtype="string"),
            "description": pd.array(cols["description"], dtype="string"),
            "status": pd.Categorical.from_codes(status, STATUSES),
            "reporter_name": pd.array(names[rng.integers(0, names.size, n)], dtype="string"),
            "reporter_phone": pd.array(phones[rng.integers(0, 100, n)], dtype="string"),
            "asset_kind": pd.array(cols["asset_kind"], dtype="string"),
            "asset_id": pd.array(cols["asset_id"], dtype="string"),
            "burst_id": pd.array(_blank_unless(burst, cols["burst"]), dtype="string"),
        }
    )
    counts = frame["service_code"].value_counts()
    LOGGER.debug(
        "generated %s requests: %s",
        f"{n:,}",
        ", ".join(f"{counts[c]:,} {c}" for c in SERVICE_CODES),
    )
    return frame


def _background_requests(
    parcels: _Parcels,
    hydrants: gpd.GeoDataFrame,
    request_scale: float,
    end: pd.Timestamp,
    rng: np.random.Generator,
) -> dict[str, NDArray[Any]]:
    # how many of each service
    total = round(REQUESTS_PER_YEAR * request_scale)
    per_code = rng.multinomial(total, _SERVICE_SHARE)
    code = np.repeat(np.arange(len(SERVICE_CODES)), per_code)

    # the local days of the last year, and each service's seasonal weight on them
    local_end = end + LOCAL_UTC_OFFSET
    days = local_end.floor("D").tz_localize(None) - pd.to_timedelta(np.arange(365)[::-1], "D")
    month = days.month.to_numpy() - 1
    day = np.empty(total, dtype=int)
    for c, count in enumerate(per_code):
        weight = _MONTH_WEIGHT[c][month]
        day[code == c] = rng.choice(365, count, p=weight / weight.sum())

    # the channel, then the hour of day that channel keeps
    channel = np.empty(total, dtype=int)
    for c, count in enumerate(per_code):
        channel[code == c] = rng.choice(len(CHANNELS), count, p=_CHANNEL_MIX[c])
    hour = np.empty(total, dtype=int)
    for ch in range(len(CHANNELS)):
        mask = channel == ch
        hour[mask] = rng.choice(24, mask.sum(), p=_HOUR_WEIGHT[ch] / _HOUR_WEIGHT[ch].sum())

    # the counter is closed at weekends: those visits move to the Friday before
    weekday = days.dayofweek.to_numpy()[day]
    weekend = (channel == CHANNELS.index("counter")) & (weekday >= 5)
    day[weekend] -= weekday[weekend] - 4
    day = np.maximum(day, 0)
    local_ns = days.to_numpy().astype("datetime64[ns]").astype(np.int64)[day]
    created = local_ns + (hour * 3600 + rng.random(total) * 3600) * 1e9
    created = (created - LOCAL_UTC_OFFSET.value).astype(np.int64) // 10**9 * 10**9
    created = np.where(created >= end.value, created - 86_400 * 10**9, created)

    # where: a parcel for most services, a hydrant for hydrant issues
    on_hydrant = code == SERVICE_CODES.index("hydrant_issue")
    parcel = rng.integers(0, len(parcels.centroid), total)
    hydrant_xy = shapely.get_coordinates(hydrants.geometry.to_numpy())
    hydrant = rng.integers(0, len(hydrant_xy), total)
    xy = np.where(on_hydrant[:, None], hydrant_xy[hydrant], parcels.centroid[parcel])
    xy = xy + rng.normal(0, np.where(on_hydrant, 6.0, 4.0)[:, None], (total, 2))

    # the asset concerned
    asset_kind = np.array([_ASSET_KIND[c] for c in SERVICE_CODES], dtype=object)[code]
    hydrant_ids = hydrants["asset_id"].to_numpy(dtype=object)
    asset_id = np.select(
        [on_hydrant, asset_kind == "water_mains"],
        [hydrant_ids[hydrant], parcels.water_main[parcel]],
        parcels.sewer_main[parcel],
    )

    # the address, when given: the parcel's, or for a hydrant the nearest parcel's
    nearest = _nearest_parcel(parcels, hydrant_xy)
    address_parcel = np.where(on_hydrant, nearest[hydrant], parcel)
    given = rng.random(total) < _ADDRESS_GIVEN[channel]
    address = _blank_unless(given, parcels.full_address[address_parcel])
    return {
        "created": created,
        "code": code,
        "channel": channel,
        "x": xy[:, 0],
        "y": xy[:, 1],
        "address": address,
        "description": _describe(code, rng),
        "asset_kind": asset_kind,
        "asset_id": asset_id,
        "burst": np.full(total, "", dtype=object),
    }


def _blank_unless(mask: NDArray[np.bool_], values: NDArray[Any]) -> NDArray[Any]:
    out = values.astype(object)
    out[~mask] = None
    return out


def _nearest_parcel(parcels: _Parcels, xy: NDArray[np.float64]) -> NDArray[Any]:
    from scipy.spatial import cKDTree

    return cKDTree(parcels.centroid).query(xy)[1]


def _describe(code: NDArray[Any], rng: np.random.Generator) -> NDArray[Any]:
    texts = np.array([_DESCRIPTIONS[c] for c in SERVICE_CODES], dtype=object)
    return texts[code, rng.integers(0, texts.shape[1], code.size)]


def _burst_times(
    n: int,
    size: int,
    span_h: float,
    live_hours_ago: float,
    months: tuple[int, ...],
    end: pd.Timestamp,
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Start times: the first burst ends ``live_hours_ago`` before ``end``, the others
    fall in ``months`` of the past year; members spread over ``span_h`` hours."""
    # a day of the given months, at least a week back, then a time within that day
    day_ns = 86_400 * 10**9
    days_ago = np.arange(8, 365)
    month = pd.to_datetime(end.value - days_ago * day_ns, utc=True).month.to_numpy()
    chosen = rng.choice(days_ago[np.isin(month, months)], n)
    start = end.value - chosen * day_ns + (rng.random(n) * 12 * 3600e9).astype(np.int64)
    start[0] = end.value - int((live_hours_ago + span_h) * 3600e9)
    offset = np.sort(rng.random((n, size)) * span_h * 3600e9, axis=1)
    return (start[:, None] + offset).astype(np.int64).ravel() // 10**9 * 10**9


def _main_breaks(
    grid: _Grid, parcels: _Parcels, n: int, end: pd.Timestamp, rng: np.random.Generator
) -> dict[str, NDArray[Any]]:
    # 14 of the 24 households on one avenue face call within two hours
    size = 14
    avenue = rng.integers(1, grid.nx, n)
    block = rng.integers(0, grid.ny, n)
    avenue[0], block[0] = grid.i0 + 1, grid.j0 + 1
    k = np.arange(PARCELS_PER_FACE)
    east = _parcel_index(grid, avenue[:, None], block[:, None], 0, k)
    west = _parcel_index(grid, avenue[:, None] - 1, block[:, None], 1, k)
    face = np.concatenate([east, west], axis=1)
    pick = np.argsort(rng.random(face.shape), axis=1)[:, :size]
    parcel = np.take_along_axis(face, pick, axis=1).ravel()

    created = _burst_times(n, size, 2.0, 1.0, (11, 12, 1, 2, 3), end, rng)
    texts = np.array(_MAIN_BREAK_DESCRIPTIONS, dtype=object)
    main = parcels.water_main[parcel]
    return _burst_rows(
        parcels, parcel, created, "water_outage", [0.7, 0.0, 0.3, 0.0],
        texts[rng.integers(0, texts.size, parcel.size)], "water_mains", main,
        _burst_ids("main_break_", n, size), rng,
    )  # fmt: skip


def _sewer_backup_runs(
    grid: _Grid, parcels: _Parcels, n: int, end: pd.Timestamp, rng: np.random.Generator
) -> dict[str, NDArray[Any]]:
    # six basements on three blocks of one avenue, all upstream of one sewer main
    size = 6
    avenue = rng.integers(1, grid.nx, n)
    block = rng.integers(0, grid.ny - 2, n)
    avenue[0], block[0] = grid.i0 + 2, max(0, grid.j0 - 3)
    k = np.arange(PARCELS_PER_FACE)
    sides = [
        _parcel_index(grid, avenue[:, None] - side, block[:, None] + b, side, k)
        for b in range(3)
        for side in (0, 1)
    ]
    branch = np.concatenate(sides, axis=1)
    pick = np.argsort(rng.random(branch.shape), axis=1)[:, :size]
    parcel = np.take_along_axis(branch, pick, axis=1).ravel()

    created = _burst_times(n, size, 10.0, 30.0, (4, 5, 6, 7), end, rng)
    texts = np.array(_DESCRIPTIONS["sewer_backup"], dtype=object)
    return _burst_rows(
        parcels, parcel, created, "sewer_backup", [0.8, 0.0, 0.2, 0.0],
        texts[rng.integers(0, texts.size, parcel.size)], "sewer_mains",
        parcels.sewer_main[parcel], _burst_ids("sewer_backup_", n, size), rng,
    )  # fmt: skip


def _burst_ids(prefix: str, n: int, size: int) -> NDArray[Any]:
    return np.repeat(np.strings.add(prefix, np.arange(1, n + 1).astype("U")), size).astype(object)


def _burst_rows(
    parcels: _Parcels,
    parcel: NDArray[Any],
    created: NDArray[np.int64],
    service: str,
    channel_mix: list[float],
    description: NDArray[Any],
    asset_kind: str,
    asset_id: NDArray[Any],
    burst: NDArray[Any],
    rng: np.random.Generator,
) -> dict[str, NDArray[Any]]:
    n = parcel.size
    channel = rng.choice(len(CHANNELS), n, p=channel_mix)
    xy = parcels.centroid[parcel] + rng.normal(0, 4.0, (n, 2))
    given = rng.random(n) < _ADDRESS_GIVEN[channel]
    return {
        "created": created,
        "code": np.full(n, SERVICE_CODES.index(service)),
        "channel": channel,
        "x": xy[:, 0],
        "y": xy[:, 1],
        "address": _blank_unless(given, parcels.full_address[parcel]),
        "description": description,
        "asset_kind": np.full(n, asset_kind, dtype=object),
        "asset_id": asset_id,
        "burst": burst,
    }


# ----------------------------------------------------------------------------- files


def _companion_paths(path: Path) -> tuple[Path, Path, Path]:
    return (
        path,
        path.with_name(f"{path.stem}.requests.parquet"),
        path.with_name(f"{path.stem}.crews.json"),
    )


def main(argv: list[str] | None = None) -> int:
    """Generate a demo city and write it; the entry point of ``python -m data.democity``."""
    parser = argparse.ArgumentParser(
        prog="python -m data.democity", description="Generate and write the demo city."
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--scale", type=float, default=1.0, help="area multiplier (default 1)")
    parser.add_argument(
        "--request-scale", type=float, default=None, help="request multiplier (default: scale)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "generated" / "democity.gpkg",
        help="GeoPackage to write (default data/generated/democity.gpkg)",
    )
    parser.add_argument("--no-write", action="store_true", help="generate only, and time it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("pyogrio").setLevel(logging.WARNING)

    # generate, then write
    city = generate_city(args.seed, args.scale, request_scale=args.request_scale)
    if not args.no_write:
        city.write(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
