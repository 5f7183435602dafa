"""Tests of the ``scanguard train`` command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from detect import Detector
from models.manifest import Calibration, Manifest, SizePrior
from models.training import evaluate
from models.training.data import AugmentConfig
from models.training.robustness import PERTURBATIONS
from scanguard.cli import build_parser, main

SAMPLES = Path(__file__).resolve().parents[2] / "sample_scans"


def test_train_command_registered() -> None:
    """``scanguard train`` parses its documented options."""
    args = build_parser().parse_args(
        [
            "train",
            "--out",
            "runs/x",
            "--seed",
            "3",
            "--scans",
            "10",
            "--epochs",
            "2",
            "--resume",
            "--minutes",
            "1.5",
            "--stages",
            "export,calibrate",
        ]
    )
    assert args.out == Path("runs/x") and args.seed == 3 and args.scans == 10
    assert args.resume and args.minutes == 1.5 and args.stages == ("export", "calibrate")


def test_bad_stage_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown stage name is refused with the list of valid stages."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--stages", "fit,deploy"])
    assert "data, fit, average, export, calibrate, install" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1e-3", "fast"])
def test_bad_learning_rate_rejected(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A learning rate that is not a positive number is refused by the parser."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--lr", value])
    assert "--lr" in capsys.readouterr().err


def test_device_and_loader_threads_options(capsys: pytest.CaptureFixture[str]) -> None:
    """--device takes auto/cpu/cuda and --loader-threads a count; anything else is refused."""
    args = build_parser().parse_args(["train", "--device", "cpu", "--loader-threads", "3"])
    assert args.device == "cpu" and args.loader_threads == 3
    assert build_parser().parse_args(["train"]).device == "auto"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--device", "gpu0"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--loader-threads", "-1"])
    assert "--loader-threads" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-4", "lots"])
def test_bad_memory_budget_rejected(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--memory-gb is a positive number of GB (default: half of the machine's memory)."""
    assert build_parser().parse_args(["train"]).memory_gb is None
    assert build_parser().parse_args(["train", "--memory-gb", "12.5"]).memory_gb == 12.5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--memory-gb", value])
    assert "--memory-gb" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0.5", "-2", "often"])
