"""Helpers of the console's browser test: a live uvicorn server, a body-like scan, a test detector.

Also used by ``docs/make_screenshots.py`` to render the README screenshots.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from detect.result import (
    BodyZone,
    Decision,
    Finding,
    ImageInfo,
    ModelIdentity,
    Result,
    StageTimings,
    SupportsDetect,
)
from scanner.encoding import ENCODINGS, encode_dicom
from scanner.scan import Scan, ScanMetadata
from scanner.stature import upright_turn
from service.auth import Role
from service.config import Settings
from service.main import create_app

#: Where Debian installs the browser the console test drives.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Attenuation of the body in the synthetic scan; objects add to it.
BODY = 1.6
#: Extra attenuation above the body at which the test detector reports an object.
OBJECT_EXCESS = 1.0


class ConsoleDetector:
    """Deterministic detector double: one finding per dense blob (phone if large, else battery)."""

    @property
    def identity(self) -> ModelIdentity:
        """Model identity of the double."""
        return ModelIdentity(name="console-test-detector", version="0.0.0", sha256="0" * 64)

    def detect(self, scan: Scan, *, decode_ms: float = 0.0) -> Result:
        """Findings around connected regions denser than the body by ``OBJECT_EXCESS``."""
        rows, cols = scan.image.shape
        labels, _ = ndimage.label(scan.image > BODY + OBJECT_EXCESS)
        findings = []
        for region in ndimage.find_objects(labels):
            if region is None:
                continue
            r, c = region
            h, w = r.stop - r.start, c.stop - c.start
            if h * w < 1e-4 * rows * cols:
                continue
            phone = h * w >= 2e-3 * rows * cols
            centre = (r.start + h / 2) / rows
            zone = BodyZone.ABDOMEN if centre < 0.55 else BodyZone.LEGS
            findings.append(
                Finding(
                    label="phone" if phone else "battery",
                    confidence=0.93 if phone else 0.41,
                    bbox_px=(float(c.start), float(r.start), float(w), float(h)),
                    bbox_mm=(
                        c.start * scan.spacing[1],
                        r.start * scan.spacing[0],
                        w * scan.spacing[1],
                        h * scan.spacing[0],
                    ),
                    zone=zone,
                )
            )
        findings.sort(key=lambda f: -f.confidence)
        top = max((f.confidence for f in findings), default=0.02)
        decision = (
            Decision.ALARM
            if top >= 0.8
            else Decision.INCONCLUSIVE
            if top >= 0.3
            else Decision.CLEAR
        )
        return Result(
            decision=decision,
            scan_score=top,
            findings=findings,
            model=self.identity,
            timings=StageTimings(decode_ms=decode_ms, preprocess_ms=12.0, infer_ms=48.0),
            image=ImageInfo(
                rows=rows,
                cols=cols,
                spacing_mm=scan.spacing,
                spacing_source=scan.spacing_source.value,
                upright_turns=upright_turn(scan.image) or 0,
            ),
            sop_instance_uid=scan.metadata.sop_instance_uid,
        )


def body_attenuation(
    rows: int = 2000, cols: int = 800, *, objects: str = "phone", seed: int = 0
) -> NDArray[np.float32]:
    """A standing-person-like attenuation map with optional dense objects.

    Parameters
    ----------
    rows, cols : int
        Image size (a full-size scan is about 2000 × 800).
    objects : str
        ``"phone"`` (phone at the abdomen and a battery at the thigh), ``"battery"`` (the
        battery only) or ``"none"``.
    seed : int
        Noise seed.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Line integral -ln(I/I_air); air = 0.
    """
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    y, x = yy / rows, (xx - cols / 2) / cols
    head = ((x / 0.07) ** 2 + ((y - 0.07) / 0.055) ** 2) < 1
    torso = (np.abs(x) < 0.17 - 0.03 * np.cos((y - 0.13) * 9)) & (y > 0.12) & (y < 0.5)
    legs = (np.abs(np.abs(x) - 0.075) < 0.06 - 0.03 * (y - 0.5)) & (y >= 0.48) & (y < 0.97)
    arms = (np.abs(np.abs(x) - 0.23 - 0.1 * (y - 0.15)) < 0.04) & (y > 0.15) & (y < 0.55)
    body = head | torso | legs | arms
    att = np.where(body, BODY, 0.0) * (0.85 + 0.15 * np.cos(x * 9))

    def block(top: float, left: float, height: float, width: float, excess: float) -> None:
        r0, c0 = int(top * rows), int(left * cols)
        att[r0 : r0 + max(2, int(height * rows)), c0 : c0 + max(2, int(width * cols))] += excess

    if objects == "phone":
        block(0.40, 0.53, 0.06, 0.08, 2.6)
    if objects in ("phone", "battery"):
        block(0.62, 0.40, 0.015, 0.025, 1.9)
    att += np.random.default_rng(seed).normal(0.0, 0.03, att.shape)
    return np.clip(att, 0.0, None).astype(np.float32)


def scan_dicom(
    rows: int = 2000,
    cols: int = 800,
    *,
    objects: str = "phone",
    seed: int = 0,
    encoding: str = "lin-mono2-16",
    turn: int = 0,
) -> bytes:
    """DICOM file bytes of :func:`body_attenuation` (written by ``scanner.encoding``), stored
    turned by ``turn`` counter-clockwise quarter turns."""
    attenuation = np.rot90(body_attenuation(rows, cols, objects=objects, seed=seed), turn)
    transmission = np.exp(-np.ascontiguousarray(attenuation))
    metadata = ScanMetadata(station_name="RECEPTION-1", manufacturer="ScanGuard test")
    ds = encode_dicom(transmission, (1.0, 1.0), ENCODINGS[encoding], metadata)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running service: its base URL, app and tokens by name."""

    url: str
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, role: Role, name: str) -> str:
        """Create (once) and return a token of ``role`` called ``name``."""
        if name not in self.tokens:
            _, plain = self.app.state.services.store.create_token(role, name, actor="test")
            self.tokens[name] = plain
        return self.tokens[name]


@contextmanager
def live_server(data_dir: Path, detector: SupportsDetect | None = None) -> Iterator[LiveServer]:
    """Run the service with uvicorn in a thread on a free loopback port.

    Parameters
    ----------
    data_dir : Path
        Store directory (SQLite and originals).
    detector : SupportsDetect, optional
        Default: :class:`ConsoleDetector`.
    """
    import uvicorn

    values: dict[str, Any] = {"data_dir": data_dir, "dicom_port": 0, "host": "127.0.0.1"}
    settings = Settings(**values)
    app = create_app(settings, detector=detector or ConsoleDetector())
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test service did not start within 60 s (see the log above)")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(15)


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium through Playwright; a clear failure when it is not installed."""
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: the console's browser test needs Debian's chromium; "
            "run 'make system-deps' (as root) to install it"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
