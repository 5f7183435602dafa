"""Annotated scan sets: a folder of scans and a COCO ``annotations.json``.

The annotations follow the COCO object-detection layout: ``images`` (``id``, ``file_name``,
optional ``width``/``height``), ``annotations`` (``image_id``, ``category_id``, ``bbox`` in
pixels ``[x, y, width, height]``) and ``categories`` (``id``, ``name``). Any other key of an
image or an annotation (top level, or inside an ``attributes`` mapping) is kept as an
attribute and used for the benchmark's breakdowns. A scan is *positive* when it has at least
one annotation of the ``phone`` category.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validation.errors import AnnotationError, DatasetError

logger = logging.getLogger(__name__)

#: Category whose presence makes a scan positive.
POSITIVE_CATEGORY = "phone"
#: File looked up in the dataset folder when no annotations file is given.
DEFAULT_ANNOTATIONS_NAME = "annotations.json"

#: COCO keys of an image entry that are not attributes.
_IMAGE_KEYS = frozenset(
    {"id", "file_name", "width", "height", "license", "flickr_url", "coco_url", "date_captured"}
)
#: COCO keys of an annotation entry that are not attributes.
_ANNOTATION_KEYS = frozenset(
    {
        "id",
        "image_id",
        "category_id",
        "bbox",
        "area",
        "iscrowd",
        "segmentation",
        "keypoints",
        "num_keypoints",
        "score",
    }
)


@dataclass(frozen=True)
class BenchImage:
    """One annotated scan of the set.

    Attributes
    ----------
    image_id : int
        COCO image id.
    file_name : str
        Name as written in the annotations (relative to the dataset folder).
    path : Path
        Resolved path of the scan file.
    has_phone : bool
        True when the scan has at least one ``phone`` annotation.
    attributes : mapping of str to object
        Per-image attributes (every non-COCO key of the image entry).
    """

    image_id: int
    file_name: str
    path: Path
    has_phone: bool
    width: int | None = None
    height: int | None = None
    attributes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchAnnotation:
    """One ground-truth box.

    Attributes
    ----------
    bbox : tuple of float
        ``(x, y, width, height)`` in the scan's pixels (x = column, y = row).
    attributes : mapping of str to object
        Per-annotation attributes (every non-COCO key of the annotation entry).
    """

    ann_id: int
    image_id: int
    category_id: int
    category: str
    bbox: tuple[float, float, float, float]
    attributes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchDataset:
    """A validated COCO scan set.

    Attributes
    ----------
    root : Path
        Dataset folder; relative ``file_name`` values are resolved against it.
    annotations_path : Path
        The COCO file read.
    images : tuple of BenchImage
        In the order of the annotations file.
    annotations : tuple of BenchAnnotation
    categories : mapping of int to str
        Category id to name.
    """

    root: Path
    annotations_path: Path
    images: tuple[BenchImage, ...]
    annotations: tuple[BenchAnnotation, ...]
    categories: Mapping[int, str]

    @property
    def n_positive(self) -> int:
        """Number of scans with at least one ``phone`` annotation."""
        return sum(image.has_phone for image in self.images)

    def category_id(self, name: str) -> int | None:
        """Id of the category called ``name`` (None when the set has no such category)."""
        for cat_id, cat_name in self.categories.items():
            if cat_name == name:
                return cat_id
        return None

    def coco_ground_truth(self, image_ids: set[int] | None = None) -> dict[str, Any]:
        """The set as a COCO ground-truth dictionary pycocotools can index.

        Parameters
        ----------
        image_ids : set of int, optional
            Keep only these images (and their annotations); all when None.
        """
        keep = {im.image_id for im in self.images} if image_ids is None else image_ids
        images = [
            {"id": im.image_id, "file_name": im.file_name, "width": im.width, "height": im.height}
            for im in self.images
            if im.image_id in keep
        ]
        annotations = [
            {
                "id": ann.ann_id,
                "image_id": ann.image_id,
                "category_id": ann.category_id,
                "bbox": list(ann.bbox),
                "area": ann.bbox[2] * ann.bbox[3],
                "iscrowd": 0,
            }
            for ann in self.annotations
            if ann.image_id in keep
        ]
        categories = [{"id": cid, "name": name} for cid, name in self.categories.items()]
        return {"images": images, "annotations": annotations, "categories": categories}


def _fail(where: str, problem: str, fix: str) -> AnnotationError:
    return AnnotationError(f"{where}: {problem}; {fix}")


def _require_list(doc: Mapping[str, Any], key: str, source: str) -> list[Any]:
    if key not in doc:
        raise _fail(source, f"missing key '{key}'", f"a COCO file needs a '{key}' list")
    value = doc[key]
    if not isinstance(value, list):
        raise _fail(
            source, f"'{key}' is a {type(value).__name__}", f"'{key}' must be a list of objects"
        )
    return value


def _require_int(entry: Mapping[str, Any], key: str, where: str) -> int:
    if key not in entry:
        raise _fail(where, f"missing key '{key}'", f"add an integer '{key}'")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"'{key}' is {value!r}", f"'{key}' must be an integer")
    return value


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}", inner, out)
    else:
        out.setdefault(prefix, value)


def _attributes(entry: Mapping[str, Any], reserved: frozenset[str], where: str) -> dict[str, Any]:
    """Non-COCO keys of an entry; an ``attributes`` object is merged in, other objects are
    flattened to dotted names (``{"body": {"sex": "F"}}`` -> ``body.sex``)."""
    attrs: dict[str, Any] = {}
    nested = entry.get("attributes")
    if nested is not None and not isinstance(nested, Mapping):
        raise _fail(where, "'attributes' is not an object", "give attributes as {name: value}")
    for key, value in entry.items():
        if key not in reserved and key != "attributes":
            _flatten(str(key), value, attrs)
    for key, value in (nested or {}).items():
        _flatten(str(key), value, attrs)
    return attrs


def _parse_bbox(value: Any, where: str) -> tuple[float, float, float, float]:
    fix = "'bbox' must be [x, y, width, height] in pixels with width and height > 0"
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise _fail(where, f"'bbox' is {value!r}", fix)
    try:
        x, y, w, h = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _fail(where, f"'bbox' is {value!r}", fix) from None
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise _fail(where, f"'bbox' is {value!r}", fix)
    return (x, y, w, h)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AnnotationError(
            f"cannot read annotations file {path}: {exc.strerror}; check the path and permissions"
        ) from exc
    except UnicodeDecodeError as exc:
        raise AnnotationError(
            f"annotations file {path} is not UTF-8 text; give a COCO JSON file"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(
            f"annotations file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); fix the file or give another with --annotations"
        ) from exc


def load_dataset(dataset_dir: str | Path, annotations: str | Path | None = None) -> BenchDataset:
    """Read and validate an annotated scan set.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder of scans; relative ``file_name`` values are resolved against it.
    annotations : str or Path, optional
        COCO annotations file; ``dataset_dir / "annotations.json"`` when None.

    Returns
    -------
    BenchDataset

    Raises
    ------
    DatasetError
        The folder does not exist.
    AnnotationError
        The annotations file is missing, not JSON, or has a missing or wrongly typed key
        (the message names the entry and key).
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DatasetError(
            f"dataset folder {root} does not exist or is not a folder; give the folder that "
            "holds the scans and annotations.json"
        )
    ann_path = Path(annotations) if annotations is not None else root / DEFAULT_ANNOTATIONS_NAME
    if not ann_path.is_file():
        raise AnnotationError(
            f"annotations file {ann_path} not found; put a COCO {DEFAULT_ANNOTATIONS_NAME} in "
            "the dataset folder or give its path with --annotations"
        )
    doc = _read_json(ann_path)
    source = ann_path.name
    if not isinstance(doc, dict):
        raise _fail(source, f"top level is a {type(doc).__name__}", "a COCO file is a JSON object")

    categories: dict[int, str] = {}
    for i, cat in enumerate(_require_list(doc, "categories", source)):
        where = f"{source} categories[{i}]"
        if not isinstance(cat, dict):
            raise _fail(where, "entry is not an object", "give {'id': int, 'name': str}")
        cat_id = _require_int(cat, "id", where)
        name = cat.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(where, f"'name' is {name!r}", "give each category a non-empty 'name'")
        if cat_id in categories:
            raise _fail(where, f"duplicate category id {cat_id}", "category ids must be unique")
        categories[cat_id] = name
    if POSITIVE_CATEGORY not in categories.values():
        logger.warning(
            "%s has no '%s' category: every scan counts as negative", source, POSITIVE_CATEGORY
        )

    raw_images: list[tuple[int, str, dict[str, Any], int | None, int | None]] = []
    seen_ids: set[int] = set()
    for i, im in enumerate(_require_list(doc, "images", source)):
        where = f"{source} images[{i}]"
        if not isinstance(im, dict):
            raise _fail(where, "entry is not an object", "give {'id': int, 'file_name': str}")
        image_id = _require_int(im, "id", where)
        if image_id in seen_ids:
            raise _fail(where, f"duplicate image id {image_id}", "image ids must be unique")
        seen_ids.add(image_id)
        file_name = im.get("file_name")
        if not isinstance(file_name, str) or not file_name:
            raise _fail(
                where, f"'file_name' is {file_name!r}", "give the scan's file name in the folder"
            )
        width = _require_int(im, "width", where) if "width" in im else None
        height = _require_int(im, "height", where) if "height" in im else None
        raw_images.append((image_id, file_name, _attributes(im, _IMAGE_KEYS, where), width, height))

    if not raw_images:
        raise _fail(source, "'images' is empty", "annotate at least one scan")

    anns: list[BenchAnnotation] = []
    used_ann_ids: set[int] = set()
    raw_anns = _require_list(doc, "annotations", source)
    for i, ann in enumerate(raw_anns):
        where = f"{source} annotations[{i}]"
        if not isinstance(ann, dict):
            raise _fail(where, "entry is not an object", "give a COCO annotation object")
        image_id = _require_int(ann, "image_id", where)
        if image_id not in seen_ids:
            raise _fail(where, f"'image_id' {image_id} is not in 'images'", "fix the image id")
        cat_id = _require_int(ann, "category_id", where)
        if cat_id not in categories:
            raise _fail(
                where, f"'category_id' {cat_id} is not in 'categories'", "fix the category id"
            )
        bbox = _parse_bbox(ann.get("bbox"), where)
        ann_id = _require_int(ann, "id", where) if "id" in ann else None
        if ann_id is None or ann_id in used_ann_ids or ann_id <= 0:
            ann_id = None
        anns.append(
            BenchAnnotation(
                ann_id=ann_id if ann_id is not None else -1,
                image_id=image_id,
                category_id=cat_id,
                category=categories[cat_id],
                bbox=bbox,
                attributes=_attributes(ann, _ANNOTATION_KEYS, where),
            )
        )
        if ann_id is not None:
            used_ann_ids.add(ann_id)
    # pycocotools needs unique positive annotation ids: number the ones without a usable id.
    next_id = max(used_ann_ids, default=0) + 1
    numbered: list[BenchAnnotation] = []
    for ann in anns:
        if ann.ann_id == -1:
            ann = BenchAnnotation(
                next_id, ann.image_id, ann.category_id, ann.category, ann.bbox, ann.attributes
            )
            next_id += 1
        numbered.append(ann)

    positives = {a.image_id for a in numbered if a.category == POSITIVE_CATEGORY}
    images = tuple(
        BenchImage(
            image_id=image_id,
            file_name=file_name,
            path=Path(file_name) if Path(file_name).is_absolute() else root / file_name,
            has_phone=image_id in positives,
            width=width,
            height=height,
            attributes=attrs,
        )
        for image_id, file_name, attrs, width, height in raw_images
    )
    logger.info(
        "dataset %s: %d scans (%d positive), %d boxes, %d categories",
        root,
        len(images),
        len(positives),
        len(numbered),
        len(categories),
    )
    return BenchDataset(
        root=root,
        annotations_path=ann_path,
        images=images,
        annotations=tuple(numbered),
        categories=categories,
    )
