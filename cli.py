"""The ``waterdesk`` command: demo data, layers, imports, incidents, the API and benchmarks.

Every sub-command has ``--help``. Errors a user can fix are printed as one sentence on
standard error with exit status 2; nothing is half-written.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from settings import SettingsError, load_settings

LOGGER = logging.getLogger("waterdesk")

# the path a demo request takes through the lifecycle to reach its recorded status
_PATHS = {
    "new": [],
    "acknowledged": ["acknowledged"],
    "dispatched": ["acknowledged", "dispatched"],
    "in_progress": ["acknowledged", "dispatched", "in_progress"],
    "resolved": ["acknowledged", "dispatched", "in_progress", "resolved"],
    "closed": ["acknowledged", "dispatched", "in_progress", "resolved", "closed"],
    "cancelled": ["cancelled"],
    "duplicate": ["duplicate"],
}


def _store() -> Any:
    from crm.store import Store

    return Store()


# --- requests ---------------------------------------------------------------------------


def _cmd_requests_show(args: argparse.Namespace) -> int:
    store = _store()
    request = store.get_request(args.number)
    print(
        f"{request.number}  {request.service_code}  {request.status}  (version {request.version})"
    )
    print(
        f"  received {request.created_at:%Y-%m-%d %H:%M} UTC by {request.channel}; "
        f"expected by {request.expected_at:%Y-%m-%d %H:%M} UTC"
    )
    where = request.address or ""
    if request.lat is not None:
        where += f" ({request.lat:.6f}, {request.lon:.6f})"
    print(f"  where: {where.strip() or 'pending'}")
    if request.asset_id:
        print(
            f"  asset: {request.asset_layer} {request.asset_id} at {request.snap_distance_m:.1f} m"
        )
    if request.is_flagged:
        print(f"  flagged: {request.flag_reason}")
    print(f"  description: {request.description}")
    for event in store.events_for(request.number):
        shown = "public" if event.is_public else "internal"
        print(
            f"  {event.at:%Y-%m-%d %H:%M} {event.actor}: {event.from_status or '-'} -> "
            f"{event.to_status} [{shown}] {event.note}"
        )
    return 0


def _cmd_requests_list(args: argparse.Namespace) -> int:
    store = _store()
    requests = store.list_requests(status=args.status, limit=args.limit)
    for r in requests:
        print(
            f"{r.number}  {r.created_at:%Y-%m-%d %H:%M}  {r.status:<12} {r.service_code:<16} "
            f"{(r.address or '')[:40]}"
        )
    print(f"{len(requests):,} requests", file=sys.stderr)
    return 0


# --- layers -----------------------------------------------------------------------------


def _cmd_layers_load(args: argparse.Namespace) -> int:
    from crm.assets import read_layer, save_layer
    from gis.layers.loading import load_layer

    store = _store()
    nodes = None
    if args.nodes:
        nodes = read_layer(store, args.nodes)
    frame, report = load_layer(
        args.name, args.path, mapping=args.mapping, crs=args.crs, nodes=nodes
    )
    with _progress(len(frame), f"storing {report.kind}") as bar:
        save_layer(
            store,
            report.kind,
            frame,
            source=str(args.path),
            report=report.summary(),
            progress=bar.update,
        )
    kind = report.kind
    print(report.summary())
    print(f"stored {len(frame):,} {kind} from {args.path}")
    return 0


def _cmd_layers_list(args: argparse.Namespace) -> int:
    from crm.assets import list_layers

    infos = list_layers(_store())
    if not infos:
        print(
            "no layers loaded; load one with `waterdesk layers load KIND PATH` or run "
            "`waterdesk demo`"
        )
    for info in infos:
        print(
            f"{info.kind:<20} {info.feature_count:>9,}  {info.loaded_at:%Y-%m-%d %H:%M}  "
            f"{info.source}"
        )
    return 0


def _cmd_layers_check(args: argparse.Namespace) -> int:
    from gis.layers.loading import load_layer
    from gis.layers.validation import InvalidLayerError

    try:
        _frame, report = load_layer(args.name, args.path, mapping=args.mapping, crs=args.crs)
    except InvalidLayerError as exc:
        print(exc.report.summary())
        return 1
    print(report.summary())
    return 0


# --- demo -------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    import pandas as pd

    from crm.assets import list_layers, save_layer
    from crm.intake import Report, submit_reports
    from crm.spatial import get_spatial_context
    from crm.store import Contact
    from data.democity import generate_city
    from gis.layers.loading import load_layer

    settings = load_settings()
    store = _store()
    if args.if_missing and list_layers(store):
        print(f"the demo city is already in {store.url.split('@')[-1]}; nothing to do")
        return 0

    # generate the city and write it out as a GeoPackage, as a utility's GIS would
    now = pd.Timestamp.now(tz="UTC").floor("min")
    city = generate_city(
        seed=args.seed, scale=args.scale, request_scale=args.request_scale, end=now
    )
    out = Path(args.out or settings.data_dir / "generated" / "democity.gpkg")
    out.parent.mkdir(parents=True, exist_ok=True)
    city.write(out)
    print(
        f"wrote the demo city to {out} ({city.asset_count():,} assets, "
        f"{len(city.requests):,} requests)"
    )
    if args.files_only:
        return 0

    # load every layer back through the demo mapping and its validation
    for kind in city.layers:
        frame, report = load_layer(kind, out, mapping="demo", layer=kind)
        save_layer(store, kind, frame, source=str(out), report=report.summary())
        print(f"  {kind:<20} {len(frame):>8,}  {len(report.warnings)} warnings")
    existing = {c.name for c in store.list_crews()}
    for crew in city.crews:
        if crew["name"] not in existing:
            store.add_crew(
                crew["name"],
                crew["skills"],
                depot_lon=crew["depot_lon"],
                depot_lat=crew["depot_lat"],
                shift_start=crew["shift_start"],
                shift_end=crew["shift_end"],
            )

    # the request history goes through intake, then through the lifecycle
    spatial = get_spatial_context(store)
    frame = city.requests
    reports = [
        Report(
            service_code=str(row.service_code),
            channel=str(row.channel),
            description=str(row.description),
            lat=float(row.lat),
            lon=float(row.lon),
            address=None if pd.isna(row.address) else str(row.address),
            contact=Contact(str(row.reporter_name), str(row.reporter_phone), None),
            idempotency_key=f"demo-{args.seed}-{row.request_id}",
            actor="demo",
            received_at=row.created_at.to_pydatetime(),
        )
        for row in frame.itertuples(index=False)
    ]
    receipts = []
    with _progress(len(reports), "requests") as bar:
        for start in range(0, len(reports), 500):
            chunk = reports[start : start + 500]
            receipts.extend(submit_reports(store, chunk, spatial=spatial, relate=False))
            bar.update(len(chunk))
    steps = _history_steps(receipts, frame["status"].astype(str).tolist(), now, store)
    store.replay_history(steps, actor="demo")
    rated = _rate_some(store, [s for s in steps if s[1] == "closed"], seed=args.seed)
    print(
        f"imported {len(receipts):,} requests with {len(steps):,} status changes and "
        f"{rated:,} ratings"
    )

    # group the open ones into incidents
    if spatial is not None:
        from crm.incidents import rebuild_incidents

        changes = rebuild_incidents(store, spatial)
        print(f"grouped open requests into {changes.opened:,} incidents")
    return 0


def _history_steps(
    receipts: Sequence[Any], statuses: Sequence[str], now: datetime, store: Any
) -> list[tuple[int, str, datetime]]:
    import numpy as np

    from crm.services import load_services

    services = load_services(store.settings.services_file)
    rng = np.random.default_rng(11)
    steps = []
    for receipt, status in zip(receipts, statuses, strict=True):
        request = receipt.request
        if receipt.replayed or request.status != "new":
            continue
        service = services[request.service_code]
        at = request.created_at
        for step in _PATHS.get(status, []):
            hours = {
                "acknowledged": service.acknowledge_hours * rng.uniform(0.2, 1.3),
                "dispatched": rng.uniform(0.5, 4),
                "in_progress": rng.uniform(0.5, 3),
                "resolved": service.resolve_hours * rng.uniform(0.1, 0.8),
                "closed": rng.uniform(24, 72),
                "cancelled": rng.uniform(0.5, 24),
                "duplicate": rng.uniform(0.5, 24),
            }[step]
            at = min(at + timedelta(hours=float(hours)), now - timedelta(minutes=1))
            steps.append((request.id, step, at))
    return steps


def _rate_some(store: Any, closed: Sequence[tuple[int, str, datetime]], seed: int) -> int:
    """Give about two in five closed demo requests a resident's rating, mostly good."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chosen = [request_id for request_id, _, _ in closed if rng.random() < 0.4]
    ratings = rng.choice([1, 2, 3, 4, 5], size=len(chosen), p=[0.05, 0.07, 0.13, 0.35, 0.40])
    for request_id, rating in zip(chosen, ratings.tolist(), strict=True):
        number = store.get_request_by_id(request_id).number
        store.add_feedback(number, int(rating), "")
    return len(chosen)


