"""Incidents: open requests of one fault grouped together, with what the fault affects.

Water outages group by isolation segment, sewer backups by a shared downstream main,
services that cluster by distance by DBSCAN in metres, all within the time window of
``WATERDESK_INCIDENT_WINDOW_HOURS``; a lone report is an incident of its own. Intake
puts each new report into the open incident it fits (:func:`assign_incident`);
:func:`rebuild_incidents` regroups every open request from scratch.

Requests whose incident a crew is already working (dispatched or in progress) are left
where they are by a rebuild: regrouping never pulls a job out from under a crew.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from crm.errors import ConflictError, TransitionError
from crm.lifecycle import OPEN_STATUSES, TRANSITIONS
from crm.services import Service, load_services
from crm.store import Incident, Request, Store, utc_now
from gis.affected import affected_areas
from gis.clustering import cluster_points_in_window, group_by_downstream, group_by_segment
from gis.projection import lonlat_to_metric, metric_to_lonlat

if TYPE_CHECKING:
    from crm.spatial import SpatialContext

LOGGER = logging.getLogger(__name__)

WORKED = ("dispatched", "in_progress")
# two backups draining to one shared main within a few mains lie well inside this
_SEWER_REACH_M = 1500.0
_HYDRANT_BUFFER_M = 25.0


@dataclass
class IncidentChanges:
    """What a rebuild changed."""

    opened: int = 0
    kept: int = 0
    emptied: int = 0
    moved: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Return one sentence per kind of change, for the command line."""
        return [
            f"opened {self.opened:,} incidents, kept {self.kept:,}, cancelled "
            f"{self.emptied:,} left empty, moved {self.moved:,} requests",
            *self.notes,
        ]


def _group_labels(
    service: Service, members: list[Request], spatial: SpatialContext, window: float
) -> np.ndarray:
    times = pd.to_datetime([r.created_at for r in members], utc=True)
    assets = [r.asset_id for r in members]
    if service.clusters == "segment" and spatial.water_network is not None:
        return group_by_segment(assets, times, spatial.water_network, window)
    if service.clusters == "downstream" and spatial.sewer_network is not None:
        return group_by_downstream(
            assets, times, spatial.sewer_network, service.downstream_mains, window
        )
    if service.clusters == "distance":
        labels = cluster_points_in_window(
            np.array([r.lon for r in members], dtype=float),
            np.array([r.lat for r in members], dtype=float),
            times,
            service.radius_m,
            window,
            service.min_reports,
            metric_crs=spatial.settings.metric_crs,
        )
        # noise is a lone report: an incident of its own
        noise = labels < 0
        labels[noise] = labels.max(initial=-1) + 1 + np.arange(noise.sum())
        return labels
    return np.arange(len(members))


def _group_key(service: Service, members: Sequence[Request], spatial: SpatialContext) -> str:
    assets = [r.asset_id for r in members if r.asset_id]
    if service.clusters == "segment" and assets and spatial.water_network is not None:
        network_mains = set(spatial.water_network.main_ids)
        known = [a for a in assets if a in network_mains]
        if known:
            # usually one segment; a merged incident may span several
            segments = sorted(set(np.atleast_1d(spatial.water_network.segment_of(known)).tolist()))
            return "segment:" + ",".join(map(str, segments))
    if service.clusters == "downstream" and assets and spatial.sewer_network is not None:
        shared = spatial.sewer_network.first_shared_downstream(assets)
        if shared is not None:
            return f"downstream:{shared.main_id}"
    return f"report:{members[0].tracking}"


def _segments(text: str) -> list[int]:
    return [int(s) for s in text.split(",")]


def _affected_mains(key: str, members: Sequence[Request], spatial: SpatialContext) -> list[str]:
    kind, _, value = key.partition(":")
    if kind == "segment" and spatial.water_network is not None:
        return list(spatial.water_network.segment_mains(_segments(value)))
    if kind == "downstream" and spatial.sewer_network is not None:
        # a blockage at the shared main backs up everything draining into it
        return list(spatial.sewer_network.upstream_mains(value))
    return []


