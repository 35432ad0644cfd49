"""Column mappings: how a city's GIS export becomes the canonical layers.

A mapping is a TOML file with one ``[layers.NAME]`` table per source layer. ``NAME`` is
what :func:`gis.layers.loading.load_layer` is asked for; ``kind`` (defaulting to the
name) is the canonical kind it becomes. One source may feed several entries (parcels as
both addresses and service connections) and several sources may feed one kind (sanitary
and storm mains are both ``sewer_mains``).

Keys of a ``[layers.NAME]`` table:

``kind``
    The canonical kind (``gis.layers.schema.LAYERS``). Default: ``NAME``.
``file``
    The file name inside a folder, used when ``load_layer`` is given a folder.
``layer``
    The layer inside a multi-layer source (GeoPackage, FileGDB).
``geometry``
    ``"as_is"`` (default), ``"representative_point"`` or ``"centroid"`` (parcels used
    as address points).
``crs``
    The CRS of the source when the file does not say (CSV, a shapefile without .prj).
``columns``
    Source column to canonical column.
``values``
    Per source column, a table of source value to canonical value (``A1 = "active"``).
``keep``
    Per source column, the list of source values whose rows are kept (for instance only
    active features count); rows with any other value are dropped.
``drop``
    Per source column, the list of source values whose rows are dropped (``"N/A"``).
``constants``
    Canonical column to a constant value (``system = "sanitary"``, ``accounts = 1``).
``coordinates``
    For CSV sources: ``x`` and ``y`` column names, or ``wkt``.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gis.errors import LayerError
from gis.layers.schema import LAYERS

LOGGER = logging.getLogger(__name__)

GEOMETRY_MODES = ("as_is", "representative_point", "centroid")
_TOP_KEYS = {"name", "description", "layers"}
_ENTRY_KEYS = {
    "kind",
    "file",
    "layer",
    "geometry",
    "crs",
    "columns",
    "values",
    "keep",
    "drop",
    "constants",
    "coordinates",
}
_COORDINATE_KEYS = {"x", "y", "wkt"}


@dataclass(frozen=True)
class LayerMapping:
    """How one source layer becomes one canonical layer.

    Attributes
    ----------
    name
        The entry's name in its mapping (what ``load_layer`` is asked for).
    kind
        The canonical kind it becomes.
    columns
        Source column to canonical column.
    values
        Source column to a table of source value to canonical value.
    keep, drop
        Source column to the source values whose rows are kept or dropped.
    constants
        Canonical column to a constant value.
    geometry
        One of :data:`GEOMETRY_MODES`.
    file, layer, crs
        Where the source is and what CRS it is in when it does not say.
    coordinates
        For CSV sources: ``{"x": ..., "y": ...}`` or ``{"wkt": ...}``.
    """

    name: str
    kind: str
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    keep: dict[str, list[Any]] = field(default_factory=dict)
    drop: dict[str, list[Any]] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    geometry: str = "as_is"
    file: str | None = None
    layer: str | None = None
    crs: str | None = None
    coordinates: dict[str, str] = field(default_factory=dict)

    @property
    def source_columns(self) -> list[str]:
        """Every source column the entry reads (mapped, valued, filtered, coordinates)."""
        names = [*self.columns, *self.values, *self.keep, *self.drop, *self.coordinates.values()]
        return list(dict.fromkeys(names))


@dataclass(frozen=True)
class ColumnMapping:
    """A named set of :class:`LayerMapping` entries, one per source layer."""

    name: str
    layers: dict[str, LayerMapping]
    description: str = ""
    source: str = ""

    def entry(self, name: str) -> LayerMapping:
        """Return the entry called ``name``.

        Raises
        ------
        LayerError
            If the mapping has no such entry; the message lists those it has.
        """
        if name not in self.layers:
            message = (
                f"mapping {self.name!r} has no layer {name!r}; it has "
                f"{', '.join(sorted(self.layers))}. Use one of those or add "
                f"[layers.{name}] to {self.source or 'the mapping'}."
            )
            raise LayerError(message)
        return self.layers[name]


def available_mappings() -> list[str]:
    """Return the names of the mappings shipped with the package."""
    folder = resources.files("gis.layers") / "mappings"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_mapping(name_or_path: str | Path | ColumnMapping) -> ColumnMapping:
    """Load a mapping by package name (``"saskatoon"``, ``"demo"``) or from a TOML file.

    Parameters
    ----------
    name_or_path
        A name from :func:`available_mappings`, a path to a ``.toml`` file, or an
        already loaded :class:`ColumnMapping` (returned as is).

    Returns
    -------
    ColumnMapping
        The checked mapping.

    Raises
    ------
    LayerError
        If the file is missing or not TOML, names an unknown key, kind, canonical
        column or geometry mode.
    """
    if isinstance(name_or_path, ColumnMapping):
        return name_or_path

    # read the TOML text from the package or from the path
    text, source = _read_mapping_text(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = f"mapping {source} is not valid TOML: {exc}. Fix the syntax."
        raise LayerError(message) from None

    # check and build every entry
    mapping = parse_mapping(data, source=source)
    LOGGER.debug(
        "loaded mapping %s with %s layers from %s",
        mapping.name,
        f"{len(mapping.layers):,}",
        source,
    )
    return mapping


def parse_mapping(data: dict[str, Any], source: str = "<dict>") -> ColumnMapping:
    """Check a mapping already parsed from TOML and build it.

    Parameters
    ----------
    data
        The parsed TOML document.
    source
        Where it came from, for messages.

    Returns
    -------
    ColumnMapping
        The checked mapping.

    Raises
    ------
    LayerError
        On any unknown key, kind, canonical column or geometry mode.
    """
    _reject_unknown(data, _TOP_KEYS, f"mapping {source}")
    layers = data.get("layers")
    if not isinstance(layers, dict) or not layers:
        message = f"mapping {source} has no [layers.NAME] tables; add one per source layer"
        raise LayerError(message)
    entries = {name: _parse_entry(name, body, source) for name, body in layers.items()}
    name = str(data.get("name", Path(source).stem))
    return ColumnMapping(name, entries, str(data.get("description", "")), source)


def _read_mapping_text(name_or_path: str | Path) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            message = f"mapping file {path} does not exist; give a path to a .toml file"
            raise LayerError(message)
        return path.read_text(encoding="utf-8"), str(path)
    resource = resources.files("gis.layers") / "mappings" / f"{name_or_path}.toml"
    if not resource.is_file():
        message = (
            f"no mapping called {str(name_or_path)!r}; the shipped ones are "
            f"{', '.join(available_mappings())}, or give a path to a .toml file"
        )
        raise LayerError(message)
    return resource.read_text(encoding="utf-8"), f"gis/layers/mappings/{name_or_path}.toml"


def _parse_entry(name: str, body: Any, source: str) -> LayerMapping:
    where = f"[layers.{name}] in {source}"
    if not isinstance(body, dict):
        raise LayerError(f"{where} must be a table, got {type(body).__name__}")
    _reject_unknown(body, _ENTRY_KEYS, where)

    # the kind and its canonical columns
    kind = str(body.get("kind", name))
    if kind not in LAYERS:
        message = f"{where} has kind {kind!r}; expected one of {', '.join(sorted(LAYERS))}"
        raise LayerError(message)
    canonical = set(LAYERS[kind].columns)
    columns = {str(k): str(v) for k, v in _table(body, "columns", where).items()}
    constants = dict(_table(body, "constants", where))
    targets = [*columns.values(), *constants]
    unknown = sorted(set(targets) - canonical)
    if unknown:
        message = (
            f"{where} maps to unknown column(s) {', '.join(unknown)}; {kind} has "
            f"{', '.join(LAYERS[kind].columns)}"
        )
        raise LayerError(message)
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise LayerError(f"{where} fills {', '.join(doubled)} more than once; keep one source")

    # geometry mode and CSV coordinates
    geometry = str(body.get("geometry", "as_is"))
    if geometry not in GEOMETRY_MODES:
        message = f"{where} has geometry {geometry!r}; expected one of {', '.join(GEOMETRY_MODES)}"
        raise LayerError(message)
    coordinates = {str(k): str(v) for k, v in _table(body, "coordinates", where).items()}
    _reject_unknown(coordinates, _COORDINATE_KEYS, f"coordinates of {where}")
    if coordinates and not ({"x", "y"} <= set(coordinates) or set(coordinates) == {"wkt"}):
        message = f"coordinates of {where} need both x and y, or wkt alone; got {coordinates}"
        raise LayerError(message)

    # value maps and row filters, keyed by source column
    values = {
        str(k): dict(_table(_table(body, "values", where), k, where))
        for k in _table(body, "values", where)
    }
    keep = {
        str(k): _list(v, f"keep.{k} of {where}") for k, v in _table(body, "keep", where).items()
    }
    drop = {
        str(k): _list(v, f"drop.{k} of {where}") for k, v in _table(body, "drop", where).items()
    }
    return LayerMapping(
        name=name,
        kind=kind,
        columns=columns,
        values=values,
        keep=keep,
        drop=drop,
        constants=constants,
        geometry=geometry,
        file=_optional(body, "file"),
        layer=_optional(body, "layer"),
        crs=_optional(body, "crs"),
        coordinates=coordinates,
    )


def _reject_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        message = (
            f"unknown key(s) {', '.join(unknown)} in {where}; the known keys are "
            f"{', '.join(sorted(known))}. Check the spelling."
        )
        raise LayerError(message)


def _table(body: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = body.get(key, {})
    if not isinstance(value, dict):
        raise LayerError(f"{key} in {where} must be a table, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise LayerError(f"{where} must be a list of values, got {type(value).__name__}")
    return value


def _optional(body: dict[str, Any], key: str) -> str | None:
    return None if body.get(key) is None else str(body[key])
