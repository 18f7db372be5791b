"""Fixtures for the dashboard's browser suite: one real `cyberdesk-server` (API and
dashboard on ephemeral ports), one real `cyberdesk-agent` joined to it on a private Xvfb,
and headless Chromium driven by selenium.

Screenshots of the pages go to `$CYBERDESK_TEST_OUTPUT/dashboard` (default
`.build/test-output/dashboard`), kept as CI artifacts; every test also fails when the
browser console holds an error.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from server_process import REPO_ROOT, RunningServer, ServerStartError, server_binary, start_server

START_TIMEOUT = 60.0

# Replicas share a PostgreSQL database; on the embedded SQLite store there is one server.
collect_ignore = [] if os.environ.get("CYBERDESK_SDK_POSTGRES_URL") else ["test_replicas.py"]
# A measurement, run by scripts/bench-dashboard only.
if os.environ.get("CYBERDESK_BENCH_DASHBOARD") != "1":
    collect_ignore.append("test_bench_live_screen.py")
SERVER_KEY = pytest.StashKey[RunningServer]()


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    """Polls `condition` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def output_dir() -> Path:
    base = Path(os.environ.get("CYBERDESK_TEST_OUTPUT", REPO_ROOT / ".build" / "test-output"))
    folder = base / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def agent_binary() -> Path:
    configured = os.environ.get("CYBERDESK_AGENT_BIN")
    if configured:
        return Path(configured).expanduser().resolve()
    return server_binary().parent / "cyberdesk-agent"


class Processes:
    """Child processes of the session, stopped in reverse order."""

    def __init__(self) -> None:
        self.items: list[subprocess.Popen] = []

    def start(self, args, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kwargs)
        self.items.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.items):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture(scope="session")
def processes() -> Iterator[Processes]:
    group = Processes()
    yield group
    group.stop_all()


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if not server_binary().is_file():
        pytest.exit(f"cyberdesk-server not found at {server_binary()}; build it first", returncode=1)
    root = tmp_path_factory.mktemp("server")
    try:
        running = start_server(root / "data", root)
        running.admin_key = running.read_admin_key()
    except ServerStartError as error:
        pytest.exit(str(error), returncode=1)
    request.config.stash[SERVER_KEY] = running
    yield running
    running.stop()


@pytest.fixture(scope="session")
def dashboard_url(server: RunningServer) -> str:
    """The dashboard's URL, from the line the server prints once it listens."""
    prefix = "cyberdesk-server dashboard on "

    def line():
        return next((l[len(prefix):] for l in server.stdout_lines if l.startswith(prefix)), None)

    return wait_for(line, START_TIMEOUT, "the server's dashboard line")


@pytest.fixture(scope="session")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    """The v1 API as the admin key's organization."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}, timeout=30.0
    ) as client:
        yield client


@pytest.fixture(scope="session")
def display(processes: Processes, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private Xvfb with an xterm on it, so the machine's screen shows something."""
    if shutil.which("Xvfb") is None:
        pytest.exit("Xvfb is missing (scripts/install-deps installs it)", returncode=1)
    read_fd, write_fd = os.pipe()
    processes.start(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not report its display number"
    name = f":{number}"
    if shutil.which("xterm"):
        processes.start(
            ["xterm", "-geometry", "80x20+60+60", "-title", "clinic desktop", "-e", "sh", "-c",
             "echo 'Cyberdesk dashboard test desktop'; exec cat"],
            env={**os.environ, "DISPLAY": name}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    return name


@pytest.fixture(scope="session")
def machine(server: RunningServer, api: httpx.Client, display: str, processes: Processes,
            tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real agent joined to the server under the name `dash-desktop`; returns the machine."""
    binary = agent_binary()
    if not binary.is_file():
        pytest.exit(f"cyberdesk-agent not found at {binary}; build it first", returncode=1)
    root = tmp_path_factory.mktemp("agent")
    key_file = root / "api-key"
    key_file.write_text(server.admin_key + "\n")
    key_file.chmod(0o600)
    env = {**os.environ, "DISPLAY": display, "HOME": str(root / "home"), "NO_COLOR": "1"}
    (root / "home").mkdir()
    subprocess.run(
        [str(binary), "join", "--server", server.url, "--api-key-file", str(key_file), "--state-dir",
         str(root / "state"), "--name", "dash-desktop"],
        check=True, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    log = open(root / "agent.log", "wb")
    processes.start([str(binary), "run", "--state-dir", str(root / "state")], env=env, stdout=log, stderr=log)

    def connected():
        items = api.get("/v1/machines").json()["items"]
        return next((m for m in items if m.get("name") == "dash-desktop" and m["status"] == "connected"), None)

    found = wait_for(connected, START_TIMEOUT, "the agent to connect")
    found["log_path"] = str(root / "agent.log")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def console_free_of_errors(request: pytest.FixtureRequest):
    """Every test that used the browser ends with a console free of errors."""
    yield
    if "browser" not in request.fixturenames:
        return
    driver = request.getfixturevalue("browser")
    allowed = getattr(request.node, "allowed_console", ())
    errors = [
        entry for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not any(text in entry["message"] for text in allowed)
    ]
    assert not errors, f"the browser console has errors: {errors}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed:
        running = item.config.stash.get(SERVER_KEY, None)
        if running is not None:
            report.sections.append(("cyberdesk-server stderr (last lines)", running.stderr_tail(40)))
    return report


def sign_in(driver: webdriver.Chrome, dashboard_url: str, key: str) -> None:
    driver.get(dashboard_url + "/")
    if driver.find_elements(By.CSS_SELECTOR, "[data-testid=sign-out]"):
        driver.find_element(By.CSS_SELECTOR, "[data-testid=sign-out]").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=api-key]"), 10, "the sign-in form")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=api-key]").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=sign-in]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=sign-out]"), 10, "the dashboard after sign-in")


@pytest.fixture
def signed_in(browser: webdriver.Chrome, dashboard_url: str, server: RunningServer) -> webdriver.Chrome:
    browser.get(dashboard_url + "/")
    if not browser.find_elements(By.CSS_SELECTOR, "[data-testid=sign-out]"):
        sign_in(browser, dashboard_url, server.admin_key)
    return browser


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Saves the whole page (as tall as its content) under the output folder."""
    path = output_dir() / f"{name}.png"
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 800)")
    driver.set_window_size(1280, min(int(height) + 40, 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    return path
