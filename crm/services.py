"""The service catalogue, loaded from configuration.

A city adds or changes services in the TOML file named by ``WATERDESK_SERVICES_FILE``;
no code changes. The file is checked strictly: an unknown key, a missing key or a value
of the wrong kind is an error naming the service and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from gis.layers.schema import LAYERS

GROUPS = ("water", "sewer")
CLUSTERING = ("segment", "downstream", "distance", "none")
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class Attribute:
    """A question asked at intake (an Open311 service-definition attribute)."""

    code: str
    description: str
    datatype: str = "string"
    required: bool = False
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    """One kind of report the utility takes."""

    code: str
    name: str
    group: str
    description: str
    layer: str
    clusters: str
    severity: int
    acknowledge_hours: float
    resolve_hours: float
    radius_m: float = 50.0
    min_reports: int = 1
    downstream_mains: int = 6
    skill: str = ""
    keywords: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)


_REQUIRED = {
    "name",
    "group",
    "description",
    "layer",
    "clusters",
    "severity",
    "acknowledge_hours",
    "resolve_hours",
}
_OPTIONAL = {"radius_m", "min_reports", "downstream_mains", "skill", "keywords", "attributes"}
SKILLS = ("water", "sewer", "locate")


def _parse_service(code: str, table: dict[str, object], source: Path) -> Service:
    where = f"service {code!r} in {source}"
    if not _CODE.match(code):
        raise ValueError(f"{where}: codes are lower_snake_case, 2-40 characters")
    missing = sorted(_REQUIRED - table.keys())
    unknown = sorted(table.keys() - _REQUIRED - _OPTIONAL)
    if missing or unknown:
        raise ValueError(f"{where}: missing keys {missing}, unknown keys {unknown}")
    if table["group"] not in GROUPS:
        raise ValueError(f"{where}: group {table['group']!r} is not one of {GROUPS}")
    if table["clusters"] not in CLUSTERING:
        raise ValueError(f"{where}: clusters {table['clusters']!r} is not one of {CLUSTERING}")
    if table["layer"] not in LAYERS:
        raise ValueError(f"{where}: layer {table['layer']!r} is not one of {sorted(LAYERS)}")
    severity = table["severity"]
    if not isinstance(severity, int) or not 1 <= severity <= 5:
        raise ValueError(f"{where}: severity must be a whole number from 1 to 5")
    attributes = tuple(
        Attribute(
            code=str(a["code"]),
            description=str(a["description"]),
            datatype=str(a.get("datatype", "string")),
            required=bool(a.get("required", False)),
            values=tuple(str(v) for v in a.get("values", [])),
        )
        for a in table.get("attributes", [])  # type: ignore[attr-defined]
    )
    return Service(
        code=code,
        name=str(table["name"]),
        group=str(table["group"]),
        description=str(table["description"]),
        layer=str(table["layer"]),
        clusters=str(table["clusters"]),
        severity=severity,
        acknowledge_hours=float(table["acknowledge_hours"]),  # type: ignore[arg-type]
        resolve_hours=float(table["resolve_hours"]),  # type: ignore[arg-type]
        radius_m=float(table.get("radius_m", 50.0)),  # type: ignore[arg-type]
        min_reports=int(table.get("min_reports", 1)),  # type: ignore[call-overload]
        downstream_mains=int(table.get("downstream_mains", 6)),  # type: ignore[call-overload]
        skill=_parse_skill(table.get("skill", table["group"]), where),
        keywords=tuple(str(k) for k in table.get("keywords", [])),  # type: ignore[attr-defined]
        attributes=attributes,
    )


def _parse_skill(value: object, where: str) -> str:
    if value not in SKILLS:
        raise ValueError(f"{where}: skill {value!r} is not one of {SKILLS}")
    return str(value)


@cache
def load_services(path: Path) -> dict[str, Service]:
    """Read and check a service catalogue.

    Parameters
    ----------
    path
        A TOML file with one ``[services.CODE]`` table per service.

    Returns
    -------
    dict
        Services by code, in file order.

    Raises
    ------
    ValueError
        If the file is missing, unreadable, or a service is malformed.
    """
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the service catalogue {path}: {exc}") from None
    tables = document.get("services")
    if not isinstance(tables, dict) or not tables:
        raise ValueError(f"{path} holds no [services.CODE] tables")
    return {code: _parse_service(code, table, Path(path)) for code, table in tables.items()}
