"""Rendering API answers as JSON or XML, the two formats GeoReport v2 asks for.

Every answer is built once as plain Python (dicts, lists, strings, numbers, booleans,
None) and rendered here. In XML a list becomes repeated child elements named for what
they hold (``<service_requests><request>...``), True and False become ``true`` and
``false``, None an empty element, and characters XML 1.0 cannot carry are dropped.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import Response

from api.errors import MissingResourceError

FORMATS = ("json", "xml")
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}

# the element name of one item of a list, by the name of the list
ITEM_TAGS = {
    "service_requests": "request",
    "services": "service",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def check_format(fmt: str) -> str:
    """Return ``json`` or ``xml``, or refuse any other suffix with a 404.

    Raises
    ------
    MissingResourceError
        If the suffix is neither.
    """
    if fmt not in FORMATS:
        shown = fmt[:20]
        raise MissingResourceError(f"unknown format {shown!r}: end the path with .json or .xml")
    return fmt


def w3c(value: datetime | None, zone: ZoneInfo) -> str | None:
    """Return a W3C date-time with its offset (``2025-06-01T09:30:00-06:00``), or None."""
    if value is None:
        return None
    return value.astimezone(zone).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _append(element, str(key), child)
    elif isinstance(value, list | tuple):
        tag = ITEM_TAGS.get(element.tag, "item")
        for child in value:
            _append(element, tag, child)
    elif value is not None:
        element.text = _text(value)


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    _fill(ET.SubElement(parent, tag), value)


def to_xml(data: Any, root: str) -> bytes:
    """Return ``data`` as an XML document whose root element is ``root``."""
    element = ET.Element(root)
    _fill(element, data)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def to_json(data: Any) -> bytes:
    """Return ``data`` as compact UTF-8 JSON."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render(
    data: Any,
    fmt: str,
    root: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Return a response holding ``data`` in the format asked for.

    Parameters
    ----------
    data
        Plain Python: dicts, lists, strings, numbers, booleans, None.
    fmt
        ``json`` or ``xml``.
    root
        The XML root element (``service_requests``, ``services``, ``errors``...).
    status, headers
        The HTTP status and any extra headers.
    """
    body = to_xml(data, root) if fmt == "xml" else to_json(data)
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)
