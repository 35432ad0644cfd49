"""Leaflet and its plugins served by the app itself, never from a CDN.

The files are copied from npm packages into ``ui/static/vendor`` by
``scripts/vendor-assets.sh`` (after ``npm ci --omit=dev``). Streamlit serves that folder
as a static-only custom component named ``ui.assets.vendor``: its files answer at
``<base>/component/ui.assets.vendor/<file>`` on the app's own host and port.

streamlit-folium draws a map inside its own component iframe, served from
``<base>/component/streamlit_folium.st_folium/index.html``, and loads every
``default_js`` and ``default_css`` link of the map's elements into that iframe. The links
set here are relative to that page (``../ui.assets.vendor/...``), so they resolve to the
vendor component on the same origin and keep working under a ``server.baseUrlPath``.

Notes
-----
A map saved with ``Map.save`` and opened as a standalone file will not find these
relative links; Waterdesk renders maps only through streamlit-folium.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import folium
import folium.plugins
from branca.element import Element

LOGGER = logging.getLogger(__name__)

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
COMPONENT_NAME = "vendor"
VENDOR_URL = "../ui.assets.vendor"

LEAFLET_JS = [("leaflet", f"{VENDOR_URL}/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", f"{VENDOR_URL}/leaflet/leaflet.css")]
HEAT_JS = [("leaflet-heat.js", f"{VENDOR_URL}/leaflet.heat/leaflet-heat.js")]
REQUIRED_FILES = (
    "leaflet/leaflet.js",
    "leaflet/leaflet.css",
    "leaflet/images/layers.png",
    "leaflet.heat/leaflet-heat.js",
)

_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


class MissingAssetsError(FileNotFoundError):
    """The vendored browser assets have not been copied into ``ui/static/vendor``."""


def missing_assets(folder: Path = VENDOR_DIR) -> list[str]:
    """Return the vendored files that are absent, relative to ``folder``.

    Parameters
    ----------
    folder
        The vendor folder; ``ui/static/vendor`` by default.

    Returns
    -------
    list of str
        Paths such as ``leaflet/leaflet.js``; empty when everything is in place.
    """
    return [name for name in REQUIRED_FILES if not (folder / name).is_file()]


def register_vendor_assets() -> bool:
    """Serve ``ui/static/vendor`` as the static-only component ``ui.assets.vendor``.

    Call it during every script run, before a map is drawn: Streamlit registers a
    component only while a script runs, and registering the same folder again is free.

    Returns
    -------
    bool
        False when the vendored files are missing (the maps will then draw nothing);
        the page should say so.
    """
    from streamlit.components.v1 import declare_component

    missing = missing_assets()
    if missing:
        LOGGER.warning(
            "vendored browser assets missing from %s: %s; run `npm ci --omit=dev` and "
            "scripts/vendor-assets.sh",
            VENDOR_DIR,
            ", ".join(missing),
        )
        return False
    declare_component(COMPONENT_NAME, path=str(VENDOR_DIR))
    return True


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def use_local_assets(fmap: folium.Map) -> folium.Map:
    """Point every Leaflet script and stylesheet of a map at the vendored copies.

    The map's own links are cut down to Leaflet alone (folium's defaults also pull
    jQuery, Bootstrap, Font Awesome and awesome-markers from CDNs, which Waterdesk's maps
    do not use); a heatmap gets the vendored leaflet.heat.

    Parameters
    ----------
    fmap
        A map whose elements have all been added.

    Returns
    -------
    folium.Map
        The same map, changed in place.

    Raises
    ------
    ValueError
        If an element needs a script or stylesheet that is not vendored; the message
        names the element and the URL.
    """
    for element in _walk(fmap):
        if isinstance(element, folium.Map):
            element.default_js = list(LEAFLET_JS)
            element.default_css = list(LEAFLET_CSS)
        elif isinstance(element, folium.plugins.HeatMap):
            element.default_js = list(HEAT_JS)
            element.default_css = []
        links = [*getattr(element, "default_js", []), *getattr(element, "default_css", [])]
        remote = [url for _, url in links if not url.startswith(VENDOR_URL)]
        if remote:
            message = (
                f"{type(element).__name__} needs {', '.join(remote)}, which is not vendored; "
                "add its npm package to package.json and scripts/vendor-assets.sh, or drop "
                "the element"
            )
            raise ValueError(message)
    return fmap


def remote_urls(html: str) -> list[str]:
    """Return the ``src``/``href`` URLs in rendered HTML that leave the app's host.

    Parameters
    ----------
    html
        A rendered page or map.

    Returns
    -------
    list of str
        Absolute ``http(s)://`` or protocol-relative URLs whose host is neither
        ``localhost`` nor ``127.0.0.1``.
    """
    local = re.compile(r"^(?:https?:)?//(?:localhost|127\.0\.0\.1)(?::\d+)?(?:/|$)")
    found = []
    for url in _URL.findall(html):
        if url.startswith(("http://", "https://", "//")) and not local.match(url):
            found.append(url)
    return found
