"""The one way to reach the sample scans (and their COCO annotations).

Samples live in ``sample_scans/`` at the repository root (written by the simulator), or in the
directory named by the ``SCANGUARD_SAMPLES_DIR`` environment variable, or in the ``directory``
given to each function (highest precedence).

>>> from scanner import read_scan, samples
>>> names = samples.list_samples()  # doctest: +SKIP
>>> scan = read_scan(samples.sample_path(names[0]))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from scanner.errors import ScanFileNotFoundError

__all__ = [
    "ANNOTATIONS_FILE",
    "ENV_VAR",
    "list_samples",
    "load_annotations",
    "sample_annotations",
    "sample_path",
    "samples_dir",
]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

#: Environment variable naming another samples directory.
ENV_VAR = "SCANGUARD_SAMPLES_DIR"
#: COCO annotation file inside the samples directory.
ANNOTATIONS_FILE = "annotations.json"
#: Suffixes of sample scan files.
SCAN_SUFFIXES = (".dcm", ".dicom", ".png", ".tif", ".tiff")
_HOW_TO_GET = (
    "generate them with the simulator (scanguard simulate) or point "
    f"{ENV_VAR} at a directory of scans"
)


def samples_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The samples directory: ``directory``, else ``$SCANGUARD_SAMPLES_DIR``, else the repo's."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "sample_scans"


def list_samples(directory: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the sample scans, sorted.

    Parameters
    ----------
    directory : path, optional
        Samples directory (see :func:`samples_dir`).

    Returns
    -------
    list of str
        Paths relative to the samples directory, with ``/`` separators (the bare file name for
        files at its top level). Empty, with a logged warning, when the directory is missing.
    """
    root = samples_dir(directory)
    if not root.is_dir():
        logger.warning("samples directory %s does not exist; %s", root, _HOW_TO_GET)
        return []
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in SCAN_SUFFIXES and not p.name.startswith(".")
    )


def sample_path(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """Path of one sample scan.

    Parameters
    ----------
    name : str
        A name from :func:`list_samples`, or a bare file name of a sample in a sub-directory.
    directory : path, optional
        Samples directory (see :func:`samples_dir`).

    Raises
    ------
    ScanFileNotFoundError
        No such sample; the message lists a few that exist or says how to get them.
    """
    root = samples_dir(directory)
    candidate = root / name
    if candidate.is_file() and root.resolve() in candidate.resolve().parents:
        return candidate
    names = list_samples(root)
    matches = [n for n in names if n.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return root / matches[0]
    if not names:
        raise ScanFileNotFoundError(
            f"no sample named {name!r}: {root} holds no scans; {_HOW_TO_GET}"
        )
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    what = "is ambiguous" if matches else "does not exist"
    raise ScanFileNotFoundError(
        f"no sample named {name!r} in {root} (the name {what}); available: {shown}"
    )


def load_annotations(directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The COCO annotations of the samples (``annotations.json``).

    Returns
    -------
    dict
        COCO object with ``images``, ``annotations`` and ``categories``; boxes are
        ``[x, y, w, h]`` in original pixels.

    Raises
    ------
    ScanFileNotFoundError
        The file does not exist.
    ValueError
        The file is not a COCO object.
    """
    path = samples_dir(directory) / ANNOTATIONS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ScanFileNotFoundError(
            f"no {ANNOTATIONS_FILE} in {path.parent}; {_HOW_TO_GET}"
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); regenerate the samples") from exc
    missing = [
        k
        for k in ("images", "annotations", "categories")
        if not isinstance(data, dict) or k not in data
    ]
    if missing:
        raise ValueError(f"{path} is not a COCO file: missing {', '.join(missing)}")
    return dict(data)


def sample_annotations(
    name: str, directory: str | os.PathLike[str] | None = None
) -> list[dict[str, Any]]:
    """COCO annotations of one sample, each with its ``category`` name added.

    ``name`` is matched against the COCO ``file_name`` (as given or by its last component).
    A sample without objects gives ``[]``.

    Raises
    ------
    ScanFileNotFoundError
        The sample is not in ``annotations.json``.
    """
    coco = load_annotations(directory)
    base = name.rsplit("/", 1)[-1]
    image_ids = [
        im["id"]
        for im in coco["images"]
        if im.get("file_name") == name or str(im.get("file_name", "")).rsplit("/", 1)[-1] == base
    ]
    if not image_ids:
        raise ScanFileNotFoundError(
            f"sample {name!r} is not listed in {ANNOTATIONS_FILE}; use a name from list_samples()"
        )
    categories = {c["id"]: c["name"] for c in coco["categories"]}
    return [
        {**ann, "category": categories.get(ann["category_id"], str(ann["category_id"]))}
        for ann in coco["annotations"]
        if ann["image_id"] == image_ids[0]
    ]
