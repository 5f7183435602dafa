"""COCO set loading: positives, attributes, and a clear message for every bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from validation import AnnotationError, DatasetError, load_dataset


def _write(root: Path, doc: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "annotations.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return path


def _doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "images": [
            {
                "id": 1,
                "file_name": "a.dcm",
                "site": "A",
                "attributes": {"dose": "low"},
                "body": {"sex": "F", "pose": {"arms": "up"}},
            },
            {"id": 2, "file_name": "sub/b.dcm"},
        ],
        "annotations": [
            {"image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4], "kind": "smartphone"},
            {"id": 5, "image_id": 2, "category_id": 8, "bbox": [1, 2, 3, 4]},
        ],
        "categories": [{"id": 7, "name": "phone"}, {"id": 8, "name": "blade"}],
    }
    doc.update(over)
    return doc


def test_positives_attributes_and_ids(tmp_path: Path) -> None:
    """A scan is positive only with a phone box; extra keys, 'attributes' and nested objects
    (dotted names) become attributes."""
    _write(tmp_path, _doc())
    ds = load_dataset(tmp_path)
    assert [im.has_phone for im in ds.images] == [True, False]
    assert ds.n_positive == 1
    assert ds.images[0].attributes == {
        "site": "A",
        "dose": "low",
        "body.sex": "F",
        "body.pose.arms": "up",
    }
    assert ds.images[1].path == tmp_path / "sub" / "b.dcm"
    assert ds.annotations[0].attributes == {"kind": "smartphone"}
    assert ds.annotations[0].category == "phone"
    assert sorted(a.ann_id for a in ds.annotations) == [5, 6]  # missing id numbered after 5
    assert ds.category_id("blade") == 8 and ds.category_id("gun") is None


def test_annotations_elsewhere(tmp_path: Path) -> None:
    """--annotations may point outside the folder."""
    ann = _write(tmp_path / "meta", _doc())
    (tmp_path / "scans").mkdir()
    assert len(load_dataset(tmp_path / "scans", ann).images) == 2


def test_missing_folder(tmp_path: Path) -> None:
    """A missing dataset folder is a DatasetError naming it."""
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")


def test_missing_annotations(tmp_path: Path) -> None:
    """No annotations.json: the message says to pass --annotations."""
    with pytest.raises(AnnotationError, match="--annotations"):
        load_dataset(tmp_path)


def test_not_json(tmp_path: Path) -> None:
    """Broken JSON reports line and column."""
    _write(tmp_path, '{"images": [}')
    with pytest.raises(AnnotationError, match=r"not valid JSON \(line 1, column 13"):
        load_dataset(tmp_path)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("images"), r"missing key 'images'"),
        (lambda d: d.update(annotations={}), r"'annotations' is a dict"),
        (lambda d: d["images"][1].pop("file_name"), r"images\[1\]: 'file_name' is None"),
        (lambda d: d["images"][1].update(id="2"), r"images\[1\]: 'id' is '2'"),
        (lambda d: d["images"][1].update(id=1), r"duplicate image id 1"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), r"annotations\[0\]: 'bbox'"),
        (lambda d: d["annotations"][1].update(bbox=[1, 2, 0, 4]), r"width and height > 0"),
        (lambda d: d["annotations"][1].update(image_id=9), r"'image_id' 9 is not in 'images'"),
        (lambda d: d["annotations"][0].update(category_id=3), r"'category_id' 3 is not in"),
        (lambda d: d["categories"][0].pop("name"), r"categories\[0\]: 'name' is None"),
        (lambda d: d.update(images=[]), r"'images' is empty"),
    ],
)
def test_malformed_annotations_name_the_key(tmp_path: Path, mutate: Any, match: str) -> None:
    """Every malformed entry is reported with its position and key."""
    doc = _doc()
    mutate(doc)
    _write(tmp_path, doc)
    with pytest.raises(AnnotationError, match=match):
        load_dataset(tmp_path)
