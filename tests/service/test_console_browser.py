"""The operator console in a headless browser (Playwright + Debian chromium) against uvicorn."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.auth import Role
from tests.service.conftest_console import (
    CHROMIUM,
    LiveServer,
    launch_chromium,
    live_server,
    scan_dicom,
)

pytestmark = pytest.mark.browser

#: Playwright's wait limit for one step, in milliseconds.
STEP_MS = 15_000
#: JavaScript: the overlay pixel (RGBA) at image coordinates (x, y) under the current zoom/pan.
OVERLAY_PIXEL_JS = """([x, y]) => {
  const m = /translate\\(([-\\d.e]+)px, ([-\\d.e]+)px\\) scale\\(([-\\d.e]+)\\)/
    .exec(document.getElementById("stage-content").style.transform);
  const [tx, ty, s] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const canvas = document.getElementById("overlay");
  const ratio = window.devicePixelRatio || 1;
  const px = Math.round((tx + x * s) * ratio), py = Math.round((ty + y * s) * ratio);
  return Array.from(canvas.getContext("2d").getImageData(px, py, 1, 1).data);
}"""

#: JavaScript: the stage's current [translate x, translate y, scale].
TRANSFORM_JS = """() => {
  const m = /translate\\(([-\\d.e]+)px, ([-\\d.e]+)px\\) scale\\(([-\\d.e]+)\\)/
    .exec(document.getElementById("stage-content").style.transform);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}"""
#: JavaScript: record every moment the stage shows no decoded scan image (should never happen).
KEEP_IMAGE_PROBE_JS = """() => {
  window.imageGaps = [];
  new MutationObserver(() => {
    const img = document.getElementById("scan-image");
    const shown = img && !img.hidden && img.complete && img.naturalWidth > 0;
    if (!shown) window.imageGaps.push(Date.now());
  }).observe(
    document.getElementById("stage-content"), {childList: true, subtree: true, attributes: true}
  );
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The service on a free loopback port with the console test detector."""
    with live_server(tmp_path_factory.mktemp("console") / "data") as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run 'make system-deps' to install Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A fresh browser page (own sessionStorage) recording every request it makes."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    page.requests = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def _submit(server: LiveServer, data: bytes, station: str = "RECEPTION-1") -> dict[str, Any]:
    """Post a scan as a station would; returns its ScanPublic JSON."""
    token = server.token(Role.STATION, "station-a")
    response = httpx.post(
        f"{server.url}/api/v1/scans",
        content=data,
        params={"station_id": station, "person_ref": "P-0042"},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/dicom"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _login(page: Any, server: LiveServer, path: str = "/") -> None:
    page.goto(server.url + path)
    page.fill("#login-token", server.token(Role.OPERATOR, "officer-1"))
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#console-view:not([hidden])")
    page.wait_for_selector("#conn-status[data-state=live]")


def _overlay_pixel(page: Any, x: float, y: float) -> list[int]:
    return list(page.evaluate(OVERLAY_PIXEL_JS, [x, y]))


def test_chromium_is_installed() -> None:
    """The browser the console test drives is installed (else: run make system-deps)."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run 'make system-deps'"


def test_operator_flow_live_queue_viewer_and_review(page: Any, server: LiveServer) -> None:
    """Log in, get a scan live, see its boxes, change window/level, review it, find it stored."""
    _login(page, server)

    scan = _submit(server, scan_dicom(objects="phone"))
    item = page.locator(f"#scan-{scan['id']}")
    item.wait_for()  # arrived over the event stream, no reload
    assert "ALARM" in item.inner_text()
    assert "93%" in item.inner_text()
    assert "RECEPTION-1" in item.inner_text()

    item.click()
    page.wait_for_selector(f"#stage[data-loaded^='{scan['id']}|']")
    assert page.locator("#scan-image").is_visible()
    assert page.locator("#overlay").get_attribute("data-boxes") == "2"
    findings = scan["result"]["findings"]
    x, y, w, h = findings[0]["bbox_px"]
    red, green, _, alpha = _overlay_pixel(page, x, y + h / 2)  # left edge of the phone's box
    assert alpha > 200 and red > 200 and green < 120
    assert _overlay_pixel(page, x + w / 2, y + h / 2)[3] == 0  # inside the box: image shows through
    assert "phone" in page.locator("#findings-list").inner_text().lower()
    assert "abdomen" in page.locator("#findings-list").inner_text()

    # window/level with the keyboard on the slider; the old image stays until the new one is ready
    page.evaluate(KEEP_IMAGE_PROBE_JS)
    page.focus("#wl-window")
    with page.expect_response(lambda r: "image.png" in r.url and "window=6.20" in r.url) as info:
        for _ in range(4):
            page.keyboard.press("ArrowRight")
    assert info.value.status == 200
    assert info.value.headers["content-type"] == "image/png"
    page.wait_for_selector("#stage[data-loaded*='window=6.20']")
    assert page.locator("#wl-window-value").inner_text() == "6.20"
    assert page.evaluate("window.imageGaps") == []
    requested = [u for u in page.requests if "image.png" in u and "window=" in u]
    assert 1 <= len(requested) <= 4  # at most one per key press, never a flood
    with page.expect_response(lambda r: "window=4.00&level=6.00" in r.url):
        page.select_option("#wl-preset", "dense")
    page.wait_for_selector("#wl-level-value:text-is('6.00')")

    # boxes off and on from the keyboard
    page.keyboard.press("b")
    page.wait_for_selector("#overlay[data-boxes='0']")
    assert _overlay_pixel(page, x, y + h / 2)[3] == 0
    assert page.locator("#tool-boxes").get_attribute("aria-pressed") == "false"
    page.keyboard.press("b")
    page.wait_for_selector("#overlay[data-boxes='2']")

    # review: confirm the phone, reject the battery, record the search outcome
    page.check("input[name='verdict-0'][value='confirmed']")
    page.check("input[name='verdict-1'][value='rejected']")
    page.check("input[name='outcome'][value='item_found']")
    page.fill("#review-note", "Phone in the waistband")
    page.click("#review-submit")
    summary = page.locator("#review-summary")
    summary.wait_for()
    assert "Item found on search" in summary.inner_text()
    assert "officer-1" in summary.inner_text()
    page.wait_for_selector(f"#scan-{scan['id']} .badge-reviewed")

    stored = httpx.get(
        f"{server.url}/api/v1/scans/{scan['id']}",
        headers={"Authorization": f"Bearer {server.token(Role.OPERATOR, 'officer-1')}"},
    ).json()
    assert stored["review"]["outcome"] == "item_found"
    assert stored["review"]["note"] == "Phone in the waistband"
    assert stored["review"]["reviewer"] == "officer-1"
    verdicts = {f["index"]: f["verdict"] for f in stored["review"]["findings"]}
    assert verdicts == {0: "confirmed", 1: "rejected"}

    outside = [u for u in page.requests if not u.startswith((server.url, "blob:", "data:"))]
    assert outside == []
    assert page.errors == []


def test_details_say_when_the_file_states_no_spacing(page: Any, server: LiveServer) -> None:
    """A scan read without a stated spacing says how its sizes were found, beside its size."""
    scan = _submit(server, scan_dicom(400, 160, objects="none", encoding="lin-nospacing-16"))
    source = scan["result"]["image"]["spacing_source"]
    assert source in ("estimated", "assumed")
    _login(page, server)
    page.wait_for_selector(f"#scan-{scan['id']}[aria-selected=true]")
    expected = "estimated from the person's height" if source == "estimated" else "1 mm assumed"
    page.wait_for_selector(f'#details-body dd:has-text("{expected}")')
    assert page.errors == []


def test_details_say_when_the_scan_was_stored_upside_down(page: Any, server: LiveServer) -> None:
    """A scan stored upside down says it was analysed upright, beside its size."""
    scan = _submit(server, scan_dicom(400, 160, objects="none", turn=2))
    assert scan["result"]["image"]["upright_turns"] == 2
    _login(page, server)
    page.wait_for_selector(f"#scan-{scan['id']}[aria-selected=true]")
    page.wait_for_selector('#details-body dd:has-text("stored upside down, analysed upright")')
    assert page.errors == []


def test_keyboard_navigation_filters_and_sign_out(page: Any, server: LiveServer) -> None:
    """j/k move through the queue, filters narrow it, i re-renders inverted, ? opens help."""
    clear = _submit(server, scan_dicom(400, 160, objects="none", seed=3), station="RECEPTION-2")
    alarm = _submit(server, scan_dicom(400, 160, objects="phone", seed=4), station="RECEPTION-2")
    assert clear["result"]["decision"] == "CLEAR"
    _login(page, server)
    newest = page.locator(".queue-item").first
    assert newest.get_attribute("id") == f"scan-{alarm['id']}"
    assert newest.get_attribute("aria-selected") == "true"  # the newest opens on sign-in

    page.keyboard.press("j")
    page.wait_for_selector(f"#scan-{clear['id']}[aria-selected=true]")
    page.wait_for_selector("#details-body .badge-CLEAR")
    assert "160 × 400 px, 1.00 × 1.00 mm" in page.locator("#details-body").inner_text()
    assert "spacing" not in page.locator("#details-body").inner_text()  # the file states it
    page.keyboard.press("k")
    page.wait_for_selector(f"#scan-{alarm['id']}[aria-selected=true]")
    page.wait_for_selector(f"#stage[data-loaded^='{alarm['id']}|']")

    # wheel zoom about the cursor, drag to pan, 0 to fit again, hover a box to highlight its finding
    fitted = page.locator("#zoom-level").inner_text()
    stage = page.locator("#stage").bounding_box()
    centre = (stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    page.mouse.move(*centre)
    changed = f"document.getElementById('zoom-level').textContent !== '{fitted}'"
    for attempt in range(3):  # a wheel event that lands while the page is busy may be dropped
        page.mouse.wheel(0, -400)
        try:
            page.wait_for_function(changed, timeout=5000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    before = page.evaluate(TRANSFORM_JS)
    page.mouse.down()
    page.mouse.move(centre[0] + 120, centre[1] + 60, steps=5)
    page.mouse.up()
    page.wait_for_function(f"({TRANSFORM_JS})()[0] !== {before[0]}")
    after = page.evaluate(TRANSFORM_JS)
    assert after[0] - before[0] == pytest.approx(120, abs=1)
    assert after[1] - before[1] == pytest.approx(60, abs=1)
    assert after[2] == before[2]  # panning does not zoom
    page.keyboard.press("0")
    page.wait_for_function(f"document.getElementById('zoom-level').textContent === '{fitted}'")
    x, y, w, h = alarm["result"]["findings"][0]["bbox_px"]
    tx, ty, scale = page.evaluate(TRANSFORM_JS)
    page.mouse.move(stage["x"] + tx + (x + w / 2) * scale, stage["y"] + ty + (y + h / 2) * scale)
    page.wait_for_selector("#findings-list .finding.hover[data-index='0']")

    with page.expect_response(lambda r: "image.png" in r.url and "invert=true" in r.url):
        page.keyboard.press("i")
    assert page.locator("#tool-invert").get_attribute("aria-pressed") == "true"

    page.click(".filter[data-decision=CLEAR]")
    page.wait_for_function(
        "[...document.querySelectorAll('.queue-item')].every(e => e.dataset.decision === 'CLEAR')"
    )
    assert page.locator(f"#scan-{clear['id']}").count() == 1
    assert page.locator(f"#scan-{alarm['id']}").count() == 0

    page.keyboard.press("?")
    assert page.locator("#help-overlay").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#help-overlay").is_hidden()

    page.click("#logout-button")
    assert page.locator("#login-view").is_visible()
    assert page.evaluate("sessionStorage.length") == 0
    assert page.errors == []


def test_privacy_mode_shows_outline_without_image(page: Any, server: LiveServer) -> None:
    """?privacy=1 shows the findings on the body outline and never fetches the scan image."""
    scan = _submit(server, scan_dicom(objects="phone", seed=5))
    _login(page, server, "/?privacy=1")
    page.click(f"#scan-{scan['id']}")
    page.wait_for_selector("#body-outline:not([hidden])")
    page.wait_for_function("document.getElementById('findings-list').children.length === 2")
    assert page.locator("#privacy-toggle").get_attribute("aria-pressed") == "true"
    assert page.locator("#scan-image").is_hidden()
    assert page.locator("#wl-window").is_disabled()
    x, y, _, h = scan["result"]["findings"][0]["bbox_px"]
    page.wait_for_function("document.getElementById('overlay').dataset.boxes === '2'")
    assert _overlay_pixel(page, x, y + h / 2)[3] > 200  # the phone's box, placed proportionally
    assert not [u for u in page.requests if "image.png" in u]

    with page.expect_response(lambda r: "image.png" in r.url):
        page.keyboard.press("p")  # leaving privacy mode loads the image
    page.wait_for_selector("#scan-image:not([hidden])")
    assert page.locator("#body-outline").is_hidden()


def test_rejected_token_keeps_login(page: Any, server: LiveServer) -> None:
    """A wrong token is refused with a message and nothing is stored in the session."""
    page.goto(server.url + "/")
    page.fill("#login-token", "sg_0000000000000000_" + "A" * 43)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:not(:empty)")
    assert "not accepted" in page.locator("#login-error").inner_text()
    assert page.locator("#console-view").is_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_event_stream_refuses_station_token(server: LiveServer) -> None:
    """The event stream needs a role that may view scans; a station token gets 403."""
    token = server.token(Role.STATION, "station-a")
    response = httpx.get(f"{server.url}/api/v1/events", params={"token": token}, timeout=10)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert httpx.get(f"{server.url}/api/v1/events", timeout=10).status_code == 401


def test_event_stream_sends_heartbeats_and_scans(server: LiveServer) -> None:
    """Over HTTP the stream is text/event-stream with heartbeats, and new scans arrive on it."""
    token = server.token(Role.OPERATOR, "officer-1")
    server.app.state.events_heartbeat_s = 0.2
    lines: list[str] = []
    scan: dict[str, Any] = {}
    try:
        with httpx.stream(
            "GET", f"{server.url}/api/v1/events", params={"token": token}, timeout=10
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                lines.append(line)
                if line == ": heartbeat" and not scan:
                    scan = _submit(server, scan_dicom(200, 80, objects="phone", seed=7))
                if line.startswith("data: ") and '"id":"' in line:
                    break
    finally:
        server.app.state.events_heartbeat_s = 15.0
    assert ": heartbeat" in lines
    assert lines[lines.index("event: scan") + 1].startswith("data: {")
    assert f'"id":"{scan["id"]}"' in lines[-1]


def test_static_console_has_no_external_resources() -> None:
    """The console's files reference nothing outside the service (no CDN)."""
    static = Path(__file__).resolve().parents[2] / "service" / "static"
    for name in ("index.html", "app.js", "app.css", "body-outline.svg"):
        text = (static / name).read_text(encoding="utf-8")
        stripped = text.replace("http://www.w3.org/2000/svg", "")
        for marker in ("http://", "https://", "//cdn"):
            assert marker not in stripped, f"{name} references {marker}"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize(
    ("foreground", "background"),
    [
        ("text", "bg"),
        ("text", "panel"),
        ("text", "panel-2"),
        ("muted", "panel"),
        ("muted", "panel-2"),
        ("alarm-fg", "alarm-bg"),
        ("inconclusive-fg", "inconclusive-bg"),
        ("clear-fg", "clear-bg"),
        ("reviewed-fg", "reviewed-bg"),
    ],
)
def test_colours_meet_wcag_aa_contrast(foreground: str, background: str) -> None:
    """Text and badge colours of the console have at least 4.5:1 contrast (WCAG AA)."""
    css = (Path(__file__).resolve().parents[2] / "service" / "static" / "app.css").read_text()
    colours = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;", css))
    lighter, darker = sorted(
        (_luminance(colours[foreground]), _luminance(colours[background])), reverse=True
    )
    assert (lighter + 0.05) / (darker + 0.05) >= 4.5
