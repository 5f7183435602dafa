"""End-to-end detector latency: DICOM bytes → Result, per stage, on a ~2000 x 800 scan.

Runs ``Detector.detect_source(bytes)`` repeatedly (read_scan + preprocess + onnxruntime +
post-processing) and reports p50/p95 per stage and in total. Uses the shipped model
(``models/phone_detector.onnx``) when present; otherwise an untrained network of the shipped
architecture (``models.training.network.CenterNet``, same compute), exported to a temporary folder.

Usage::

    .venv/bin/python benchmarks/latency.py [--n 60] [--threads 2] [--model PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The project root first: this folder holds scripts whose names shadow packages (kernels.py).
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT)]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from detect import Detector  # noqa: E402
from models import DEFAULT_MANIFEST_PATH, DEFAULT_MODEL_PATH  # noqa: E402

logger = logging.getLogger("benchmarks.latency")

STAGES = (
    "decode_ms",
    "preprocess_ms",
    "infer_ms",
    "postprocess_ms",
    "total_ms",
    "wall_ms",
    "cpu_ms",
)


def _scan_bytes(rows: int, cols: int, spacing: tuple[float, float], seed: int) -> tuple[bytes, str]:
    """DICOM bytes of a ~rows x cols scan: simulated when the simulator is present."""
    from scanner.encoding import encode_dicom

    try:
        from scanner.simulate import SimConfig, simulate_scan

        # The field of view follows the simulated person: measure it, then pick the pitch
        # that gives rows x cols pixels.
        probe = simulate_scan(seed, SimConfig(pitch_mm=(2.0, 2.0), has_phone=True))
        fov = (probe.transmission.shape[0] * 2.0, probe.transmission.shape[1] * 2.0)
        pitch = (fov[0] / rows, fov[1] / cols)
        sim = simulate_scan(seed, SimConfig(pitch_mm=pitch, has_phone=True))
        sp = (float(sim.spacing[0]), float(sim.spacing[1]))
        transmission, what = sim.transmission, "scanner.simulate"
    except ImportError:
        transmission, sp, what = _synthetic(rows, cols, spacing, seed), spacing, "synthetic body"

    ds = encode_dicom(np.asarray(transmission), sp, "lin-mono2-16")
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    shape = np.asarray(transmission).shape
    return buf.getvalue(), f"{what}, {shape[0]} x {shape[1]} px at {sp[0]:.2f} x {sp[1]:.2f} mm"


def _synthetic(rows: int, cols: int, spacing: tuple[float, float], seed: int) -> Any:
    """Transmission of an elliptical-limbed figure with noise (stand-in when no simulator)."""
    rng = np.random.default_rng(seed)
    r = (np.arange(rows)[:, None] + 0.5) * spacing[0]
    c = (np.arange(cols)[None, :] + 0.5) * spacing[1] - cols * spacing[1] / 2
    att = np.zeros((rows, cols), np.float32)
    att += 3.0 * ((r > 300) & (r < 1100) & (np.abs(c) < 170))
    att += 2.0 * ((r > 1100) & (r < 1850) & (np.abs(c) > 15) & (np.abs(c) < 140))
    att += 1.5 * (((r - 200) / 110) ** 2 + (c / 80) ** 2 < 1)
    att += 1.2 * ((r > 320) & (r < 1000) & (np.abs(c) > 190) & (np.abs(c) < 240))
    trans = np.exp(-att) * (1 + 0.01 * rng.standard_normal((rows, cols)))
    return np.clip(trans, 1e-4, 1.2).astype(np.float32)


def _standin_model(folder: Path) -> Path:
    """Export an untrained CenterNet of the shipped architecture (+ manifest); returns its path."""
    import torch

    from models.manifest import Manifest
    from models.training.export import export_onnx
    from models.training.network import CenterNet

    torch.manual_seed(0)
    net = CenterNet().eval()
    path = folder / "standin.onnx"
    export_onnx(net, path)
    classes = ["phone", "power_bank", "battery", "sim_card", "blade", "drug_package"]
    manifest = Manifest(
        name="untrained-standin", version="0", file=path.name, sha256="0" * 64, classes=classes
    ).with_model(path)
    manifest.save(folder / "manifest.json")
    return path


def _percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values)
    return {
        "min": float(arr.min()),
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "max": float(arr.max()),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 when p95 of the total is within --budget-ms."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="timed runs (after --warmup runs)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model with manifest.json")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--cols", type=int, default=800)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    numba_threads = numba.get_num_threads()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        if args.model is not None:
            model_path, model_note = args.model, f"given model {args.model}"
        elif DEFAULT_MODEL_PATH.exists() and DEFAULT_MANIFEST_PATH.exists():
            model_path, model_note = DEFAULT_MODEL_PATH, "shipped model"
        else:
            model_path = _standin_model(Path(tmp))
            model_note = "UNTRAINED stand-in of the shipped architecture (no shipped model yet)"
        detector = Detector(model_path, threads=args.threads, providers=["CPUExecutionProvider"])
        data, scan_note = _scan_bytes(args.rows, args.cols, (1.0, 0.8), seed=1)
        samples: dict[str, list[float]] = {s: [] for s in STAGES}
        for i in range(args.warmup + args.n):
            c0, t0 = time.process_time(), time.perf_counter()
            result = detector.detect_source(data)
            wall = (time.perf_counter() - t0) * 1000.0
            cpu = (time.process_time() - c0) * 1000.0
            if i < args.warmup:
                continue
            t = result.timings
            for stage in STAGES[:4]:
                samples[stage].append(float(getattr(t, stage)))
            samples["total_ms"].append(t.total_ms)
            samples["wall_ms"].append(wall)
            samples["cpu_ms"].append(cpu)
    report = {
        "model": f"{detector.identity.name} {detector.identity.version} ({model_note})",
        "scan": scan_note,
        "runs": args.n,
        "onnxruntime": {
            "providers": detector.session.providers,
            "intra_op_num_threads": args.threads,
            "inter_op_num_threads": 1,
            "execution_mode": "sequential",
            "graph_optimization_level": "ORT_ENABLE_ALL",
            "allow_spinning": False,
        },
        "numba_threads": numba_threads,
        "cpu_count": os.cpu_count(),
        "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        "python": platform.python_version(),
        "stages": {s: _percentiles(v) for s, v in samples.items()},
        "budget_ms": {"p95_total": args.budget_ms},
    }
    print(f"model:   {report['model']}")
    print(f"scan:    {scan_note}")
    print(
        f"runtime: onnxruntime {detector.session.providers}, intra-op {args.threads}, inter-op 1, "
        f"sequential, no spinning; numba threads {numba_threads}; {os.cpu_count()} CPUs visible; "
        f"1-min load {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(f"{'stage':<14}{'min ms':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for stage, p in report["stages"].items():  # type: ignore[attr-defined]
        print(f"{stage:<14}{p['min']:9.1f}{p['p50']:9.1f}{p['p95']:9.1f}{p['max']:9.1f}")
    print("(cpu_ms: process CPU time per scan, all threads; wall_ms: DICOM bytes -> Result)")
    p95 = report["stages"]["wall_ms"]["p95"]  # type: ignore[index]
    ok = p95 <= args.budget_ms
    print(f"end-to-end p95 {p95:.1f} ms {'<=' if ok else '>'} budget {args.budget_ms:.0f} ms")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
