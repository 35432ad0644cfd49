"""Offline geocoding against the utility's own address points.

A :class:`Geocoder` is built once from an ``addresses`` layer. Addresses are normalised
(case, punctuation, street types, directions, ordinals, unit numbers, city and postal
code) so that ``"#4-243 2nd avenue south, Saskatoon"`` and ``"243 2 Ave S"`` meet
``"243 2nd Ave S"`` on one key. An exact key wins; otherwise the street is matched
fuzzily (rapidfuzz) among the addresses with the same house number, because a wrong
house number is a wrong place however similar the text. ``reverse`` finds the nearest
address with a KD-tree in metres.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
from rapidfuzz import fuzz, process
from scipy.spatial import cKDTree

from gis.errors import GeocodeError, LayerError
from gis.projection import lonlat_to_metric, to_wgs84

LOGGER = logging.getLogger(__name__)

STREET_TYPES = {
    "street": "st",
    "str": "st",
    "st": "st",
    "avenue": "ave",
    "av": "ave",
    "ave": "ave",
    "drive": "dr",
    "dr": "dr",
    "crescent": "cres",
    "cres": "cres",
    "cr": "cres",
    "cresc": "cres",
    "place": "pl",
    "pl": "pl",
    "road": "rd",
    "rd": "rd",
    "boulevard": "blvd",
    "blvd": "blvd",
    "lane": "ln",
    "ln": "ln",
    "court": "crt",
    "ct": "crt",
    "crt": "crt",
    "way": "way",
    "terrace": "terr",
    "terr": "terr",
    "circle": "cir",
    "cir": "cir",
    "highway": "hwy",
    "hwy": "hwy",
    "parkway": "pkwy",
    "pkwy": "pkwy",
    "trail": "trl",
    "trl": "trl",
    "bay": "bay",
    "row": "row",
}
DIRECTIONS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "n": "n",
    "s": "s",
    "e": "e",
    "w": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "ne": "ne",
    "nw": "nw",
    "se": "se",
    "sw": "sw",
}
ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}
UNIT_WORDS = {"unit", "apt", "apartment", "suite", "ste", "#", "no", "bsmt", "basement"}
NOISE_WORDS = {"saskatoon", "sk", "sask", "saskatchewan", "canada", "ca"}

_POSTAL = re.compile(r"\b[a-z]\d[a-z]\s?\d[a-z]\d\b")
_UNIT_DASH = re.compile(r"^\s*#?\s*([a-z]?\d+[a-z]?)\s*-\s*(\d+[a-z]?)\b")
_UNIT_WORD = re.compile(r"\b(?:unit|apt|apartment|suite|ste|no|bsmt)\b\.?\s*#?\s*[a-z]?\d*[a-z]?")
_UNIT_HASH = re.compile(r"#\s*[a-z]?\d+[a-z]?")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_HOUSE = re.compile(r"^\d+[a-z]?$")


@dataclass(frozen=True)
class GeocodeMatch:
    """An address found for a query.

    Attributes
    ----------
    full_address
        The address as the addresses layer writes it.
    lon, lat
        Its location in WGS84 degrees.
    score
        100 for an exact (normalised) match, lower for a fuzzy one.
    asset_id
        The address point's asset id.
    distance_m
        For :meth:`Geocoder.reverse`, how far the address is from the point asked about.
    """

    full_address: str
    lon: float
    lat: float
    score: float
    asset_id: str
    distance_m: float | None = None


def normalise_address(text: str) -> str:
    """Return the comparable form of an address.

    Lower case, no punctuation, unit numbers and city/province/postal code removed,
    street types and directions abbreviated (``avenue`` -> ``ave``, ``south`` -> ``s``),
    street numbers written as ordinals (``2`` and ``second`` -> ``2nd``).

    Parameters
    ----------
    text
        The address as typed.

    Returns
    -------
    str
        The normalised address; empty if nothing address-like is left.

    Examples
    --------
    >>> normalise_address("Unit 4, 243 Second Avenue South, Saskatoon SK S7K 1K9")
    '243 2nd ave s'
    >>> normalise_address("#4-243 2 ave. s.")
    '243 2nd ave s'
    """
    text = _POSTAL.sub(" ", str(text).lower())

    # unit numbers: "4-243 ...", "#4-243", "unit 4", "apt 4", "#4"
    text = _UNIT_DASH.sub(r"\2", text)
    text = _UNIT_WORD.sub(" ", text)
    text = _UNIT_HASH.sub(" ", text)

    # words: abbreviate types and directions, write ordinals, drop the city
    words = [w for w in _NOT_WORD.split(text) if w and w not in NOISE_WORDS]
    out: list[str] = []
    for position, word in enumerate(words):
        if word in ORDINAL_WORDS:
            word = _ordinal(ORDINAL_WORDS[word])
        elif word.isdigit() and position > 0 and out and _HOUSE.match(out[0]):
            word = _ordinal(int(word))
        elif position > 0 and word in STREET_TYPES:
            word = STREET_TYPES[word]
        elif position > 1 and word in DIRECTIONS:
            word = DIRECTIONS[word]
        out.append(word)
    return " ".join(out)


def split_address(normalised: str) -> tuple[str | None, str, str | None]:
    """Split a normalised address into house number, street and trailing direction.

    Parameters
    ----------
    normalised
        The output of :func:`normalise_address`.

    Returns
    -------
    tuple
        ``(number or None, street, direction or None)``; the street keeps its
        direction so that it can be compared whole.
    """
    words = normalised.split()
    number = words[0] if words and _HOUSE.match(words[0]) and len(words) > 1 else None
    street_words = words[1:] if number else words
    direction = (
        street_words[-1]
        if len(street_words) > 1 and street_words[-1] in set(DIRECTIONS.values())
        else None
    )
    return number, " ".join(street_words), direction


class Geocoder:
    """Match typed addresses to the utility's address points, and points to addresses.

    Parameters
    ----------
    addresses
        A layer with ``full_address``, ``asset_id`` and point (or polygon) geometry,
        in any CRS with one set.
    min_score
        Below this fuzzy score (0-100) a candidate is not a match.
    limit
        How many candidates a :class:`GeocodeError` lists.
    crs
        The metric CRS for :meth:`reverse`; ``None`` means ``settings.metric_crs``.

    Notes
    -----
    Fuzzy matching only considers addresses with the house number typed: a resident
    who types the wrong number is offered the closest addresses in the error rather
    than silently placed elsewhere on the street.
    """

    def __init__(
        self,
        addresses: gpd.GeoDataFrame,
        *,
        min_score: float = 80.0,
        limit: int = 5,
        crs: Any = None,
    ) -> None:
        if "full_address" not in addresses or "asset_id" not in addresses:
            message = (
                "the addresses layer needs full_address and asset_id columns; it has "
                f"{', '.join(map(str, addresses.columns))}. "
                "Load it with load_layer('addresses', ...)."
            )
            raise LayerError(message)
        self.min_score = min_score
        self.limit = limit

        # one row per distinct normalised address, in WGS84 points
        layer = to_wgs84(addresses[addresses["full_address"].notna()])
        points = layer.geometry
        if not (points.geom_type == "Point").all():
            points = points.representative_point()
        keys = [normalise_address(a) for a in layer["full_address"]]
        first: dict[str, int] = {}
        for position, key in enumerate(keys):
            if key and key not in first:
                first[key] = position
        rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        self._keys = list(first)
        self._full = layer["full_address"].astype(str).to_numpy()[rows]
        self._ids = layer["asset_id"].astype(str).to_numpy()[rows]
        self._lon = points.x.to_numpy()[rows]
        self._lat = points.y.to_numpy()[rows]
        self._exact = {key: i for i, key in enumerate(self._keys)}

        # streets grouped by house number for the fuzzy step
        parts = [split_address(key) for key in self._keys]
        self._streets = [street for _, street, _ in parts]
        self._directions = [direction for _, _, direction in parts]
        groups: dict[str, list[int]] = defaultdict(list)
        for i, (number, _, _) in enumerate(parts):
            if number is not None:
                groups[number].append(i)
        self._by_number = {n: np.asarray(ix, dtype=np.int64) for n, ix in groups.items()}

        # a KD-tree in metres for reverse geocoding
        x, y = lonlat_to_metric(self._lon, self._lat, crs)
        self._crs = crs
        self._tree = cKDTree(np.column_stack([x, y]))
        skipped = len(layer) - len(self._keys)
        LOGGER.info(
            "built a geocoder over %s addresses (%s blank or repeated skipped)",
            f"{len(self._keys):,}",
            f"{skipped:,}",
        )

    def __len__(self) -> int:
        return len(self._keys)

    def geocode(self, text: str) -> GeocodeMatch:
        """Find the address a resident typed.

        Parameters
        ----------
        text
            The address as typed, in any case, with or without unit, city, postal code.

        Returns
        -------
        GeocodeMatch
            The best match.

        Raises
        ------
        GeocodeError
            If nothing scores ``min_score`` or more, or two addresses tie; ``candidates``
            lists the closest addresses with their scores.
        """
        key = normalise_address(text)
        position, score = self._match(key)
        if position is None:
            candidates = self.candidates(key)
            reason = "two or more addresses match equally" if score else "no address matches"
            message = (
                f"{reason} {str(text)[:120]!r}; expected a civic address such as "
                f"'{self._full[0] if len(self._full) else '243 2nd Ave S'}'. Closest: "
                + (", ".join(f"{a} ({s:.0f})" for a, s in candidates) or "none")
            )
            raise GeocodeError(message, candidates)
        return self._result(position, score)

    def geocode_many(self, texts: Iterable[str]) -> list[GeocodeMatch | None]:
        """Geocode many addresses at once; ``None`` where :meth:`geocode` would raise.

        Parameters
        ----------
        texts
            The addresses as typed.

        Returns
        -------
        list
            One :class:`GeocodeMatch` or ``None`` per text, in order.
        """
        keys = [normalise_address(t) for t in texts]
        found: list[tuple[int, float] | None] = [None] * len(keys)

        # exact keys first, then the rest grouped by house number
        pending: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            hit = self._exact.get(key)
            if hit is not None:
                found[i] = (hit, 100.0)
                continue
            number, _, _ = split_address(key)
            if number in self._by_number:
                pending[number].append(i)

        # one score matrix per house number
        for number, queries in pending.items():
            rows = self._by_number[number]
            parts = [split_address(keys[i]) for i in queries]
            scores = process.cdist(
                [street for _, street, _ in parts],
                [self._streets[r] for r in rows],
                scorer=fuzz.ratio,
                dtype=np.float32,
            )
            for q, row, (_, _, direction) in zip(queries, scores, parts, strict=True):
                found[q] = self._pick(rows, row, direction)
        matched = sum(f is not None for f in found)
        LOGGER.info("geocoded %s of %s addresses", f"{matched:,}", f"{len(keys):,}")
        return [None if f is None else self._result(*f) for f in found]

    def candidates(self, text: str, limit: int | None = None) -> list[tuple[str, float]]:
        """Return the addresses closest to ``text`` as ``(full_address, score)``, best first."""
        key = normalise_address(text)
        if not key:
            return []
        hits = process.extract(key, self._keys, scorer=fuzz.WRatio, limit=limit or self.limit)
        return [(str(self._full[i]), float(s)) for _, s, i in hits]

    def reverse(self, lon: float, lat: float, max_distance_m: float | None = None) -> GeocodeMatch:
        """Return the address nearest to a point.

        Parameters
        ----------
        lon, lat
            The point in WGS84 degrees.
        max_distance_m
            Farther than this, no address is returned.

        Returns
        -------
        GeocodeMatch
            The nearest address, with ``distance_m`` set and ``score`` 100.

        Raises
        ------
        GeocodeError
            If no address lies within ``max_distance_m``.
        """
        x, y = lonlat_to_metric(lon, lat, self._crs)
        distance, position = self._tree.query([float(x), float(y)], k=1)
        if max_distance_m is not None and distance > max_distance_m:
            message = (
                f"no address within {max_distance_m:,.0f} m of ({lon:.6f}, {lat:.6f}); the "
                f"nearest, {self._full[position]}, is {distance:,.0f} m away"
            )
            raise GeocodeError(message, [(str(self._full[position]), 0.0)])
        match = self._result(int(position), 100.0)
        return GeocodeMatch(
            match.full_address, match.lon, match.lat, 100.0, match.asset_id, float(distance)
        )

    def _match(self, key: str) -> tuple[int | None, float]:
        # exact key, else the best street among the same house number
        if not key:
            return None, 0.0
        hit = self._exact.get(key)
        if hit is not None:
            return hit, 100.0
        number, street, direction = split_address(key)
        rows = self._by_number.get(number or "")
        if rows is None:
            return None, 0.0
        scores = process.cdist(
            [street], [self._streets[r] for r in rows], scorer=fuzz.ratio, dtype=np.float32
        )[0]
        picked = self._pick(rows, scores, direction)
        if picked is None:
            tied = _tied(rows, scores, self.min_score, direction, self._directions)
            return None, 1.0 if tied else 0.0
        return picked

    def _pick(
        self, rows: np.ndarray, scores: np.ndarray, direction: str | None
    ) -> tuple[int, float] | None:
        # a stated direction must agree; the best must clear min_score and stand alone
        scores = scores.astype(np.float64)
        if direction is not None:
            other = np.array(
                [d is not None and d != direction for d in (self._directions[r] for r in rows)]
            )
            scores[other] = -1.0
        best = int(np.argmax(scores))
        if scores[best] < self.min_score or np.count_nonzero(scores == scores[best]) > 1:
            return None
        return int(rows[best]), float(scores[best])

    def _result(self, position: int, score: float) -> GeocodeMatch:
        return GeocodeMatch(
            str(self._full[position]),
            float(self._lon[position]),
            float(self._lat[position]),
            round(score, 1),
            str(self._ids[position]),
        )


def _tied(
    rows: np.ndarray,
    scores: np.ndarray,
    floor: float,
    direction: str | None,
    directions: Sequence[str | None],
) -> bool:
    ok = [
        s
        for r, s in zip(rows, scores, strict=True)
        if s >= floor and (direction is None or directions[r] in (None, direction))
    ]
    return len(ok) > 1 and max(ok) == sorted(ok)[-2]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
