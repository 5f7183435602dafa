"""The detector: scan → preprocess → onnxruntime → decode → calibrated decision → Result."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeAlias

import numpy as np

from detect import errors
from detect.calibration import calibrate_labels, size_adjust
from detect.decision import decide, scan_score
from detect.orientation import turn_back, turned
from detect.postprocess import Detections, decode, nms
from detect.preprocess import (
    MAX_TILE,
    TILE_OVERLAP,
    Enlarged,
    Preprocessed,
    Tile,
    Window,
    content_window,
    enlarge,
    preprocess,
    tile_window,
)
from detect.result import Finding, ImageInfo, ModelIdentity, Result, StageTimings
from detect.session import CenterNetOutputs, DetectorSession
from detect.zones import assign_zone, body_layout
from models import DEFAULT_MANIFEST_PATH
from models import errors as model_errors
from models.manifest import Manifest
from scanner import ScanSource as FileSource
from scanner.scan import Polarity, Scan, SpacingSource
from scanner.stature import stated_turn, upright_turn

__all__ = [
    "Detector",
    "ScanSource",
    "default_detector",
    "detect",
    "load_detector",
    "read_source",
]

logger = logging.getLogger(__name__)

#: What :meth:`Detector.detect_many` and :func:`detect.detect` accept: a Scan, or anything
#: ``scanner.read_scan`` reads (path, bytes, binary file object, pydicom Dataset).
ScanSource: TypeAlias = Scan | FileSource

MANIFEST_NAME = "manifest.json"
#: Body zones are judged on the working image subsampled by this factor (4 mm at 2 mm pitch).
ZONE_STEP = 2


def _upright_turn(scan: Scan) -> int:
    """Quarter turns that stand the scan's person up: read from the image, or where the image
    cannot tell, from the file's Patient Orientation; 0 when neither can."""
    turn = upright_turn(scan.image)
    if turn is None:
        turn = stated_turn(scan.metadata.patient_orientation)
    return turn or 0


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def read_source(
    source: ScanSource,
    *,
    pixel_spacing: tuple[float, float] | None = None,
    polarity: Polarity | str | None = None,
) -> tuple[Scan, float]:
    """Read a scan from a Scan, path, bytes, file object or Dataset; returns (scan, decode ms).

    Parameters
    ----------
    source : Scan, path, bytes, binary file object or pydicom.Dataset
        A Scan is returned as it is (decode time 0).
    pixel_spacing, polarity : optional
        Passed to ``scanner.read_scan`` (needed for PNG/TIFF).

    Raises
    ------
    scanner.errors.ScanError
        If the source cannot be read as a scan.
    """
    if isinstance(source, Scan):
        return source, 0.0
    from scanner import read_scan

    t0 = time.perf_counter()
    scan = read_scan(source, pixel_spacing=pixel_spacing, polarity=polarity)
    return scan, _ms(t0)


def _resolve_paths(
    model_path: str | Path | None, manifest_path: str | Path | None
) -> tuple[Path, Path, Manifest]:
    if manifest_path is None:
        manifest_path = (
            DEFAULT_MANIFEST_PATH if model_path is None else Path(model_path).parent / MANIFEST_NAME
        )
    manifest_path = Path(manifest_path)
    try:
        manifest = Manifest.load(manifest_path)
    except model_errors.ManifestError as exc:
        raise errors.ManifestError(str(exc)) from exc
    if model_path is None:
        model_path = manifest.model_path(manifest_path)
    return Path(model_path), manifest_path, manifest


