"""Staff page: a call-centre or counter agent takes a report and answers "where is my job?"."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pandas as pd
import streamlit as st

from crm.errors import IntakeError, NotFoundError, TrackingNumberError
from crm.intake import Report, submit_report
from crm.store import Contact, Store
from settings import Settings
from ui import (
    STATUS_LABELS,
    format_local,
    get_services,
    get_spatial,
    open_store,
    require_staff,
    service_name,
    staff_actor,
)

KEY = "intake_key"
RECEIPT = "intake_receipt"
LOOKUP = "intake_lookup"
AGENT_CHANNELS = ("phone", "counter")
# how to read each character of a tracking number aloud
SPOKEN = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine",
    "A": "Alfa", "B": "Bravo", "C": "Charlie", "D": "Delta", "E": "Echo", "F": "Foxtrot",
    "G": "Golf", "H": "Hotel", "J": "Juliett", "K": "Kilo", "M": "Mike", "N": "November",
    "P": "Papa", "Q": "Quebec", "R": "Romeo", "S": "Sierra", "T": "Tango", "V": "Victor",
    "W": "Whiskey", "X": "X-ray", "Y": "Yankee", "Z": "Zulu", "-": "dash",
}  # fmt: skip


def spell_number(number: str) -> str:
    """Return a tracking number spelled for reading over the phone.

    Examples
    --------
    >>> spell_number("7K-3")
    'seven Kilo dash three'
    """
    return " ".join(SPOKEN.get(c, c) for c in number.upper() if not c.isspace())


def build_agent_report(values: dict[str, Any], idempotency_key: str, actor: str) -> Report:
    """Return the intake report for the agent form's values (pure)."""
    contact = Contact(
        name=values.get("name") or None,
        phone=values.get("phone") or None,
        email=values.get("email") or None,
    )
    lat, lon = values.get("lat"), values.get("lon")
    return Report(
        service_code=values["service_code"],
        channel=values["channel"],
        description=values.get("description", ""),
        lat=lat if lat and lon else None,
        lon=lon if lat and lon else None,
        address=values.get("address") or None,
        contact=contact if (contact.name or contact.phone or contact.email) else None,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def show_receipt(receipt: dict[str, Any]) -> None:
    """Show the tracking number to read back, likely duplicates and notices."""
    st.success(f"Tracking number: **{receipt['number']}**")
    st.text(f"Read back: {spell_number(receipt['number'])}")
    if receipt["incident"]:
        st.info(f"Joined incident {receipt['incident']}.")
    if receipt["nearby"]:
        st.warning(
            "Open reports close by, likely the same problem: " + ", ".join(receipt["nearby"])
        )
    for notice in receipt["notices"]:
        st.info(notice)


def take_report(store: Store, settings: Settings) -> None:
    """The agent's report form."""
    services = get_services(str(settings.services_file))
    with st.form("intake_form", clear_on_submit=False):
        left, right = st.columns(2)
        values: dict[str, Any] = {
            "channel": left.radio("Channel", AGENT_CHANNELS, horizontal=True),
            "service_code": right.selectbox(
                "Service", list(services), format_func=lambda c: services[c].name
            ),
            "description": st.text_area("What the caller describes", max_chars=4000),
            "address": st.text_input("Address or intersection", max_chars=300),
        }
        left, right = st.columns(2)
        values["lat"] = left.number_input("Latitude (optional)", value=None, format="%.6f")
        values["lon"] = right.number_input("Longitude (optional)", value=None, format="%.6f")
        st.markdown("**Caller** (kept apart; never shown publicly)")
        cols = st.columns(3)
        values["name"] = cols[0].text_input("Name", max_chars=200)
        values["phone"] = cols[1].text_input("Phone", max_chars=40)
        values["email"] = cols[2].text_input("Email", max_chars=320)
        submitted = st.form_submit_button("Create tracking number", type="primary")

    if submitted:
        report = build_agent_report(values, st.session_state[KEY], staff_actor())
        try:
            made = submit_report(store, report, spatial=get_spatial(settings.database_url))
        except IntakeError as exc:
            st.error(f"{exc} (field: {exc.field})")
        else:
            st.session_state[RECEIPT] = {
                "number": made.number,
                "incident": made.incident_code,
                "nearby": list(made.nearby_open),
                "notices": list(made.notices),
            }
            st.session_state[KEY] = uuid4().hex
    if st.session_state[RECEIPT]:
        show_receipt(st.session_state[RECEIPT])


def where_is_my_job(store: Store, settings: Settings) -> None:
    """Look a request up by number: status, full trail and contact details (staff only)."""
    with st.form("intake_lookup_form"):
        typed = st.text_input("Tracking number", key=LOOKUP)
        found = st.form_submit_button("Look up")
    if not (found or typed):
        return
    try:
        request = store.get_request(typed)
    except (TrackingNumberError, NotFoundError) as exc:
        st.error(str(exc))
        return
    services = get_services(str(settings.services_file))
    tz = settings.timezone
    st.subheader(f"{request.number}: {service_name(services, request.service_code)}")
    cols = st.columns(4)
    cols[0].metric("Status", STATUS_LABELS.get(request.status, request.status))
    cols[1].metric("Channel", request.channel)
    cols[2].metric("Reported", format_local(request.created_at, tz))
    cols[3].metric("Expected", format_local(request.expected_at, tz) or "-")
    if request.incident_id is not None:
        st.write(f"Part of incident {store.get_incident(request.incident_id).code}.")
    st.text(f"Address given: {request.address or '-'}")
    st.text(f"Description: {request.description or '-'}")
    contact = store.contact_for(request.number)
    if contact is not None:
        st.text(
            f"Contact: {contact.name or '-'} | {contact.phone or '-'} | {contact.email or '-'}"
        )
    events = store.events_for(request.number)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": format_local(e.at, tz),
                    "who": e.actor,
                    "from": e.from_status or "",
                    "to": e.to_status,
                    "note": e.note,
                    "public": e.is_public,
                }
                for e in events
            ]
        ),
        hide_index=True,
    )


def main() -> None:
    """Render the agent's page."""
    # session state first
    st.session_state.setdefault(KEY, uuid4().hex)
    st.session_state.setdefault(RECEIPT, None)
    st.session_state.setdefault(LOOKUP, "")

    settings, store = open_store()
    st.title("Take a report")
    require_staff(settings)
    new_tab, lookup_tab = st.tabs(["New report", "Where is my job?"])
    with new_tab:
        take_report(store, settings)
    with lookup_tab:
        where_is_my_job(store, settings)


if __name__ == "__main__":
    main()