def _describe(
    store: Store, spatial: SpatialContext, incidents: dict[int, tuple[Service, str, list[Request]]]
) -> None:
    """Work out and store each incident's affected area, customers and priority."""
    water = {
        i: _affected_mains(k, m, spatial)
        for i, (s, k, m) in incidents.items()
        if s.layer == "water_mains"
    }
    sewer = {
        i: _affected_mains(k, m, spatial)
        for i, (s, k, m) in incidents.items()
        if s.layer == "sewer_mains"
    }
    found: dict[int, dict[str, Any]] = {}
    connections = spatial.layers.get("service_connections")
    for layer, groups in (("water_mains", water), ("sewer_mains", sewer)):
        by_incident: dict[Hashable, Sequence[str]] = {i: m for i, m in groups.items() if m}
        mains = spatial.layers.get(layer)
        if not by_incident or mains is None or connections is None:
            continue
        areas = affected_areas(
            mains,
            by_incident,
            connections,
            hydrants=spatial.layers.get("hydrants"),
            critical_facilities=spatial.layers.get("critical_facilities"),
            metric_crs=spatial.settings.metric_crs,
        )
        for incident_id, row in areas.iterrows():
            found[int(incident_id)] = {
                "customers": int(row["customers"]),
                "hydrants": list(row["hydrants"]) if layer == "water_mains" else [],
                "critical_facilities": list(row["critical_facilities"]),
                "mains": list(by_incident[incident_id]),
                "polygon": row.geometry,
            }

    for incident_id, (service, key, members) in incidents.items():
        info = found.get(incident_id)
        if info is None:
            info = {
                "customers": 0,
                "hydrants": [],
                "critical_facilities": [],
                "mains": [],
                "polygon": _around(members, spatial),
            }
        valves: list[str] = []
        if key.startswith("segment:") and spatial.water_network is not None:
            valves = list(spatial.water_network.boundary_valves(_segments(key[8:])))
        polygon = info["polygon"]
        details = {
            "reports": len(members),
            "group": key,
            "mains": info["mains"][:500],
            "valves_to_close": valves,
            "hydrants_out": info["hydrants"],
            "critical_facilities": info["critical_facilities"],
        }
        store.update_incident(
            incident_id,
            customers_affected=info["customers"],
            priority=score_incident(
                service, info["customers"], len(members), len(info["critical_facilities"])
            ),
            details=details,
            group_key=key,
            area_geojson=None
            if polygon is None or polygon.is_empty
            else shapely.to_geojson(polygon),
        )


def _around(members: Sequence[Request], spatial: SpatialContext) -> Any:
    import geopandas as gpd

    points = gpd.GeoSeries.from_xy(
        [r.lon for r in members], [r.lat for r in members], crs="EPSG:4326"
    )
    metric = points.to_crs(spatial.settings.metric_crs)
    return (
        gpd.GeoSeries(
            [metric.buffer(_HYDRANT_BUFFER_M).union_all()], crs=spatial.settings.metric_crs
        )
        .to_crs("EPSG:4326")
        .iloc[0]
    )


def score_incident(service: Service, customers: int, reports: int, critical: int) -> float:
    """Return the stored priority: severity times the people affected, on a log scale.

    A main break cutting off 300 customers outranks a hydrant knocked over; a critical
    facility (a hospital, a care home) inside the area adds as much as a hundredfold
    increase in customers would.
    """
    people = max(customers, reports)
    return round(
        service.severity * (1 + math.log10(1 + people))
        + 2.0 * service.severity * min(critical, 3),
        3,
    )


def _located_open(store: Store, service: Service) -> list[Request]:
    requests = store.list_requests(
        status="open", service_codes=[service.code], limit=None, newest_first=False
    )
    return [r for r in requests if r.lon is not None]


