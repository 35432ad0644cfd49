"""Staff page: heatmap, volumes, service-standard compliance, satisfaction and export."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from crm.lifecycle import CLOSED_STATUSES
from crm.services import Service
from crm.store import Request, utc_now
from ui import get_services, load_layer, open_store, require_staff
from ui.assets import register_vendor_assets
from ui.maps import bounds_of, heat_map

# the export's columns: nothing about the reporter, and no free text that might hold it
EXPORT_COLUMNS = [
    "tracking",
    "service_code",
    "channel",
    "status",
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "lon",
    "lat",
    "incident_id",
]


def requests_frame(requests: list[Request], acknowledged: dict[int, datetime]) -> pd.DataFrame:
    """Return one row per request with the times the reports need (pure)."""
    frame = pd.DataFrame(
        [
            {
                "tracking": r.number,
                "service_code": r.service_code,
                "channel": r.channel,
                "status": r.status,
                "created_at": r.created_at,
                "acknowledged_at": acknowledged.get(r.id),
                "resolved_at": r.resolved_at,
                "lon": r.lon,
                "lat": r.lat,
                "incident_id": r.incident_id,
            }
            for r in requests
        ],
        columns=EXPORT_COLUMNS,
    )
    for column in ("created_at", "acknowledged_at", "resolved_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def compliance_table(
    frame: pd.DataFrame, services: dict[str, Service], now: datetime
) -> pd.DataFrame:
    """Return, per service, the share of requests acknowledged and resolved within standard.

    A request still waiting counts as missed once its standard has passed and is left
    out while it is within it; duplicates and cancellations are left out of resolution.

    Parameters
    ----------
    frame
        From :func:`requests_frame`.
    services
        The catalogue, for ``acknowledge_hours`` and ``resolve_hours``.
    now
        The moment to judge open requests against (UTC).

    Returns
    -------
    pandas.DataFrame
        ``service``, ``requests``, ``acknowledged in time %``, ``resolved in time %``.
    """
    now_ts = pd.Timestamp(now)
    rows = []
    for code, group in frame.groupby("service_code"):
        service = services.get(str(code))
        if service is None:
            continue
        created = group["created_at"]
        age_h = (now_ts - created).dt.total_seconds() / 3600

        ack_h = (group["acknowledged_at"] - created).dt.total_seconds() / 3600
        ack_met = ack_h <= service.acknowledge_hours
        ack_decided = ack_h.notna() | (age_h > service.acknowledge_hours)

        res_h = (group["resolved_at"] - created).dt.total_seconds() / 3600
        res_met = res_h <= service.resolve_hours
        dropped = group["status"].isin(["duplicate", "cancelled"])
        res_decided = ~dropped & (res_h.notna() | (age_h > service.resolve_hours))
        rows.append(
            {
                "service": service.name,
                "requests": len(group),
                "acknowledged in time %": _share(ack_met, ack_decided),
                "resolved in time %": _share(res_met, res_decided),
            }
        )
    return pd.DataFrame(
        rows, columns=["service", "requests", "acknowledged in time %", "resolved in time %"]
    )


def _share(met: pd.Series, decided: pd.Series) -> float:
    total = int(decided.sum())
    return round(100.0 * int((met & decided).sum()) / total, 1) if total else np.nan


def volumes(frame: pd.DataFrame, names: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Return request counts by service, by week and service, and by channel (pure)."""
    named = frame.assign(service=frame["service_code"].map(names).fillna(frame["service_code"]))
    week = named["created_at"].dt.tz_convert(None).dt.to_period("W").dt.start_time
    return {
        "service": named.groupby("service").size().rename("requests").to_frame(),
        "week": named.assign(week=week).pivot_table(
            index="week", columns="service", values="tracking", aggfunc="count", fill_value=0
        ),
        "channel": named.groupby("channel").size().rename("requests").to_frame(),
    }


def export_csv(frame: pd.DataFrame) -> bytes:
    """Return the export as CSV: the export columns only, never contact details."""
    return frame[EXPORT_COLUMNS].to_csv(index=False).encode("utf-8")


def main() -> None:
    """Render the manager's page."""
    # session state first
    st.session_state.setdefault("manager_since", date.today() - timedelta(days=365))

    settings, store = open_store()
    st.title("Manager")
    require_staff(settings)
    services = get_services(str(settings.services_file))
    names = {c: s.name for c, s in services.items()}

    since_day = st.date_input("Since", key="manager_since")
    since = datetime.combine(since_day, time.min).astimezone()
    requests = store.list_requests(since=since, limit=None)
    frame = requests_frame(requests, store.first_acknowledged())
    open_count = int((~frame["status"].isin(sorted(CLOSED_STATUSES))).sum())
    feedback = store.feedback_summary()

    cols = st.columns(4)
    cols[0].metric("Requests", f"{len(frame):,}")
    cols[1].metric("Open", f"{open_count:,}")
    cols[2].metric("Ratings", f"{int(feedback['count']):,}")
    cols[3].metric("Mean rating", f"{feedback['mean']:.2f}" if feedback["count"] else "-")

    st.subheader("Where requests come from")
    located = frame.dropna(subset=["lat", "lon"])
    points = list(zip(located["lat"], located["lon"], strict=True))
    streets = load_layer(settings.database_url, "streets")
    area = settings.service_area
    fallback = (area.min_lon, area.min_lat, area.max_lon, area.max_lat)
    bounds = bounds_of([streets], [(lon, lat) for lat, lon in points], fallback=fallback)
    if register_vendor_assets():
        st_folium(
            heat_map(points, bounds, streets=streets),
            key="manager_heatmap",
            height=480,
            use_container_width=True,
            returned_objects=[],
        )

    if frame.empty:
        st.info("No requests in this period.")
        return
    st.subheader("Volumes")
    parts = volumes(frame, names)
    left, right = st.columns(2)
    left.bar_chart(parts["service"], horizontal=True)
    right.bar_chart(parts["channel"], horizontal=True)
    st.line_chart(parts["week"])

    st.subheader("Service standards")
    st.dataframe(compliance_table(frame, services, utc_now()), hide_index=True)

    st.download_button(
        "Download requests (CSV, no contact details)",
        export_csv(frame),
        file_name="waterdesk-requests.csv",
        mime="text/csv",
        key="manager_export",
    )


if __name__ == "__main__":
    main()
