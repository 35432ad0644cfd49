"""Public page: the outage map of open incidents and reports, without personal data."""

from __future__ import annotations

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from crm.lifecycle import OPEN_STATUSES
from crm.store import Incident, Request
from settings import Settings
from ui import STATUS_LABELS, format_local, get_services, load_layer, open_store
from ui.assets import register_vendor_assets
from ui.maps import add_incident_areas, add_requests, base_map, bounds_of, finish_map

MAX_POINTS = 2000


def outage_map(
    settings: Settings,
    requests: list[Request],
    incidents: list[Incident],
    service_names: dict[str, str],
) -> folium.Map:
    """Return the public map: streets, affected areas and coarsened open reports."""
    streets = load_layer(settings.database_url, "streets")
    area = settings.service_area
    fallback = (area.min_lon, area.min_lat, area.max_lon, area.max_lat)
    fmap = base_map(bounds_of([streets], fallback=fallback), streets=streets)
    add_incident_areas(fmap, incidents, service_names)
    add_requests(fmap, requests, service_names, public=True, name="Open reports")
    return finish_map(fmap)


def incident_rows(
    incidents: list[Incident], service_names: dict[str, str], timezone: str
) -> pd.DataFrame:
    """Return the public table of open incidents: no reporters, no descriptions."""
    return pd.DataFrame(
        [
            {
                "incident": i.code,
                "problem": service_names.get(i.service_code, i.service_code),
                "status": STATUS_LABELS.get(i.status, i.status),
                "customers affected": i.customers_affected,
                "since": format_local(i.created_at, timezone),
                "expected fix": format_local(i.eta_at, timezone),
            }
            for i in incidents
        ],
        columns=["incident", "problem", "status", "customers affected", "since", "expected fix"],
    )


def main() -> None:
    """Render the outage map."""
    # session state first
    st.session_state.setdefault("outage_services", None)

    settings, store = open_store()
    services = get_services(str(settings.services_file))
    names = {code: s.name for code, s in services.items()}
    st.title("Outage map")
    st.write("Known water and sewer problems being worked on now.")

    chosen = st.multiselect(
        "Show", list(services), default=list(services), format_func=names.get, key="outage_pick"
    )
    requests = store.list_requests(
        status=sorted(OPEN_STATUSES), service_codes=chosen or None, limit=MAX_POINTS
    )
    incidents = [i for i in store.list_incidents(status="open") if i.service_code in chosen]

    if register_vendor_assets():
        st_folium(
            outage_map(settings, requests, incidents, names),
            key="outage_map",
            height=520,
            use_container_width=True,
            returned_objects=[],
        )
    else:
        st.info("The map is not available right now.")
    st.caption(
        f"{len(requests):,} open reports and {len(incidents):,} open incidents. "
        "Report positions are rounded to about 100 m."
    )
    if incidents:
        st.dataframe(
            incident_rows(incidents, names, settings.timezone),
            hide_index=True,
        )


if __name__ == "__main__":
    main()