def rebuild_incidents(store: Store, spatial: SpatialContext) -> IncidentChanges:
    """Regroup every open, located request into incidents and recompute their areas.

    Returns
    -------
    IncidentChanges
        Counts of incidents opened, kept and emptied, and requests moved.
    """
    changes = IncidentChanges()
    services = load_services(store.settings.services_file)
    window = store.settings.incident_window_hours
    open_incidents = {i.id: i for i in store.list_incidents(status="open")}
    described: dict[int, tuple[Service, str, list[Request]]] = {}
    still_used: set[int] = set()

    for service in services.values():
        members = [
            r
            for r in _located_open(store, service)
            if r.incident_id is None
            or r.incident_id not in open_incidents
            or open_incidents[r.incident_id].status not in WORKED
        ]
        if not members:
            continue
        labels = _group_labels(service, members, spatial, window)
        for label in np.unique(labels):
            group = [m for m, lab in zip(members, labels, strict=True) if lab == label]
            key = _group_key(service, group, spatial)
            # reuse the open incident most of the group already belongs to
            votes = Counter(
                r.incident_id
                for r in group
                if r.incident_id in open_incidents and r.incident_id not in still_used
            )
            if votes:
                incident_id = votes.most_common(1)[0][0]
                assert incident_id is not None
                changes.kept += 1
            else:
                first = min(r.created_at for r in group)
                incident_id = store.create_incident(
                    service.code, group_key=key, request_ids=[], at=first
                ).id
                changes.opened += 1
            still_used.add(incident_id)
            for request in group:
                if request.incident_id != incident_id:
                    store.set_request_incident(request.id, incident_id)
                    changes.moved += request.incident_id is not None
            described[incident_id] = (service, key, group)

    # incidents that lost every member are cancelled (their history stays)
    for incident in open_incidents.values():
        if incident.id in still_used or incident.status in WORKED:
            continue
        if not store.list_requests(incident_id=incident.id, status="open", limit=1):
            _retire(store, incident)
            changes.emptied += 1
    _describe(store, spatial, described)
    LOGGER.info("rebuilt incidents: %s", changes.lines()[0])
    return changes


def _retire(store: Store, incident: Incident) -> None:
    # a system change, outside the lifecycle: the incident no longer stands for anything
    with store.transaction() as tx:
        tx.execute(
            "UPDATE incidents SET status = 'cancelled', version = version + 1, "
            "updated_at = ? WHERE id = ?",
            (utc_now(), incident.id),
        )


def _candidates(
    store: Store, spatial: SpatialContext, service: Service, request: Request
) -> list[Incident]:
    """Return the open incidents a new request could join, without scanning them all.

    Water outages look only at incidents on the request's own segment; the others at the
    incidents of open requests of the same service within reach (the DBSCAN radius, or
    how far apart two backups sharing a downstream main can plausibly be).
    """
    if service.clusters == "none":
        return []
    if service.clusters == "segment":
        key = _group_key(service, [request], spatial)
        if not key.startswith("segment:"):
            return []
        mine = set(_segments(key[8:]))
        return [
            i
            for i in store.list_incidents(status="open")
            if i.service_code == service.code
            and i.group_key
            and i.group_key.startswith("segment:")
            and mine & set(_segments(i.group_key[8:]))
        ]
    reach = service.radius_m if service.clusters == "distance" else _SEWER_REACH_M
    x, y = lonlat_to_metric(
        np.array([request.lon], dtype=float),
        np.array([request.lat], dtype=float),
        spatial.settings.metric_crs,
    )
    lons, lats = metric_to_lonlat(
        [x[0] - reach, x[0] + reach], [y[0] - reach, y[0] + reach], spatial.settings.metric_crs
    )
    nearby = store.list_requests(
        status="open",
        service_codes=[service.code],
        limit=None,
        bbox=(lons.min(), lats.min(), lons.max(), lats.max()),
    )
    ids = {r.incident_id for r in nearby if r.incident_id is not None and r.id != request.id}
    found = [store.get_incident(i) for i in sorted(ids)]
    return [i for i in found if i.status in OPEN_STATUSES]