# --- import -----------------------------------------------------------------------------

_IMPORT_COLUMNS = {
    "service_code",
    "description",
    "lat",
    "long",
    "address",
    "name",
    "phone",
    "email",
    "requested_datetime",
    "client_id",
    "channel",
}


def _cmd_import(args: argparse.Namespace) -> int:
    from crm.errors import IntakeError
    from crm.intake import Report, submit_reports
    from crm.spatial import get_spatial_context
    from crm.store import Contact

    path = Path(args.path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"cannot read {path}: {exc}") from None
    if not rows:
        raise SystemExit(f"{path} holds no rows; the first line must name the columns")
    unknown = sorted(set(rows[0]) - _IMPORT_COLUMNS)
    if unknown or "service_code" not in rows[0]:
        raise SystemExit(
            f"{path}: unknown columns {unknown}; the columns are service_code (required), "
            f"{', '.join(sorted(_IMPORT_COLUMNS - {'service_code'}))}"
        )

    reports = []
    for number, row in enumerate(rows, start=2):
        try:
            when = row.get("requested_datetime") or None
            received = datetime.fromisoformat(when) if when else None
            if received is not None and received.tzinfo is None:
                raise ValueError("requested_datetime needs a time zone, e.g. +00:00")
            reports.append(
                Report(
                    service_code=row["service_code"],
                    channel=row.get("channel") or "import",
                    description=row.get("description") or "",
                    lat=float(row["lat"]) if row.get("lat") else None,
                    lon=float(row["long"]) if row.get("long") else None,
                    address=row.get("address") or None,
                    contact=Contact(
                        row.get("name") or None, row.get("phone") or None, row.get("email") or None
                    ),
                    idempotency_key=f"import:{row['client_id']}" if row.get("client_id") else None,
                    actor=f"import:{path.name}",
                    received_at=received,
                )
            )
        except ValueError as exc:
            raise SystemExit(f"{path} line {number}: {exc}") from None
    store = _store()
    try:
        receipts = submit_reports(store, reports, spatial=get_spatial_context(store))
    except IntakeError as exc:
        raise SystemExit(
            f"{path}: nothing imported; {exc} (line numbers count the header "
            "as line 1: report N is line N+1)"
        ) from None
    fresh = sum(not r.replayed for r in receipts)
    print(f"imported {fresh:,} requests from {path} ({len(receipts) - fresh:,} already there)")
    for receipt in receipts:
        print(receipt.number)
    return 0


