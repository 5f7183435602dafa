"""Load test of the station service: throughput and latency of ``POST /api/v1/scans``.

Starts ``scanguard serve`` on 127.0.0.1 (fresh data directory, receiver off, the shipped
model unless ``--model`` is given), posts scan files at a fixed concurrency with httpx and
reports throughput and p50/p95/p99 latency. ``--soak N`` posts N scans and then checks
that every 201 answer has its result stored (no lost results).

Examples
--------
    .venv/bin/python benchmarks/load.py --concurrency 4 --duration 20
    .venv/bin/python benchmarks/load.py --concurrency 4 --soak 500 --json out/load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


@dataclass
class Sample:
    """One request's outcome."""

    status: int
    latency_s: float
    scan_id: str | None = None
    result: dict[str, Any] | None = None


@dataclass
class Report:
    """What a run measured."""

    concurrency: int
    requests: int
    ok: int
    errors: dict[str, int]
    wall_s: float
    throughput_per_s: float
    latency_ms: dict[str, float]
    server_stage_ms: dict[str, float]
    soak: dict[str, Any] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _scan_files(directory: Path | None) -> list[bytes]:
    """The scan files to post (the sample scans by default)."""
    if directory is not None:
        paths = sorted(p for p in directory.iterdir() if p.suffix.lower() in (".dcm", ".dicom"))
    else:
        from scanner.samples import list_samples, sample_path

        paths = [Path(sample_path(name)) for name in list_samples()]
        paths = [p for p in paths if p.suffix.lower() in (".dcm", ".dicom")]
    if not paths:
        raise SystemExit(
            "no DICOM scans to post: pass --scans DIR or generate sample scans with "
            "'scanguard simulate'"
        )
    return [p.read_bytes() for p in paths]


def _make_tokens(data_dir: Path) -> tuple[str, str]:
    from service.auth import Role
    from service.store import Store

    store = Store(f"sqlite:///{data_dir / 'scanguard.db'}", data_dir / "blobs")
    store.open()
    _, station = store.create_token(Role.STATION, "load-station", actor="benchmark")
    _, operator = store.create_token(Role.OPERATOR, "load-check", actor="benchmark")
    store.close()
    return station, operator


def _start_server(args: argparse.Namespace, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "SCANGUARD_DATA_DIR": str(data_dir),
            "SCANGUARD_PORT": str(port),
            "SCANGUARD_HOST": "127.0.0.1",
            "SCANGUARD_DICOM_PORT": "0",
        }
    )
    if args.model:
        env["SCANGUARD_MODEL_PATH"] = str(args.model)
    if args.manifest:
        env["SCANGUARD_MANIFEST_PATH"] = str(args.manifest)
    command = [sys.executable, "-m", "scanguard.cli", "serve"]
    log = open(data_dir / "server.log", "wb")  # the child keeps it open until it exits
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def _wait_ready(base: str, server: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}; see its log")
        try:
            if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the server was not ready after {timeout_s:.0f} s")


async def _post_all(
    base: str,
    token: str,
    scans: list[bytes],
    *,
    concurrency: int,
    total: int | None,
    duration_s: float | None,
    station: str = "load",
) -> tuple[list[Sample], float]:
    """Post scans from ``concurrency`` workers until ``total`` posts or ``duration_s``."""
    samples: list[Sample] = []
    counter = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/dicom"}
    start = time.perf_counter()

    def _next() -> int | None:
        nonlocal counter
        if total is not None and counter >= total:
            return None
        if duration_s is not None and time.perf_counter() - start >= duration_s:
            return None
        counter += 1
        return counter - 1

    async def worker(client: httpx.AsyncClient) -> None:
        while (index := _next()) is not None:
            data = scans[index % len(scans)]
            t0 = time.perf_counter()
            try:
                response = await client.post(
                    f"{base}/api/v1/scans",
                    content=data,
                    headers=headers,
                    params={"station_id": station},
                )
            except httpx.HTTPError as exc:
                samples.append(Sample(status=-1, latency_s=time.perf_counter() - t0))
                print(f"request failed: {exc}", file=sys.stderr)
                continue
            latency = time.perf_counter() - t0
            body = response.json() if response.status_code == 201 else None
            samples.append(
                Sample(
                    status=response.status_code,
                    latency_s=latency,
                    scan_id=body["id"] if body else None,
                    result=body["result"] if body else None,
                )
            )

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return samples, time.perf_counter() - start


