"""ONNX export of the detector with a parity check against PyTorch (onnxruntime, CPU)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.training.errors import ExportError
from models.training.network import CenterNet, ExportWrapper

__all__ = ["OPSET", "PARITY_TOLERANCE", "ParityReport", "export_onnx"]

logger = logging.getLogger(__name__)

OPSET = 17
#: Largest allowed absolute difference between PyTorch and onnxruntime outputs.
PARITY_TOLERANCE = 1e-4
_OUTPUTS = ("heatmap", "wh", "offset")


@dataclass(frozen=True)
class ParityReport:
    """Result of the parity check.

    Attributes
    ----------
    max_abs_diff : dict
        Largest absolute difference per output (heatmap, wh, offset) over all test inputs.
    shapes : list of tuple
        Input shapes checked.
    tolerance : float
        Tolerance the check used (``wh`` is compared relative to its magnitude).
    """

    max_abs_diff: dict[str, float]
    shapes: list[tuple[int, int, int, int]]
    tolerance: float


def export_onnx(
    net: CenterNet,
    path: str | Path,
    opset: int = OPSET,
    tolerance: float = PARITY_TOLERANCE,
    check_shapes: tuple[tuple[int, int], ...] = ((256, 128), (512, 224)),
    seed: int = 0,
) -> ParityReport:
    """Export ``net`` (eval mode) to ONNX with dynamic height and width, then check parity.

    Parameters
    ----------
    net : CenterNet
    path : str or Path
        Output ``.onnx`` file.
    opset : int
        ONNX opset (>= 17).
    tolerance : float
        Largest allowed absolute difference on ``heatmap`` and ``offset``; ``wh`` (pixels, up to
        hundreds) is allowed ``tolerance`` times its magnitude.
    check_shapes : tuple of (H, W)
        Input sizes of the parity check (multiples of 32).
    seed : int
        Seed of the random parity inputs.

    Returns
    -------
    ParityReport

    Raises
    ------
    ExportError
        If export fails or an output differs by more than the tolerance.
    """
    if opset < 17:
        raise ExportError(f"opset {opset} is too old; the detector contract needs opset >= 17")
    import onnxruntime as ort

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ExportWrapper(net).eval()
    gen = torch.Generator().manual_seed(seed)
    inputs = [(torch.rand((1, 1, h, w), generator=gen) * 2.0) for h, w in check_shapes]
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                (inputs[0],),
                str(path),
                input_names=["image"],
                output_names=list(_OUTPUTS),
                opset_version=opset,
                dynamo=False,
                dynamic_axes={
                    "image": {2: "height", 3: "width"},
                    **{o: {2: "out_height", 3: "out_width"} for o in _OUTPUTS},
                },
            )
    except Exception as exc:
        raise ExportError(f"ONNX export to {str(path)!r} failed: {exc}") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    worst = dict.fromkeys(_OUTPUTS, 0.0)
    for x in inputs:
        with torch.no_grad():
            ref = [t.numpy() for t in wrapper(x)]
        got = session.run(list(_OUTPUTS), {"image": x.numpy()})
        for name, r, g in zip(_OUTPUTS, ref, got, strict=True):
            if r.shape != g.shape:
                raise ExportError(f"ONNX output {name} has shape {g.shape}, PyTorch {r.shape}")
            diff = np.abs(r - g)
            if name == "wh":
                diff = diff / np.maximum(np.abs(r), 1.0)
            worst[name] = max(worst[name], float(diff.max()))
    report = ParityReport(worst, [tuple(x.shape) for x in inputs], tolerance)  # type: ignore[misc]
    bad = {k: v for k, v in worst.items() if v > tolerance}
    if bad:
        raise ExportError(
            f"ONNX model {str(path)!r} disagrees with PyTorch beyond {tolerance:g}: {bad}; "
            "check for unsupported operators or re-export with another opset"
        )
    logger.info("exported %s; parity max abs diff %s (tolerance %g)", path, worst, tolerance)
    return report