def test_bad_hard_phone_weight_rejected(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The hard-phone weight is a factor of at least 1; anything else is refused."""
    assert build_parser().parse_args(["train"]).hard_phone_weight == 2.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--hard-phone-weight", value])
    assert "--hard-phone-weight" in capsys.readouterr().err


def test_average_option_replaces_fit(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """--average implies the average stage in place of data/fit; a missing file is reported."""
    code = main(["train", "--out", str(tmp_path / "soup"), "--average", "nope/a.pt", "nope/b.pt"])
    assert code == 1 and "no checkpoint at 'nope/a.pt'" in caplog.text
    assert '"average"' in (tmp_path / "soup" / "options.json").read_text(encoding="utf-8")
    assert '"fit"' not in (tmp_path / "soup" / "options.json").read_text(encoding="utf-8")


def test_bad_crop_rejected(caplog: pytest.LogCaptureFixture) -> None:
    """A crop that is not a multiple of 32 is refused before any work starts."""
    assert main(["train", "--crop", "100", "64"]) == 2
    assert "multiples of 32" in caplog.text


def test_standin_pipeline_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny stand-in run trains, exports, calibrates and writes a valid manifest and card.

    Its few calibration scans hold too few true phone peaks for a size prior, so a fixed prior
    stands in for the fitted one: it must reach the manifest, the card, and the test-set
    predictions (the robustness runs included)."""
    prior = Calibration(size_prior={"phone": SizePrior(slope=0.7)})
    fitted: list[int] = []

    def fit(preds: list[evaluate.ScanPrediction]) -> Calibration:
        fitted.append(len(preds))
        return prior

    monkeypatch.setattr(evaluate, "fit_size_priors", fit)
    calls: list[Calibration | None] = []
    predict = evaluate.predict_records

    def spy(*args: object, **kwargs: object) -> list[evaluate.ScanPrediction]:
        cal = kwargs.get("calibration")
        calls.append(cal if isinstance(cal, Calibration) else None)
        return predict(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(evaluate, "predict_records", spy)
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--source",
            "standin",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--scans",
            "12",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            "--batch-size",
            "2",
            "--crop",
            "128",
            "96",
            "--calibration-scans",
            "6",
            "--test-scans",
            "6",
            "--lr",
            "5e-4",
            "--hard-phone-weight",
            "3",
            "--no-progress",
        ]
    )
    assert code == 0
    manifest = Manifest.load(out / "manifest.json")
    manifest.verify(out / "phone_detector.onnx")
    assert fitted == [6] and manifest.calibration.size_prior == prior.size_prior
    # calibration peaks without the prior, then the test scans and each robustness change with it
    assert calls[0] is None and len(calls) == 2 + len(PERTURBATIONS)
    assert all(c is not None and c.size_prior == prior.size_prior for c in calls[1:])
    assert "phone: logit + 0.700 min(0, ln(long side / 45 mm))" in (
        out / "MODEL_CARD.md"
    ).read_text(encoding="utf-8")
    assert manifest.training.n_train_scans == 12 and manifest.metrics["n_scans"] == 6
    (phase,) = (manifest.training.model_extra or {})["phases"]
    assert phase["steps"] == 2 and phase["scans"] == 12 and phase["threads"] == 2
    assert phase["hard_phone_weight"] == 3.0 and phase["pitch_mm"] == 2.0  # no parent: 2 mm
    assert phase["lr"] == 5e-4 and phase["device"] == "cpu" and phase["seed"] == 0
    assert manifest.training.device == "cpu" and phase["train_seeds"].startswith("0..")
    assert (manifest.training.model_extra or {})["train_seeds"] == phase["train_seeds"]
    assert manifest.outputs.flip_test  # the default; calibration and metrics used it
    assert manifest.outputs.zoom_test == 1.1  # likewise
    assert "--zoom-test 1.1" in (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert (
        manifest.metrics["phone_failures"]["phones"]
        >= manifest.metrics["phone_failures"]["with_peak"]
    )
    assert phase["cache"].endswith("cache/train")
    aug = AugmentConfig()
    assert phase["augment"]["scale_range"] == list(aug.scale_range)
    assert phase["augment"]["blur_sigma"] == list(aug.blur_sigma)
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    lo, hi = aug.scale_range
    assert f"crop scale {lo:g}-{hi:g}" in card and "phases listed without ranges" not in card
    assert "hard phones weighted 3x" in card and "Where it fails: " in card
    assert "thread(s), seed 0," in card and "Seed 0 (`--seed`) drew the held-out" in card
    robust = manifest.metrics["robustness"]
    assert robust["n_scans"] == 6 and set(robust["perturbations"]) == {
        p.name for p in PERTURBATIONS
    }
    assert "### Robustness to other scanners" in card and "objects 20 % smaller" in card
    assert "training scans\n(seeds 0..11)" in card
    assert "Known limits" in card and "12 scans in" in card and "(flip test)" in card
    assert (out / "loss.png").exists()


def test_stride2_run_exports_a_model_the_detector_runs(tmp_path: Path) -> None:
    """--stride 2 trains, exports and calibrates a stride-2 model that detect/ decodes."""
    out = tmp_path / "run2"
    args = ["train", "--source", "standin", "--out", str(out), "--cache", str(tmp_path / "c")]
    args += ["--scans", "6", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2"]
    args += ["--crop", "128", "96", "--calibration-scans", "4", "--test-scans", "4"]
    assert main([*args, "--stride", "2", "--no-progress"]) == 0
    manifest = Manifest.load(out / "manifest.json")
    assert manifest.outputs.stride == 2
    (phase,) = (manifest.training.model_extra or {})["phases"]
    assert phase["stride"] == 2
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "output stride 2" in card
    detector = Detector(out / "phone_detector.onnx", out / "manifest.json")
    result = detector.detect_source(SAMPLES / "phone_waistband.dcm")
    assert result.image.rows > 0 and result.model.sha256 == manifest.sha256
    assert result.timings.infer_ms > 0 and result.decision.value in {
        "ALARM",
        "CLEAR",
        "INCONCLUSIVE",
    }


def test_finer_pitch_run_from_a_2mm_cache(
    tmp_path: Path, standin_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """--pitch 1.6 trains from 2 mm records, refuses 2 mm evaluation records, and its model
    (evaluated on 1.6 mm records) declares that pitch, which detect/ then works at."""
    coarse = tmp_path / "c2"
    shutil.copytree(standin_cache, coarse / "train")
    shutil.copytree(standin_cache, coarse / "calibration")
    out = tmp_path / "run16"
    args = ["train", "--source", "standin", "--out", str(out), "--scans", "6", "--epochs", "1"]
    args += ["--steps-per-epoch", "1", "--batch-size", "2", "--crop", "128", "96"]
    args += ["--calibration-scans", "4", "--test-scans", "4", "--no-progress"]
    stages = ["--stages", "fit,export,calibrate"]
    code = main([*args, "--cache", str(coarse), "--pitch", "1.6", *stages])
    assert code == 1
    assert "is at 2 mm, not at the 1.6 mm working pitch" in caplog.text
    assert main([*args, "--cache", str(tmp_path / "c16"), "--stages", "calibrate"]) == 0
    manifest = Manifest.load(out / "manifest.json")
    assert manifest.input.pitch_mm == 1.6
    (phase,) = (manifest.training.model_extra or {})["phases"]
    assert phase["pitch_mm"] == 1.6 and phase["cache"] == (coarse / "train").as_posix()
    assert "1.6 mm pitch" in (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "working pitch 1.6 mm" in (out / "MODEL_CARD.md").read_text(encoding="utf-8").lower()
    detector = Detector(out / "phone_detector.onnx", out / "manifest.json")
    result = detector.detect_source(SAMPLES / "phone_waistband.dcm")
    assert result.image.rows > 0 and result.model.sha256 == manifest.sha256


def test_bad_pitch_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    """--pitch takes mm per pixel between 0.5 and 4."""
    assert build_parser().parse_args(["train"]).pitch is None  # the parent's, else 2 mm
    assert build_parser().parse_args(["train", "--pitch", "1.5"]).pitch == 1.5
    for bad in ("0", "5", "-1"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", "--pitch", bad])
        assert "working pitch in mm between 0.5 and 4" in capsys.readouterr().err


def test_bad_stride_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    """Only output strides 2 and 4 are offered."""
    assert build_parser().parse_args(["train"]).stride == 4
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--stride", "8"])
    assert "--stride" in capsys.readouterr().err


def test_size_prior_option() -> None:
    """The size prior is fitted unless --no-size-prior."""
    assert build_parser().parse_args(["train"]).size_prior is True
    assert build_parser().parse_args(["train", "--no-size-prior"]).size_prior is False


def test_zoom_test_option(capsys: pytest.CaptureFixture[str]) -> None:
    """--zoom-test takes an enlargement between 1 and 2; 1 turns the second pass off."""
    assert build_parser().parse_args(["train"]).zoom_test == 1.1
    assert build_parser().parse_args(["train", "--zoom-test", "1.25"]).zoom_test == 1.25
    assert build_parser().parse_args(["train", "--zoom-test", "1"]).zoom_test is None
    for bad in ("0.9", "2.5", "-1"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", "--zoom-test", bad])
        assert "enlargement between 1 and 2" in capsys.readouterr().err
