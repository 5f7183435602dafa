"""Bench outputs: ``predictions.json``, ``scans.json``, ``report.json`` and a self-contained
``report.html`` (plots embedded as base64 PNG, no external resources)."""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from validation import plots
from validation.dataset import BenchDataset
from validation.runner import ScanRecord

logger = logging.getLogger(__name__)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def scan_entries(dataset: BenchDataset, records: Sequence[ScanRecord]) -> list[dict[str, Any]]:
    """``scans.json`` entries: one per annotated scan, in the annotations' order."""
    entries = []
    for image, record in zip(dataset.images, records, strict=True):
        result = record.result
        entries.append(
            {
                "file_name": image.file_name,
                "image_id": image.image_id,
                "has_phone": image.has_phone,
                "status": record.status.value,
                "decision": result.decision.value if result else None,
                "score": result.scan_score if result else None,
                "n_findings": len(result.findings) if result else None,
                "latency_ms": round(record.latency_ms, 3) if result else None,
                "error": record.error,
                "warnings": list(record.warnings),
            }
        )
    return entries


def write_outputs(
    out: Path, dataset: BenchDataset, records: Sequence[ScanRecord], report: dict[str, Any]
) -> dict[str, Path]:
    """Write the four bench files into ``out``; ``report["_predictions"]`` is moved out."""
    paths = {
        "predictions": out / "predictions.json",
        "scans": out / "scans.json",
        "report_json": out / "report.json",
        "report_html": out / "report.html",
    }
    _write_json(paths["predictions"], report.pop("_predictions", []))
    _write_json(paths["scans"], scan_entries(dataset, records))
    _write_json(paths["report_json"], report)
    paths["report_html"].write_text(render_html(report), encoding="utf-8")
    logger.info("bench reports written to %s", out)
    return paths


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pair(pair: Sequence[float] | None) -> str:
    return "–" if not pair else f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def _ci(ci: Mapping[str, Any] | None) -> str:
    if not ci or ci.get("low") is None:
        return "–"
    return f"[{ci['low']:.3f}, {ci['high']:.3f}]"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right} th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.plots img{margin:.3em;border:1px solid #ddd}
.bd{display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap} .bd img{max-width:440px}
.muted{color:#666} dt{font-weight:600;margin-top:.4em}
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    model = report["model"]
    scan = report["scan"]
    dec = scan["decision"]
    ci = report["ci95"]
    run = report.get("run", {})
    parts: list[str] = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ScanGuard bench – {html.escape(str(model.get('name')))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ScanGuard validation report</h1>",
        f"<p class='muted'>model {_fmt(model.get('name'))} {_fmt(model.get('version'))} "
        f"(sha256 {_fmt(model.get('sha256'))})<br>dataset {_fmt(run.get('dataset'))} · "
        f"{_fmt(run.get('created'))} · {_fmt(run.get('jobs'))} worker(s) · "
        f"{_fmt(run.get('wall_time_s'), 1)} s · boxes scored: {_fmt(run.get('boxes_scored'))}</p>",
        "<h2>Set</h2>",
        _table(
            ["", "scans", "positive", "negative"],
            [
                [
                    "annotated",
                    report["n_scans"],
                    report["n_positive"],
                    report["n_scans"] - report["n_positive"],
                ],
                [
                    "scored",
                    report["n_scored"],
                    report["n_scored_positive"],
                    report["n_scored_negative"],
                ],
                ["failed (left out)", report["n_failed"], None, None],
            ],
        ),
        "<h2>Scan level</h2>",
        _table(
            ["figure", "value", "95 % CI"],
            [["ROC AUC", scan["roc_auc"], _ci(ci.get("roc_auc"))]]
            + [
                [
                    f"Pd at {fa} false alarms per scan "
                    f"({scan.get('false_alarms_allowed', {}).get(fa, '?')} allowed)",
                    v,
                    _ci(ci.get("pd_at_fa", {}).get(fa)),
                ]
                for fa, v in scan["pd_at_fa"].items()
            ]
            + [["ECE", report["calibration"]["ece"], "–"]],
        ),
        "<h3>Decision rule</h3>",
        _table(
            [
                "ALARM",
                "CLEAR",
                "INCONCLUSIVE",
                "Pd",
                "Pd 95 % CI",
                "Pfa",
                "Pfa 95 % CI",
                "inconclusive rate",
                "inconcl. (pos)",
                "inconcl. (neg)",
            ],
            [
                [
                    dec["alarm"],
                    dec["clear"],
                    dec["inconclusive"],
                    dec["pd"],
                    _ci(ci.get("decision", {}).get("pd")),
                    dec["pfa"],
                    _ci(ci.get("decision", {}).get("pfa")),
                    dec["inconclusive_rate"],
                    dec.get("inconclusive_rate_positive"),
                    dec.get("inconclusive_rate_negative"),
                ]
            ],
        ),
        "<h3>Alarm threshold alternatives (alarm when scan score ≥ t)</h3>",
        _table(
            ["t", *[f"{p['threshold']:g}" for p in scan.get("operating_points", [])]],
            [
                ["Pd", *[p["pd"] for p in scan.get("operating_points", [])]],
                ["Pfa", *[p["pfa"] for p in scan.get("operating_points", [])]],
            ],
        ),
        "<h2>Boxes</h2>",
        _table(
            ["class", "AP50", "AP50:95", "recall @ IoU 0.5", "boxes", "findings", "AP50 95 % CI"],
            [
                [
                    name,
                    d["ap50"],
                    d["ap50_95"],
                    d["recall_iou50"],
                    d.get("n_gt"),
                    d.get("n_pred"),
                    _ci(ci.get("ap50")) if name == "phone" else "–",
                ]
                for name, d in report["detection"].items()
            ],
        ),
        f"<p>FROC (phone): CPM = {_fmt(report['froc']['cpm'])}</p>",
        _table(
            ["FP per scan", *report["froc"].get("sensitivity_at", {}).keys()],
            [["sensitivity", *report["froc"].get("sensitivity_at", {}).values()]],
        ),
        "<h2>Plots</h2><div class='plots'>",
        _img(
            plots.roc_png(scan["roc_curve"]["pfa"], scan["roc_curve"]["pd"], scan["roc_auc"]),
            "ROC curve",
        ),
        _img(
            plots.froc_png(
                report["froc"]["fa_per_scan"], report["froc"]["sensitivity"], report["froc"]["cpm"]
            ),
            "FROC curve",
        ),
        _img(
            plots.reliability_png(report["calibration"]["bins"], report["calibration"]["ece"]),
            "Reliability diagram",
        ),
        "</div>",
    ]
    lat = report["latency_ms"]
    parts += [
        "<h2>Latency (ms per scan)</h2>",
        _table(
            ["stage", "p50", "p95"],
            [["total (read + detect)", lat["p50"], lat["p95"]]]
            + [[k, v["p50"], v["p95"]] for k, v in lat["per_stage"].items()],
        ),
        "<h2>Breakdown</h2>",
    ]
    if not report["breakdown"]:
        parts.append("<p class='muted'>No categorical attributes in the annotations.</p>")
    for name, table in report["breakdown"].items():
        box = all(row.get("level") == "box" for row in table.values())
        parts.append(f"<h3>{html.escape(name)}{' (boxes)' if box else ' (scans)'}</h3>")
        parts.append("<div class='bd'>")
        if box:
            rows = [[level, r["n"], r["pd"], _pair(r.get("pd_ci95"))] for level, r in table.items()]
            parts.append(_table(["value", "boxes", "recall @ IoU 0.5", "95 % CI"], rows))
        else:
            rows = [
                [
                    level,
                    r["n"],
                    r.get("n_positive"),
                    r.get("n_negative"),
                    r["pd"],
                    _pair(r.get("pd_ci95")),
                    r["pfa"],
                    _pair(r.get("pfa_ci95")),
                ]
                for level, r in table.items()
            ]
            header = [
                "value",
                "scans",
                "positive",
                "negative",
                "Pd",
                "Pd 95 % CI",
                "Pfa",
                "Pfa 95 % CI",
            ]
            parts.append(_table(header, rows))
        parts.append(f"<div class='plots'>{_img(plots.breakdown_png(name, table), name)}</div>")
        parts.append("</div>")
    if report.get("breakdown_skipped"):
        names = ", ".join(report["breakdown_skipped"])
        parts.append(
            f"<p class='muted'>Not broken down (not categorical): {html.escape(names)}</p>"
        )
    parts.append("<h2>Failed scans</h2>")
    if report["failed"]:
        parts.append(
            _table(
                ["file", "status", "error"],
                [[f["file_name"], f["status"], f["error"]] for f in report["failed"]],
            )
        )
    else:
        parts.append("<p class='muted'>None.</p>")
    parts.append("<h2>Definitions</h2><dl>")
    for key, text in report["definitions"].items():
        parts.append(f"<dt>{html.escape(key)}</dt><dd>{html.escape(text)}</dd>")
    parts.append("</dl></body></html>")
    return "\n".join(parts)
