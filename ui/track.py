"""Public page: follow a request by its tracking number, and rate the fix."""

from __future__ import annotations

import streamlit as st

from crm.errors import FeedbackError, NotFoundError, TrackingNumberError
from crm.lifecycle import CLOSED_STATUSES
from crm.privacy import redact_contacts
from crm.store import Event, Request, Store
from settings import Settings
from ui import STATUS_LABELS, format_local, get_services, open_store, service_name

NUMBER = "track_number"
LOOKUP = "track_lookup"


def public_timeline(events: list[Event], timezone: str) -> list[dict[str, str]]:
    """Return the rows of a request's public history: when, status and public note.

    Only events marked public may be passed in; the actor is left out on purpose.
    """
    return [
        {
            "when": format_local(event.at, timezone),
            "status": STATUS_LABELS.get(event.to_status, event.to_status),
            "note": redact_contacts(event.note) if event.is_public else "",
        }
        for event in events
        if event.is_public
    ]


def use_suggestion(suggestion: str) -> None:
    """Put a suggested tracking number in the box and look it up."""
    st.session_state[NUMBER] = suggestion
    st.session_state[LOOKUP] = suggestion


def show_request(store: Store, settings: Settings, request: Request) -> None:
    """Show the public view of one request: status, history and the rating form."""
    services = get_services(str(settings.services_file))
    st.subheader(f"{request.number}: {service_name(services, request.service_code)}")
    left, right = st.columns(2)
    left.metric("Status", STATUS_LABELS.get(request.status, request.status))
    right.metric("Reported", format_local(request.created_at, settings.timezone))
    if request.expected_at is not None and request.status not in CLOSED_STATUSES:
        st.write(f"Expected by {format_local(request.expected_at, settings.timezone)}.")
    if request.address:
        st.text(f"Where: {request.address}")
    if request.description:
        st.text(f"What you told us: {redact_contacts(request.description)}")

    st.markdown("**History**")
    rows = public_timeline(store.events_for(request.number, public_only=True), settings.timezone)
    for row in rows:
        st.text(f"{row['when']}  {row['status']}" + (f": {row['note']}" if row["note"] else ""))

    if request.status in ("resolved", "closed"):
        show_feedback_form(store, request)


def show_feedback_form(store: Store, request: Request) -> None:
    """Let the reporter rate a resolved request once."""
    with st.form("track_feedback"):
        st.markdown("**How did we do?**")
        rating = st.slider("Rating (1 poor, 5 excellent)", 1, 5, 4)
        comment = st.text_area("Comment (optional)", max_chars=2000)
        sent = st.form_submit_button("Send rating")
    if sent:
        try:
            store.add_feedback(request.number, rating, comment)
        except FeedbackError as exc:
            st.warning(str(exc))
        else:
            st.success("Thank you for your rating.")


def main() -> None:
    """Render the tracking page."""
    # session state first; a link may carry ?number=
    st.session_state.setdefault(NUMBER, st.query_params.get("number", ""))
    st.session_state.setdefault(LOOKUP, st.session_state[NUMBER])

    settings, store = open_store()
    st.title("Track my request")
    with st.form("track_form"):
        st.text_input("Tracking number", key=NUMBER, placeholder="e.g. 7K3QD-M2XPA")
        if st.form_submit_button("Track", type="primary"):
            st.session_state[LOOKUP] = st.session_state[NUMBER]

    typed = str(st.session_state[LOOKUP] or "").strip()
    if not typed:
        st.caption("The number is on your receipt or the confirmation you were read.")
        return
    try:
        request = store.get_request(typed)
    except TrackingNumberError as exc:
        st.error(str(exc))
        if exc.suggestion:
            st.button(
                f"Track {exc.suggestion}",
                key="track_suggestion",
                on_click=use_suggestion,
                args=(exc.suggestion,),
            )
        return
    except NotFoundError as exc:
        st.warning(str(exc))
        return
    show_request(store, settings, request)


if __name__ == "__main__":
    main()
