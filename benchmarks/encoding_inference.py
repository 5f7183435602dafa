"""What the reader infers when a file does not say how its values relate to attenuation.

Two things a vendor file may leave out or get wrong, each measured on the same simulated scans
(half with a phone), read two ways with ``scanner.read_scan``, side by side:

1. **Pixel Intensity Relationship (0028,1040) and its Sign (0028,1041) left out**, as many CR
   and Secondary Capture files do. Each scan goes through a random vendor encoding
   (``scanner.encoding.random_encoding``: LIN or LOG, either sign, MONOCHROME1 or 2, 12-16 bits,
   any transfer syntax) and loses both attributes. Ways: *inferred* (both read from the image,
   ``scanner.intensity``) and *stated only* (the photometric rule: LOG, sign from the
   Photometric Interpretation). Also counted: intact files whose image contradicts their tags
   (should be none).
2. **LOG values not in natural-log units**: the same scan as a conformant LOG file, as base-10
   log values under a natural-log Rescale Slope, and as 1000 x attenuation with slope 1 (a
   vendor's own scale). Ways: *inferred* (the scale set from the body's median attenuation when
   it is implausible, ``scanner._normalise``) and *stated only* (the rescaled value taken as
   natural log; an impossible range mapped as the full stored range spanning 12 units).

3. **Padding without Pixel Padding Value (0028,0120)**: the untagged file of experiment 1 with
   a frame of 8-40 pixels on every side set to the lowest or highest stored value, and no
   padding tag. Ways: *frame found* (``scanner.intensity.find_frame``: left out of the reading
   and set to air) and *not looked for* (the frame read as image). Also counted: intact files
   in which a frame is found (should be none).

For each: how often the attenuation image comes out right (median error below 0.02, or scale
within 15 %), and the shipped detector's scan-level detection (ALARM on phone scans) and
false-alarm rates (ALARM on the others), with 95 % Clopper-Pearson intervals.

Usage::

    .venv/bin/python benchmarks/encoding_inference.py [--n 200] [--seed 8200000] [--json OUT]
"""

from __future__ import annotations

import io
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# The project root first: this folder holds scripts whose names shadow packages (kernels.py);
# it comes last, for the helpers the benchmarks share (scan_benchmark.py).
sys.path[:] = [
    str(ROOT),
    *(p for p in sys.path if Path(p or ".").resolve() not in (ROOT, HERE)),
    str(HERE),
]

from scan_benchmark import interval, run  # noqa: E402

from detect import Detector  # noqa: E402
from scanner import Validation, read_scan  # noqa: E402
from scanner.encoding import Encoding, encode_dicom, random_encoding  # noqa: E402
from scanner.intensity import find_frame, read_intensity  # noqa: E402
from scanner.simulate import SimConfig, simulate_scan  # noqa: E402

#: The two ways each file is read.
WAYS = ("inferred", "stated only")
#: The two ways a framed file without Pixel Padding Value is read.
FRAME_WAYS = ("frame found", "not looked for")
#: LOG files of one scan whose values are, or are not, natural-log line integrals.
LOG_VARIANTS = ("natural log", "log10", "vendor scale x1000")
#: Median absolute attenuation error below which an image counts as read right.
RIGHT_BELOW = 0.02
#: LOG variants: scale of the image against the truth within this fraction counts as right.
SCALE_WITHIN = 0.15


def _bytes(ds: Any) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _read(data: bytes, way: str) -> Any:
    """``read_scan`` as it is (inferred), or with nothing inferred beyond the file's tags."""
    if way == "stated only":
        with (
            mock.patch("scanner._header.read_intensity", return_value=None),
            mock.patch("scanner._normalise.body_scale", return_value=None),
        ):
            return read_scan(data, validation=Validation.IGNORE)
    return read_scan(data, validation=Validation.IGNORE)


