"""Render the README screenshots of the operator console into ``docs/screenshots/``.

Starts the service on a free loopback port (fresh temporary store), submits a few scans as a
station would, drives the console in headless Debian chromium and saves:

- ``console-viewer.png``: live queue and the viewer with the detector's boxes;
- ``console-review.png``: zoomed on a finding with the review recorded;
- ``console-privacy.png``: privacy mode, detections on the generic body outline;
- ``console-help.png``: the keyboard shortcuts.

Usage::

    .venv/bin/python docs/make_screenshots.py [--out docs/screenshots] [--detector auto|model|test]

``--detector model`` uses the shipped model on simulated scans (``scanner.simulate``);
``test`` uses the deterministic test detector on synthetic body-like scans; ``auto`` (default)
takes the model when it loads and the test detector otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.auth import Role  # noqa: E402
from tests.service.conftest_console import (  # noqa: E402
    ConsoleDetector,
    launch_chromium,
    live_server,
    scan_dicom,
)

logger = logging.getLogger("make_screenshots")
VIEWPORT = {"width": 1600, "height": 1000}


def _model_scans(count: int) -> tuple[Any, list[bytes]]:
    """The shipped detector and simulated scans as DICOM bytes (raises if either is missing)."""
    import io

    import detect
    from scanner.encoding import ENCODINGS, encode_dicom
    from scanner.simulate import simulate_scan

    detector = detect.load_detector()
    with_objects: list[bytes] = []
    without: list[bytes] = []
    for seed in range(4 * count):
        simulated = simulate_scan(seed)
        ds = encode_dicom(simulated.transmission, simulated.spacing, ENCODINGS["lin-mono2-16"])
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        (with_objects if simulated.objects else without).append(buffer.getvalue())
        if len(with_objects) >= count - 1 and without:
            break
    # oldest first: a clean scan, then scans with contraband (the newest is shown in the viewer)
    return detector, (without[:1] + with_objects)[-count:]


def _test_scans() -> tuple[Any, list[bytes]]:
    """The test detector and synthetic scans: clear, inconclusive, two alarms."""
    return ConsoleDetector(), [
        scan_dicom(objects="none", seed=1),
        scan_dicom(objects="battery", seed=2),
        scan_dicom(objects="phone", seed=3),
        scan_dicom(objects="phone", seed=4),
    ]


def _submit(url: str, token: str, data: bytes, station: str, person: str) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/api/v1/scans",
        content=data,
        params={"station_id": station, "person_ref": person, "reason": "reception"},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/dicom"},
        timeout=120,
    )
    response.raise_for_status()
    return dict(response.json())


def make_screenshots(out_dir: Path, detector_kind: str = "auto") -> list[Path]:
    """Start the service, drive the console and write the screenshots.

    Parameters
    ----------
    out_dir : Path
        Where the PNG files go (created if needed).
    detector_kind : str
        ``"auto"``, ``"model"`` or ``"test"``.

    Returns
    -------
    list of Path
        The files written.
    """
    from playwright.sync_api import sync_playwright

    detector: Any = None
    scans: list[bytes] = []
    if detector_kind in ("auto", "model"):
        try:
            detector, scans = _model_scans(4)
        except Exception as exc:
            if detector_kind == "model":
                raise RuntimeError(f"the model or the simulator is not usable: {exc}") from exc
            logger.warning("model not usable (%s); using the test detector", exc)
    if detector is None:
        detector, scans = _test_scans()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp) / "data", detector) as server:
        station = server.token(Role.STATION, "reception-gate")
        operator = server.token(Role.OPERATOR, "officer.hughes")
        stored = []
        for index, data in enumerate(scans[:-1]):
            where, person = f"RECEPTION-{index % 2 + 1}", f"P-{4711 + index}"
            stored.append(_submit(server.url, station, data, where, person))
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(30_000)
            page.goto(server.url + "/")
            page.fill("#login-token", operator)
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#conn-status[data-state=live]")
            # a review on an older scan, so the queue shows a reviewed badge
            older = stored[0]
            page.click(f"#scan-{older['id']}")
            page.wait_for_selector(f"#stage[data-loaded^='{older['id']}|']")
            page.check("input[name='outcome'][value='nothing_found']")
            page.click("#review-submit")
            page.wait_for_selector("#review-summary:not([hidden])")
            # the newest scan arrives live
            newest = _submit(server.url, station, scans[-1], "RECEPTION-1", "P-4720")
            page.wait_for_selector(f"#scan-{newest['id']}")
            page.click(f"#scan-{newest['id']}")
            page.wait_for_selector(f"#stage[data-loaded^='{newest['id']}|']")
            page.mouse.move(5, 5)
            time.sleep(2.8)  # let the arrival highlight fade
            written.append(out_dir / "console-viewer.png")
            page.screenshot(path=str(written[-1]))

            if newest["result"] and newest["result"]["findings"]:
                page.click("#findings-list .finding[data-index='0'] .goto")
                page.check("input[name='verdict-0'][value='confirmed']")
            page.check("input[name='outcome'][value='item_found']")
            page.fill("#review-note", "Phone found on search; seized and logged.")
            page.click("#review-submit")
            page.wait_for_selector("#review-summary:not([hidden])")
            page.mouse.move(5, 5)
            time.sleep(0.5)
            written.append(out_dir / "console-review.png")
            page.screenshot(path=str(written[-1]))

            page.keyboard.press("0")
            page.keyboard.press("p")
            page.wait_for_selector("#body-outline:not([hidden])")
            time.sleep(0.5)
            written.append(out_dir / "console-privacy.png")
            page.screenshot(path=str(written[-1]))

            page.keyboard.press("p")
            page.keyboard.press("?")
            page.wait_for_selector("#help-overlay:not([hidden])")
            time.sleep(0.3)
            written.append(out_dir / "console-help.png")
            page.screenshot(path=str(written[-1]))
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--detector", choices=("auto", "model", "test"), default="auto")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for path in make_screenshots(args.out, args.detector):
        logger.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
