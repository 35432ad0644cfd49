"""Pure folium map builders: base map, asset layers, requests, incident areas, heatmap.

Every builder returns a folium object and touches neither Streamlit nor the store, so
maps can be checked as HTML without a browser. No map has a tile layer: the street
centrelines (and, for staff, parcels) are drawn as vectors for context, and
:func:`finish_map` points Leaflet at the copies the app serves itself.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import folium
import folium.plugins
import geopandas as gpd

from crm.store import Incident, Request
from ui.assets import use_local_assets

BBoxTuple = tuple[float, float, float, float]

# how each asset layer is drawn, in the order of the layer control
ASSET_STYLES: dict[str, dict[str, Any]] = {
    "water_mains": {"label": "Water mains", "color": "#1f6fd1", "weight": 3},
    "sewer_mains": {"label": "Sewer mains", "color": "#8c564b", "weight": 3},
    "valves": {"label": "Valves", "color": "#17a2b8", "radius": 3},
    "hydrants": {"label": "Hydrants", "color": "#d62728", "radius": 4},
    "manholes": {"label": "Manholes", "color": "#6f42c1", "radius": 3},
}
ASSET_KINDS = tuple(ASSET_STYLES)
ASSET_FIELDS: dict[str, list[str]] = {
    "water_mains": ["asset_id", "diameter_mm", "material", "install_year"],
    "sewer_mains": ["asset_id", "diameter_mm", "material", "system"],
    "valves": ["asset_id", "valve_type", "operable"],
    "hydrants": ["asset_id", "status"],
    "manholes": ["asset_id", "system"],
}
SERVICE_COLORS = {
    "water_outage": "#0b5ed7",
    "hydrant_issue": "#dc3545",
    "water_connection": "#20c997",
    "sewer_locate": "#fd7e14",
    "sewer_backup": "#6f4e37",
}
DEFAULT_COLOR = "#6c757d"
STREET_STYLE = {"color": "#9aa0a6", "weight": 2, "opacity": 0.9}
PARCEL_STYLE = {"color": "#c8ccd0", "weight": 1, "fillColor": "#f1f3f5", "fillOpacity": 0.4}
AREA_STYLE = {"color": "#b02a37", "weight": 2, "fillColor": "#f5c2c7", "fillOpacity": 0.35}
# public maps show a request no closer than about 100 m (3 decimals of a degree)
PUBLIC_DECIMALS = 3


def _style(style: dict[str, Any]) -> Any:
    return lambda _feature: dict(style)


def _features(frame: gpd.GeoDataFrame, fields: Sequence[str]) -> dict[str, Any]:
    # keep only the named columns, so nothing else reaches the page
    kept = [c for c in fields if c in frame.columns]
    data: dict[str, Any] = json.loads(frame[[*kept, "geometry"]].to_json(na="null", drop_id=True))
    return data


def bounds_of(
    frames: Iterable[gpd.GeoDataFrame | None],
    points: Iterable[tuple[float, float]] = (),
    fallback: BBoxTuple | None = None,
) -> BBoxTuple:
    """Return the box around some layers and ``(lon, lat)`` points.

    Parameters
    ----------
    frames
        GeoDataFrames in EPSG:4326; None and empty ones are skipped.
    points
        Extra ``(lon, lat)`` pairs.
    fallback
        The box to return when there is nothing to bound.

    Returns
    -------
    tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)``.

    Raises
    ------
    ValueError
        If there is nothing to bound and no fallback.
    """
    boxes = [tuple(f.total_bounds) for f in frames if f is not None and not f.empty]
    boxes += [(lon, lat, lon, lat) for lon, lat in points]
    if not boxes:
        if fallback is None:
            raise ValueError("nothing to bound: no features, no points and no fallback box")
        return fallback
    return (
        float(min(b[0] for b in boxes)),
        float(min(b[1] for b in boxes)),
        float(max(b[2] for b in boxes)),
        float(max(b[3] for b in boxes)),
    )


def base_map(
    bounds: BBoxTuple,
    *,
    streets: gpd.GeoDataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Return a tile-less map fitted to a box, with streets and parcels as context.

    Parameters
    ----------
    bounds
        ``(min_lon, min_lat, max_lon, max_lat)`` to fit.
    streets
        Street centrelines, drawn grey with their names as tooltips.
    parcels
        Parcel polygons (service connections), drawn faintly and hidden at first.

    Returns
    -------
    folium.Map
        A map with no tile layer: nothing is fetched from a tile server.
    """
    min_lon, min_lat, max_lon, max_lat = bounds
    fmap = folium.Map(
        location=[(min_lat + max_lat) / 2, (min_lon + max_lon) / 2],
        zoom_start=14,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
    )
    fmap.fit_bounds([[min_lat, min_lon], [max_lat, max_lon]])

    # parcels under the streets, off until asked for
    if parcels is not None and not parcels.empty:
        polygons = parcels[parcels.geom_type.isin(["Polygon", "MultiPolygon"])]
        if not polygons.empty:
            group = folium.FeatureGroup(name="Parcels", show=False)
            folium.GeoJson(
                _features(polygons, ["address"]),
                style_function=_style(PARCEL_STYLE),
            ).add_to(group)
            group.add_to(fmap)

    if streets is not None and not streets.empty:
        group = folium.FeatureGroup(name="Streets")
        folium.GeoJson(
            _features(streets, ["name"]),
            style_function=_style(STREET_STYLE),
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        ).add_to(group)
        group.add_to(fmap)
    return fmap


