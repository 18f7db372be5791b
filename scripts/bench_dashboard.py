"""The dashboard's page render times (BENCHMARKS.md, "Dashboard"): a release
cyberdesk-server on a fresh SQLite data dir seeded through the API with 1,000 machines and
10,000 runs, every page fetched signed-in over loopback HTTP, sequentially. Prints a
Markdown table of p50/p95/max per page, measured at the client (so HTTP included).

    scripts/bench-dashboard [--runs 10000] [--machines 1000] [--samples 50]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--machines", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=50)
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cyberdesk-bench-dashboard."))
    out = open(work / "stdout.log", "w+")
    server = subprocess.Popen(
        [options.binary, "serve", "--port", "0", "--data-dir", str(work / "data"), "--log-level", "warning"],
        stdout=out, stderr=open(work / "stderr.log", "w"), stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        api_url = dashboard = None
        while time.monotonic() < deadline and not (api_url and dashboard):
            text = (work / "stdout.log").read_text()
            api_url = (re.search(r"listening on (http://\S+)", text) or [None, None])[1]
            dashboard = (re.search(r"dashboard on (http://\S+)", text) or [None, None])[1]
            time.sleep(0.1)
        assert api_url and dashboard, "the server did not start"
        key = (work / "data" / "admin-api-key").read_text().strip()
        api = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=120)

        started = time.monotonic()
        workflow = api.post("/v1/workflows", json={"name": "Visit note", "main_prompt": "Write the note"}).json()
        for index in range(options.machines):
            answer = api.post("/v1/machines", json={
                "fingerprint": f"bench-{index:05d}", "unkey_key_id": f"bench-{index}", "name": f"desk-{index:04d}",
                "hostname": f"clinic-{index:04d}", "os_info": "Debian GNU/Linux 12"})
            assert answer.status_code in (200, 201), answer.text
        left = options.runs
        while left > 0:
            count = min(1000, left)
            answer = api.post("/v1/runs/bulk", json={"workflow_id": workflow["id"], "count": count,
                                                     "input_values": {"patient": "Ada"}})
            assert answer.status_code in (200, 201), answer.text
            left -= count
        some_run = api.get("/v1/runs?limit=1").json()["items"][0]["id"]
        some_machine = api.get("/v1/machines?limit=1").json()["items"][0]["id"]
        seeded = time.monotonic() - started

        browser = httpx.Client(base_url=dashboard, timeout=60)
        answer = browser.post("/sign-in", data={"api_key": key}, headers={"Origin": dashboard})
        assert answer.status_code == 303, answer.status_code
        pages = ["/", "/machines", f"/machines/{some_machine}", "/pools", "/workflows", f"/workflows/{workflow['id']}",
                 "/runs", f"/runs?status=scheduling&workflow_id={workflow['id']}", f"/runs/{some_run}",
                 f"/runs/{some_run}/live", "/settings"]
        print(f"Seeded {options.machines} machines and {options.runs} runs in {seeded:.0f} s; "
              f"{options.samples} sequential GETs per page after 3 warm-ups.\n")
        print("| page | p50 ms | p95 ms | max ms |")
        print("|---|---|---|---|")
        for page in pages:
            for _ in range(3):
                assert browser.get(page).status_code == 200, page
            times = []
            for _ in range(options.samples):
                begin = time.perf_counter()
                answer = browser.get(page)
                times.append((time.perf_counter() - begin) * 1000)
                assert answer.status_code == 200, (page, answer.status_code)
            label = page.replace(workflow["id"], "{id}").replace(some_run, "{id}").replace(some_machine, "{id}")
            print(f"| `{label}` | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} | {max(times):.1f} |")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
