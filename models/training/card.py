"""The model card (``MODEL_CARD.md``), written from the manifest so its figures match it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detect.preprocess import MAX_TILE
from models.manifest import Manifest

__all__ = ["write_model_card"]


def _fmt(m: dict[str, Any], key: str) -> str:
    v = m.get(key)
    if not isinstance(v, dict) or v.get("value") is None:
        return "n/a"
    ci = v.get("ci95")
    return f"{v['value']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{v['value']:.3f}"


def _groups(m: dict[str, Any], key: str) -> str:
    groups = m.get(key) or {}
    if not groups:
        return "n/a"
    return ", ".join(f"{g}: {v['value']:.3f} (n={v['n']})" for g, v in groups.items())


def _scan_calibration(manifest: Manifest) -> str:
    scan = manifest.calibration.scan_params()
    if scan is None:
        return "The scan score is the highest calibrated phone confidence of the scan."
    return (
        "The scan score is the probability that the scan holds a phone: a second Platt "
        f"scaling (a={scan.a:.3f}, b={scan.b:.3f}), fitted on the same scans, maps the scan's "
        "highest calibrated phone confidence to it."
    )


def _size_prior(manifest: Manifest) -> str:
    priors = manifest.calibration.size_prior
    if not priors:
        return "Raw peak scores are Platt-scaled as they are (no size prior)."
    terms = "; ".join(
        f"{k}: logit + {v.slope:.3f} min(0, ln(long side / {v.min_long_mm:g} mm))"
        for k, v in priors.items()
    )
    return (
        "Before Platt scaling (and before non-maximum suppression) a size prior, fitted on the "
        f"same scans, lowers the raw score of a box shorter than the smallest phone ({terms}): "
        "many of the detector's false phone peaks are smaller blobs, and boxes the size of a "
        "mini phone or larger keep their score."
    )


_GOALS = (
    ("phone AP50 >= 0.95", "ap50_phone", 0.95, True),
    ("scan Pd >= 0.95 at Pfa <= 0.05", "pd_at_pfa_0.05", 0.95, True),
    ("ECE (phone detections) <= 0.05", "ece_phone_detections", 0.05, False),
    ("ECE (scan score) <= 0.05", "ece_scan", 0.05, False),
)


def _goals(m: dict[str, Any]) -> str:
    parts = []
    for label, key, target, higher in _GOALS:
        v = (m.get(key) or {}).get("value")
        if v is None:
            continue
        met = v >= target if higher else v <= target
        parts.append(f"{label}: {v:.3f} ({'met' if met else 'NOT met'})")
    for group, key in (
        ("internal concealment", "phone_recall_by_concealment"),
        ("mini phones", "phone_recall_by_kind"),
    ):
        sub = (m.get(key) or {}).get("internal" if group.startswith("internal") else "mini_phone")
        if sub:
            met = sub["value"] >= 0.90
            parts.append(
                f"Pd >= 0.90 for {group} (object recall at the alarm threshold): "
                f"{sub['value']:.3f} ({'met' if met else 'NOT met'})"
            )
    return "; ".join(parts) or "n/a"


def _seeds(spans: Any) -> str:
    """``"seeds a..b"``; spans with gaps already say ``"N scans among a..b"``."""
    if not spans:
        return "seeds n/a"
    return str(spans) if "among" in str(spans) else f"seeds {spans}"


def _failures(m: dict[str, Any]) -> str:
    f = m.get("phone_failures")
    if not f or not f.get("phones"):
        return "n/a"

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"

    missed = f["phones"] - f["with_peak"]
    return (
        f"{f['with_peak']} of {f['phones']} phones get a matching phone peak at some score, so "
        f"missing them is a ranking error; the {missed} with none, by location: "
        f"{counts(f['without_peak_by_location'])}; by kind: {counts(f['without_peak_by_kind'])}. "
        f"Phone findings at confidence >= {f['false_findings_level']:g} that match no phone, by "
        f"what they lie on: {counts(f['false_findings'])}."
    )


def _inference(manifest: Manifest) -> str:
    flip = (
        "The heatmap is the mean of the scan's and its mirror image's (flip test), for "
        "calibration, thresholds and metrics alike."
        if manifest.outputs.flip_test
        else "One pass per scan (no flip test)."
    )
    zoom = manifest.outputs.zoom_test
    if zoom is not None:
        flip += (
            f" A second pass runs on the scan enlarged {zoom:g}x (without the flip test); its "
            "peaks, mapped back, join the first pass's before non-maximum suppression (zoom "
            "test), so small objects get a larger look."
        )
    return f"Whole-scan inference (windows over {MAX_TILE} working pixels a side are tiled). {flip}"


def _where(phases: Any) -> str:
    cpu = "on a CPU with 2 cores, torch threads per phase as listed; in phases with one thread the "
    cpu += "scan generator used the other core"
    if any(p.get("device") == "cuda" for p in phases or []):
        return f"phases marked CUDA GPU on one GPU, the others {cpu}"
    return cpu


#: Augmentation ranges of the phases that predate their recording in the lineage.
_EARLY_AUGMENT = {
    "gain_range": [0.8, 1.25],
    "gamma_range": [0.85, 1.15],
    "scale_range": [0.85, 1.2],
    "blur_sigma": [0.3, 1.2],
    "p_blur": 0.3,
}


def _augment_text(aug: dict[str, Any]) -> str:
    def span(key: str) -> str:
        lo, hi = aug[key]
        return f"{lo:g}-{hi:g}"

    return (
        f"attenuation gain {span('gain_range')}, power law {span('gamma_range')}, "
        f"crop scale {span('scale_range')}, blur sigma {span('blur_sigma')} px "
        f"(in {aug['p_blur']:.0%} of crops)"
    )


def _augmentations(phases: Any) -> str:
    """The augmentation ranges of the newest phase, and of the earlier ones where they differ."""
    trained = [p for p in phases or [] if not p.get("averaged_from")]
    if not trained:
        return ""
    newest = trained[-1].get("augment") or _EARLY_AUGMENT
    text = f" (newest phase): {_augment_text(newest)}"
    if any((p.get("augment") or _EARLY_AUGMENT) != newest for p in trained):
        text += f"; phases listed without ranges: {_augment_text(_EARLY_AUGMENT)}"
    return text


def _phases(phases: Any) -> str:
    if not phases:
        return "n/a"
    return "; ".join(
        f"the EMA weights of {' and '.join(f'`{a}`' for a in p['averaged_from'])} averaged"
        if p.get("averaged_from")
        else (f"`{p['run']}`" if p.get("run") else "")
        + (f" (from `{p['init_from']}`)" if p.get("init_from") else "")
        + (": " if p.get("run") else "")
        + f"{p['steps']} steps of batch {p['batch_size']} at {p['crop'][0]}x{p['crop'][1]} px "
        f"({p['wall_time_s'] / 60:.0f} min"
        + (" on a CUDA GPU" if p.get("device") == "cuda" else "")
        + (f", {p['threads']} thread(s)" if p.get("threads") else "")
        + (f", seed {p['seed']}" if "seed" in p else "")
        + (f", peak lr {p['lr']:g}" if p.get("lr") else "")
        + (
            f", hard phones weighted {p['hard_phone_weight']:g}x"
            if p.get("hard_phone_weight", 1) != 1
            else ""
        )
        + (f", output stride {p['stride']}" if p.get("stride", 4) != 4 else "")
        + (f", {p['pitch_mm']:g} mm pitch" if p.get("pitch_mm", 2.0) != 2.0 else "")
        + (f", augmented with {_augment_text(p['augment'])}" if p.get("augment") else "")
        + (f", {p['scans']} scans in `{p['cache']}`" if p.get("scans") else "")
        + ")"
        for p in phases
    )


def _robustness(m: dict[str, Any]) -> str:
    r = m.get("robustness")
    if not isinstance(r, dict) or not r.get("perturbations"):
        return "not measured for this model."
    lines = [
        f"Phone AP50 on the same {r['n_scans']} test scans after one change to the model input "
        f"(unchanged: {r['reference_ap50_phone']:.3f}); intervals from "
        f"{r['bootstrap_resamples']} paired bootstrap resamples of the scans.",
        "",
        "| Change | AP50 [95 % CI] | Difference [95 % CI] |",
        "|---|---|---|",
    ]
    for p in r["perturbations"].values():
        lines.append(f"| {p['description']} | {_fmt(p, 'ap50_phone')} | {_fmt(p, 'delta')} |")
    return "\n".join(lines)


def write_model_card(manifest: Manifest, path: str | Path, command: str | None = None) -> None:
    """Write the model card of ``manifest`` to ``path`` (Markdown).

    Parameters
    ----------
    manifest : Manifest
    path : str or Path
    command : str, optional
        The command that reproduces the metrics (shown in the card).
    """
    command = command or f"scanguard train --seed {manifest.training.seed} --stages calibrate"
    m = manifest.metrics
    t = manifest.training
    th = manifest.thresholds
    extra = t.model_extra or {}
    rows = [
        ("Phone AP50", "ap50_phone"),
        ("Scan-level Pd at the alarm threshold", "pd_at_alarm"),
        ("Scan-level false-alarm rate at the alarm threshold", "pfa_at_alarm"),
        ("Phone scans left CLEAR (misses)", "miss_clear"),
        ("Scans INCONCLUSIVE", "inconclusive"),
        ("Scan-level Pd at Pfa <= 0.02 (threshold set on the test set)", "pd_at_pfa_0.02"),
        ("Scan-level Pd at Pfa <= 0.05 (threshold set on the test set)", "pd_at_pfa_0.05"),
        (
            "False phone detections per scan at the alarm threshold",
            "false_phone_detections_per_scan_at_alarm",
        ),
        ("ECE, phone detections (10 bins)", "ece_phone_detections"),
        ("ECE, scan score vs phone present (10 bins)", "ece_scan"),
    ]
    for name in manifest.classes[1:]:
        if f"ap50_{name}" in m:
            rows.append((f"{name} AP50", f"ap50_{name}"))
    table = "\n".join(f"| {label} | {_fmt(m, key)} |" for label, key in rows)
    calib = (
        ", ".join(
            f"{k}: a={v.a:.3f}, b={v.b:.3f}" for k, v in manifest.calibration.per_class.items()
        )
        or "identity"
    )
    text = f"""# Model card: {manifest.name} {manifest.version}