# --- incidents and dispatch -------------------------------------------------------------


def _cmd_incidents(args: argparse.Namespace) -> int:
    from crm.incidents import rebuild_incidents
    from crm.spatial import get_spatial_context

    store = _store()
    if args.rebuild:
        spatial = get_spatial_context(store)
        if spatial is None:
            raise SystemExit("no layers are loaded; run `waterdesk demo` or load layers first")
        changes = rebuild_incidents(store, spatial)
        for line in changes.lines():
            print(line)
    for incident in store.list_incidents(status="open"):
        members = store.list_requests(incident_id=incident.id, limit=None)
        print(
            f"{incident.code}  {incident.service_code:<14} {incident.status:<12} "
            f"{len(members):>3} reports  {incident.customers_affected:>5,} customers  "
            f"priority {incident.priority:.1f}"
        )
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from crm.store import utc_now
    from dispatch.priority import people_affected, rank_incidents

    store = _store()
    incidents = rank_incidents(store.list_incidents(status="open"), utc_now())
    crews = store.list_crews()
    print(f"{len(incidents):,} open incidents, {len(crews):,} crews")
    for rank, incident in enumerate(incidents, start=1):
        print(
            f"{rank:>3}. {incident.code} {incident.service_code:<14} "
            f"{people_affected(incident):,} people affected, priority {incident.priority:.1f}"
        )
    print(
        "Crew routes are not planned yet: this lists the dispatch queue in its order.",
        file=sys.stderr,
    )
    return 0


