"""Public page: report a problem and get a tracking number at once."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import folium
import streamlit as st
from streamlit_folium import st_folium

from crm.errors import IntakeError
from crm.intake import Report, submit_report
from crm.services import Service
from crm.store import Contact
from settings import Settings
from ui import get_services, get_spatial, load_layer, open_store
from ui.assets import register_vendor_assets
from ui.maps import base_map, bounds_of, finish_map

KEY = "report_key"
POINT = "report_point"
RECEIPT = "report_receipt"


def picked_point(returned: dict[str, Any] | None) -> tuple[float, float] | None:
    """Return ``(lat, lon)`` of the last click st_folium reported, if any."""
    clicked = (returned or {}).get("last_clicked")
    if not clicked:
        return None
    return float(clicked["lat"]), float(clicked["lng"])


def build_report(
    service: Service,
    values: dict[str, Any],
    point: tuple[float, float] | None,
    idempotency_key: str,
) -> Report:
    """Return the intake report for the form's values (pure).

    Parameters
    ----------
    service
        The chosen service.
    values
        ``description``, ``address``, ``name``, ``phone``, ``email`` and ``attributes``.
    point
        ``(lat, lon)`` picked on the map, or None.
    idempotency_key
        The form's key, so a double submission returns the first tracking number.
    """
    contact = Contact(
        name=values.get("name") or None,
        phone=values.get("phone") or None,
        email=values.get("email") or None,
    )
    return Report(
        service_code=service.code,
        channel="online",
        description=values.get("description", ""),
        lat=point[0] if point else None,
        lon=point[1] if point else None,
        address=values.get("address") or None,
        contact=contact if (contact.name or contact.phone or contact.email) else None,
        attributes={k: v for k, v in values.get("attributes", {}).items() if v},
        idempotency_key=idempotency_key,
        actor="resident",
    )


def pick_map(settings: Settings, point: tuple[float, float] | None) -> folium.Map:
    """Return the map a resident clicks to place the problem."""
    streets = load_layer(settings.database_url, "streets")
    area = settings.service_area
    fallback = (area.min_lon, area.min_lat, area.max_lon, area.max_lat)
    fmap = base_map(bounds_of([streets], fallback=fallback), streets=streets)
    if point is not None:
        folium.CircleMarker(
            location=list(point), radius=8, color="#dc3545", fill=True, tooltip="Here"
        ).add_to(fmap)
    return finish_map(fmap)


def show_receipt(receipt: dict[str, Any]) -> None:
    """Show the tracking number and what the reporter should know."""
    st.success(f"Thank you. Your tracking number is **{receipt['number']}**.")
    st.write("Keep it: you can follow your report on the *Track my request* page.")
    for notice in receipt["notices"]:
        st.info(notice)
    if st.button("Report another problem", key="report_again"):
        st.session_state[RECEIPT] = None
        st.session_state[POINT] = None
        st.session_state[KEY] = uuid4().hex
        st.rerun()


def main() -> None:
    """Render the report form."""
    # session state first
    st.session_state.setdefault(KEY, uuid4().hex)
    st.session_state.setdefault(POINT, None)
    st.session_state.setdefault(RECEIPT, None)

    settings, store = open_store()
    services = get_services(str(settings.services_file))
    st.title("Report a problem")

    receipt = st.session_state[RECEIPT]
    if receipt is not None:
        show_receipt(receipt)
        return

    code = st.selectbox(
        "What is the problem?",
        list(services),
        format_func=lambda c: services[c].name,
        key="report_service",
    )
    service = services[code]
    st.caption(service.description)

    # the map sits outside the form: a click reruns the page and keeps the point
    with st.expander("Pick the spot on a map (optional)", expanded=False):
        if register_vendor_assets():
            returned = st_folium(
                pick_map(settings, st.session_state[POINT]),
                key="report_pick_map",
                height=380,
                use_container_width=True,
                returned_objects=["last_clicked"],
            )
            clicked = picked_point(returned)
            if clicked is not None and clicked != st.session_state[POINT]:
                st.session_state[POINT] = clicked
                st.rerun()
        else:
            st.info("The map is not available right now; give the address instead.")
        if st.session_state[POINT] is not None:
            lat, lon = st.session_state[POINT]
            st.caption(f"Picked: {lat:.5f}, {lon:.5f}")

    with st.form("report_form"):
        values: dict[str, Any] = {
            "description": st.text_area("What is happening?", max_chars=4000),
            "address": st.text_input("Address or nearest intersection", max_chars=300),
            "attributes": {},
        }
        for attribute in service.attributes:
            options = ["", *attribute.values] if attribute.values else None
            if options:
                values["attributes"][attribute.code] = st.selectbox(
                    attribute.description, options, key=f"report_attr_{attribute.code}"
                )
            else:
                values["attributes"][attribute.code] = st.text_input(
                    attribute.description, key=f"report_attr_{attribute.code}"
                )
        st.markdown("**How can we reach you?** (optional; only utility staff see this)")
        values["name"] = st.text_input("Name", max_chars=200)
        values["phone"] = st.text_input("Phone", max_chars=40)
        values["email"] = st.text_input("Email", max_chars=320)
        submitted = st.form_submit_button("Send report", type="primary")

    if not submitted:
        return
    report = build_report(service, values, st.session_state[POINT], st.session_state[KEY])
    try:
        made = submit_report(store, report, spatial=get_spatial(settings.database_url))
    except IntakeError as exc:
        st.error(exc.public_message)
        return
    st.session_state[RECEIPT] = {"number": made.number, "notices": list(made.notices)}
    st.session_state[KEY] = uuid4().hex
    show_receipt(st.session_state[RECEIPT])


if __name__ == "__main__":
    main()
