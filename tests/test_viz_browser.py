"""Kedro-Viz in a real browser: ``kedro viz run`` on loopback, headless Chromium via Selenium.

The server runs in its own process group in a throw-away project copy and is killed (group
SIGTERM, then SIGKILL) when the module ends, whatever happened. Chromium is Debian's
``chromium`` + ``chromium-driver`` (no browser download); it resolves no host but 127.0.0.1, so
the test never goes on the network. Every wait is bounded: server start, page load, graph.
Without Chromium the test is skipped, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from labelcraft.sources import SIMULATED
from tests.conftest import project_environment

pytestmark = pytest.mark.e2e

logger = logging.getLogger(__name__)

SERVER_START_TIMEOUT_S = 120.0
PAGE_TIMEOUT_S = 60.0
SCREENSHOT_COPY = Path("/tmp/viz_screenshot.png")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1600,1000",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no network beyond loopback
)
EXPECTED_NODES = (
    "simulate_kuairand_logs",
    "ingest_logs",
    "summarise_ingestion",
    "check_calibration",
    "build_model_inputs",
    "summarise_features",
)
"""Task labels Kedro-Viz draws for the ``simulated`` pipeline (namespace expanded)."""


def _unavailable(message: str) -> None:
    """Skip with ``message``; under CI a missing browser is a failure instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (required under CI: .ci/run installs it)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    """Paths of the Chromium binary and its chromedriver, and Selenium importable."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        _unavailable(
            "headless Chromium not found: install the Debian packages "
            "`chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401, PLC0415
    except ImportError:
        _unavailable("selenium is not installed: pip install -e '.[dev]'")
    return chromium, driver


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 now, below Linux's ephemeral range and Kedro-Viz's 49151 cap.

    Kedro-Viz silently moves to the next port when its port is taken, so the port must be free.
    """
    for port in random.Random().sample(range(20_000, 32_000), 50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free TCP port on 127.0.0.1 in 20000-32000")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group (it forks the web server), then kill it."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until it answers 200; fail early if the server exits or takes too long."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"kedro viz run exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"kedro viz run did not serve {url} in {SERVER_START_TIMEOUT_S:.0f} s")


@pytest.fixture(scope="module")
def viz_url(
    browser_paths: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of ``kedro viz run --no-browser`` serving a project copy on 127.0.0.1."""
    with project_environment(tmp_path_factory.mktemp("viz_server")) as project:
        port = _free_port()
        log = project / "kedro_viz_run.log"
        command = [sys.executable, "-m", "kedro", "viz", "run", "--no-browser"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=project,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as a whole
            )
        try:
            base = f"http://127.0.0.1:{port}"
            started = time.monotonic()
            _wait_until_serving(f"{base}/api/main", process, log)
            logger.info("kedro viz run served after %.1f s", time.monotonic() - started)
            yield base
        finally:
            _stop(process)


def test_browser_shows_the_pipeline_graph(
    viz_url: str, browser_paths: tuple[str, str], tmp_path: Path
) -> None:
    """The ``simulated`` pipeline renders, expanded, with its task nodes; a screenshot is saved."""
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    chromium, chromedriver = browser_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.page_load_strategy = "eager"
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium_profile'}"):
        options.add_argument(flag)
    service = Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.set_page_load_timeout(PAGE_TIMEOUT_S)
        # Same-origin page first, to switch off the feature tour before the app reads its settings.
        browser.get(f"{viz_url}/api/version")
        browser.execute_script(
            "window.localStorage.setItem('KedroViz', JSON.stringify({showFeatureHints: false}))"
        )
        browser.get(f"{viz_url}/?pid={SIMULATED}&expandAllPipelines=true")
        WebDriverWait(browser, PAGE_TIMEOUT_S).until(
            lambda b: (
                len(b.find_elements(By.CSS_SELECTOR, "g.pipeline-node--task"))
                >= len(EXPECTED_NODES)
            )
        )
        # Offline, the version check fails and a "Kedro-Viz None is here!" banner shows: dismiss it.
        dismiss = "//*[contains(@class, 'update-reminder')]//button[normalize-space()='Dismiss']"
        for button in browser.find_elements(By.XPATH, dismiss):
            button.click()
        time.sleep(1.0)  # let the layout transition settle before the picture
        screenshot = tmp_path / "kedro_viz.png"
        assert browser.save_screenshot(str(screenshot))
        shutil.copy(screenshot, SCREENSHOT_COPY)
        tasks = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "g.pipeline-node--task")}
        datasets = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "g.pipeline-node--data")}
        title = browser.title
    finally:
        browser.quit()
    assert title == "Kedro-Viz"
    assert set(EXPECTED_NODES) <= tasks, f"task nodes on the page: {sorted(tasks)}"
    assert {f"{SIMULATED}.model_inputs", f"{SIMULATED}.ingestion_metrics"} <= datasets
    assert not any(name.startswith("kuairand.") for name in datasets)
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000, "screenshot missing or blank"
