"""Two servers on one PostgreSQL database (collected only when CYBERDESK_SDK_POSTGRES_URL is
set; an embedded SQLite store belongs to one server): a dashboard session made on one
replica opens the other, and a page served by replica B follows, live, a run created
through replica A and performed by a machine connected to A."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from selenium.webdriver.common.by import By

from conftest import output_dir, screenshot, wait_for
from server_process import database_arguments, server_binary
from test_dashboard import text_of, workflow_with_trajectory, unique


@pytest.fixture(scope="module")
def replica_dashboard(server, processes, tmp_path_factory) -> str:
    """Replica B: its own data directory with A's key files, A's database and schema."""
    root = tmp_path_factory.mktemp("replica")
    data = root / "data"
    data.mkdir(mode=0o700)
    for name in ("vault.key", "url-signing.key"):
        shutil.copy2(server.data_dir / name, data / name)
    out = root / "stdout.log"
    processes.start(
        [str(server_binary()), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data)]
        + database_arguments(server.data_dir),
        stdout=open(out, "wb"), stderr=open(root / "stderr.log", "wb"), env={**os.environ, "NO_COLOR": "1"},
    )
    prefix = "cyberdesk-server dashboard on "

    def line():
        text = out.read_text(errors="replace") if out.exists() else ""
        return next((l[len(prefix):] for l in text.splitlines() if l.startswith(prefix)), None)

    return wait_for(line, 60, "replica B's dashboard line")


def test_a_page_on_replica_b_follows_live_a_run_created_through_replica_a(
        signed_in, dashboard_url, replica_dashboard, api, machine):
    driver = signed_in
    assert replica_dashboard != dashboard_url
    workflow, _ = workflow_with_trajectory(api, [
        {"func_name": "wait", "args": [2.0]},
        {"func_name": "set_output", "kwargs": {"key": "served_by", "value": "replica A's machine"}},
    ], name=unique("Across replicas"))
    run = api.post("/v1/runs", json={"workflow_id": workflow["id"], "machine_id": machine["id"]}).json()

    # The session cookie made on A (cookies are per host, not per port) opens B: the session
    # is in the shared store.
    driver.get(f"{replica_dashboard}/runs/{run['id']}")
    assert driver.find_elements(By.CSS_SELECTOR, "[data-testid=sign-out]"), "replica B did not know the session"
    driver.execute_script("window.__sameDocument = 'yes'")
    assert text_of(driver, "run-status") in {"scheduling", "running"}
    wait_for(lambda: text_of(driver, "run-status") == "success", 60, "replica B's page to show success")
    assert driver.execute_script("return window.__sameDocument") == "yes"
    assert "replica A's machine" in text_of(driver, "run-output")
    screenshot(driver, "run-on-replica-b")