## Intended use
Decision support for reception screening in prisons: flags mobile phones (and, secondarily, power
banks, batteries, SIM cards, blades and drug packages) in full-body transmission X-ray scans of
people. An ALARM or INCONCLUSIVE result asks a trained officer to look at the image; a CLEAR
result is not proof of absence. Not for medical use, not for scans other than standing full-body
transmission scans, and not a replacement for a search policy.

## Model
Anchor-free CenterNet detector (output stride {manifest.outputs.stride}) on a small
depthwise-separable backbone with a top-down feature-pyramid neck; one heatmap channel per
class ({", ".join(manifest.classes)}), box width/height and centre offset heads.
File `{manifest.file}` (ONNX opset {manifest.opset}, dynamic height and width), sha256
`{manifest.sha256}`.
Input: attenuation (-ln I/I_air), destriped, resampled to {manifest.input.pitch_mm} mm square
pixels, `clip(attenuation * {manifest.input.scale}, 0, {manifest.input.clip_max})`, zero-padded
to a multiple of {manifest.input.pad_multiple}. {_inference(manifest)}
Export parity against PyTorch: max abs diff {extra.get("parity_max_abs_diff", "n/a")}
(tolerance {extra.get("parity_tolerance", "n/a")}).

## Training data
Simulated scans only ({t.simulator}): {t.n_train_scans} training scans
({_seeds(extra.get("train_seeds"))}), each through a randomly chosen vendor-style DICOM encoding and
`scanner.read_scan`, then the shared preprocessing. Randomised by the simulator: pitch, kVp,
dose, noise, detector stripes, body, pose, clutter, object kind, concealment and pose.
Training augmentations aimed at other scanners{_augmentations(extra.get("phases"))}, added
quantum noise, stripes, offsets, left-right flips; random crops biased towards objects.
Seed {t.seed} (`--seed`) drew the held-out calibration and test scans; each phase lists the
seed it trained with. AdamW with warm-up and cosine decay, EMA weights exported.
Phases, oldest first: {_phases(extra.get("phases"))}.
{extra.get("steps", "n/a")} steps in all, training wall time {t.wall_time_s / 60:.0f} min
({_where(extra.get("phases"))}).