def _check_soak(base: str, token: str, samples: list[Sample]) -> dict[str, Any]:
    """Every 201 must have its scan stored with the same result."""
    headers = {"Authorization": f"Bearer {token}"}
    accepted = [s for s in samples if s.status == 201]
    missing, mismatched = [], []
    with httpx.Client(timeout=30.0) as client:
        for sample in accepted:
            response = client.get(f"{base}/api/v1/scans/{sample.scan_id}", headers=headers)
            if response.status_code != 200:
                missing.append(sample.scan_id)
                continue
            stored = response.json()
            if stored["status"] != "processed" or stored["result"] != sample.result:
                mismatched.append(sample.scan_id)
        listed = client.get(
            f"{base}/api/v1/scans", params={"station_id": "load", "limit": 1}, headers=headers
        ).json()["count"]
    return {
        "accepted": len(accepted),
        "stored_count": listed,
        "missing": missing,
        "mismatched": mismatched,
        "lost": len(missing) + len(mismatched),
    }


def run(args: argparse.Namespace) -> Report:
    """Start the server, warm it up, measure, optionally soak-check, stop it."""
    scans = _scan_files(args.scans)
    with tempfile.TemporaryDirectory(prefix="scanguard-load-") as tmp:
        data_dir = Path(tmp)
        station, operator = _make_tokens(data_dir)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start_server(args, data_dir, port)
        try:
            try:
                _wait_ready(base, server)
            except SystemExit:
                tail = (data_dir / "server.log").read_text(errors="replace")[-3000:]
                print(f"--- server log (end) ---\n{tail}", file=sys.stderr)
                raise
            asyncio.run(
                _post_all(
                    base,
                    station,
                    scans,
                    concurrency=args.concurrency,
                    total=args.warmup,
                    duration_s=None,
                    station="warmup",
                )
            )
            total = args.soak if args.soak else args.requests
            duration = None if total else args.duration
            samples, wall = asyncio.run(
                _post_all(
                    base,
                    station,
                    scans,
                    concurrency=args.concurrency,
                    total=total,
                    duration_s=duration,
                )
            )
            soak = _check_soak(base, operator, samples) if args.soak else {}
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    ok = [s for s in samples if s.status == 201]
    errors: dict[str, int] = {}
    for s in samples:
        if s.status != 201:
            errors[str(s.status)] = errors.get(str(s.status), 0) + 1
    latencies = [s.latency_s * 1000.0 for s in ok]
    stages: dict[str, list[float]] = {}
    for s in ok:
        for key, value in (s.result or {}).get("timings", {}).items():
            stages.setdefault(key, []).append(float(value))
    return Report(
        concurrency=args.concurrency,
        requests=len(samples),
        ok=len(ok),
        errors=errors,
        wall_s=round(wall, 3),
        throughput_per_s=round(len(ok) / wall, 2) if wall > 0 else 0.0,
        latency_ms={
            "p50": round(_percentile(latencies, 50), 1),
            "p95": round(_percentile(latencies, 95), 1),
            "p99": round(_percentile(latencies, 99), 1),
            "mean": round(statistics.fmean(latencies), 1) if latencies else float("nan"),
            "max": round(max(latencies), 1) if latencies else float("nan"),
        },
        server_stage_ms={k: round(statistics.fmean(v), 1) for k, v in stages.items()},
        soak=soak,
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit 1 when results were lost or requests failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=4, help="parallel clients (4)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds to post (20)")
    parser.add_argument("--requests", type=int, help="post exactly this many instead")
    parser.add_argument("--soak", type=int, help="post N scans, then check none was lost")
    parser.add_argument("--warmup", type=int, default=8, help="unmeasured posts first (8)")
    parser.add_argument("--scans", type=Path, help="directory of .dcm files (default: samples)")
    parser.add_argument("--model", type=Path, help="ONNX model (default: the shipped one)")
    parser.add_argument("--manifest", type=Path, help="model manifest")
    parser.add_argument("--json", type=Path, help="also write the report as JSON")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    report = run(args)
    print(
        f"concurrency {report.concurrency}: {report.ok}/{report.requests} scans in "
        f"{report.wall_s:.1f} s = {report.throughput_per_s:.1f} scans/s; latency ms "
        f"p50 {report.latency_ms['p50']:.0f}, p95 {report.latency_ms['p95']:.0f}, "
        f"p99 {report.latency_ms['p99']:.0f}; server stages (mean ms) {report.server_stage_ms}"
    )
    if report.errors:
        print(f"non-201 answers: {report.errors}")
    if report.soak:
        print(
            f"soak: {report.soak['accepted']} accepted, {report.soak['lost']} lost "
            f"({len(report.soak['missing'])} missing, {len(report.soak['mismatched'])} changed)"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2))
    lost = report.soak.get("lost", 0) if report.soak else 0
    return 1 if lost or report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