def assign_incident(store: Store, spatial: SpatialContext, request: Request) -> str | None:
    """Put a new request into the open incident it fits, or open one for it.

    Returns
    -------
    str or None
        The incident's code, or None for a request without a location.
    """
    if request.lon is None:
        return None
    service = load_services(store.settings.services_file)[request.service_code]
    window = timedelta(hours=store.settings.incident_window_hours)
    candidates = _candidates(store, spatial, service, request)
    chosen: Incident | None = None
    group: list[Request] = [request]
    for incident in candidates:
        members = store.list_requests(incident_id=incident.id, status="open", limit=None)
        recent = [m for m in members if request.created_at - m.created_at <= window]
        if not recent:
            continue
        labels = _group_labels(
            service, [*recent, request], spatial, store.settings.incident_window_hours
        )
        if labels[-1] in set(labels[:-1].tolist()):
            chosen, group = incident, [*members, request]
            break
    if chosen is None:
        key = _group_key(service, group, spatial)
        chosen = store.create_incident(
            service.code, group_key=key, request_ids=[request.id], at=request.created_at
        )
    else:
        store.set_request_incident(request.id, chosen.id)
        key = _group_key(service, group, spatial)
    _describe(store, spatial, {chosen.id: (service, key, group)})
    return chosen.code


# --- dispatcher's corrections -------------------------------------------------------------


def _check_version(incident: Incident, expected: int) -> None:
    if incident.version != expected:
        message = (
            f"incident {incident.code} changed after you read version {expected} (now "
            f"version {incident.version}, {incident.status}). Reload it and decide again."
        )
        raise ConflictError(message, incident.version, None, incident.updated_at)


def _check_open(incident: Incident) -> None:
    if incident.status not in OPEN_STATUSES:
        message = f"incident {incident.code} is {incident.status}; only open incidents change"
        raise TransitionError(message)


def _refresh(store: Store, spatial: SpatialContext | None, incident: Incident) -> None:
    """Recompute an incident's area after its members changed; cancel it when empty."""
    members = store.list_requests(incident_id=incident.id, status="open", limit=None)
    if not members:
        _retire(store, incident)
        return
    if spatial is None:
        store.update_incident(incident.id, details={**incident.details, "reports": len(members)})
        return
    service = load_services(store.settings.services_file)[incident.service_code]
    key = _group_key(service, members, spatial)
    _describe(store, spatial, {incident.id: (service, key, members)})


def _move(
    store: Store, request: Request, source: Incident | None, target: Incident, actor: str, why: str
) -> None:
    store.set_request_incident(request.id, target.id)
    origin = f"incident {source.code}" if source else "no incident"
    store.add_note(
        request.number,
        f"moved from {origin} to incident {target.code} ({why})",
        actor=actor,
        public=False,
    )


def merge_incidents(
    store: Store,
    spatial: SpatialContext | None,
    keep: str,
    absorb: str,
    *,
    actor: str,
    versions: tuple[int, int],
) -> Incident:
    """Fold one incident into another of the same service.

    Parameters
    ----------
    keep, absorb
        Codes of the incident that carries on and of the one folded into it.
    versions
        The versions of ``keep`` and ``absorb`` as the dispatcher read them.

    Raises
    ------
    ConflictError
        If either incident changed since it was read.
    ValueError
        If they are the same incident or of different services.
    """
    kept, absorbed = store.get_incident(keep), store.get_incident(absorb)
    if kept.id == absorbed.id:
        raise ValueError(f"cannot merge incident {kept.code} into itself")
    if kept.service_code != absorbed.service_code:
        message = (
            f"cannot merge a {absorbed.service_code} incident into a {kept.service_code} one; "
            "move single requests instead"
        )
        raise ValueError(message)
    _check_version(kept, versions[0])
    _check_version(absorbed, versions[1])
    _check_open(kept)
    _check_open(absorbed)
    for request in store.list_requests(incident_id=absorbed.id, limit=None):
        _move(store, request, absorbed, kept, actor, "merged")
    _refresh(store, spatial, absorbed)
    _refresh(store, spatial, kept)
    LOGGER.info("merged incident %s into %s", absorbed.code, kept.code)
    return store.get_incident(kept.id)