## Calibration and decision
Platt scaling of the raw peak score per class, fitted on {t.n_calibration_scans} held-out
simulated scans (seeds {extra.get("calibration_seeds", "n/a")}): {calib}.
{_size_prior(manifest)}
{_scan_calibration(manifest)}
Thresholds chosen on the same calibration set for Pd >= 0.98 at <= 0.02 false alarms per scan:
ALARM at scan score >= {th.alarm}, CLEAR below {th.clear_below}, INCONCLUSIVE between; findings
reported from confidence {th.report_min_confidence}.

## Metrics
Held-out simulated test set: {m.get("n_scans", "n/a")} scans ({m.get("n_positive", "n/a")} with a
phone), seeds {extra.get("test_seeds", "n/a")}, never used in training or calibration. Values
with 95 % bootstrap intervals ({m.get("bootstrap_resamples", "n/a")} resamples of scans);
detections match at IoU >= {m.get("match_iou", 0.5)}.

| Metric | Value [95 % CI] |
|---|---|
{table}

Resampling scans inflates an ECE (duplicated scans make the bins noisier), so its bootstrap
interval can lie above the value itself; read it as the spread, not as a bound.
Phone recall at the alarm threshold counts a phone as found when a finding on it is confident
enough to raise the alarm on its own.
Phone recall at the alarm threshold (IoU 0.5) by kind: {_groups(m, "phone_recall_by_kind")}.
By concealment: {_groups(m, "phone_recall_by_concealment")}.
Scan-level Pd by encoding: {_groups(m, "scan_pd_by_encoding")}.

Where it fails: {_failures(m)}

Against the project's quality goals on this test set: {_goals(m)}.

### Robustness to other scanners
{_robustness(m)}

Reproduce with the installed model, on any checkout (figures from `models/training/metrics.py`
and `models/training/robustness.py`): `{command}`.

## Known limits
- Trained and tested on our own simulator only; real scanners and other simulators differ in
  spectra, detector response, noise texture and processing. The augmentations are meant to
  cover that, but the test figures above are an upper bound for other scanners; the robustness
  table shows how far phone AP50 falls under single changes of the input.
- SIM cards sit near the noise floor at general-use dose (log-contrast ~0.02 behind the
  abdomen); their detection is unreliable and they do not drive the scan decision.
- Blades face-on are faint; drug packages are close to tissue in density.
- Phones overlapping dense bone (pelvis, spine) or hidden internally are the hardest cases.
- Working pitch {manifest.input.pitch_mm} mm: objects shorter than about 10 mm are not resolved.
"""
    Path(path).write_text(text, encoding="utf-8")
