"""Typed settings read from WATERDESK_* environment variables.

Every setting has a documented default. A malformed value, or an unknown variable that
starts with ``WATERDESK_``, raises :class:`SettingsError` naming the variable, the value
received and what is expected, so a typo in a deployment is caught at start-up rather
than silently ignored.

This module sits below every package (gis, crm, dispatch and the interfaces import it);
it imports nothing of the project.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent
PREFIX = "WATERDESK_"


class SettingsError(ValueError):
    """A WATERDESK_* variable is unknown or its value cannot be used."""


@dataclass(frozen=True)
class BBox:
    """A longitude/latitude box in WGS84 degrees."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def contains(self, lon: float, lat: float) -> bool:
        """Return whether the point lies inside the box, edges included."""
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat

    def __str__(self) -> str:
        return f"{self.min_lon},{self.min_lat},{self.max_lon},{self.max_lat}"


def _parse_bbox(text: str) -> BBox:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise ValueError("expected four comma-separated numbers: min_lon,min_lat,max_lon,max_lat")
    values = [float(p) for p in parts]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("every number must be finite")
    box = BBox(*values)
    if not (-180 <= box.min_lon < box.max_lon <= 180 and -90 <= box.min_lat < box.max_lat <= 90):
        raise ValueError("min must be below max, longitudes within +-180, latitudes within +-90")
    return box


def _parse_positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("expected a positive number")
    return value


def _parse_positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("expected a positive whole number")
    return value


def _parse_crs(text: str) -> str:
    text = text.strip().upper()
    if not text.startswith("EPSG:") or not text[5:].isdigit():
        raise ValueError("expected an EPSG code such as EPSG:26913")
    return text


def _parse_database_url(text: str) -> str:
    if not text.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST/DB")
    return text


def _parse_path(text: str) -> Path:
    return Path(text).expanduser()


@dataclass(frozen=True)
class Settings:
    """Waterdesk's configuration, one field per WATERDESK_* variable.

    Attributes
    ----------
    database_url
        ``WATERDESK_DATABASE_URL``. ``sqlite:///PATH`` or ``postgresql://...``.
        Default: the embedded SQLite store at ``data/waterdesk.db``.
    data_dir
        ``WATERDESK_DATA_DIR``. Where the demo city and the embedded store live.
        Default: ``data/`` in the project.
    metric_crs
        ``WATERDESK_METRIC_CRS``. The projected CRS for lengths, areas and distances.
        Default: ``EPSG:26913`` (NAD83 / UTM zone 13N, Saskatoon).
    service_area
        ``WATERDESK_SERVICE_AREA``. ``min_lon,min_lat,max_lon,max_lat`` of the area the
        utility serves; reports outside it are refused. Default: greater Saskatoon.
    services_file
        ``WATERDESK_SERVICES_FILE``. The service catalogue (TOML).
        Default: ``crm/services.toml``.
    reopen_days
        ``WATERDESK_REOPEN_DAYS``. Days after resolution during which a request may be
        reopened. Default: 14.
    snap_limit_m
        ``WATERDESK_SNAP_LIMIT_M``. Farther than this from any asset of its layer, a report
        is flagged for a dispatcher instead of snapped. Default: 75 m.
    duplicate_radius_m
        ``WATERDESK_DUPLICATE_RADIUS_M``. Radius in which intake looks for open reports of
        the same service. Default: 150 m.
    incident_window_hours
        ``WATERDESK_INCIDENT_WINDOW_HOURS``. Reports further apart in time than this do not
        join one incident. Default: 48.
    timezone
        ``WATERDESK_TIMEZONE``. The utility's local time zone, for display and service
        standards. Default: ``America/Regina`` (Saskatchewan, no daylight saving).
    api_port
        ``WATERDESK_API_PORT``. Port of ``waterdesk api``. Default: 8000.
    layer_mapping
        ``WATERDESK_LAYER_MAPPING``. Name of the column mapping used to load layers.
        Default: ``demo``.
    staff_passcode
        ``WATERDESK_STAFF_PASSCODE``. The passcode that opens the staff pages (intake,
        dispatch, manager). Unset: staff pages are open, with a warning on every page;
        fine for the demo, never for a deployment.
    """

    database_url: str
    data_dir: Path
    metric_crs: str = "EPSG:26913"
    service_area: BBox = BBox(-106.85, 52.03, -106.50, 52.23)
    services_file: Path = PROJECT_ROOT / "crm" / "services.toml"
    reopen_days: float = 14.0
    snap_limit_m: float = 75.0
    duplicate_radius_m: float = 150.0
    incident_window_hours: float = 48.0
    timezone: str = "America/Regina"
    api_port: int = 8000
    layer_mapping: str = "demo"
    staff_passcode: str | None = None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "database_url": _parse_database_url,
    "data_dir": _parse_path,
    "metric_crs": _parse_crs,
    "service_area": _parse_bbox,
    "services_file": _parse_path,
    "reopen_days": _parse_positive_float,
    "snap_limit_m": _parse_positive_float,
    "duplicate_radius_m": _parse_positive_float,
    "incident_window_hours": _parse_positive_float,
    "timezone": str,
    "api_port": _parse_positive_int,
    "layer_mapping": str,
    "staff_passcode": str,
}

# variables read elsewhere (tests, Makefile) that are still ours and not typos
_OTHER_KNOWN = {"WATERDESK_TEST_DATABASE_URL", "WATERDESK_API_KEY", "WATERDESK_LOG_LEVEL"}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment.

    Parameters
    ----------
    environ
        The variables to read; ``os.environ`` when omitted.

    Returns
    -------
    Settings
        The parsed settings with defaults filled in.

    Raises
    ------
    SettingsError
        If a WATERDESK_* variable is unknown or its value is malformed.
    """
    env = os.environ if environ is None else environ
    known = {PREFIX + f.name.upper() for f in fields(Settings)} | _OTHER_KNOWN
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known)
    if unknown:
        message = (
            f"unknown setting {', '.join(unknown)}; the known ones are "
            f"{', '.join(sorted(known))}. Check the spelling or unset it."
        )
        raise SettingsError(message)

    values: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        var = PREFIX + name.upper()
        if var not in env or env[var] == "":
            continue
        try:
            values[name] = parse(env[var])
        except ValueError as exc:
            message = f"{var}={env[var]!r} is not usable: {exc}"
            raise SettingsError(message) from None

    data_dir = values.setdefault("data_dir", PROJECT_ROOT / "data")
    values.setdefault("database_url", f"sqlite:///{Path(data_dir) / 'waterdesk.db'}")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(values.get("timezone", "America/Regina"))
    except Exception:
        message = f"WATERDESK_TIMEZONE={values['timezone']!r} is not an IANA time zone name"
        raise SettingsError(message) from None
    return Settings(**values)
