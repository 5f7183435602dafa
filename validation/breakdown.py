"""Figures per value of the annotations' categorical attributes (site, vendor, concealment...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from validation import metrics
from validation.dataset import BenchDataset, BenchImage

#: An attribute with more distinct values than this is not treated as categorical.
MAX_LEVELS = 20


def _level_key(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _categorical(values: Sequence[object]) -> bool:
    present = [v for v in values if v is not None]
    if not present:
        return False
    if not all(isinstance(v, str | bool | int) for v in present):
        return False
    levels = len({_level_key(v) for v in present})
    if levels == len(present) > 2:
        return False  # an identifier (every value different), not a category
    return levels <= MAX_LEVELS


def _interval(k: int, n: int) -> list[float] | None:
    ci = metrics.exact_interval(k, n)
    if ci["low"] is None or ci["high"] is None:
        return None
    return [float(ci["low"]), float(ci["high"])]


def scan_breakdown(
    images: Sequence[BenchImage],
    labels: NDArray[np.bool_],
    decisions: Sequence[str],
    skipped: list[str],
) -> dict[str, dict[str, dict[str, Any]]]:
    """Decision Pd and Pfa per value of every categorical per-image attribute.

    Parameters
    ----------
    images : sequence of BenchImage
        Scored scans.
    labels : ndarray of bool, shape (n,)
        Scan holds a phone.
    decisions : sequence of str, length n
        Decision of each scan.
    skipped : list of str
        Receives the names of attributes that are not categorical.

    Returns
    -------
    dict
        attribute -> value -> ``n``, ``n_positive``, ``n_negative``, ``pd``, ``pfa``,
        ``pd_ci95``, ``pfa_ci95`` (Clopper-Pearson), ``level`` = ``"scan"``.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    names = sorted({k for im in images for k in im.attributes})
    for name in names:
        values = [im.attributes.get(name) for im in images]
        if not _categorical(values):
            skipped.append(name)
            continue
        table: dict[str, dict[str, Any]] = {}
        for level in sorted({_level_key(v) for v in values if v is not None}):
            idx = [i for i, v in enumerate(values) if v is not None and _level_key(v) == level]
            y = labels[idx]
            alarm = np.asarray([decisions[i] == "ALARM" for i in idx], dtype=bool)
            rates = metrics.decision_rates([decisions[i] for i in idx], y)
            table[level] = {
                "n": len(idx),
                "n_positive": int(y.sum()),
                "n_negative": int((~y).sum()),
                "pd": rates["pd"],
                "pfa": rates["pfa"],
                "pd_ci95": _interval(int((alarm & y).sum()), int(y.sum())),
                "pfa_ci95": _interval(int((alarm & ~y).sum()), int((~y).sum())),
                "level": "scan",
            }
        out[name] = table
    return out


def box_breakdown(
    dataset: BenchDataset,
    scored: set[int],
    matched: Mapping[int, bool],
    taken: set[str],
    skipped: list[str],
) -> dict[str, dict[str, dict[str, Any]]]:
    """Box recall at IoU 0.5 per value of every categorical per-annotation attribute.

    Parameters
    ----------
    dataset : BenchDataset
    scored : set of int
        Ids of the scored scans (boxes of failed scans are left out).
    matched : mapping of int to bool
        Annotation id -> found by a same-class finding at IoU >= 0.5.
    taken : set of str
        Names already used by per-image attributes (a clash gets the suffix `` (box)``).
    skipped : list of str
        Receives the names of attributes that are not categorical.

    Returns
    -------
    dict
        attribute -> value -> ``n``, ``pd`` (recall), ``pfa`` (None), ``pd_ci95``,
        ``level`` = ``"box"``.
    """
    anns = [a for a in dataset.annotations if a.image_id in scored]
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in sorted({k for a in anns for k in a.attributes}):
        values = [a.attributes.get(name) for a in anns]
        if not _categorical(values):
            skipped.append(f"{name} (box)")
            continue
        table: dict[str, dict[str, Any]] = {}
        for level in sorted({_level_key(v) for v in values if v is not None}):
            hits = [
                matched.get(a.ann_id, False)
                for a, v in zip(anns, values, strict=True)
                if v is not None and _level_key(v) == level
            ]
            table[level] = {
                "n": len(hits),
                "pd": float(np.mean(hits)) if hits else None,
                "pfa": None,
                "pd_ci95": _interval(int(sum(hits)), len(hits)),
                "level": "box",
            }
        out[f"{name} (box)" if name in taken else name] = table
    return out
