"""The canonical asset layers: what each kind of layer holds once loaded.

Every loader (a city's GIS export through a column mapping, or the demo-city
generator) produces GeoDataFrames in these shapes, in EPSG:4326, with an ``asset_id``
column of unique strings. Everything downstream (snapping, networks, incidents, the
store, the maps) reads only these columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class LayerSpec:
    """The shape of one kind of layer.

    Attributes
    ----------
    kind
        The layer's name, as used on the command line and in mappings.
    geometry_types
        The geometry types allowed (multi-part variants are accepted and exploded where
        the spec lists only the single-part type).
    columns
        Canonical column name to pandas dtype name.
    required
        Columns a mapping must provide; the others are filled with nulls when missing.
    """

    kind: str
    geometry_types: tuple[str, ...]
    columns: dict[str, str]
    required: frozenset[str] = field(default_factory=frozenset)
    description: str = ""


def _spec(
    kind: str,
    geometry_types: tuple[str, ...],
    columns: dict[str, str],
    required: set[str],
    description: str,
) -> LayerSpec:
    return LayerSpec(
        kind,
        geometry_types,
        {"asset_id": "string", **columns},
        frozenset({"asset_id", *required}),
        description,
    )


LAYERS: dict[str, LayerSpec] = {
    spec.kind: spec
    for spec in [
        _spec("hydrants", ("Point",), {"status": "string"}, set(), "fire hydrants"),
        _spec(
            "water_mains",
            ("LineString",),
            {
                "diameter_mm": "float64",
                "material": "string",
                "install_year": "Int64",
                "from_node": "string",
                "to_node": "string",
            },
            set(),
            "distribution and transmission water mains",
        ),
        _spec(
            "valves",
            ("Point",),
            {"operable": "boolean", "valve_type": "string"},
            set(),
            "water valves; an inoperable one does not isolate",
        ),
        _spec(
            "sewer_mains",
            ("LineString",),
            {
                "from_node": "string",
                "to_node": "string",
                "up_invert_m": "float64",
                "down_invert_m": "float64",
                "diameter_mm": "float64",
                "material": "string",
                "system": "string",
            },
            set(),
            "sewer mains, flowing from_node to to_node; system is sanitary or storm",
        ),
        _spec(
            "manholes",
            ("Point",),
            {"rim_m": "float64", "invert_m": "float64", "address": "string", "system": "string"},
            set(),
            "sewer manholes",
        ),
        _spec(
            "service_connections",
            ("Point", "Polygon"),
            {"address": "string", "accounts": "Int64"},
            set(),
            "customer service connections (a point or the parcel they serve)",
        ),
        _spec(
            "streets",
            ("LineString",),
            {
                "name": "string",
                "road_class": "string",
                "speed_kmh": "float64",
                "one_way": "boolean",
            },
            set(),
            "street centrelines; one_way means travel from first to last vertex",
        ),
        _spec(
            "addresses",
            ("Point",),
            {
                "full_address": "string",
                "number": "string",
                "street": "string",
                "street_type": "string",
                "direction": "string",
            },
            {"full_address"},
            "civic address points",
        ),
        _spec(
            "critical_facilities",
            ("Point",),
            {"name": "string", "facility_type": "string"},
            set(),
            "hospitals, schools, care homes and other facilities to warn first",
        ),
    ]
}

NETWORK_LAYERS = ("water_mains", "sewer_mains")
