"""Staff page: the dispatcher's incident queue, map, incident detail and status moves."""

from __future__ import annotations

from datetime import datetime

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from crm.errors import ConflictError, NotFoundError, TrackingNumberError, TransitionError
from crm.incidents import assign_crew, merge_incidents, move_request, split_incident
from crm.lifecycle import OPEN_STATUSES, TRANSITIONS
from crm.store import Incident, Request, Store, utc_now
from dispatch.priority import rank_incidents
from settings import Settings
from ui import (
    format_local,
    get_services,
    get_spatial,
    load_layer,
    open_store,
    require_staff,
    service_name,
    staff_actor,
)
from ui.assets import register_vendor_assets
from ui.maps import (
    ASSET_KINDS,
    add_asset_layers,
    add_incident_areas,
    add_requests,
    base_map,
    bounds_of,
    finish_map,
)

SELECTED = "dispatch_incident"
MESSAGE = "dispatch_message"
MAX_REQUESTS = 2000
PAD_DEG = 0.003


def queue_frame(
    incidents: list[Incident], services: dict[str, str], crews: dict[int, str], now: datetime
) -> pd.DataFrame:
    """Return the queue as a table (pure)."""
    return pd.DataFrame(
        [
            {
                "incident": i.code,
                "service": services.get(i.service_code, i.service_code),
                "status": i.status,
                "customers": i.customers_affected,
                "priority": round(i.priority, 2),
                "age (h)": round((now - i.created_at).total_seconds() / 3600, 1),
                "crew": crews.get(i.crew_id, "") if i.crew_id else "",
                "version": i.version,
            }
            for i in incidents
        ],
        columns=[
            "incident",
            "service",
            "status",
            "customers",
            "priority",
            "age (h)",
            "crew",
            "version",
        ],
    )


