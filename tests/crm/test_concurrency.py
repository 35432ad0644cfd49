"""Many writers at once lose nothing; a killed writer leaves a sound store."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crm.errors import ConflictError
from crm.intake import Report, submit_report
from crm.store import Store
from tests.conftest import make_settings, open_test_store

PROCESSES = 8
EACH = 500


def _intake_worker(url: str, data_dir: str, worker: int, queue: mp.Queue) -> None:
    settings = make_settings(Path(data_dir))
    store = Store(url, settings)
    numbers = []
    for i in range(EACH):
        report = Report(
            "water_outage",
            "api",
            f"worker {worker} report {i}",
            lat=52.13,
            lon=-106.66,
            idempotency_key=f"w{worker}-{i}",
        )
        numbers.append(submit_report(store, report).request.tracking)
    store.close()
    queue.put(numbers)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_eight_processes_make_4000_distinct_requests(backend: str, tmp_path: Path) -> None:
    store = open_test_store(backend, tmp_path)
    url = store.url
    store.close()

    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    workers = [
        ctx.Process(target=_intake_worker, args=(url, str(tmp_path), w, queue))
        for w in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    results = [queue.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0

    numbers = [n for batch in results for n in batch]
    assert len(numbers) == PROCESSES * EACH
    assert len(set(numbers)) == PROCESSES * EACH
    reopened = Store(url, make_settings(tmp_path))
    assert reopened.count_requests() == PROCESSES * EACH
    assert reopened.integrity_check() == "ok"
    reopened.close()


def test_two_dispatchers_exactly_one_wins(store: Store) -> None:
    receipt = submit_report(store, Report("water_outage", "phone", "x", lat=52.13, lon=-106.66))
    read = store.get_request(receipt.number)
    outcomes = []
    for actor, status in [("alice", "acknowledged"), ("bob", "cancelled")]:
        try:
            store.change_status(read.number, status, actor=actor, expected_version=read.version)
            outcomes.append(actor)
        except ConflictError as exc:
            outcomes.append(f"conflict: {exc}")
    assert outcomes[0] == "alice"
    assert outcomes[1].startswith("conflict: ")
    assert "alice" in outcomes[1]
    assert store.get_request(read.number).status == "acknowledged"


def _racing_dispatcher(
    url: str, data_dir: str, number: str, actor: str, go: mp.Event, queue: mp.Queue
) -> None:
    store = Store(url, make_settings(Path(data_dir)))
    go.wait()
    try:
        store.change_status(number, "acknowledged", actor=actor, expected_version=1)
        queue.put("won")
    except ConflictError:
        queue.put("conflict")
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_two_processes_racing_on_one_request(backend: str, tmp_path: Path) -> None:
    store = open_test_store(backend, tmp_path)
    receipt = submit_report(store, Report("water_outage", "phone", "x", lat=52.13, lon=-106.66))
    ctx = mp.get_context("spawn")
    go, queue = ctx.Event(), ctx.Queue()
    racers = [
        ctx.Process(
            target=_racing_dispatcher,
            args=(store.url, str(tmp_path), receipt.number, name, go, queue),
        )
        for name in ("alice", "bob")
    ]
    for r in racers:
        r.start()
    time.sleep(2.0)
    go.set()
    outcomes = sorted(queue.get(timeout=60) for _ in racers)
    for r in racers:
        r.join(timeout=30)
    assert outcomes == ["conflict", "won"]
    assert [e.to_status for e in store.events_for(receipt.number)] == ["new", "acknowledged"]
    store.close()


_STREAM = """
import sys
from pathlib import Path
from crm.intake import Report, submit_report
from crm.store import Store
from tests.conftest import make_settings

store = Store(sys.argv[1], make_settings(Path(sys.argv[2])))
i = 0
while True:
    receipt = submit_report(store, Report("sewer_backup", "online", f"stream {i}",
                                          lat=52.13, lon=-106.66))
    print(receipt.request.tracking, flush=True)
    i += 1
"""


@pytest.mark.slow
def test_sigkill_mid_stream_keeps_every_returned_number(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _STREAM, url, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    returned = []
    while len(returned) < 300:
        line = proc.stdout.readline()
        assert line, "the intake stream ended before it was killed"
        returned.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    returned.extend(line.strip() for line in proc.stdout if line.strip())
    proc.stdout.close()

    store = Store(url, make_settings(tmp_path))
    assert store.integrity_check() == "ok"
    stored = {r.tracking for r in store.list_requests(limit=None)}
    missing = [n for n in returned if n not in stored]
    assert missing == []
    store.close()