def split_incident(
    store: Store,
    spatial: SpatialContext | None,
    code: str,
    numbers: Sequence[str],
    *,
    actor: str,
    version: int,
) -> Incident:
    """Take some requests out of an incident into a new incident of their own.

    Raises
    ------
    ValueError
        If a number is not a member, or the split would leave the incident empty.
    """
    incident = store.get_incident(code)
    _check_version(incident, version)
    _check_open(incident)
    members = {r.tracking: r for r in store.list_requests(incident_id=incident.id, limit=None)}
    chosen = [store.get_request(n) for n in numbers]
    strangers = [r.number for r in chosen if r.tracking not in members]
    if not chosen or strangers:
        message = (
            f"split needs requests of incident {incident.code}; not members: "
            f"{', '.join(strangers) or 'none given'}"
        )
        raise ValueError(message)
    if len({r.tracking for r in chosen}) == len(members):
        raise ValueError(f"splitting every request off would leave {incident.code} empty")
    created = store.create_incident(
        incident.service_code, group_key=None, request_ids=[], at=min(r.created_at for r in chosen)
    )
    for request in chosen:
        _move(store, request, incident, created, actor, "split")
    _refresh(store, spatial, incident)
    _refresh(store, spatial, created)
    return store.get_incident(created.id)


def move_request(
    store: Store,
    spatial: SpatialContext | None,
    number: str,
    to_code: str,
    *,
    actor: str,
    expected_version: int,
) -> Incident:
    """Move one request into another open incident of its service.

    Parameters
    ----------
    expected_version
        The version of the request as the dispatcher read it.
    """
    request = store.get_request(number)
    if request.version != expected_version:
        message = (
            f"request {request.number} changed after you read version {expected_version} "
            f"(now version {request.version}). Reload it and decide again."
        )
        raise ConflictError(message, request.version, None, request.updated_at)
    target = store.get_incident(to_code)
    _check_open(target)
    if target.service_code != request.service_code:
        message = (
            f"request {request.number} is a {request.service_code} report; incident "
            f"{target.code} is {target.service_code}"
        )
        raise ValueError(message)
    source = store.get_incident(request.incident_id) if request.incident_id else None
    if source is not None and source.id == target.id:
        raise ValueError(f"request {request.number} is already in incident {target.code}")
    _move(store, request, source, target, actor, "moved by a dispatcher")
    if source is not None:
        _refresh(store, spatial, source)
    _refresh(store, spatial, target)
    return store.get_incident(target.id)


def assign_crew(
    store: Store,
    code: str,
    crew_name: str,
    *,
    eta_hours: float,
    actor: str,
    expected_version: int,
) -> Incident:
    """Give an incident to a crew with an expected arrival, and dispatch it.

    The members are moved to ``dispatched`` with a public note saying a crew is on the
    way and when it is expected (not which crew), if their status allows it.

    Raises
    ------
    ConflictError
        If the incident changed since it was read.
    ValueError
        If the crew is unknown, lacks the skill the service needs, or the ETA is not a
        positive number of hours (at most two weeks).
    """
    incident = store.get_incident(code)
    _check_version(incident, expected_version)
    _check_open(incident)
    if not (isinstance(eta_hours, int | float) and 0 < eta_hours <= 14 * 24):
        raise ValueError(f"the ETA is hours from now, above 0 and at most 336; got {eta_hours!r}")
    crews = {c.name.casefold(): c for c in store.list_crews()}
    crew = crews.get(str(crew_name).strip().casefold())
    if crew is None:
        known = ", ".join(c.name for c in crews.values()) or "none yet"
        raise ValueError(f"no crew is named {crew_name!r}; the crews are: {known}")
    service = load_services(store.settings.services_file)[incident.service_code]
    if service.skill not in crew.skills:
        message = (
            f"{crew.name} has the skills {', '.join(crew.skills)}; a {service.name.lower()} "
            f"job needs {service.skill}"
        )
        raise ValueError(message)

    eta = utc_now() + timedelta(hours=float(eta_hours))
    updated = store.update_incident(incident.id, crew_id=crew.id, eta_at=eta)
    note = f"A crew is assigned and expected by {eta:%Y-%m-%d %H:%M} UTC."
    if "dispatched" in TRANSITIONS[updated.status]:
        updated = store.change_incident_status(
            updated.id, "dispatched", actor=actor, expected_version=updated.version, note=note
        )
    LOGGER.info("assigned incident %s to %s", incident.code, crew.name)
    return updated
