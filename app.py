"""Waterdesk's Streamlit entry point: the public pages, and the staff pages by passcode.

Run with ``streamlit run app.py``. The public pages (report, track, outage map) are
always there. The staff pages (take a report, dispatch, manager) join the navigation
once the session has entered ``WATERDESK_STAFF_PASSCODE`` in the sidebar; when no
passcode is set they are open, and each of them says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from ui import STAFF_KEY, STAFF_NAME_KEY, check_passcode, get_settings, staff_unlocked
from ui.assets import register_vendor_assets

HERE = Path(__file__).resolve().parent
PUBLIC_PAGES = (
    ("ui/report.py", "Report a problem", "report"),
    ("ui/track.py", "Track my request", "track"),
    ("ui/outage.py", "Outage map", "outage"),
)
STAFF_PAGES = (
    ("ui/intake.py", "Take a report", "intake"),
    ("ui/dispatch.py", "Dispatch", "dispatch"),
    ("ui/manager.py", "Manager", "manager"),
)


def make_pages(specs: tuple[tuple[str, str, str], ...]) -> list[st.Page]:
    """Return the st.Page objects of some page specs (file, title, url path).

    Notes
    -----
    Pages get no icon: Streamlit turns the current page's icon into the favicon and
    fetches material icons from fonts.gstatic.com, which the app must never call.
    """
    return [st.Page(str(HERE / path), title=title, url_path=url) for path, title, url in specs]


def unlock(typed_key: str) -> None:
    """Open the staff pages when the passcode typed is right."""
    typed = str(st.session_state.get(typed_key, ""))
    st.session_state[STAFF_KEY] = check_passcode(typed, get_settings())
    st.session_state["staff_refused"] = not st.session_state[STAFF_KEY]
    st.session_state[typed_key] = ""


def lock() -> None:
    """Close the staff pages for this session."""
    st.session_state[STAFF_KEY] = False


def staff_sidebar() -> None:
    """Show the passcode box, or the lock button and the staff name once unlocked."""
    settings = get_settings()
    with st.sidebar:
        st.markdown("**Staff**")
        if settings.staff_passcode is not None and not staff_unlocked(settings):
            st.text_input("Staff passcode", type="password", key="staff_passcode_typed")
            st.button(
                "Open staff pages",
                key="staff_unlock",
                on_click=unlock,
                args=("staff_passcode_typed",),
            )
            if st.session_state.get("staff_refused"):
                st.error("That passcode is not right.")
            return
        st.text_input("Your name (for the audit trail)", key=STAFF_NAME_KEY)
        if settings.staff_passcode is None:
            st.warning("Staff pages are unprotected: no staff passcode is set.")
        else:
            st.button("Lock staff pages", key="staff_lock", on_click=lock)


def main() -> None:
    """Build the navigation for this session and run the chosen page."""
    # session state first
    st.session_state.setdefault(STAFF_KEY, False)
    st.session_state.setdefault(STAFF_NAME_KEY, "")
    st.session_state.setdefault("staff_refused", False)

    st.set_page_config(page_title="Waterdesk", layout="wide")
    register_vendor_assets()
    staff_sidebar()
    pages: dict[str, list[st.Page]] = {"Residents": make_pages(PUBLIC_PAGES)}
    if staff_unlocked(get_settings()):
        pages["Staff"] = make_pages(STAFF_PAGES)
    st.navigation(pages).run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main()