# --- API --------------------------------------------------------------------------------


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port or settings.api_port,
        log_level="info",
    )
    return 0


def _cmd_api_keys(args: argparse.Namespace) -> int:
    from crm import access

    store = _store()
    if args.action == "create":
        if not args.name:
            raise SystemExit("give the key a name: waterdesk api-keys create NAME")
        key, secret = access.create_api_key(store, args.name)
        print(f"api key {key.id} for {key.name}: {secret}")
        print("Store it now: only a hash of it is kept.", file=sys.stderr)
    elif args.action == "list":
        for key in access.list_api_keys(store):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            print(f"{key.id:>4}  {key.name:<30} {key.prefix}...  {state}")
    else:
        if not args.name or not args.name.isdigit():
            raise SystemExit("say which key by its id: waterdesk api-keys revoke ID")
        access.revoke_api_key(store, int(args.name))
        print(f"revoked api key {args.name}")
    return 0


def _cmd_staff_tokens(args: argparse.Namespace) -> int:
    from crm import access

    store = _store()
    if args.action == "create":
        if not args.name:
            raise SystemExit("give the token a name: waterdesk staff-tokens create NAME")
        token, secret = access.create_staff_token(store, args.name, crew=args.crew)
        print(f"staff token {token.id} for {token.name}: {secret}")
        print("Store it now: only a hash of it is kept.", file=sys.stderr)
    elif args.action == "list":
        for token in access.list_staff_tokens(store):
            print(token)
    else:
        if not args.name or not args.name.isdigit():
            raise SystemExit("say which token by its id: waterdesk staff-tokens revoke ID")
        access.revoke_staff_token(store, int(args.name))
        print(f"revoked staff token {args.name}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import importlib

    names = args.only or [
        "intake",
        "snapping",
        "geocoding",
        "network",
        "clustering",
        "api",
        "democity",
    ]
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError:
            print(f"{name}: no such benchmark", file=sys.stderr)
            continue
        for result in module.run(scale=args.scale):
            print(result.line(), flush=True)
    return 0


# --- plumbing ---------------------------------------------------------------------------


def _progress(total: int, label: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="", disable=total < 2 or not sys.stderr.isatty())


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``waterdesk`` command and its sub-commands."""
    parser = argparse.ArgumentParser(prog="waterdesk", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="build the demo city into the store")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument("--scale", type=float, default=1.0, help="size factor (default 1)")
    demo.add_argument(
        "--request-scale",
        type=float,
        default=None,
        help="request volume factor (default: --scale); 830 makes about 1M",
    )
    demo.add_argument(
        "--files-only",
        action="store_true",
        help="write the GeoPackage and request file, load nothing into the store",
    )
    demo.add_argument("--out", help="GeoPackage to write (default data/generated/democity.gpkg)")
    demo.add_argument(
        "--if-missing", action="store_true", help="do nothing when layers are already loaded"
    )
    demo.set_defaults(func=_cmd_demo)

    layers = sub.add_parser("layers", help="load, list and check asset layers")
    lsub = layers.add_subparsers(dest="action", required=True)
    load = lsub.add_parser("load", help="load a layer into the store, replacing it")
    load.add_argument("name", help="layer kind or mapping entry, e.g. sewer_mains")
    load.add_argument("path", help="GeoPackage, GeoJSON, Shapefile, FileGDB, CSV or folder")
    load.add_argument("--mapping", help="column mapping name or TOML path (default: setting)")
    load.add_argument("--crs", help="CRS of a source that states none, e.g. EPSG:26913")
    load.add_argument("--nodes", help="stored node layer to check references against")
    load.set_defaults(func=_cmd_layers_load)
    lsub.add_parser("list", help="list the stored layers").set_defaults(func=_cmd_layers_list)
    check = lsub.add_parser("check", help="validate a layer file without storing it")
    check.add_argument("name")
    check.add_argument("path")
    check.add_argument("--mapping")
    check.add_argument("--crs")
    check.set_defaults(func=_cmd_layers_check)

    imp = sub.add_parser("import", help="import requests from a CSV file, all or none")
    imp.add_argument("path", help="CSV with service_code, lat, long or address, ...")
    imp.set_defaults(func=_cmd_import)

    inc = sub.add_parser("incidents", help="list open incidents; --rebuild regroups them")
    inc.add_argument("--rebuild", action="store_true", help="recompute every open incident")
    inc.set_defaults(func=_cmd_incidents)

    sub.add_parser("plan", help="print the dispatch queue").set_defaults(func=_cmd_plan)

    api = sub.add_parser("api", help="serve Open311 GeoReport v2 at /open311/v2")
    api.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (default WATERDESK_API_PORT or 8000)")
    api.set_defaults(func=_cmd_api)

    keys = sub.add_parser("api-keys", help="create, list or revoke Open311 API keys")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("name", nargs="?", help="key name (create) or id (revoke)")
    keys.set_defaults(func=_cmd_api_keys)

    tokens = sub.add_parser("staff-tokens", help="bearer tokens for staff and crew devices")
    tokens.add_argument("action", choices=["create", "list", "revoke"])
    tokens.add_argument("name", nargs="?", help="token name (create) or id (revoke)")
    tokens.add_argument("--crew", help="the crew this token acts for")
    tokens.set_defaults(func=_cmd_staff_tokens)

    bench = sub.add_parser("bench", help="run the benchmarks and print ratios to peers")
    bench.add_argument("--scale", type=float, default=1.0, help="data size factor")
    bench.add_argument("--only", nargs="*", help="benchmark names, e.g. intake snapping")
    bench.set_defaults(func=_cmd_bench)

    req = sub.add_parser("requests", help="show or list service requests")
    rsub = req.add_subparsers(dest="action", required=True)
    show = rsub.add_parser("show", help="show one request and its history")
    show.add_argument("number", help="tracking number, e.g. 7K3MQ-9XH2B")
    show.set_defaults(func=_cmd_requests_show)
    lst = rsub.add_parser("list", help="list requests, newest first")
    lst.add_argument(
        "--status", default=None, help="open, closed, or one status such as dispatched"
    )
    lst.add_argument("--limit", type=int, default=50)
    lst.set_defaults(func=_cmd_requests_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``waterdesk`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from crm.errors import (
        ConflictError,
        FeedbackError,
        IntakeError,
        NotFoundError,
        StoreError,
        TrackingNumberError,
        TransitionError,
    )
    from gis.errors import LayerError

    try:
        return int(args.func(args))
    except BrokenPipeError:
        # the reader went away (| head); say nothing more and leave quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (
        SettingsError,
        StoreError,
        NotFoundError,
        TrackingNumberError,
        TransitionError,
        ConflictError,
        FeedbackError,
        IntakeError,
        LayerError,
        LookupError,
    ) as exc:
        print(f"waterdesk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
