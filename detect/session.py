"""One typed onnxruntime session for the CenterNet detector."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from detect.errors import InferenceError, ModelLoadError, ProviderError
from models.manifest import Manifest, flip_average

__all__ = ["DEFAULT_THREADS", "CenterNetOutputs", "DetectorSession", "resolve_providers"]

logger = logging.getLogger(__name__)

#: Default intra-op threads (the station budget is 2 CPU cores).
DEFAULT_THREADS = 2
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


@dataclass(frozen=True)
class CenterNetOutputs:
    """Raw model outputs of one image (batch dimension removed).

    Attributes
    ----------
    heatmap : ndarray of float32, shape (C, H/stride, W/stride)
        Per-class sigmoid heatmaps.
    wh : ndarray of float32, shape (2, H/stride, W/stride)
        Box width and height in input pixels.
    offset : ndarray of float32, shape (2, H/stride, W/stride)
        Sub-cell centre offset (x, y) in output cells.
    """

    heatmap: NDArray[np.float32]
    wh: NDArray[np.float32]
    offset: NDArray[np.float32]


def resolve_providers(requested: Sequence[str] | None) -> list[str]:
    """Execution providers to ask onnxruntime for, in priority order.

    Parameters
    ----------
    requested : sequence of str or None
        Provider names; None means CUDA when this onnxruntime build has it, then CPU.

    Returns
    -------
    list of str
        Always ends with the CPU provider.

    Raises
    ------
    ProviderError
        If a requested provider is not available in this onnxruntime build; the message lists
        the available ones.
    """
    available = list(ort.get_available_providers())
    if requested is None:
        chosen = [CUDA] if CUDA in available else []
    else:
        missing = [p for p in requested if p not in available]
        if missing:
            raise ProviderError(
                f"execution provider(s) {missing} not available in this onnxruntime build "
                f"(available: {available}); request one of those, or install the onnxruntime "
                "package that provides them (e.g. onnxruntime-gpu for CUDAExecutionProvider)"
            )
        chosen = [p for p in requested if p != CPU]
    return [*chosen, CPU]


class DetectorSession:
    """onnxruntime session of a CenterNet model described by a manifest.

    Parameters
    ----------
    model_path : str or Path
        ONNX file (already verified against the manifest by the caller).
    manifest : Manifest
        Names the input and outputs and the number of classes.
    providers : sequence of str, optional
        Execution providers; default CUDA when available, else CPU.
    threads : int, optional
        Intra-op threads (default :data:`DEFAULT_THREADS`); inter-op is 1, sequential, and
        idle threads do not spin.

    Raises
    ------
    ProviderError
        A requested provider is not available.
    ModelLoadError
        onnxruntime cannot load the model, or its inputs/outputs do not match the manifest.
    """

    def __init__(
        self,
        model_path: str | Path,
        manifest: Manifest,
        *,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
    ) -> None:
        threads = DEFAULT_THREADS if threads is None else int(threads)
        if threads < 1:
            raise ModelLoadError(f"threads must be a positive integer, got {threads}")
        self.requested_providers = resolve_providers(providers)
        self.threads = threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: on a station whose few cores are shared
        # with the service and the DICOM receiver, spinning threads steal the CPU the working
        # thread needs (measured: p50 inference 96 ms spinning vs 54 ms not, 2 busy cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=self.requested_providers
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(
                f"onnxruntime cannot load model {str(model_path)!r}: {exc}; the file must be an "
                "ONNX model (opset >= 17) as written by `scanguard train`"
            ) from exc
        self.providers: list[str] = list(self._session.get_providers())
        fell_back = [p for p in self.requested_providers if p != CPU and p not in self.providers]
        if fell_back:
            logger.warning(
                "execution provider(s) %s failed to initialise; running on %s instead (check the "
                "GPU driver, CUDA and cuDNN libraries, or pass providers=['CPUExecutionProvider'] "
                "to silence this)",
                fell_back,
                self.providers,
            )
        logger.info(
            "model %s loaded on %s with %d intra-op thread(s)",
            Path(model_path).name,
            self.providers,
            threads,
        )
        self._manifest = manifest
        self._check_signature(model_path)

    @property
    def on_cpu_only(self) -> bool:
        """True when inference runs on the CPU provider alone."""
        return self.providers == [CPU]

    def _check_signature(self, model_path: str | Path) -> None:
        m = self._manifest
        inputs = {i.name: i for i in self._session.get_inputs()}
        if m.input.name not in inputs or len(inputs[m.input.name].shape) != 4:
            raise ModelLoadError(
                f"model {str(model_path)!r} has inputs {sorted(inputs)} but its manifest expects a "
                f"4-D input {m.input.name!r}; the model and manifest do not belong together"
            )
        outputs = {o.name for o in self._session.get_outputs()}
        wanted = [m.outputs.heatmap, m.outputs.wh, m.outputs.offset]
        missing = [name for name in wanted if name not in outputs]
        if missing:
            raise ModelLoadError(
                f"model {str(model_path)!r} lacks output(s) {missing} named in its manifest "
                f"(it has {sorted(outputs)}); the model and manifest do not belong together"
            )
        self._output_names = wanted

    def run(self, tensor: NDArray[np.float32], *, flip: bool | None = None) -> CenterNetOutputs:
        """Run the model on one preprocessed image.

        Parameters
        ----------
        tensor : ndarray of float32, shape (1, 1, H, W)
            Output of :func:`detect.preprocess.preprocess` (or of
            :func:`detect.preprocess.enlarge`).
        flip : bool, optional
            Average with the mirrored pass; default: the manifest's ``flip_test``. The zoom-test
            pass runs without it.

        Returns
        -------
        CenterNetOutputs
            With ``flip_test`` in the manifest, the heatmap is the mean of the plain and the
            mirrored pass (:func:`models.manifest.flip_average`).

        Raises
        ------
        InferenceError
            If onnxruntime fails or the outputs have unexpected shapes.
        """
        m = self._manifest
        try:
            heat, wh, off = self._session.run(self._output_names, {m.input.name: tensor})
            if m.outputs.flip_test if flip is None else flip:
                mirrored = np.ascontiguousarray(tensor[..., ::-1])
                (heat_m,) = self._session.run(self._output_names[:1], {m.input.name: mirrored})
                heat = flip_average(heat, heat_m)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise InferenceError(
                f"onnxruntime failed on an input of shape {tuple(tensor.shape)}: {exc}; the input "
                f"must be float32 [1, 1, H, W] with H, W multiples of {m.input.pad_multiple}"
            ) from exc
        n_cls = len(m.classes)
        expect_hw = (tensor.shape[2] // m.outputs.stride, tensor.shape[3] // m.outputs.stride)
        for name, arr, channels in (("heatmap", heat, n_cls), ("wh", wh, 2), ("offset", off, 2)):
            if arr.shape != (1, channels, *expect_hw):
                raise InferenceError(
                    f"model output {name!r} has shape {arr.shape}, expected "
                    f"{(1, channels, *expect_hw)} for input {tuple(tensor.shape)} (stride "
                    f"{m.outputs.stride}, {n_cls} classes); the model does not match its manifest"
                )
        return CenterNetOutputs(
            np.asarray(heat[0], dtype=np.float32),
            np.asarray(wh[0], dtype=np.float32),
            np.asarray(off[0], dtype=np.float32),
        )
