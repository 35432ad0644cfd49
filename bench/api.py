"""API benchmark: Open311 look-ups and submissions against a bare FastAPI peer.

Both apps run in the same uvicorn, in a thread, on a free loopback port, over the same
SQLite store, and are driven by the same keep-alive ``httpx.Client``. The project path is
``GET /open311/v2/requests/{id}.json`` (typed-number parsing, public notes, rendering) and
``POST /open311/v2/requests.json`` (api_key check, rate limit, intake, idempotency). The
peer is a bare FastAPI app that does one select, or one insert, on the same tables and
returns the row as JSON. Figures are requests per second; above 1 the project was faster.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request

from api.app import create_app
from api.limits import Limits
from bench.report import BenchResult
from crm import access, tracking
from crm.store import Store, utc_now
from settings import load_settings

POINT = {"lat": "52.1280", "long": "-106.6650"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _served(app: FastAPI) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _peer_app(store: Store) -> FastAPI:
    """A bare app: one select by tracking number, or one insert of a form's fields."""
    app = FastAPI()

    @app.get("/requests/{number}")
    def get_one(number: str) -> dict[str, Any]:
        with store.transaction(write=False) as tx:
            row = tx.one(
                "SELECT tracking, service_code, status, description, lon, lat, "
                "created_at FROM requests WHERE tracking = ?",
                (number,),
            )
        return {k: str(v) for k, v in (row or {}).items()}

    @app.post("/requests")
    async def post_one(request: Request) -> dict[str, Any]:
        form = await request.form()
        now = utc_now()
        with store.transaction() as tx:
            row = tx.one(
                "INSERT INTO requests (tracking, service_code, channel, description, lon, "
                "lat, location_source, status, created_at, updated_at) VALUES "
                "(?, ?, 'api', ?, ?, ?, 'given', 'new', ?, ?) RETURNING tracking",
                (
                    tracking.new_number(),
                    form.get("service_code"),
                    form.get("description"),
                    float(str(form.get("long"))),
                    float(str(form.get("lat"))),
                    now,
                    now,
                ),
            )
        return {"service_request_id": row["tracking"] if row else None}

    return app


def _rate(count: int, call: Callable[[int], httpx.Response]) -> float:
    start = time.perf_counter()
    for i in range(count):
        response = call(i)
        if response.status_code != 200:
            raise AssertionError(
                f"benchmark call {i} answered {response.status_code}: {response.text[:200]}"
            )
    return count / (time.perf_counter() - start)


def run(scale: float = 1.0, url: str | None = None) -> list[BenchResult]:
    """Run the benchmark and return one result for GET and one for POST.

    Parameters
    ----------
    scale
        Multiplies the number of calls (1,000 GETs and 300 POSTs per app).
    url
        A database URL; a fresh SQLite file in a temporary folder when omitted.

    Returns
    -------
    list of BenchResult
        Requests per second for the project and the bare peer.
    """
    n_get, n_post = max(int(1000 * scale), 20), max(int(300 * scale), 10)
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings({"WATERDESK_DATA_DIR": folder})
        store = Store(url or f"sqlite:///{Path(folder) / 'bench.db'}", settings)
        _record, key = access.create_api_key(store, "bench")
        project = create_app(store, limits=Limits(posts_per_key=10**9, posts_per_address=10**9))
        peer = _peer_app(store)
        form = {"service_code": "hydrant_issue", "description": "bench", **POINT}
        results: dict[str, dict[str, float]] = {"get": {}, "post": {}}

        with _served(project) as base, httpx.Client(base_url=base) as client:
            # seed through the API, then time the submissions and the look-ups
            numbers = [
                client.post("/open311/v2/requests.json", data={**form, "api_key": key}).json()[0][
                    "service_request_id"
                ]
                for _ in range(20)
            ]
            results["post"]["project"] = _rate(
                n_post,
                lambda i: client.post("/open311/v2/requests.json", data={**form, "api_key": key}),
            )
            results["get"]["project"] = _rate(
                n_get,
                lambda i: client.get(f"/open311/v2/requests/{numbers[i % len(numbers)]}.json"),
            )

        canonical = [tracking.normalise(n) for n in numbers]
        with _served(peer) as base, httpx.Client(base_url=base) as client:
            results["post"]["peer"] = _rate(n_post, lambda i: client.post("/requests", data=form))
            results["get"]["peer"] = _rate(
                n_get, lambda i: client.get(f"/requests/{canonical[i % len(canonical)]}")
            )
        backend = store.backend
        store.close()

    out = [
        BenchResult(
            "api GET requests/{id}.json",
            results["get"]["project"],
            results["get"]["peer"],
            "req/s",
            note=f"{n_get:,} calls, {backend}",
        ),
        BenchResult(
            "api POST requests.json",
            results["post"]["project"],
            results["post"]["peer"],
            "req/s",
            note=f"{n_post:,} calls, {backend}",
        ),
    ]
    return out


if __name__ == "__main__":
    for line in run():
        print(line.line())