def _log_files(transmission: Any, spacing: Any) -> dict[str, bytes]:
    """The scan as LOG files whose rescaled values are p, p / ln 10 and 1000 (p + 1)."""
    enc = Encoding("LOG", -1, "MONOCHROME2", 16, rescale_slope=0.001, rescale_intercept=-1.0)
    files = {}
    for variant in LOG_VARIANTS:
        ds = encode_dicom(transmission, spacing, enc)  # stored = 1000 (p + 1)
        if variant == "log10":
            ds.RescaleSlope = f"{0.001 / math.log(10):.10g}"
            ds.RescaleIntercept = f"{-1.0 / math.log(10):.10g}"
        elif variant == "vendor scale x1000":
            ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
        files[variant] = _bytes(ds)
    return files


def _framed(ds: Any, rng: np.random.Generator) -> tuple[bytes, Any, dict[str, Any]]:
    """The file with a frame of the lowest or highest stored value and no padding tag."""
    ts = ds.file_meta.TransferSyntaxUID
    stored = ds.pixel_array.copy()
    width = int(rng.integers(8, 41))
    value = 0 if rng.random() < 0.5 else (1 << int(ds.BitsStored)) - 1
    frame = np.zeros(stored.shape, dtype=bool)
    frame[:width], frame[-width:], frame[:, :width], frame[:, -width:] = True, True, True, True
    stored[frame] = value
    if ts.is_compressed:
        ds.compress(ts, stored, generate_instance_uid=False)
    else:
        ds.PixelData = stored.tobytes()
    return _bytes(ds), frame, {"width": width, "value": value}


def _scale(image: Any, truth: Any) -> float:
    body = truth > 0.3
    return float(np.median(image[body] / truth[body]))


def measure(n: int, seed: int, detector: Detector) -> list[dict[str, Any]]:
    """One row per scan: both experiments, each way's reading, error and decision."""
    rows = []
    for i in tqdm(range(n), desc="scans", mininterval=5.0):
        phone = i % 2 == 0
        sim = simulate_scan(seed + i, SimConfig(has_phone=phone))
        truth = -np.log(np.clip(sim.transmission.astype(np.float64), 1e-6, None))
        enc = random_encoding(np.random.default_rng(seed + i))
        ds = encode_dicom(sim.transmission, sim.spacing, enc)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read_scan(_bytes(ds), validation=Validation.WARN)
        pixels = ds.pixel_array
        t0 = time.perf_counter()
        false_frame = find_frame(pixels) is not None
        frame_ms = (time.perf_counter() - t0) * 1000
        del ds.PixelIntensityRelationship
        del ds.PixelIntensityRelationshipSign
        data = _bytes(ds)
        row: dict[str, Any] = {
            "phone": phone,
            "encoding": enc.describe(),
            "truth": [str(enc.relationship), enc.sign],
            "contradicted": any("but the image" in str(w.message) for w in caught),
            "false_frame": false_frame,
            "frame_ms": frame_ms,
            "untagged": {},
            "framed": {},
            "log": {v: {} for v in LOG_VARIANTS},
        }
        for way in WAYS:
            scan = _read(data, way)
            norm = scan.normalisation
            row["untagged"][way] = {
                "read": [norm.pixel_intensity_relationship, norm.pixel_intensity_relationship_sign],
                "right": float(np.median(np.abs(scan.image - truth))) < RIGHT_BELOW,
                "decision": detector.detect(scan).decision.value,
            }
        t0 = time.perf_counter()
        read_intensity(scan.image)
        row["reading_ms"] = (time.perf_counter() - t0) * 1000
        framed, frame, row["frame"] = _framed(ds, np.random.default_rng(seed + i + 1))
        inside = ~frame
        for way in FRAME_WAYS:
            if way == "not looked for":
                with mock.patch("scanner._dicom.find_frame", return_value=None):
                    scan = read_scan(framed, validation=Validation.IGNORE)
            else:
                scan = read_scan(framed, validation=Validation.IGNORE)
            error = np.abs(scan.image[inside] - truth[inside])
            row["framed"][way] = {
                "right": float(np.median(error)) < RIGHT_BELOW,
                "decision": detector.detect(scan).decision.value,
            }
        for variant, blob in _log_files(sim.transmission, sim.spacing).items():
            for way in WAYS:
                scan = _read(blob, way)
                scale = _scale(scan.image, truth)
                row["log"][variant][way] = {
                    "scale": scale,
                    "right": abs(scale - 1.0) <= SCALE_WITHIN,
                    "decision": detector.detect(scan).decision.value,
                }
        rows.append(row)
    return rows


