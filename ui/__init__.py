"""Streamlit pages of Waterdesk and what they share: cached loaders and staff access.

Each page is a module with ``main()``; ``app.py`` puts them into ``st.navigation``.
Loaders here are cached per process (``st.cache_resource`` for the store and the spatial
context, ``st.cache_data`` for plain data), keyed on hashable arguments.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import streamlit as st

from crm.assets import read_layer
from crm.services import Service, load_services
from crm.spatial import SpatialContext, get_spatial_context
from crm.store import Store
from settings import Settings, load_settings

STAFF_KEY = "staff_unlocked"
STAFF_NAME_KEY = "staff_name"

STATUS_LABELS = {
    "new": "Received",
    "acknowledged": "Acknowledged",
    "dispatched": "Crew dispatched",
    "in_progress": "Work in progress",
    "resolved": "Resolved",
    "closed": "Closed",
    "duplicate": "Merged with an earlier report",
    "cancelled": "Cancelled",
}


def get_settings() -> Settings:
    """Return the settings read from the environment (cheap; read on every run)."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def get_store(database_url: str) -> Store:
    """Return the store for a database URL, opened once per process."""
    return Store(database_url, load_settings())


def get_spatial(database_url: str) -> SpatialContext | None:
    """Return the city's spatial context for a store.

    Not cached here: :func:`crm.spatial.get_spatial_context` keeps one per process
    itself and rebuilds it when a layer is reloaded, which a cache_resource would hide.
    """
    return get_spatial_context(get_store(database_url))


@st.cache_data(show_spinner=False)
def get_services(services_file: str) -> dict[str, Service]:
    """Return the service catalogue read from a TOML file."""
    return load_services(Path(services_file))


@st.cache_data(show_spinner=False, ttl=600, max_entries=32)
def load_layer(
    database_url: str, kind: str, bbox: tuple[float, float, float, float] | None = None
) -> gpd.GeoDataFrame | None:
    """Return a stored asset layer (optionally within a box), or None when not loaded."""
    try:
        return read_layer(get_store(database_url), kind, bbox=bbox)
    except LookupError:
        return None


def open_store() -> tuple[Settings, Store]:
    """Return the settings and the store they name."""
    settings = get_settings()
    return settings, get_store(settings.database_url)


def check_passcode(typed: str, settings: Settings) -> bool:
    """Return whether a typed passcode opens the staff pages (constant-time compare)."""
    if settings.staff_passcode is None:
        return True
    return hmac.compare_digest(typed.encode(), settings.staff_passcode.encode())


def staff_unlocked(settings: Settings) -> bool:
    """Return whether this session may see the staff pages."""
    return settings.staff_passcode is None or bool(st.session_state.get(STAFF_KEY, False))


def require_staff(settings: Settings) -> None:
    """Stop the page unless staff pages are open; warn when they are unprotected."""
    if settings.staff_passcode is None:
        st.warning(
            "Staff pages are unprotected: WATERDESK_STAFF_PASSCODE is not set, so anyone "
            "who can open this app sees reporters' contact details. Set it before real use."
        )
        return
    if not staff_unlocked(settings):
        st.error("This page is for utility staff. Enter the staff passcode in the sidebar.")
        st.stop()


def staff_actor() -> str:
    """Return the name staff typed in the sidebar, for the audit trail."""
    name = str(st.session_state.get(STAFF_NAME_KEY, "") or "").strip()
    return name[:80] or "staff"


def format_local(moment: datetime | None, timezone: str) -> str:
    """Return a timestamp in the utility's time zone, or an empty string."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def service_name(services: dict[str, Service], code: str) -> str:
    """Return a service's display name, or its code when it is not in the catalogue."""
    service = services.get(code)
    return service.name if service else code