class Detector:
    """Phone/contraband detector over one ONNX model and its manifest.

    Parameters
    ----------
    model_path : str or Path, optional
        ONNX model. Default: the file named by the manifest (the shipped
        ``models/phone_detector.onnx`` when both paths are left out).
    manifest_path : str or Path, optional
        Manifest JSON. Default: ``manifest.json`` beside ``model_path`` (the shipped
        ``models/manifest.json`` when both are left out).
    providers : sequence of str, optional
        onnxruntime execution providers; default CUDA when available, else CPU.
    threads : int, optional
        onnxruntime intra-op threads (default 2).
    crop_to_content : bool
        Run the model only on the aligned window of the working image that holds more than air
        (:func:`detect.preprocess.content_window`); the rest is air and padding. Saves
        inference time on scans with wide air margins.
    max_tile : int
        Largest side (working pixels) the model runs on in one piece; a larger window is split
        into overlapping tiles (:func:`detect.preprocess.tile_window`) whose detections are
        merged. Bounds memory on very large scans; body scans fit in one piece.

    Notes
    -----
    After construction a detector holds no per-scan state: one instance may serve several
    threads at once (onnxruntime sessions and the kernels are thread-safe).

    Raises
    ------
    detect.errors.ManifestError
        The manifest is missing or invalid.
    detect.errors.ModelIntegrityError
        The model file is missing or does not match the manifest's sha256.
    detect.errors.ModelLoadError, detect.errors.ProviderError
        onnxruntime cannot load the model with the requested providers.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        manifest_path: str | Path | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        crop_to_content: bool = True,
        max_tile: int = MAX_TILE,
    ) -> None:
        self.crop_to_content = bool(crop_to_content)
        if int(max_tile) <= TILE_OVERLAP:
            raise errors.InputError(
                f"max_tile={max_tile} must exceed the tile overlap of {TILE_OVERLAP} working "
                f"pixels; use the default ({MAX_TILE}) unless memory is very tight"
            )
        self.max_tile = int(max_tile)
        self.model_path, self.manifest_path, self.manifest = _resolve_paths(
            model_path, manifest_path
        )
        try:
            self.manifest.verify(self.model_path)
        except model_errors.ModelIntegrityError as exc:
            raise errors.ModelIntegrityError(str(exc)) from exc
        self.session = DetectorSession(
            self.model_path, self.manifest, providers=providers, threads=threads
        )
        self._identity = ModelIdentity(
            name=self.manifest.name, version=self.manifest.version, sha256=self.manifest.sha256
        )

    @property
    def identity(self) -> ModelIdentity:
        """Name, version and sha256 of the model."""
        return self._identity

    def warmup(self) -> None:
        """Run the whole pipeline once on a small synthetic scan.

        Loads (or compiles) the kernels detection uses and lets onnxruntime set itself up, so
        the first real scan is not slowed down.
        """
        yy, xx = np.mgrid[0:160, 0:96]
        image = np.where((yy - 80) ** 2 / 3600 + (xx - 48) ** 2 / 900 < 1, 2.0, 0.0)
        image = image.astype(np.float32)
        scan = Scan(
            image=image,
            spacing=(2.0, 2.0),
            spacing_source=SpacingSource.ASSUMED,
            stored_shape=(160, 96),
        )
        self.detect(scan)
        body_layout(image, step=ZONE_STEP)

    def detect(self, scan: Scan, *, decode_ms: float = 0.0) -> Result:
        """Detect contraband in one normalised scan.

        Parameters
        ----------
        scan : Scan
            Attenuation image with pixel spacing (``scanner.read_scan``).
        decode_ms : float
            Time spent reading the scan, reported in the result's timings.

        Returns
        -------
        Result
            Findings in original pixels and mm, calibrated scan score, decision, timings.

        Raises
        ------
        detect.errors.InputError
            ``scan`` is not a Scan, or its image or spacing cannot be processed.
        detect.errors.InferenceError
            onnxruntime failed.
        """
        if not isinstance(scan, Scan):
            raise errors.InputError(
                f"detect() takes a scanner.Scan, got {type(scan).__name__}; use detect_source() "
                "for a path, bytes or file object, or build the Scan with scanner.read_scan"
            )
        t0 = time.perf_counter()
        turn = _upright_turn(scan)
        if turn:  # the detector was trained on people standing head up: stand this one up
            stored, scan = scan, turned(scan, turn)
        pre = preprocess(scan.image, scan.spacing, self.manifest.input)
        tiles = tile_window(self._window(pre), self.manifest.input, max_tile=self.max_tile)
        preprocess_ms = _ms(t0)
        parts: list[tuple[Tile, CenterNetOutputs, Enlarged | None]] = []
        infer_ms = 0.0
        zoom = self.manifest.outputs.zoom_test
        for tile in tiles:
            t0 = time.perf_counter()
            crop = tile.window.crop(pre)
            parts.append((tile, self.session.run(crop), None))
            if zoom is not None:
                vh, vw = tile.window.valid_shape(pre)
                big = enlarge(crop[0, 0, :vh, :vw], zoom, self.manifest.input)
                parts.append((tile, self.session.run(big.tensor, flip=False), big))
            infer_ms += _ms(t0)
        t0 = time.perf_counter()
        dets = Detections.concat(
            [
                self._decode(scan, pre, tile, raw, tiled=len(tiles) > 1, enlarged=big)
                for tile, raw, big in parts
            ]
        )
        result = self._postprocess(scan, pre, dets, decode_ms, preprocess_ms, infer_ms, t0)
        return turn_back(result, stored, turn) if turn else result

    def _window(self, pre: Preprocessed) -> Window:
        if self.crop_to_content:
            return content_window(pre, self.manifest.input)
        return Window(0, pre.tensor.shape[2], 0, pre.tensor.shape[3])

    def _decode(
        self,
        scan: Scan,
        pre: Preprocessed,
        tile: Tile,
        raw: CenterNetOutputs,
        *,
        tiled: bool,
        enlarged: Enlarged | None = None,
    ) -> Detections:
        """Peaks of one pass over one tile, in original pixels.

        The zoom-test pass (``enlarged``) ran on the tile enlarged by ``enlarged.factor``: its
        coordinates are in enlarged pixels, so the tile's origin and core are enlarged and
        the working-to-original scale is divided by the same factor.
        """
        m = self.manifest
        w = tile.window
        c = tile.core
        fr, fc = (1.0, 1.0) if enlarged is None else enlarged.factor
        return decode(
            raw.heatmap,
            raw.wh,
            raw.offset,
            stride=m.outputs.stride,
            scale=(pre.scale[0] / fr, pre.scale[1] / fc),
            valid_shape=w.valid_shape(pre) if enlarged is None else enlarged.valid_shape,
            image_shape=scan.shape,
            top_k=m.thresholds.top_k,
            peak_min_score=m.thresholds.peak_min_score,
            origin=(w.row0 * fr, w.col0 * fc),
            core=(c.row0 * fr, c.row1 * fr, c.col0 * fc, c.col1 * fc) if tiled else None,
        )

    def _postprocess(
        self,
        scan: Scan,
        pre: Preprocessed,
        dets: Detections,
        decode_ms: float,
        preprocess_ms: float,
        infer_ms: float,
        t0: float,
    ) -> Result:
        m = self.manifest
        th = m.thresholds
        dets = dets.select(np.arange(min(len(dets), th.top_k)))
        sizes_mm = dets.boxes[:, 2:4] * np.array([scan.spacing[1], scan.spacing[0]])
        adjusted = size_adjust(dets.scores, dets.labels, sizes_mm, m.classes, m.calibration)
        conf = calibrate_labels(adjusted, dets.labels, m.classes, m.calibration)
        score = scan_score(conf, dets.labels, m.classes, m.calibration.scan_params())
        reported = Detections(dets.boxes, dets.labels, conf).select(
            conf >= th.report_min_confidence
        )
        reported = reported.select(
            nms(reported.boxes, reported.scores, reported.labels, th.nms_iou)
        )
        findings = self._findings(scan, pre, reported)
        timings = StageTimings(
            decode_ms=decode_ms,
            preprocess_ms=preprocess_ms,
            infer_ms=infer_ms,
            postprocess_ms=_ms(t0),
        )
        return Result(
            decision=decide(score, th),
            scan_score=score,
            findings=findings,
            model=self._identity,
            timings=timings,
            image=ImageInfo(
                rows=scan.shape[0],
                cols=scan.shape[1],
                spacing_mm=(float(scan.spacing[0]), float(scan.spacing[1])),
                spacing_source=str(getattr(scan.spacing_source, "value", scan.spacing_source)),
                upright_turns=0,
            ),
            sop_instance_uid=scan.metadata.sop_instance_uid,
        )

    def _findings(self, scan: Scan, pre: Preprocessed, dets: Detections) -> list[Finding]:
        if len(dets) == 0:
            return []
        h, w = pre.valid_shape
        working = pre.tensor[0, 0, :h, :w] / np.float32(self.manifest.input.scale)
        layout = body_layout(working, step=ZONE_STEP)
        row_f, col_f = pre.scale
        sr, sc = float(scan.spacing[0]), float(scan.spacing[1])
        out = []
        for box, label, conf in zip(dets.boxes, dets.labels, dets.scores, strict=True):
            x, y, bw, bh = (float(v) for v in box)
            centre = ((y + bh / 2) / row_f, (x + bw / 2) / col_f)
            out.append(
                Finding(
                    label=self.manifest.classes[int(label)],
                    confidence=float(np.clip(conf, 0.0, 1.0)),
                    bbox_px=(x, y, bw, bh),
                    bbox_mm=(x * sc, y * sr, bw * sc, bh * sr),
                    zone=assign_zone(layout, centre),
                )
            )
        return out

    def detect_source(self, source: ScanSource) -> Result:
        """Read a Scan, path, bytes or file object and detect in it (decode time included)."""
        scan, decode_ms = read_source(source)
        return self.detect(scan, decode_ms=decode_ms)

    def iter_detect(self, sources: Iterable[ScanSource]) -> Iterator[Result]:
        """Lazily detect in many scans (Scan objects, paths, bytes or file objects), in order."""
        for source in sources:
            yield self.detect_source(source)

    def detect_many(self, sources: Iterable[ScanSource]) -> list[Result]:
        """Detect in many scans (Scan objects, paths, bytes or file objects); results in order.

        Raises
        ------
        scanner.errors.ScanError
            A source cannot be read (use :meth:`iter_detect` to handle files one by one).
        detect.errors.DetectorError
            Detection failed on a scan.
        """
        return list(self.iter_detect(sources))


def load_detector(
    model_path: str | Path | None = None,
    manifest_path: str | Path | None = None,
    *,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    warmup: bool = False,
) -> Detector:
    """Load a detector (the shipped ``models/phone_detector.onnx`` by default).

    Parameters
    ----------
    model_path, manifest_path : str or Path, optional
        See :class:`Detector`.
    providers : sequence of str, optional
        onnxruntime execution providers.
    threads : int, optional
        Intra-op threads (default 2).
    warmup : bool
        Run the model once before returning.

    Returns
    -------
    Detector
    """
    detector = Detector(model_path, manifest_path, providers=providers, threads=threads)
    if warmup:
        detector.warmup()
    return detector


@functools.lru_cache(maxsize=1)
def default_detector() -> Detector:
    """The shipped detector, loaded once per process."""
    return load_detector()


def detect(source: ScanSource) -> Result:
    """Detect contraband in one scan with the shipped model.

    Parameters
    ----------
    source : Scan, str, Path, bytes or binary file object
        A normalised scan, or a file ``scanner.read_scan`` can read.

    Returns
    -------
    Result
    """
    return default_detector().detect_source(source)
