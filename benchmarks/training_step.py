"""Training-step time of the detector on the CPU, side by side: default layout vs channels-last.

Draws real training batches (crops of stand-in scans with their targets, batch 16 at 384x192 px
by default) and times a full step — forward, CenterNet loss, backward, AdamW — for two copies of
the shipped architecture, one in the default (contiguous) memory layout and one channels-last,
alternating them in every round so that machine load affects them alike. Prints each layout's
median step time and the ratio; ``scanguard train`` trains channels-last on the CPU
(``models.training.trainer.memory_format``). Needs the ``train`` extra (PyTorch).

Usage::

    .venv/bin/python benchmarks/training_step.py [--rounds 10] [--threads 2] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The project root first: this folder holds scripts whose names shadow packages (kernels.py).
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT)]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def main(argv: list[str] | None = None) -> int:
    """Time both layouts; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="timed steps per layout")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.threads < 1 or args.batch_size < 1:
        parser.error("--rounds, --threads and --batch-size must be at least 1")

    import torch

    from models.manifest import InputSpec
    from models.training.cache import Source, generate, split_seeds
    from models.training.data import CropSampler
    from models.training.loss import LossWeights, centernet_loss
    from models.training.network import CenterNet

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, split_seeds(0, "train", 8), Source.STANDIN, InputSpec(), prefix="train")
        sampler = CropSampler(tmp, (384, 192), 6)
        rng = np.random.default_rng(0)
        batches = [sampler.batch(args.batch_size, rng) for _ in range(4)]
    torch.manual_seed(0)
    nets = {"default layout": CenterNet().train()}
    nets["channels-last"] = copy.deepcopy(nets["default layout"]).to(
        memory_format=torch.channels_last
    )
    layouts = {"default layout": torch.contiguous_format, "channels-last": torch.channels_last}
    optims = {k: torch.optim.AdamW(n.parameters(), lr=1e-4) for k, n in nets.items()}
    times: dict[str, list[float]] = {k: [] for k in nets}

    def step(name: str, i: int) -> float:
        b = batches[i % len(batches)]
        t0 = time.perf_counter()
        out = nets[name](b.image.to(memory_format=layouts[name]))
        loss, _ = centernet_loss(out, b.heatmap, b.log_wh, b.offset, b.mask, LossWeights())
        optims[name].zero_grad(set_to_none=True)
        loss.backward()
        optims[name].step()
        return time.perf_counter() - t0

    for i in range(2):  # warm-up
        for name in nets:
            step(name, i)
    for i in range(args.rounds):
        for name in nets:
            times[name].append(step(name, i))
    print(
        f"training step, batch {args.batch_size} at 384x192 px, {args.threads} torch thread(s), "
        f"median of {args.rounds} steps per layout"
    )
    base = statistics.median(times["default layout"])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:15s} {med * 1000:7.1f} ms/step   speed-up x{base / med:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
