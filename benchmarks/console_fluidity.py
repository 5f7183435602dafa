"""How fluid the operator console is on a full-size scan.

Starts the service (test detector, fresh temporary store) on a free loopback port, submits one
synthetic full-size scan (2000 × 800 by default) and measures, in headless Debian chromium:

- the service's PNG rendering time for a few display settings (``GET /scans/{id}/image.png``);
- frame intervals while zooming with the wheel and panning by drag (140 input events);
- the time from a window/level slider change to the new image on screen.

Usage::

    .venv/bin/python benchmarks/console_fluidity.py [--rows 2000] [--cols 800] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.auth import Role  # noqa: E402
from tests.service.conftest_console import launch_chromium, live_server, scan_dicom  # noqa: E402

#: JavaScript: start recording requestAnimationFrame intervals into window.frames.
FRAMES_START_JS = """() => {
  window.frames_ms = []; window.recording = true; let last = performance.now();
  const tick = (t) => { window.frames_ms.push(t - last); last = t;
    if (window.recording) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
#: JavaScript: set the window slider to a value and time until the new image is on screen.
WINDOW_CHANGE_JS = """(value) => new Promise((resolve) => {
  const stage = document.getElementById("stage");
  const t0 = performance.now();
  const observer = new MutationObserver(() => {
    observer.disconnect();
    resolve(performance.now() - t0);
  });
  observer.observe(stage, {attributes: true, attributeFilter: ["data-loaded"]});
  const slider = document.getElementById("wl-window");
  slider.value = value;
  slider.dispatchEvent(new Event("input"));
})"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(rows: int = 2000, cols: int = 800) -> dict[str, Any]:
    """Run the measurements; returns them as a JSON-ready mapping (milliseconds)."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"rows": rows, "cols": cols}
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp) / "data") as server:
        station = server.token(Role.STATION, "bench-station")
        operator = server.token(Role.OPERATOR, "bench-officer")
        data = scan_dicom(rows, cols, objects="phone")
        start = time.perf_counter()
        response = httpx.post(
            f"{server.url}/api/v1/scans",
            content=data,
            headers={"Authorization": f"Bearer {station}", "Content-Type": "application/dicom"},
            timeout=120,
        )
        response.raise_for_status()
        out["submit_ms"] = 1000 * (time.perf_counter() - start)
        scan_id = response.json()["id"]

        renders: dict[str, Any] = {}
        for name, query in {
            "auto": "",
            "window_level": "window=3&level=2",
            "colour_enhance": "window=3&level=2&colormap=density&enhance=true",
        }.items():
            times, size = [], 0
            for i in range(5):
                start = time.perf_counter()
                image = httpx.get(
                    f"{server.url}/api/v1/scans/{scan_id}/image.png?boxes=false&{query}&n={i}",
                    headers={"Authorization": f"Bearer {operator}"},
                    timeout=60,
                )
                image.raise_for_status()
                times.append(1000 * (time.perf_counter() - start))
                size = len(image.content)
            renders[name] = {"median_ms": statistics.median(times), "png_bytes": size}
        out["render"] = renders

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(server.url + "/")
            page.fill("#login-token", operator)
            page.click("#login-form button[type=submit]")
            page.wait_for_selector(f"#stage[data-loaded^='{scan_id}|']")
            box = page.locator("#stage").bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.evaluate(FRAMES_START_JS)
            page.mouse.move(cx, cy)
            for _ in range(40):
                page.mouse.wheel(0, -60)
            page.mouse.down()
            for i in range(60):
                page.mouse.move(cx + 4 * i, cy + 2 * i)
            page.mouse.up()
            for _ in range(40):
                page.mouse.wheel(0, 60)
            frames = page.evaluate("() => { window.recording = false; return window.frames_ms; }")
            frames = frames[2:]
            out["frames"] = {
                "count": len(frames),
                "median_ms": statistics.median(frames),
                "p95_ms": _pct(frames, 0.95),
                "max_ms": max(frames),
            }
            changes = [page.evaluate(WINDOW_CHANGE_JS, v) for v in ("3", "3.5", "5", "2.5")]
            out["window_change_to_screen_ms"] = changes
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--cols", type=int, default=800)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    result = measure(args.rows, args.cols)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
