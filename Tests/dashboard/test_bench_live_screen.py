"""A measurement, not a test (collected only with CYBERDESK_BENCH_DASHBOARD=1, by
scripts/bench-dashboard): the delay from a change of the machine's screen to the browser
showing it on the machine page. The root window's colour is changed with xsetroot; the
page's script draws every new frame into a canvas and notes when the pixel at (5, 5) took
the new colour. Both clocks are this machine's."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import time

from conftest import output_dir, wait_for

SAMPLES = int(os.environ.get("CYBERDESK_BENCH_SCREEN_SAMPLES", "30"))

WATCH = """
const image = document.querySelector('[data-testid=machine-screen]');
window.__frames = [];
const canvas = document.createElement('canvas');
canvas.width = 8; canvas.height = 8;
const context = canvas.getContext('2d', { willReadFrequently: true });
new MutationObserver(() => {
  const probe = new Image();
  probe.onload = () => {
    context.drawImage(probe, 0, 0);
    const [r, g, b] = context.getImageData(5, 5, 1, 1).data;
    window.__frames.push([performance.timeOrigin + performance.now(), r, g, b]);
  };
  probe.src = image.src;
}).observe(image, { attributes: true, attributeFilter: ['src'] });
"""


def test_live_screen_delay(signed_in, dashboard_url, machine, display):
    driver = signed_in
    driver.get(f"{dashboard_url}/machines/{machine['id']}")
    wait_for(lambda: int(driver.find_element("css selector", "[data-testid=machine-screen]")
                         .get_attribute("data-frames") or 0) >= 1, 30, "the first frame")
    driver.execute_script(WATCH)
    delays = []
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    for index in range(SAMPLES):
        r, g, b = colours[index % len(colours)]
        # A change lands anywhere in the refresh period, not just after a frame arrived.
        time.sleep(random.uniform(0, 1.0))
        changed = time.time() * 1000
        subprocess.run(["xsetroot", "-solid", f"#{r:02x}{g:02x}{b:02x}"], check=True,
                       env={**os.environ, "DISPLAY": display})

        def shown():
            for at, *rgb in driver.execute_script("return window.__frames"):
                if at >= changed and all(abs(x - y) <= 8 for x, y in zip(rgb, (r, g, b))):
                    return at
            return None

        delays.append(wait_for(shown, 15, f"colour {index} on the page", interval=0.02) - changed)
        driver.execute_script("window.__frames = []")
    delays.sort()
    p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    line = (f"live screen delay over {len(delays)} changes: p50 {statistics.median(delays):.0f} ms, "
            f"p95 {p95:.0f} ms, max {max(delays):.0f} ms")
    print("\n" + line)
    (output_dir() / "live-screen-delay.txt").write_text(line + "\n")