def dispatch_map(
    layers: dict[str, gpd.GeoDataFrame | None],
    requests: list[Request],
    incidents: list[Incident],
    services: dict[str, str],
    fallback: tuple[float, float, float, float],
    *,
    parcels: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Return the dispatcher's map: asset layers, incident areas and open requests."""
    points = [(r.lon, r.lat) for r in requests if r.lon is not None and r.lat is not None]
    frames = [f for f in layers.values() if f is not None]
    bounds = bounds_of(frames, points, fallback=fallback)
    fmap = base_map(bounds, streets=layers.get("streets"), parcels=parcels)
    add_asset_layers(fmap, {k: v for k, v in layers.items() if v is not None})
    add_incident_areas(fmap, incidents, services)
    add_requests(fmap, requests, services, public=False)
    return finish_map(fmap)


def move_incident(code: str, version_read: int, target_key: str, note_key: str) -> None:
    """Change an incident's status based on the version the dispatcher saw."""
    _settings, store = open_store()
    target = st.session_state.get(target_key)
    try:
        store.change_incident_status(
            code,
            str(target),
            actor=staff_actor(),
            expected_version=version_read,
            note=str(st.session_state.get(note_key, "") or ""),
        )
    except (ConflictError, TransitionError) as exc:
        st.session_state[MESSAGE] = ("error", str(exc))
    else:
        st.session_state[MESSAGE] = ("success", f"{code} is now {target}.")


def mark_duplicate(versions_read: dict[str, int], number_key: str, original_key: str) -> None:
    """Mark a member request a duplicate of another, based on the version seen."""
    _settings, store = open_store()
    number = str(st.session_state.get(number_key, ""))
    original = str(st.session_state.get(original_key, "") or "")
    version_read = versions_read.get(number, -1)
    try:
        store.mark_duplicate(number, original, actor=staff_actor(), expected_version=version_read)
    except (ConflictError, TransitionError, TrackingNumberError, NotFoundError, ValueError) as exc:
        st.session_state[MESSAGE] = ("error", str(exc))
    else:
        st.session_state[MESSAGE] = ("success", f"{number} marked a duplicate of {original}.")


def correct_incident(
    action: str,
    code: str,
    version_read: int,
    keys: dict[str, str],
    request_versions: dict[str, int],
) -> None:
    """Merge, split or move requests, based on the versions the dispatcher saw."""
    settings, store = open_store()
    spatial = get_spatial(settings.database_url)
    other = str(st.session_state.get(keys["other"], "") or "").strip()
    chosen = list(st.session_state.get(keys["requests"], []) or [])
    try:
        if action == "merge":
            absorbed = store.get_incident(other)
            merge_incidents(
                store,
                spatial,
                code,
                absorbed.code,
                actor=staff_actor(),
                versions=(version_read, absorbed.version),
            )
            done = f"{absorbed.code} merged into {code}."
        elif action == "split":
            created = split_incident(
                store, spatial, code, chosen, actor=staff_actor(), version=version_read
            )
            done = f"{len(chosen)} request(s) split off into {created.code}."
        else:
            for number in chosen:
                move_request(
                    store,
                    spatial,
                    number,
                    other,
                    actor=staff_actor(),
                    expected_version=request_versions.get(number, -1),
                )
            done = f"{len(chosen)} request(s) moved to {other.upper()}."
    except (ConflictError, TransitionError, NotFoundError, TrackingNumberError, ValueError) as exc:
        st.session_state[MESSAGE] = ("error", str(exc))
    else:
        st.session_state[MESSAGE] = ("success", done)


def give_to_crew(code: str, version_read: int, crew_key: str, eta_key: str) -> None:
    """Assign the incident to a crew with an ETA, based on the version the dispatcher saw."""
    _settings, store = open_store()
    crew = str(st.session_state.get(crew_key, "") or "")
    try:
        assign_crew(
            store,
            code,
            crew,
            eta_hours=float(st.session_state.get(eta_key, 0)),
            actor=staff_actor(),
            expected_version=version_read,
        )
    except (ConflictError, TransitionError, NotFoundError, ValueError) as exc:
        st.session_state[MESSAGE] = ("error", str(exc))
    else:
        st.session_state[MESSAGE] = ("success", f"{code} is with {crew}.")


def show_message() -> None:
    """Show (once) what the last action said."""
    message = st.session_state.get(MESSAGE)
    if message:
        kind, text = message
        (st.error if kind == "error" else st.success)(text)
        st.session_state[MESSAGE] = None


def incident_detail(store: Store, settings: Settings, incident: Incident) -> None:
    """Show one incident: figures, members, the status move and duplicate marking."""
    services = get_services(str(settings.services_file))
    tz = settings.timezone
    st.subheader(f"{incident.code}: {service_name(services, incident.service_code)}")
    cols = st.columns(4)
    cols[0].metric("Status", incident.status)
    cols[1].metric("Customers affected", f"{incident.customers_affected:,}")
    cols[2].metric("Priority", f"{incident.priority:.2f}")
    cols[3].metric("Version", incident.version)
    details = incident.details or {}
    facilities = details.get("critical_facilities")
    if facilities:
        st.warning("Critical facilities inside: " + ", ".join(map(str, facilities)))
    if details.get("valves_to_close"):
        st.markdown("**Valves to close:** " + ", ".join(details["valves_to_close"]))
    if details.get("hydrants_out"):
        st.markdown(
            f"**Hydrants out of service ({len(details['hydrants_out'])}):** "
            + ", ".join(details["hydrants_out"][:40])
        )

    members = store.list_requests(incident_id=incident.id, limit=None, newest_first=False)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "number": r.number,
                    "status": r.status,
                    "channel": r.channel,
                    "reported": format_local(r.created_at, tz),
                    "address": r.address or "",
                    "asset": r.asset_id or "",
                }
                for r in members
            ],
            columns=["number", "status", "channel", "reported", "address", "asset"],
        ),
        hide_index=True,
    )

    # the callbacks carry the version shown now, so a stale move is refused
    skill = services[incident.service_code].skill if incident.service_code in services else ""
    crews = [c.name for c in store.list_crews() if skill in c.skills]
    if crews and incident.status in OPEN_STATUSES:
        with st.form(f"dispatch_crew_{incident.code}"):
            st.selectbox("Crew", crews, key="dispatch_crew")
            st.number_input(
                "Expected on site in (hours)",
                min_value=0.25,
                max_value=336.0,
                value=2.0,
                step=0.25,
                key="dispatch_eta",
            )
            st.form_submit_button(
                "Assign and dispatch",
                on_click=give_to_crew,
                args=(incident.code, incident.version, "dispatch_crew", "dispatch_eta"),
            )
    targets = TRANSITIONS.get(incident.status, ())
    if targets:
        with st.form(f"dispatch_move_{incident.code}"):
            st.selectbox("Move to", targets, key="dispatch_target")
            st.text_input("Note (public)", key="dispatch_note", max_chars=500)
            st.form_submit_button(
                f"Update (based on version {incident.version})",
                on_click=move_incident,
                args=(incident.code, incident.version, "dispatch_target", "dispatch_note"),
            )
    correction_forms(incident, members)
    open_members = [r for r in members if r.status in OPEN_STATUSES]
    if open_members:
        with st.form(f"dispatch_duplicate_{incident.code}"):
            st.selectbox("Request", [r.number for r in open_members], key="dispatch_dup_number")
            st.text_input("is a duplicate of", key="dispatch_dup_of")
            st.form_submit_button(
                "Mark duplicate",
                on_click=mark_duplicate,
                args=(
                    {r.number: r.version for r in open_members},
                    "dispatch_dup_number",
                    "dispatch_dup_of",
                ),
            )


