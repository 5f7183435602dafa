"""Inference cost of the detector's design options, side by side: output stride and working pitch.

Exports untrained networks of the shipped architecture (``models.training.network.CenterNet``,
same compute as trained ones) with output stride 4 (shipped) and 2, and times onnxruntime on the
model input of a body scan at the 2.0 mm working pitch and at 1.5 mm, alternating the variants in
every round so that machine load affects them alike. Prints each variant's median time and its
ratio to the shipped configuration; the flip test (``manifest.outputs.flip_test``) doubles every
figure, and the zoom test (``manifest.outputs.zoom_test``) adds one pass on an input enlarged by
its factor (about factor squared of a pass). Needs the ``train`` extra (PyTorch) for the export.

Usage::

    .venv/bin/python benchmarks/architecture.py [--rounds 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The project root first: this folder holds scripts whose names shadow packages (kernels.py).
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT)]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

#: Body window of a standing adult at 2.0 mm (about 2.0 m x 0.8 m), padded to multiples of 32.
WINDOW_2MM = (1024, 416)


def _pad(n: float) -> int:
    return int(-(-round(n) // 32) * 32)


def main(argv: list[str] | None = None) -> int:
    """Time the variants; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (after 3 warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.threads < 1:
        parser.error("--rounds and --threads must be at least 1")

    import onnxruntime as ort
    import torch

    from models.training.export import export_onnx
    from models.training.network import CenterNet, NetworkConfig

    variants = {
        "stride 4, 2.0 mm (shipped)": (4, 2.0),
        "stride 2, 2.0 mm": (2, 2.0),
        "stride 4, 1.5 mm": (4, 1.5),
        "stride 2, 1.5 mm": (2, 1.5),
    }
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    sessions, inputs = {}, {}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for stride in (4, 2):
            torch.manual_seed(0)
            path = Path(tmp) / f"stride{stride}.onnx"
            export_onnx(CenterNet(NetworkConfig(stride=stride)).eval(), path)
            sessions[stride] = ort.InferenceSession(
                str(path), opts, providers=["CPUExecutionProvider"]
            )
        for name, (_, pitch) in variants.items():
            h, w = (_pad(n * 2.0 / pitch) for n in WINDOW_2MM)
            inputs[name] = rng.uniform(0.0, 1.5, (1, 1, h, w)).astype(np.float32)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for i in range(3 + args.rounds):
            for name, (stride, _) in variants.items():
                t0 = time.perf_counter()
                sessions[stride].run(None, {"image": inputs[name]})
                if i >= 3:
                    times[name].append((time.perf_counter() - t0) * 1000.0)
    base = float(np.median(times["stride 4, 2.0 mm (shipped)"]))
    print(f"onnxruntime CPU, intra-op {args.threads} thread(s), {args.rounds} alternating rounds")
    print(f"{'variant':<28}{'input':>12}{'median ms':>11}{'ratio':>8}")
    for name, t in times.items():
        shape = "x".join(str(d) for d in inputs[name].shape[2:])
        med = float(np.median(t))
        print(f"{name:<28}{shape:>12}{med:11.1f}{med / base:8.2f}")
    print("(one pass; the flip test runs two, the zoom test one more on an enlarged input)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