def _rates(cells: list[tuple[bool, dict[str, Any]]]) -> dict[str, Any]:
    """Image-right share, Pd and Pfa of (phone, cell) pairs."""
    n = len(cells)
    right = sum(c["right"] for _, c in cells)
    pos = [c["decision"] == "ALARM" for phone, c in cells if phone]
    neg = [c["decision"] == "ALARM" for phone, c in cells if not phone]
    return {
        "image_right": right / max(1, n),
        "image_right_ci95": interval(right, n),
        "pd": sum(pos) / max(1, len(pos)),
        "pd_ci95": interval(sum(pos), len(pos)),
        "n_phone": len(pos),
        "pfa": sum(neg) / max(1, len(neg)),
        "pfa_ci95": interval(sum(neg), len(neg)),
        "n_clear": len(neg),
    }


def _line(label: str, f: dict[str, Any]) -> str:
    (lo, hi), (lo_d, hi_d), (lo_f, hi_f) = f["image_right_ci95"], f["pd_ci95"], f["pfa_ci95"]
    return (
        f"  {label:<34} image right {f['image_right']:.2f} [{lo:.2f}, {hi:.2f}]  "
        f"Pd {f['pd']:.2f} [{lo_d:.2f}, {hi_d:.2f}] (n={f['n_phone']})  "
        f"Pfa {f['pfa']:.2f} [{lo_f:.2f}, {hi_f:.2f}] (n={f['n_clear']})"
    )


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Print and return each way's figures for both experiments."""
    n = len(rows)
    out: dict[str, Any] = {"n_scans": n, "untagged": {}, "log": {}}
    print(f"1. {n} files without (0028,1040/1041), random vendor encodings")
    for way in WAYS:
        f = _rates([(r["phone"], r["untagged"][way]) for r in rows])
        right = sum(r["untagged"][way]["read"] == r["truth"] for r in rows)
        f["relationship_and_sign_right"] = right / n
        out["untagged"][way] = f
        print(_line(way, f) + f"  LIN/LOG and sign right {right / n:.2f}")
    contradicted = sum(r["contradicted"] for r in rows)
    out["intact_files_contradicted"] = contradicted
    print(f"  intact files whose image contradicts their tags: {contradicted} of {n}")
    ms = np.asarray([r["reading_ms"] for r in rows])
    out["reading_ms"] = {"p50": float(np.median(ms)), "p95": float(np.percentile(ms, 95))}
    print(f"  reading time: p50 {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms")
    frames = sum(r["false_frame"] for r in rows)
    out["intact_files_with_a_frame"] = frames
    fms = np.asarray([r["frame_ms"] for r in rows])
    out["frame_search_ms"] = {"p50": float(np.median(fms)), "p95": float(np.percentile(fms, 95))}
    print(
        f"  intact files in which a frame is found: {frames} of {n}; frame search p50 "
        f"{np.median(fms):.2f} ms, p95 {np.percentile(fms, 95):.2f} ms"
    )
    print(f"2. the same {n} scans as LOG files, natural-log or not")
    for variant in LOG_VARIANTS:
        out["log"][variant] = {}
        for way in WAYS:
            f = _rates([(r["phone"], r["log"][variant][way]) for r in rows])
            scales = [r["log"][variant][way]["scale"] for r in rows]
            f["scale_median"] = float(np.median(scales))
            f["scale_p5_p95"] = [float(np.percentile(scales, 5)), float(np.percentile(scales, 95))]
            out["log"][variant][way] = f
            print(
                _line(f"{variant}, {way}", f)
                + f"  scale {f['scale_median']:.2f} ({f['scale_p5_p95'][0]:.2f}-"
                f"{f['scale_p5_p95'][1]:.2f})"
            )
    print(f"3. the {n} untagged files framed (8-40 px, lowest or highest value), no padding tag")
    out["framed"] = {}
    for way in FRAME_WAYS:
        f = _rates([(r["phone"], r["framed"][way]) for r in rows])
        out["framed"][way] = f
        print(_line(way, f))
    return out


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, 8_200_000, measure, report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
