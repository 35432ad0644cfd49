"""The app in headless Chromium: the outage map renders from local assets only, and a
report made through the form can be tracked."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import PROJECT_ROOT
from tests.ui.test_pages import UiStore, build_ui_store

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
START_TIMEOUT_S = 40
WAIT_MS = 20_000
FOLIUM_FRAME = 'iframe[title="streamlit_folium.st_folium"]'


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    """Wait until Streamlit answers its health check, or fail with its output."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not answer at {url} within {timeout_s} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, UiStore]]:
    """Run `streamlit run app.py` on a free local port against a store built for the test."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}; install Debian's chromium package")
    store = build_ui_store(tmp_path_factory.mktemp("browser"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATERDESK_")}
    env.update(WATERDESK_DATABASE_URL=store.url, WATERDESK_DATA_DIR=str(store.data_dir))
    log = (store.data_dir / "streamlit.log").open("w")
    streamlit = shutil.which("streamlit", path=str(Path(sys.executable).parent)) or "streamlit"
    process = subprocess.Popen(
        [
            streamlit, "run", str(PROJECT_ROOT / "app.py"),
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, START_TIMEOUT_S)
        yield url, store
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator[tuple[object, list[str]]]:
    """A fresh page that records the URL of every request it makes."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    seen: list[str] = []
    context.on("request", lambda request: seen.append(request.url))
    yield opened, seen
    context.close()


def outside_requests(urls: list[str]) -> list[str]:
    """Return the URLs that go to a host other than this machine."""
    return [
        u
        for u in urls
        if urlsplit(u).scheme in ("http", "https", "ws", "wss")
        and urlsplit(u).hostname not in LOCAL_HOSTS
    ]


def test_outage_map_renders_from_local_assets(server, page, tmp_path: Path) -> None:
    url, _store = server
    tab, seen = page
    tab.goto(f"{url}/outage")
    tab.get_by_text("Outage map", exact=True).first.wait_for()

    frame = tab.frame_locator(FOLIUM_FRAME)
    frame.locator(".leaflet-container").wait_for()
    # the vector layers: a canvas in the overlay pane and the layer control's entries
    frame.locator(".leaflet-overlay-pane canvas").first.wait_for(state="attached")
    frame.locator(".leaflet-control-layers-overlays").get_by_text("Streets").wait_for()
    frame.locator(".leaflet-control-layers-overlays").get_by_text("Open reports").wait_for()
    tab.wait_for_timeout(1500)
    layers = (
        tab.frame_locator(FOLIUM_FRAME)
        .locator("body")
        .evaluate("() => Object.keys(window.map._layers).length")
    )
    assert layers > 3, f"only {layers} Leaflet layers on the map"

    shot = tmp_path / "outage.png"
    if os.environ.get("WATERDESK_UI_SHOTS"):
        shot = Path(os.environ["WATERDESK_UI_SHOTS"]) / "outage.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert outside_requests(seen) == [], outside_requests(seen)
    assert any("/component/ui.assets.vendor/leaflet/leaflet.js" in u for u in seen)


def test_report_then_track_in_browser(server, page) -> None:
    url, store = server
    tab, seen = page
    tab.goto(f"{url}/")  # the first page is the default, served at the root
    tab.get_by_label("What is happening?").fill("Hydrant leaking at the corner")
    tab.get_by_label("Address or nearest intersection").fill(store.address)
    tab.get_by_role("button", name="Send report").click()
    receipt = tab.get_by_text("Your tracking number is")
    receipt.wait_for()
    number = re.search(r"[0-9A-Z]{5}-[0-9A-Z]{5}", receipt.inner_text())
    assert number, receipt.inner_text()

    tab.goto(f"{url}/track")
    tab.get_by_label("Tracking number").fill(number.group(0))
    tab.get_by_role("button", name="Track", exact=True).click()
    tab.get_by_text(f"{number.group(0)}: ").wait_for()
    tab.get_by_text("Hydrant leaking at the corner").wait_for()
    assert outside_requests(seen) == [], outside_requests(seen)