def correction_forms(incident: Incident, members: list[Request]) -> None:
    """Forms to merge another incident in, split requests off, or move them elsewhere."""
    versions = {r.number: r.version for r in members}
    numbers = [r.number for r in members]
    merge_col, split_col, move_col = st.columns(3)
    with merge_col, st.form(f"dispatch_merge_{incident.code}"):
        st.text_input(
            "Merge this incident into it", key="dispatch_merge_other", placeholder="incident code"
        )
        st.form_submit_button(
            "Merge",
            on_click=correct_incident,
            args=(
                "merge",
                incident.code,
                incident.version,
                {"other": "dispatch_merge_other", "requests": "dispatch_none"},
                versions,
            ),
        )
    with split_col, st.form(f"dispatch_split_{incident.code}"):
        st.multiselect("Split off", numbers, key="dispatch_split_requests")
        st.form_submit_button(
            "Split into a new incident",
            on_click=correct_incident,
            args=(
                "split",
                incident.code,
                incident.version,
                {"other": "dispatch_none", "requests": "dispatch_split_requests"},
                versions,
            ),
        )
    with move_col, st.form(f"dispatch_moveto_{incident.code}"):
        st.multiselect("Move", numbers, key="dispatch_move_requests")
        st.text_input("to incident", key="dispatch_move_other", placeholder="incident code")
        st.form_submit_button(
            "Move",
            on_click=correct_incident,
            args=(
                "move",
                incident.code,
                incident.version,
                {"other": "dispatch_move_other", "requests": "dispatch_move_requests"},
                versions,
            ),
        )


def main() -> None:
    """Render the dispatcher's page."""
    # session state first
    st.session_state.setdefault(SELECTED, None)
    st.session_state.setdefault(MESSAGE, None)

    settings, store = open_store()
    st.title("Dispatch")
    require_staff(settings)
    show_message()
    services = {c: s.name for c, s in get_services(str(settings.services_file)).items()}
    crews = {c.id: c.name for c in store.list_crews()}
    now = utc_now()

    queue = rank_incidents(store.list_incidents(status="open"), now)
    st.markdown(f"**Incident queue** ({len(queue):,} open)")
    st.dataframe(queue_frame(queue, services, crews, now), hide_index=True)

    requests = store.list_requests(status=sorted(OPEN_STATUSES), limit=MAX_REQUESTS)
    area = settings.service_area
    fallback = (area.min_lon, area.min_lat, area.max_lon, area.max_lat)
    points = [(r.lon, r.lat) for r in requests if r.lon is not None and r.lat is not None]
    work = bounds_of([], points, fallback=fallback)
    bbox = (work[0] - PAD_DEG, work[1] - PAD_DEG, work[2] + PAD_DEG, work[3] + PAD_DEG)
    layers = {k: load_layer(settings.database_url, k, bbox) for k in (*ASSET_KINDS, "streets")}
    show_parcels = st.toggle("Show parcels", value=False, key="dispatch_parcels")
    parcels = (
        load_layer(settings.database_url, "service_connections", bbox) if show_parcels else None
    )
    if register_vendor_assets():
        st_folium(
            dispatch_map(layers, requests, queue, services, fallback, parcels=parcels),
            key="dispatch_map",
            height=560,
            use_container_width=True,
            returned_objects=[],
        )
    missing = [k for k, v in layers.items() if v is None]
    if missing:
        st.caption("Layers not loaded: " + ", ".join(missing))

    if not queue:
        st.info("No open incidents.")
        return
    codes = [i.code for i in queue]
    if st.session_state[SELECTED] not in codes:
        st.session_state[SELECTED] = codes[0]
    code = st.selectbox("Incident", codes, key=SELECTED)
    try:
        incident = store.get_incident(code)
    except NotFoundError as exc:
        st.error(str(exc))
        return
    incident_detail(store, settings, incident)


if __name__ == "__main__":
    main()