def add_asset_layers(
    fmap: folium.Map,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    shown: Sequence[str] = ("water_mains", "sewer_mains", "hydrants"),
) -> folium.Map:
    """Add one FeatureGroup per asset layer (hydrants, mains, valves, manholes).

    Parameters
    ----------
    fmap
        The map to draw on.
    layers
        GeoDataFrames by kind; kinds not in :data:`ASSET_STYLES` are ignored.
    shown
        Kinds visible at first; the others can be switched on in the layer control.

    Returns
    -------
    folium.Map
        The same map.
    """
    for kind, style in ASSET_STYLES.items():
        frame = layers.get(kind)
        if frame is None or frame.empty:
            continue
        group = folium.FeatureGroup(name=style["label"], show=kind in shown)
        fields = [c for c in ASSET_FIELDS[kind] if c in frame.columns]
        tooltip = folium.GeoJsonTooltip(fields=fields)
        if "radius" in style:
            marker = folium.CircleMarker(
                radius=style["radius"],
                color=style["color"],
                fill=True,
                fill_color=style["color"],
                fill_opacity=0.9,
                weight=1,
            )
            folium.GeoJson(
                _features(frame, fields), marker=marker, tooltip=tooltip, name=style["label"]
            ).add_to(group)
        else:
            line = {"color": style["color"], "weight": style["weight"], "opacity": 0.85}
            folium.GeoJson(
                _features(frame, fields),
                style_function=_style(line),
                tooltip=tooltip,
                name=style["label"],
            ).add_to(group)
        group.add_to(fmap)
    return fmap


def request_label(request: Request, service_names: Mapping[str, str], *, public: bool) -> str:
    """Return the escaped tooltip text of a request on a map.

    Public labels carry the service, status and day only; staff labels add the tracking
    number. Neither ever carries the description or anything about the reporter.
    """
    service = service_names.get(request.service_code, request.service_code)
    status = request.status.replace("_", " ")
    day = request.created_at.strftime("%Y-%m-%d")
    text = f"{service}: {status}, reported {day}"
    if not public:
        text = f"{request.number} | {text}"
    return html.escape(text)


def add_requests(
    fmap: folium.Map,
    requests: Iterable[Request],
    service_names: Mapping[str, str],
    *,
    public: bool,
    name: str = "Open requests",
) -> folium.Map:
    """Add requests as CircleMarkers coloured by service, in one FeatureGroup.

    Parameters
    ----------
    fmap
        The map to draw on.
    requests
        Requests; those without a location are skipped.
    service_names
        Display names by service code.
    public
        True on public pages: positions are rounded to about 100 m and the tooltip leaves
        out the tracking number.
    name
        The group's name in the layer control.

    Returns
    -------
    folium.Map
        The same map.
    """
    group = folium.FeatureGroup(name=name)
    for request in requests:
        if request.lat is None or request.lon is None:
            continue
        lat, lon = request.lat, request.lon
        if public:
            lat, lon = round(lat, PUBLIC_DECIMALS), round(lon, PUBLIC_DECIMALS)
        color = SERVICE_COLORS.get(request.service_code, DEFAULT_COLOR)
        folium.CircleMarker(
            location=[lat, lon],
            radius=6,
            color=color,
            weight=1,
            fill=True,
            fill_color=color,
            fill_opacity=0.8,
            tooltip=request_label(request, service_names, public=public),
        ).add_to(group)
    group.add_to(fmap)
    return fmap


def add_incident_areas(
    fmap: folium.Map,
    incidents: Iterable[Incident],
    service_names: Mapping[str, str],
    *,
    name: str = "Affected areas",
) -> folium.Map:
    """Add the affected area of each incident that has one, as GeoJson polygons.

    Parameters
    ----------
    fmap
        The map to draw on.
    incidents
        Incidents; those without an area are skipped.
    service_names
        Display names by service code.
    name
        The group's name in the layer control.

    Returns
    -------
    folium.Map
        The same map.
    """
    group = folium.FeatureGroup(name=name)
    for incident in incidents:
        if not incident.area_geojson:
            continue
        service = service_names.get(incident.service_code, incident.service_code)
        label = (
            f"{incident.code}: {service}, {incident.status.replace('_', ' ')}, "
            f"{incident.customers_affected:,} customers affected"
        )
        folium.GeoJson(
            json.loads(incident.area_geojson),
            style_function=_style(AREA_STYLE),
            tooltip=html.escape(label),
        ).add_to(group)
    group.add_to(fmap)
    return fmap


def finish_map(fmap: folium.Map) -> folium.Map:
    """Add the layer control and point Leaflet at the vendored assets.

    Call it last, after every layer has been added.
    """
    folium.LayerControl(collapsed=False).add_to(fmap)
    return use_local_assets(fmap)


def heat_map(
    points: Sequence[tuple[float, float]],
    bounds: BBoxTuple,
    *,
    streets: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Return a heatmap of request locations over the street context.

    Parameters
    ----------
    points
        ``(lat, lon)`` pairs, one per request.
    bounds
        ``(min_lon, min_lat, max_lon, max_lat)`` to fit.
    streets
        Street centrelines for context.

    Returns
    -------
    folium.Map
        A finished map (layer control added, assets local).
    """
    fmap = base_map(bounds, streets=streets)
    folium.plugins.HeatMap(
        [[lat, lon] for lat, lon in points],
        name="Requests heatmap",
        radius=18,
        blur=22,
        min_opacity=0.3,
    ).add_to(fmap)
    return finish_map(fmap)
