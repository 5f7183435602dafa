"""Report figures (matplotlib, Agg backend) rendered to PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

_SIZE = (5.0, 4.0)
_DPI = 100


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=_DPI)
    plt.close(fig)
    return buf.getvalue()


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")


def roc_png(pfa: Sequence[float], pd: Sequence[float], auc: float | None) -> bytes:
    """ROC curve of scan scores (Pd against false-alarm rate)."""
    fig, ax = plt.subplots(figsize=_SIZE)
    if len(pfa):
        label = f"AUC = {auc:.3f}" if auc is not None else None
        ax.plot(pfa, pd, color="C0", label=label)  # linear between points, as the AUC
        if label:
            ax.legend(loc="lower right")
    else:
        _empty(ax, "needs positive and negative scans")
    ax.plot([0, 1], [0, 1], ls=":", color="0.6")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="false-alarm rate (negative scans alarming)",
        ylabel="Pd (positive scans alarming)",
        title="Scan-level ROC",
    )
    ax.grid(alpha=0.3)
    return _png(fig)


def froc_png(fa: Sequence[float], sens: Sequence[float], cpm: float | None) -> bytes:
    """FROC curve: phone box sensitivity against false-positive boxes per scan (log x).

    ``cpm`` None means the set has no phone box; empty points with a CPM mean no phone finding.
    """
    fig, ax = plt.subplots(figsize=_SIZE)
    if len(fa):
        floor = 1.0 / 16.0  # points with fewer FP per scan are drawn at the left edge
        xs = [max(x, floor) for x in fa]
        ax.step(
            xs,
            sens,
            where="post",
            marker=".",
            color="C1",
            label=f"CPM = {cpm:.3f}" if cpm is not None else None,
        )
        ax.legend(loc="lower right")
        ax.set_xscale("log", base=2)
        ax.set_xlim(floor * 0.9, max(8.0, max(xs)) * 1.1)
        for rate in (0.125, 0.25, 0.5, 1, 2, 4, 8):
            ax.axvline(rate, color="0.85", lw=0.8, zorder=0)
    else:
        _empty(ax, "no phone box in the set" if cpm is None else "no phone finding (CPM 0)")
    ax.set(
        ylim=(0, 1.02),
        xlabel="false-positive boxes per scan",
        ylabel="sensitivity (IoU ≥ 0.5)",
        title="FROC (phone)",
    )
    ax.grid(alpha=0.3)
    return _png(fig)


def reliability_png(bins: Sequence[Mapping[str, Any]], ece: float | None) -> bytes:
    """Reliability diagram: fraction of positive scans against mean score per bin."""
    fig, ax = plt.subplots(figsize=_SIZE)
    centers = [(b["low"] + b["high"]) / 2 for b in bins]
    width = bins[0]["high"] - bins[0]["low"] if bins else 0.1
    fracs = [b["frac_positive"] if b["frac_positive"] is not None else 0.0 for b in bins]
    ax.bar(centers, fracs, width=width * 0.9, color="C2", alpha=0.8, label="fraction positive")
    filled = [b for b in bins if b["n"]]
    ax.plot(
        [b["mean_score"] for b in filled],
        [b["frac_positive"] for b in filled],
        "o",
        color="k",
        ms=4,
        label="bin mean score",
    )
    ax.plot([0, 1], [0, 1], ls=":", color="0.5", label="perfect calibration")
    for c, b in zip(centers, bins, strict=True):
        if b["n"]:
            ax.text(c, 0.02, str(b["n"]), ha="center", fontsize=7, color="0.2")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="scan score",
        ylabel="fraction of positive scans",
        title=f"Reliability (ECE = {ece:.3f})" if ece is not None else "Reliability",
    )
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def breakdown_png(name: str, table: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Bars of Pd (and Pfa for scan-level attributes) per value of one attribute."""
    levels = list(table)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(levels) + 2.5), 3.4))
    xs = range(len(levels))
    pd = [table[k]["pd"] if table[k]["pd"] is not None else 0.0 for k in levels]
    box = all(table[k].get("level") == "box" for k in levels)
    ax.bar([x - 0.2 for x in xs], pd, width=0.4, color="C0", label="box recall" if box else "Pd")
    if not box:
        pfa = [table[k]["pfa"] if table[k]["pfa"] is not None else 0.0 for k in levels]
        ax.bar([x + 0.2 for x in xs], pfa, width=0.4, color="C3", label="Pfa")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([f"{k}\n(n={table[k]['n']})" for k in levels], fontsize=8)
    ax.set(ylim=(0, 1.05), title=name)
    ax.legend(fontsize=8)
    return _png(fig)
